"""Bad inputs raise ``LossInputError`` (a ValueError) that names the function, the argument,
what was expected and what was given.

Most cases are generated from the registry: every loss gets the shape, reduction, dtype, type
and namespace checks; every parameter its range and type checks; every domain its value
checks. Value checks (a pass over the data) are skipped with ``config.check_values=False``
and under ``jax.jit`` tracing; they run on eager torch and JAX arrays like on NumPy.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import _inputs as I
import array_api_strict as xps
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import lossatlas
from lossatlas import LossInputError
from lossatlas._domains import DOMAINS

pytestmark = pytest.mark.usefixtures("torch_fast_path_if_available")

DEFAULTS = [pytest.param(loss, id=loss.name) for loss in I.ALL_LOSSES]


def call(loss: Any, inputs: I.Inputs, backend: str = "numpy", **kw: Any) -> Any:
    return I.evaluate(loss, inputs, backend, **kw)


def raises(fn, argument: str, expected: str = "", got: str = "", name: str = "") -> LossInputError:
    """fn() raises a LossInputError about ``argument`` whose message carries all its parts."""
    with pytest.raises(LossInputError) as info:
        fn()
    err = info.value
    assert isinstance(err, ValueError)
    assert err.argument == argument, str(err)
    if name:
        assert err.function == name, str(err)
    message = str(err)
    assert message.startswith(f"{err.function}(): argument '{argument}' expected ")
    assert err.expected and err.got and err.expected in message and err.got in message
    assert expected in err.expected, (expected, str(err))
    assert got in err.got, (got, str(err))
    return err


def small(loss: Any, params: dict[str, Any] | None = None, n: int = 40) -> I.Inputs:
    """Inputs of shape (40,) (one of the few shapes eager JAX compiles for, see ``bucketed``)."""
    return I.make_inputs(loss, I.default_params(loss) if params is None else params, shape=(n,))


# ---- shapes, reductions, types, namespaces: every loss ------------------------------------------
@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("loss", DEFAULTS)
def test_mismatched_shapes_are_not_broadcast(loss, backend):
    """Every input after the first, given an extra axis or a wrong length: a LossInputError that
    names it and the shape its pattern asks for."""
    inputs = small(loss)
    for name in inputs.names[1:]:
        good = inputs.values[name]
        # an input shared by every sample (class weights "C D"): a wrong last axis instead
        shared = not loss.spec.input(name).shape.split()[0].startswith("*")
        wrong_length = (
            np.zeros((*good.shape[:-1], good.shape[-1] + 1), dtype=good.dtype)
            if shared
            else np.zeros((41, *good.shape[1:]), dtype=good.dtype)
        )
        for bad in (good[:, None], wrong_length):
            wrong = replace(inputs, values={**inputs.values, name: bad})
            raises(
                lambda w=wrong: call(loss, w, backend),
                name,
                "" if shared else "(40,",
                f"shape {bad.shape}",
                loss.name,
            )


@pytest.mark.parametrize("loss", DEFAULTS)
def test_unknown_reduction(loss):
    inputs = small(loss)
    for bad in ("avg", None, "batchmean"):
        raises(
            lambda b=bad: call(loss, inputs, reduction=b),
            "reduction",
            "'mean'",
            repr(bad),
            loss.name,
        )


@pytest.mark.parametrize(
    "loss", [x for x in lossatlas.catalog() if not I.per_sample(x)], ids=lambda x: x.name
)
def test_a_loss_over_a_reduction_has_no_unreduced_form(loss):
    """rmse and rmsle are defined over a reduction: reduction="none" is refused."""
    inputs = small(loss)
    for backend in ("numpy", "torch", "jax"):
        raises(
            lambda b=backend: call(loss, inputs, b, reduction="none"),
            "reduction",
            "'mean'",
            "'none'",
            loss.name,
        )


@pytest.mark.parametrize("loss", DEFAULTS)
def test_integer_pred_and_lists(loss):
    inputs = small(loss)
    first, second = inputs.names[:2]
    ints = replace(inputs, values={**inputs.values, first: inputs.pred.astype(np.int64)})
    raises(lambda: ints.call(loss), first, "floating", "int64", loss.name)
    lists = replace(inputs, values={**inputs.values, first: inputs.pred.tolist()})
    raises(lambda: lists.call(loss), first, "an array", "list", loss.name)
    lists = replace(inputs, values={**inputs.values, second: inputs.target.tolist()})
    raises(lambda: lists.call(loss), second, "an array", "list", loss.name)


@pytest.mark.parametrize("loss", DEFAULTS)
def test_integer_targets_are_accepted(loss):
    """Hard labels and counts may come as integers (cast to pred's dtype); class indices are
    integers already. The target is the first input that is not differentiable (the second
    of (pred, target); the third of a pair loss's (x1, x2, target))."""
    inputs = small(loss)
    name = next((i.name for i in loss.spec.inputs if not i.differentiable), None)
    if name is None:  # every input differentiable (a triplet of embeddings): no target
        return
    target = inputs.values[name]
    if DOMAINS[loss.spec.domain_of(name, {})].simplex:  # a hard distribution: one-hot
        target = (target == target.max(axis=-1, keepdims=True)).astype(np.float64)
    else:
        # hard labels, whole counts (at least 1 for positive targets)
        positive = DOMAINS[loss.spec.domain_of(name, {})].low_open
        target = np.ceil(target) if positive else np.round(target)
    inputs = replace(inputs, values={**inputs.values, name: target})
    as_int = replace(inputs, values={**inputs.values, name: target.astype(np.int64)})
    I.assert_close(I.to_numpy(as_int.call(loss)), I.to_numpy(inputs.call(loss)), 1e-15)


@pytest.mark.parametrize(
    ("pred_backend", "target_backend"),
    [("numpy", "torch"), ("torch", "numpy"), ("jax", "numpy"), ("numpy", "array_api_strict")],
)
@pytest.mark.parametrize("loss", DEFAULTS)
def test_mixed_namespaces(loss, pred_backend, target_backend):
    inputs = small(loss)
    first, second = inputs.names[:2]
    pred = I.convert(inputs.pred, pred_backend)
    rest = [I.convert(v, target_backend) for v in list(inputs.values.values())[1:]]
    arrays = tuple(I.convert(a, pred_backend) for a in inputs.arrays)
    kw = {k: I.convert(v, pred_backend) for k, v in inputs.array_params.items()}
    raises(
        lambda: loss(pred, *rest, *arrays, **kw, **inputs.params),
        second,
        f"the same library as {first}",
        target_backend.split("_")[0],
        loss.name,
    )


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("loss", DEFAULTS)
def test_weight_of_a_wrong_shape(loss, backend):
    inputs = I.make_inputs(loss, I.default_params(loss))
    out = I.output_shape_for(loss, I.default_params(loss))
    # a wrong leading axis; a 0-d output (one value over the whole batch) takes no (2,)
    wrong = (out[0] + 1,) if out else (2,)
    shapes = [(8,), (5, 8), (8, 5, 2)] if out == I.SHAPE else [(3, *out), wrong]
    for bad in map(np.ones, shapes):
        raises(
            lambda b=bad: call(loss, inputs, backend, weight=b),
            "weight",
            str(out),
            str(bad.shape),
            loss.name,
        )
    raises(lambda: call(loss, inputs, backend, weight="heavy"), "weight", "an array", "str")
    complex_weight = {
        "numpy": np.ones(I.SHAPE, dtype=np.complex128),
        "torch": torch.ones(I.SHAPE, dtype=torch.complex128),
        "jax": jnp.ones(I.SHAPE, dtype=jnp.complex128),
    }[backend]
    x = inputs.map(lambda a: I.convert(a, backend))
    raises(lambda: x.call(loss, weight=complex_weight), "weight", "real weights", "complex")


@pytest.mark.parametrize("loss", DEFAULTS)
def test_unknown_keyword_is_a_type_error(loss):
    inputs = small(loss)
    with pytest.raises(TypeError, match="unexpected keyword"):
        inputs.call(loss, reduce="mean")
    with pytest.raises(TypeError, match="unexpected keyword"):
        inputs.call(loss, size_average=True)
    if not loss.spec.positional_params:
        with pytest.raises(TypeError, match="positional"):
            loss(*inputs.values.values(), 1.0)


# ---- hyperparameters ----------------------------------------------------------------------------
NAMED_OUT_OF_RANGE = [
    ("huber", "delta", 0.0),
    ("huber", "delta", -1.0),
    ("huber", "delta", float("inf")),
    ("pseudo_huber", "delta", 0.0),
    ("quantile", "q", 0.0),
    ("quantile", "q", 1.0),
    ("quantile", "q", 1.5),
    ("focal_loss", "gamma", -1.0),
    ("focal_loss", "gamma", float("inf")),
    ("focal_loss", "alpha", 1.5),
    ("smooth_l1", "beta", -1.0),
    ("binary_cross_entropy_with_logits", "label_smoothing", 2.0),
    ("binary_cross_entropy", "eps", 0.0),
    ("gaussian_nll", "eps", 0.0),
    ("poisson_nll", "eps", float("inf")),
    ("cross_entropy", "label_smoothing", 1.5),
]


def _generated_out_of_range() -> list[tuple[str, str, float]]:
    """For every float and int parameter: just outside each end of its declared range, an
    infinity past an unbounded end (the range (0, inf) excludes inf), NaN, and the middle of
    an excluded interval (a Tweedie power of 0.5)."""
    out = []
    for loss in I.ALL_LOSSES:
        for p in loss.spec.params:
            if p.kind not in ("float", "int"):
                continue
            if p.low is not None:
                out.append((loss.name, p.name, p.low - 1.0))
                if not p.low_inclusive:
                    out.append((loss.name, p.name, p.low))
            else:
                out.append((loss.name, p.name, float("-inf")))
            if p.high is not None:
                out.append((loss.name, p.name, p.high + 1.0))
                if not p.high_inclusive:
                    out.append((loss.name, p.name, p.high))
            else:
                out.append((loss.name, p.name, float("inf")))
            if p.kind == "float":
                out.append((loss.name, p.name, float("nan")))
            if p.excluded is not None:  # the middle of the interval left out
                out.append((loss.name, p.name, 0.5 * (p.excluded[0] + p.excluded[1])))
    return out


OUT_OF_RANGE = sorted(set(NAMED_OUT_OF_RANGE) | set(_generated_out_of_range()), key=str)


@pytest.mark.parametrize(("name", "param", "value"), OUT_OF_RANGE, ids=str)
def test_hyperparameter_out_of_range(name, param, value):
    loss = lossatlas.get(name)
    inputs = small(loss)
    inputs.params[param] = value
    p = loss.spec.param(param)
    if value != value:
        expected, got = "a real number", "nan"
    elif p.kind == "int" and not float(value).is_integer():
        expected, got = "an integer", repr(value)
    else:
        expected, got = p.range_text().replace(" or None", "").replace("an integer in ", ""), ""
    raises(lambda: inputs.call(loss), param, expected, got or repr(value), name)
    # also checked on torch tensors and without value checks (it costs nothing)
    with lossatlas.config.override(check_values=False):
        raises(lambda: call(loss, inputs, "torch"), param, name=name)


PARAMS = [(loss, p) for loss in I.ALL_LOSSES for p in loss.spec.params]
WRONG_TYPES = {
    "bool": ([1, 0, "True", None, np.bool_(True)], "True or False"),
    "float": ([True, "0.5", [0.5], 1 + 2j, np.complex128(0.5), np.ones(2)], "a "),
    "int": ([True, "1", 1.5, [1], 1j], "an integer"),
    "axis": ([1.5, "0", None, [0]], "an integer"),
    "choice": ([1, None, "neither"], "one of"),
    "array": (["1.0", [1.0, 2.0, 3.0], 1j], "an array or a number"),
}


@pytest.mark.parametrize(
    ("loss", "param"), [pytest.param(lo, p, id=f"{lo.name}-{p.name}") for lo, p in PARAMS]
)
def test_hyperparameter_of_a_wrong_type(loss, param):
    """A flag given 1, a string or a NumPy bool; a number given True, a string, a list, a
    complex number (never silently truncated); an integer given 1.5; an array given a
    string or a list."""
    inputs = small(loss)
    bad_values, expected = WRONG_TYPES[param.kind]
    if param.kind in ("float", "int") and not param.allow_none:
        bad_values = [*bad_values, None]
    if param.kind == "array" and not param.allow_none:
        bad_values = [*bad_values, None]
    for bad in bad_values:
        bound = replace(inputs, arrays=(), array_params={}, params=dict(inputs.params))
        for p, value in zip(
            [p for p in loss.spec.params if p.positional], inputs.arrays, strict=False
        ):
            bound.params[p.name] = value
        bound.params.update(inputs.array_params)
        bound.params[param.name] = bad
        raises(lambda b=bound: b.call(loss), param.name, expected, "", loss.name)


FLOAT_PARAMS = [(loss, p) for loss in I.ALL_LOSSES for p in loss.spec.params if p.kind == "float"]


@pytest.mark.parametrize(
    ("loss", "param"), [pytest.param(lo, p, id=f"{lo.name}-{p.name}") for lo, p in FLOAT_PARAMS]
)
def test_zero_dim_arrays_as_hyperparameters(loss, param):
    """A 0-d array (NumPy, torch, JAX) is read as its number; one that requires grad, or a
    traced one inside jax.jit, is a LossInputError (the hyperparameter is not
    differentiable), not a raw TypeError."""
    inputs = small(loss)
    value = float(I.float_candidates(param)[0] if param.default is None else param.default)
    inputs.params[param.name] = value
    expected = I.to_numpy(inputs.call(loss))
    for array in (np.asarray(value), torch.tensor(value, dtype=torch.float64), jnp.asarray(value)):
        given = replace(inputs, params={**inputs.params, param.name: array})
        I.assert_close(I.to_numpy(given.call(loss)), expected, 1e-15, msg=str(type(array)))
    learnable = torch.tensor(value, dtype=torch.float64, requires_grad=True)
    given = replace(inputs, params={**inputs.params, param.name: learnable})
    raises(lambda: given.call(loss), param.name, "not differentiable", "requires grad")
    x = replace(
        inputs.map(jnp.asarray), params={k: v for k, v in inputs.params.items() if k != param.name}
    )

    def traced(v):
        return x.call(loss, **{param.name: v})

    with pytest.raises(LossInputError, match="not differentiable"):
        jax.jit(traced)(jnp.asarray(value))


# ---- values: a pass over the data, skipped when disabled or under jax.jit -----------------------
def invalid_values(domain_name: str, role: str) -> tuple[float, ...]:
    """Values outside a domain, read off the domain itself: below its lower end, above its
    upper end, outside its set of members, an index outside [0, C); NaN for a real-valued
    target (it would poison the loss silently)."""
    domain = DOMAINS[domain_name]
    if domain.name == "box":  # non-finite coordinates (inverted boxes: tests/test_boxes.py)
        return (math.nan, math.inf, -math.inf)
    if domain.name == "label":  # any integer is a label (floats: refused by their dtype)
        return ()
    if domain.relative:  # labels outside the classes; lengths past any padded size, negative
        return (float(I.N_CLASSES), -1.0) if domain.name == "label_sequence" else (100.0, -1.0)
    if domain.index:
        return (float(I.N_CLASSES), -1.0)
    if domain.members is not None:  # 0 too where it is not a member (strict {-1, 1} labels)
        return (2.0, 0.5) + ((0.0,) if 0.0 not in domain.members else ())
    out: list[float] = []
    if domain.low > -math.inf:
        out += [domain.low - 1.0] + ([domain.low] if domain.low_open else [])
    if domain.high < math.inf:
        out.append(domain.high + 0.5)
    if domain.simplex:
        out.append(0.999)  # inside [0, 1], but the row no longer sums to 1
    if not out and role == "target":
        out.append(float("nan"))
    return tuple(out)


def _value_cases() -> list[Any]:
    """(loss, params, argument, value): inputs with a value outside the declared domain, for
    every input of every loss, on the defaults and each flag flipped; a negative variance."""
    cases = []
    for loss in I.ALL_LOSSES:
        for pid, params in I.param_sets(loss):
            if not I.is_base(loss, params):
                continue
            bound = I.loss_params(params)
            for item in loss.spec.inputs:
                role = "pred" if item.differentiable else "target"
                domain = loss.spec.domain_of(
                    item.name, {p: v for p, v in bound.items() if not isinstance(v, str)}
                )
                for value in invalid_values(domain, role):
                    cases.append(
                        pytest.param(loss, params, item.name, value,
                                     id=f"{loss.name}-{pid}-{item.name}={value}")
                    )  # fmt: skip
    cases.append(pytest.param(lossatlas.gaussian_nll, {}, "var", -1.0, id="gaussian_nll-var=-1"))
    return cases


VALUE_CASES = _value_cases()


def _poisoned(loss: Any, params: dict[str, Any], argument: str, value: float) -> I.Inputs:
    params = {**I.default_params(loss), **params}
    inputs = small(loss, params)
    if argument == "var":
        var = np.ones(40)
        var[1] = value
        return replace(inputs, arrays=(var,))
    bad = inputs.values[argument].copy()
    # one sample (a row over a class axis) set to the value: outside the interval, or inside
    # it in a row that no longer sums to 1 (0.999 on probabilities); every sample for a
    # domain relative to other inputs (a label counts only within its sequence's length)
    if DOMAINS[_domain(loss, params, argument)].relative:
        bad[...] = value
    else:
        bad[1] = value
    return replace(inputs, values={**inputs.values, argument: bad})


def _describe(value: float) -> str:
    return "NaN" if value != value else f"{value:g}"


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize(("loss", "params", "argument", "value"), VALUE_CASES)
def test_values_outside_the_domain(loss, params, argument, value, backend):
    """Probabilities outside [0, 1], labels outside [0, 1] or {-1, 0, 1}, class indices outside
    [0, C), probability rows that do not sum to 1, negative counts, NaN targets, negative
    variances: LossInputError on NumPy, torch and eager JAX."""
    inputs = _poisoned(loss, params, argument, value)
    got = (
        ""
        if DOMAINS.get(_domain(loss, params, argument), DOMAINS["real"]).simplex
        else (_describe(value) if value == value or argument == "var" else "NaN")
    )
    raises(lambda: call(loss, inputs, backend), argument, "", got, loss.name)
    # The analytic derivatives check their inputs too; a NaN target is only looked for where
    # the result is not finite (no extra pass otherwise), so a derivative that does not
    # depend on it (hess of mse, grad of quantile) may pass it through.
    if I.has_derivatives(loss) and value == value:
        x = inputs.map(lambda a: I.convert(a, backend))
        raises(lambda: x.call(loss.grad), argument, name=loss.name)
        raises(lambda: x.call(loss.hess), argument, name=loss.name)


def _domain(loss: Any, params: dict[str, Any], argument: str) -> str:
    if argument == "var":
        return "nonnegative"
    bound = {k: v for k, v in I.loss_params(params).items() if not isinstance(v, str)}
    return loss.spec.domain_of(argument, bound)


@pytest.mark.parametrize(("loss", "params", "argument", "value"), VALUE_CASES)
def test_value_checks_can_be_disabled(loss, params, argument, value):
    """check_values=False: no error, the loss is computed (garbage in, garbage out); an
    index outside the classes is still refused by the library that gathers it (NumPy and
    torch raise their own IndexError) or clipped (JAX), so those are left out here."""
    if DOMAINS[_domain(loss, params, argument)].index:
        return
    inputs = _poisoned(loss, params, argument, value)
    with lossatlas.config.override(check_values=False):
        for backend in ("numpy", "torch"):
            out = call(loss, inputs, backend, reduction="sum")
            assert I.is_backend_array(out, backend) and tuple(out.shape) == ()


@pytest.mark.parametrize(("loss", "params", "argument", "value"), VALUE_CASES)
def test_value_checks_are_skipped_under_jit(loss, params, argument, value):
    """Under jax.jit the values are unknown while tracing: the checks are skipped, not failed."""
    inputs = _poisoned(loss, params, argument, value)
    out = call(loss, inputs, "jax_jit", reduction="sum")
    assert tuple(out.shape) == ()


def test_nan_target_masked_by_a_zero_weight_is_accepted():
    pred, target = np.zeros(3), np.array([0.0, np.nan, 1.0])
    assert lossatlas.mse(pred, target, weight=np.array([1.0, 0.0, 1.0])) == 0.5


def test_var_of_a_wrong_shape():
    pred = target = np.zeros((3, 2))
    for shape in ((2,), (2, 3), (3, 3), (3, 2, 1)):
        raises(
            lambda s=shape: lossatlas.gaussian_nll(pred, target, np.ones(s)),
            "var",
            "(3, 2)",
            str(shape),
            "gaussian_nll",
        )
    for shape in ((3,), (3, 1), (3, 2), ()):  # one per row, per element, or one number
        assert np.isfinite(lossatlas.gaussian_nll(pred, target, np.ones(shape)))


def test_torch_and_strict_arrays_with_bad_values():
    """The checks read values through the array API: torch and array-api-strict alike."""
    pred, target = np.array([0.2, 1.5]), np.array([0.0, 1.0])
    for backend in ("torch", "array_api_strict"):
        raises(
            lambda b=backend: lossatlas.binary_cross_entropy(
                I.convert(pred, b), I.convert(target, b)
            ),
            "pred",
            "[0, 1]",
            "1.5",
            "binary_cross_entropy",
        )
    t = torch.tensor([0.3], requires_grad=True)
    raises(lambda: lossatlas.hinge(t, torch.tensor([3.0])), "target", "-1", "3", "hinge")
    strict = xps.asarray([0.5, 2.0], dtype=xps.float64)
    raises(lambda: lossatlas.hinge(strict, strict), "target", "-1", "values from 0.5 to 2", "hinge")
    raises(lambda: lossatlas.mse(jnp.zeros(2), jnp.asarray([0.0, jnp.nan])), "target", "NaN")


def test_traced_values_are_not_checked_but_eager_ones_are():
    """A concrete target next to a traced pred (jax.grad of a closure) is still checked."""
    target = jnp.asarray([0.0, 2.0])
    with pytest.raises(LossInputError, match="'target' expected values in"):
        jax.grad(lambda p: lossatlas.hinge(p, target))(jnp.zeros(2))
    assert jax.jit(lambda p: lossatlas.hinge(p, target))(jnp.zeros(2)).shape == ()


@pytest.mark.parametrize("bad", [-1.0, float("nan")])
def test_negative_or_nan_weights_raise(bad):
    pred = target = np.zeros(3)
    with pytest.raises(lossatlas.LossInputError, match="'weight' expected values in"):
        lossatlas.mse(pred, target, weight=np.array([1.0, bad, 1.0]))
    with lossatlas.config.override(check_values=False):
        lossatlas.mse(pred, target, weight=np.array([1.0, 2.0, 1.0]))


# ---- shape-only arrays, odd shapes, lookups -----------------------------------------------------
@pytest.mark.parametrize("loss", DEFAULTS)
def test_torch_meta_tensors_give_shapes_without_values(loss):
    """Tensors on torch's meta device carry shapes and dtypes but no values: every loss
    evaluates shape-only (no value check, no fast path that reads values), for every
    reduction and, where it has them, for grad and hess."""
    inputs = I.make_inputs(loss, I.default_params(loss))
    x = inputs.map(lambda a: I.convert(a, "torch").to("meta"))
    shape = I.output_shape_for(loss, I.default_params(loss))
    for reduction in ("none", "sum", "mean") if I.per_sample(loss) else ("sum", "mean"):
        out = x.call(loss, reduction=reduction, weight=torch.ones(shape, device="meta"))
        assert out.is_meta
        assert tuple(out.shape) == (shape if reduction == "none" else ())
    if I.has_derivatives(loss):
        for derivative in (loss.grad, loss.hess):
            out = x.call(derivative)
            assert out.is_meta and tuple(out.shape) == tuple(inputs.pred.shape)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_a_variance_never_broadcasts_the_loss(backend):
    """gaussian_nll with a 0-d pred and a (1,) var: an error (it used to broadcast the loss to
    (1,) on NumPy and raise a raw error on torch)."""
    pred = I.convert(np.asarray(0.5), backend)
    target = I.convert(np.asarray(0.0), backend)
    raises(
        lambda: lossatlas.gaussian_nll(pred, target, I.convert(np.ones(1), backend)),
        "var",
        "()",
        "shape (1,)",
        "gaussian_nll",
    )
    assert tuple(lossatlas.gaussian_nll(pred, target, I.convert(np.ones(()), backend)).shape) == ()


def test_lookups_of_bad_names():
    """get(None) and get(3) are LossInputErrors; an unknown name is an UnknownLossError, which
    is both a LossInputError and a KeyError (so ``except KeyError`` keeps working)."""
    for bad in (None, 3, ["huber"]):
        raises(lambda b=bad: lossatlas.get(b), "name", "a loss name", "", "get")
    with pytest.raises(lossatlas.UnknownLossError) as info:
        lossatlas.get("hubber")
    assert isinstance(info.value, KeyError) and isinstance(info.value, LossInputError)
    assert "'hubber'" in str(info.value) and not str(info.value).startswith('"')


def test_cross_entropy_bad_inputs():
    """Class indices outside [0, C), an axis the logits do not have, logits without classes,
    float labels without a class axis, probabilities that do not sum to 1."""
    logits = np.zeros((4, 3))
    for backend in ("numpy", "torch", "jax"):
        z = I.convert(logits, backend)
        for labels, got in (([0, 3, 1, 2], "3"), ([0, -1, 1, -100], "values from -100 to -1")):
            y = I.convert(np.array(labels), backend)
            raises(lambda z=z, y=y: lossatlas.cross_entropy(z, y), "target", "[0, 3)", got)
        y = I.convert(np.array([0, -100, 1, 2]), backend)
        assert np.isfinite(I.to_numpy(lossatlas.cross_entropy(z, y, ignore_index=-100)))
    labels = np.array([0, 1, 2, 0])
    raises(
        lambda: lossatlas.cross_entropy(logits, labels, axis=2), "axis", "an axis of logits", "2"
    )
    raises(
        lambda: lossatlas.cross_entropy(np.zeros((4, 0)), labels), "logits", "at least one class"
    )
    raises(lambda: lossatlas.cross_entropy(logits, labels.astype(float)), "target", "(4, 3)")
    raises(
        lambda: lossatlas.cross_entropy(logits, np.full((4, 3), 0.5)),
        "target",
        "sum to 1",
        "sums from 1.5",
    )
    raises(lambda: lossatlas.cross_entropy(logits, labels, class_weight=np.ones(4)),
           "class_weight", "(3,)", "(4,)")  # fmt: skip
    raises(lambda: lossatlas.cross_entropy(logits, labels, class_weight=-np.ones(3)),
           "class_weight", "[0, inf)", "-1")  # fmt: skip


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_contrastive_bad_inputs(backend):
    """A logit_scale <= 0 (a number or an array), a temperature <= 0, mismatched embedding
    dims or batch sizes, labels of another length or float labels: LossInputError, never a
    silent broadcast."""
    rng = np.random.default_rng(0)
    x, y = (I.convert(rng.normal(size=(4, 3)), backend) for _ in range(2))
    narrow = I.convert(rng.normal(size=(4, 2)), backend)
    short = I.convert(rng.normal(size=(3, 3)), backend)
    bad_calls = [
        (lossatlas.clip_loss, (x, y), {"logit_scale": 0.0}, "logit_scale"),
        (lossatlas.clip_loss, (x, y), {"logit_scale": I.convert(np.array(-1.0), backend)},
         "logit_scale"),
        (lossatlas.siglip_loss, (x, y), {"logit_scale": -2.0, "logit_bias": 0.0}, "logit_scale"),
        (lossatlas.info_nce, (x, y), {"temperature": 0.0}, "temperature"),
        (lossatlas.nt_xent, (x, y), {"temperature": -0.5}, "temperature"),
        (lossatlas.info_nce, (x, narrow), {}, "key"),
        (lossatlas.nt_xent, (x, short), {}, "z2"),
        (lossatlas.clip_loss, (x, short), {"logit_scale": 1.0}, "text_emb"),
        (lossatlas.siglip_loss, (x, narrow), {"logit_scale": 1.0, "logit_bias": 0.0},
         "text_emb"),
        (lossatlas.supervised_contrastive, (x, I.convert(np.zeros(3, np.int64), backend)), {},
         "labels"),
        (lossatlas.supervised_contrastive, (x, I.convert(np.zeros(4), backend)), {}, "labels"),
    ]  # fmt: skip
    for fn, args, kw, argument in bad_calls:
        with pytest.raises(LossInputError) as info:
            fn(*args, **kw)
        assert info.value.argument == argument, (fn, info.value)
