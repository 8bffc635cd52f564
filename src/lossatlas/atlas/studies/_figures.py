"""Figure helpers: headless (Agg), matplotlib's default style, byte-reproducible PNGs."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _matplotlib() -> Any:
    """Import matplotlib on first use (listing the studies should not pay for it), selecting
    the headless Agg backend unless pyplot is already running with another one."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:  # never switch the backend of a live session
        matplotlib.use("Agg")
    import matplotlib.style

    return matplotlib


DPI = 110
COLORS = {
    "mae": "#1f77b4",
    "mse": "#d62728",
    "huber": "#2ca02c",
    "log_cosh": "#9467bd",
    "quantile": "#ff7f0e",
    "pseudo_huber": "#8c564b",
    "logistic": "#1f77b4",
    "exponential": "#d62728",
    "hinge": "#2ca02c",
}
_RC = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Matplotlib's default style (not the user's rc file), slightly tuned."""
    mpl = _matplotlib()
    with mpl.style.context("default"), mpl.rc_context(_RC):
        yield


def palette() -> list[Any]:
    """Matplotlib's ten category colours (tab10, the default style's cycle), in order."""
    return list(_matplotlib().colormaps["tab10"].colors)


def new_figure(nrows: int = 1, ncols: int = 1, *, size: tuple[float, float]) -> tuple[Any, Any]:
    """A figure (no pyplot state) and its axes (a 2-D array), with a constrained layout."""
    _matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def save(fig: Any, path: Path) -> Path:
    """Write a PNG without the version stamp, so equal figures give equal bytes."""
    fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    return path
