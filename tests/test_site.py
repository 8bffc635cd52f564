"""The atlas site: a page for every loss, links that resolve, nothing loaded from the network,
valid images, MathML formulas, the index filters, byte-identical rebuilds, and the CLI commands
``atlas``, ``plot`` and ``study``."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import matplotlib.image
import numpy as np
import pytest
from _atlas_site import reusing_studies, site_build

import lossatlas
from lossatlas import cli
from lossatlas.atlas import plots, site
from lossatlas.atlas.studies import STUDIES

ALL_NAMES = [loss.name for loss in lossatlas.catalog()]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RESOURCE_ATTRS = {"href", "src", "srcset", "poster", "data", "action", "formaction", "background"}


# ---- parsing ------------------------------------------------------------------------------------
class Page(HTMLParser):
    """Every start tag with its attributes, the ids, and the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.ids: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        self.tags.append((tag, found))
        if "id" in found:
            self.ids.add(found["id"])

    handle_startendtag = handle_starttag

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str]]:
        return [attrs for t, attrs in self.tags if t == tag]

    @property
    def plain(self) -> str:
        return " ".join(" ".join(self.text).split())


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


# ---- the shared build ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def build(tmp_path_factory):
    return site_build(tmp_path_factory)


@pytest.fixture(scope="module")
def root(build) -> Path:
    assert build.code == 0, build.stderr
    return build.root


@pytest.fixture(scope="module")
def pages(root) -> dict[str, Page]:
    return {p.relative_to(root).as_posix(): parse(p) for p in sorted(root.rglob("*.html"))}


def test_cli_atlas_builds_and_says_where_to_open(build):
    assert build.code == 0, build.stderr
    assert build.stderr == ""  # --no-progress: no bar
    assert build.stdout.splitlines()[-1] == f"open {build.index.resolve().as_uri()}"
    assert build.index.is_file()
    print(f"atlas build: {build.seconds:.1f} s")


def test_expected_pages_exist(root, pages):
    expected = {
        "index.html",
        "portraits.html",
        "guide.html",
        *(f"losses/{n}.html" for n in ALL_NAMES),
        *(f"studies/{n}.html" for n in STUDIES),
    }
    assert expected <= set(pages)
    assert {p for p in pages if p.startswith("losses/")} == {f"losses/{n}.html" for n in ALL_NAMES}
    for name in ("style.css", "filter.js", "favicon.svg"):
        assert (root / "assets" / name).stat().st_size > 0


def test_every_loss_page_shows_its_spec(pages):
    for loss in lossatlas.catalog():
        spec = loss.spec
        page = pages[f"losses/{spec.name}.html"]
        text = page.plain
        assert spec.summary in text
        assert spec.when_to_use in text
        assert spec.derivative_notes in text
        for ref in spec.references:
            assert " ".join(ref.split()) in text
        for p in spec.params:
            assert p.range_text() in text
            assert " ".join(p.doc.split()) in text
        for alias in spec.aliases:
            assert alias in text
        for framework in ("PyTorch", "Keras", "TensorFlow", "PaddlePaddle", "optax"):
            assert framework in text
        for names in spec.framework_names.values():
            for name in names.split(", "):
                assert name.strip() in text, (spec.name, name)
        # the figures from plots.loss_figures, relative to the page
        srcs = [a["src"] for a in page.all("img")]
        kinds = (
            ["loss", "grad", "hess"]
            if site.hessian_kind(lossatlas.get(spec.name)) != "no"
            else ["loss"]
        )
        if spec.boosting.kind == "surrogate":
            kinds.append("boost")
        assert srcs == [f"../figures/{spec.name}-{k}.png" for k in kinds]


def test_every_loss_page_says_what_boosters_get(pages):
    for loss in lossatlas.catalog():
        boosting = loss.spec.boosting
        page = pages[f"losses/{loss.name}.html"]
        assert "boosting" in page.ids
        section = page.plain.split("Gradient boosting", 1)[1]
        if boosting.kind == "none":
            assert "Not a boosting objective" in section
            assert boosting.reason in section
        elif boosting.kind == "exact":
            assert "exact second derivative" in section
            # a class-axis loss is a multiclass objective, with a starting score per class
            start = (
                "initial_prediction" if loss.spec.elementwise else "multiclass_initial_prediction"
            )
            assert f'gbm.{start}("{loss.name}", y' in section
        else:
            assert "positive surrogate" in section
            assert " ".join(boosting.reason.split()) in section
            for ref in boosting.references:
                assert " ".join(ref.split()) in section
    index = pages["index.html"].plain
    assert "Boosting Hessian" in index


def test_loss_pages_explain_properties_in_words(pages):
    huber = pages["losses/huber.html"].plain
    assert "Bounded gradient: one outlier moves the fit by a bounded amount" in huber
    assert "Convex in pred" in huber
    mse = pages["losses/mse.html"].plain
    assert "Unbounded gradient" in mse
    assert "Not convex in the logit" in pages["losses/focal_loss.html"].plain
    assert "Can be negative" in pages["losses/mean_bias_error.html"].plain
    assert "its gradient is zero almost everywhere" in pages["losses/zero_one_loss.html"].plain
    assert "no per-element gradient or Hessian" in pages["losses/rmse.html"].plain


def test_every_loss_page_has_mathml_and_the_latex_source(root, pages):
    for loss in lossatlas.catalog():
        path = root / "losses" / f"{loss.name}.html"
        raw = path.read_text(encoding="utf-8")
        page = pages[f"losses/{loss.name}.html"]
        maths = page.all("math")
        surrogate = loss.spec.boosting.kind == "surrogate"
        assert len(maths) == (2 if surrogate else 1), loss.name
        assert maths[0]["display"] == "block"
        assert maths[0]["alttext"] == loss.spec.formula
        if surrogate:
            assert maths[1]["alttext"] == loss.spec.boosting.formula
        assert "<mi>" in raw or "<mn>" in raw
        assert "<details>" in raw
        assert loss.spec.formula in page.plain  # the LaTeX source, unescaped by the parser


def test_links_and_resources_resolve(root, pages):
    """Every a/img/link/script (and any other URL attribute) points at a file of the site; a
    #fragment names an id on the target page."""
    checked = 0
    for rel, page in pages.items():
        here = (root / rel).parent
        for tag, attrs in page.tags:
            for name, value in attrs.items():
                if name not in RESOURCE_ATTRS:
                    continue
                parts = urlsplit(value)
                assert not parts.scheme and not parts.netloc, (rel, tag, value)
                if parts.path:
                    target = (here / unquote(parts.path)).resolve()
                    assert target.is_file(), (rel, tag, value)
                    assert root.resolve() in target.parents, (rel, value)
                else:
                    target = (root / rel).resolve()
                if parts.fragment:
                    target_rel = target.relative_to(root.resolve()).as_posix()
                    assert parts.fragment in pages[target_rel].ids, (rel, value)
                checked += 1
        for tag, key in (("img", "src"), ("link", "href"), ("script", "src"), ("a", "href")):
            for attrs in page.all(tag):
                assert key in attrs, (rel, tag, attrs)
    assert checked > 10 * len(pages)


def test_nothing_refers_to_the_network(root, pages):
    for rel, page in pages.items():
        for tag, attrs in page.tags:
            for name, value in attrs.items():
                low = value.strip().lower()
                assert "http:" not in low and "https:" not in low, (rel, tag, name, value)
                if name in RESOURCE_ATTRS:
                    assert not low.startswith("//"), (rel, tag, value)
        styles = [a for t, a in page.tags if t == "link"]
        assert [a["href"].rsplit("/", 1)[-1] for a in styles if a["rel"] == "stylesheet"] == [
            "style.css"
        ]
    css = (root / "assets" / "style.css").read_text()
    assert "url(" not in css and "@import" not in css
    js = (root / "assets" / "filter.js").read_text()
    for word in ("http", "fetch", "XMLHttpRequest", "import(", "eval("):
        assert word not in js
    # HTML5 puts <math> in the MathML namespace: no namespace URL is written either
    for path in root.rglob("*.html"):
        raw = path.read_text(encoding="utf-8")
        assert "xmlns=" not in raw
        assert "<script" not in raw or path.name == "index.html"


def test_images_are_valid_png(root, pages):
    referenced = {
        ((root / rel).parent / a["src"]).resolve()
        for rel, page in pages.items()
        for a in page.all("img")
    }
    assert len(referenced) >= 2 * len(ALL_NAMES)
    for png in sorted(root.rglob("*.png")):
        data = png.read_bytes()
        assert data.startswith(PNG_SIGNATURE), png
        image = matplotlib.image.imread(png)
        assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 50, png
        assert float(np.std(image)) > 0, png
    assert all(p.suffix == ".png" for p in referenced)


def test_index_has_catalogue_filters_and_comparison(pages):
    index = pages["index.html"]
    ids = index.ids
    for id_ in (
        "filters",
        "family-filter",
        "smoothness-filter",
        "name-filter",
        "filter-count",
        "catalogue-table",
        "properties-table",
        "studies",
    ):
        assert id_ in ids
    form = next(a for t, a in index.tags if t == "form")
    assert "hidden" in form  # shown by the script: without JS the page is the plain tables
    boxes = [a["name"] for a in index.all("input") if a.get("type") == "checkbox"]
    assert boxes == ["convex", "robust", "bounded", "hessian"]
    families = [a["value"] for t, a in index.tags if t == "option" and "value" in a]
    for family in ("regression", "classification", "margin"):
        assert family in families
    scripts = [a["src"] for a in index.all("script")]
    assert scripts == ["assets/filter.js"]
    rows = [a for a in index.all("tr") if "data-family" in a]
    assert len(rows) == 2 * len(ALL_NAMES)  # the catalogue and the comparison table
    for attrs in rows:
        for key in ("data-convex", "data-robust", "data-bounded", "data-hessian"):
            assert attrs[key] in ("yes", "no")
        assert attrs["data-smoothness"] in ("C0", "C1", "C2", "Cinf", "discontinuous")
    links = [a["href"] for a in index.all("a")]
    for name in ALL_NAMES:
        assert links.count(f"losses/{name}.html") == 2
    for name in STUDIES:
        assert f"studies/{name}.html" in links
    assert "portraits.html" in links and "guide.html" in links
    text = index.plain
    for header in ("Convex", "Robust", "Smoothness", "Bounded", "Input domain", "Label domain"):
        assert header in text
    assert "Has Hessian" in text


def test_comparison_table_matches_the_specs(pages):
    index = pages["index.html"]
    rows = [a for a in index.all("tr") if "data-family" in a]
    by_name = {a["data-names"].split()[0]: a for a in rows}  # the name, then the aliases
    assert sorted(by_name) == sorted(ALL_NAMES)
    for loss in lossatlas.catalog():
        props = loss.spec.properties
        attrs = by_name[loss.name]
        assert attrs["data-family"] == loss.spec.family
        assert attrs["data-convex"] == ("yes" if props.convex else "no")
        assert attrs["data-robust"] == ("yes" if props.robust else "no")
        assert attrs["data-smoothness"] == props.smoothness
    assert by_name["mae"]["data-hessian"] == "no"  # analytic, but zero: no use to a booster
    assert by_name["rmse"]["data-hessian"] == "no"
    assert by_name["huber"]["data-hessian"] == "yes"
    assert site.hessian_kind(lossatlas.mae) == "zero"
    assert site.hessian_kind(lossatlas.rmse) == "no"
    assert site.hessian_kind(lossatlas.log_cosh) == "yes"


def test_portraits_page_shows_the_four_family_portraits(pages):
    page = pages["portraits.html"]
    srcs = [a["src"] for a in page.all("img")]
    assert srcs == [
        "figures/regression-losses.png",
        "figures/regression-gradients.png",
        "figures/margin-losses.png",
        "figures/cross-entropy-vs-p.png",
    ]
    assert len(page.all("figcaption")) == 4


def test_guide_points_at_losses_and_studies(pages):
    page = pages["guide.html"]
    links = [a["href"] for a in page.all("a")]
    for name in (
        "huber",
        "pseudo_huber",
        "log_cosh",
        "mae",
        "quantile",
        "focal_loss",
        "balanced_cross_entropy",
        "binary_cross_entropy_with_logits",
        "logistic_loss",
        "exponential_loss",
    ):
        assert f"losses/{name}.html" in links, name
    for name in ("outliers", "imbalance", "saturation", "margins", "sinc", "boxes"):
        assert (f"studies/{name}.html" in links) == (name in STUDIES)
    text = page.plain
    assert "q = 0.05" in text and "q = 0.95" in text
    assert "pos_weight" in text
    families = {loss.spec.family for loss in lossatlas.catalog()}
    for family, word in (("boxes", "Bounding boxes"), ("sequence", "Sequences")):
        if family not in families:
            assert f"{word}" in text and "planned, not in the catalogue yet" in text


def test_guide_links_only_to_registered_losses(monkeypatch):
    """A loss the guide names but the registry lacks is shown as text, not as a dead link."""
    losses = [x for x in lossatlas.catalog() if x.name != "focal_loss"]
    text = site._guide_page(losses, [], {x.name: site.hessian_kind(x) for x in losses})
    assert "losses/focal_loss.html" not in text
    assert '<code>focal_loss</code> <span class="missing">(not in the catalogue yet)' in text
    assert "studies/" not in text


def test_study_pages_show_tables_notes_and_figures(root, pages):
    for name, study in STUDIES.items():
        page = pages[f"studies/{name}.html"]
        text = page.plain
        assert study.title in text
        assert study.description in text
        assert "Results" in text
        srcs = [a["src"] for a in page.all("img")]
        assert srcs, name
        for src in srcs:
            assert src.startswith(f"{name}/") and src.endswith(".png")
        assert len(page.all("table")) >= 1


def test_rebuild_gives_identical_html(root, tmp_path, tmp_path_factory, monkeypatch, capsys):
    """A second build writes the same bytes. The loss figures and portraits are copied from the
    first build and the studies' reports reused (plots.py and test_studies.py test their
    determinism; recomputing them doubles the test time); every page is written again."""
    figures = root / "figures"

    def copy_loss_figures(loss, out_dir):
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        done = {}
        for kind in ("loss", "grad", "hess", "boost"):
            source = figures / f"{loss.name}-{kind}.png"
            if source.exists():
                done[kind] = Path(shutil.copy(source, out_dir / source.name))
        return done

    def copy_portraits(out_dir):
        names = ("regression-losses", "regression-gradients", "margin-losses")
        names += ("cross-entropy-vs-p",)
        return {
            n: Path(shutil.copy(figures / f"{n}.png", Path(out_dir) / f"{n}.png")) for n in names
        }

    monkeypatch.setattr(plots, "loss_figures", copy_loss_figures)
    monkeypatch.setattr(plots, "family_portraits", copy_portraits)
    again = tmp_path / "again"
    with reusing_studies(tmp_path_factory):
        index = site.build_site(again, progress=True, seed=0)
    assert index == again.resolve() / "index.html"
    assert "atlas" in capsys.readouterr().err  # the progress bar, on stderr

    first = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    second = sorted(p.relative_to(again).as_posix() for p in again.rglob("*") if p.is_file())
    assert first == second
    for rel in first:
        if rel.endswith((".html", ".css", ".js")) or rel.startswith("studies/"):
            assert (root / rel).read_bytes() == (again / rel).read_bytes(), rel


# ---- CLI: plot and study ------------------------------------------------------------------------
def test_cli_plot_writes_a_png(tmp_path):
    out = tmp_path / "huber-vs-logcosh.png"
    code, stdout, stderr = run("plot", "huber", "log_cosh", "--out", str(out))
    assert code == 0, stderr
    assert out.read_bytes().startswith(PNG_SIGNATURE)
    assert str(out.resolve()) in stdout

    out2 = tmp_path / "grad.png"
    code, _, stderr = run(
        "plot", "HuberLoss", "pseudo_huber", "--param", "delta=2", "--derivative", "1",
        "--out", str(out2),
    )  # fmt: skip
    assert code == 0, stderr
    assert out2.read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["plot", "hubr", "--out", "x.png"], "no loss named 'hubr'"),
        (["plot", "huber", "--param", "q=0.5", "--out", "x.png"], "has a parameter 'q'"),
        (["plot", "huber", "--param", "delta", "--out", "x.png"], "NAME=VALUE"),
        (["plot", "huber", "--param", "delta=-1", "--out", "x.png"], "delta"),
        (["plot", "huber", "hinge", "--out", "x.png"], "share one x axis"),
        (["plot", "rmse", "--derivative", "1", "--out", "x.png"], "defined over a reduction"),
        (["plot", "huber", "--derivative", "3", "--out", "x.png"], "invalid choice"),
        (["plot", "huber"], "--out"),
        (["study", "nonexistent"], "no study named 'nonexistent'"),
        (["study", "outliers", "--backend", "cupy"], "invalid choice"),
    ],
)
def test_cli_errors_exit_2_with_a_message(tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, stdout, stderr = run(*argv)
    assert code == 2
    assert stdout == ""
    assert message in stderr
    assert not (tmp_path / "x.png").exists()


def test_cli_atlas_into_a_file_exits_2(tmp_path):
    (tmp_path / "a-file").write_text("")
    code, stdout, stderr = run("atlas", "--out", str(tmp_path / "a-file"), "--no-progress")
    assert code == 2
    assert stdout == ""
    assert "cannot write the output" in stderr


def test_cli_study_writes_page_and_is_deterministic(tmp_path):
    outputs = []
    for folder in ("a", "b"):
        out = tmp_path / folder
        code, stdout, stderr = run("study", "outliers", "--out", str(out), "--seed", "3",
                                   "--no-progress")  # fmt: skip
        assert code == 0, stderr
        page = out / "outliers.html"
        assert stdout.splitlines()[-1] == f"page: {page.resolve().as_uri()}"
        assert stdout.startswith(STUDIES["outliers"].title)
        outputs.append((stdout.rsplit("page:", 1)[0], page.read_bytes()))
        parsed = parse(page)
        for attrs in parsed.all("img") + parsed.all("link"):
            ref = attrs.get("src") or attrs["href"]
            assert (out / ref).is_file(), ref
        assert "--seed 3" in parsed.plain
    assert outputs[0] == outputs[1]
    code, stdout, _ = run("study", "outliers", "--out", str(tmp_path / "c"), "--seed", "4",
                          "--no-progress")  # fmt: skip
    assert code == 0
    assert stdout != outputs[0][0]  # another seed, other data


def test_show_prints_the_plot_hint(capsys):
    assert cli.main(["show", "huber"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "Plot: lossatlas plot huber --derivative 0|1|2 --out FILE"


def test_help_lists_the_new_commands(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("list", "show", "plot", "study", "atlas"):
        assert command in out


def test_cli_import_stays_light(tmp_path):
    """cli.py imports neither torch, jax nor matplotlib until a command needs them."""
    code = (
        "import contextlib, io, json, sys\n"
        "from lossatlas.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    codes = [main(['list']), main(['show', 'huber']), main(['--help'])]\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'torch', 'jax', 'matplotlib', 'tqdm', 'latex2mathml', 'playwright'})\n"
        "print(json.dumps({'codes': codes, 'heavy': heavy}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"codes": [0, 0, 0], "heavy": []}
