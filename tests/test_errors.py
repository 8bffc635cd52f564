"""Bad inputs raise ``LossInputError`` (a ValueError) that names the function, the argument,
what was expected and what was given.

Most cases are generated from the registry: every loss gets the shape, reduction, dtype, type
and namespace checks; every parameter its range and type checks; every domain its value
checks. Value checks (a pass over the data) are skipped with ``config.check_values=False``
and under ``jax.jit`` tracing; they run on eager torch and JAX arrays like on NumPy.
"""

from __future__ import annotations

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
    inputs = small(loss)
    for bad in (inputs.target[:, None], np.zeros(41)):
        wrong = I.Inputs(inputs.pred, bad, inputs.arrays, inputs.array_params, inputs.params)
        raises(
            lambda w=wrong: call(loss, w, backend),
            "target",
            "(40,)",
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


def test_rmse_has_no_unreduced_form():
    inputs = small(lossatlas.rmse)
    for backend in ("numpy", "torch", "jax"):
        raises(
            lambda b=backend: call(lossatlas.rmse, inputs, b, reduction="none"),
            "reduction",
            "'mean'",
            "'none'",
            "rmse",
        )


@pytest.mark.parametrize("loss", DEFAULTS)
def test_integer_pred_and_lists(loss):
    inputs = small(loss)
    ints = I.Inputs(
        inputs.pred.astype(np.int64),
        inputs.target,
        inputs.arrays,
        inputs.array_params,
        inputs.params,
    )
    raises(lambda: ints.call(loss), "pred", "floating", "int64", loss.name)
    lists = I.Inputs(
        inputs.pred.tolist(), inputs.target, inputs.arrays, inputs.array_params, inputs.params
    )
    raises(lambda: lists.call(loss), "pred", "an array", "list", loss.name)
    lists = I.Inputs(
        inputs.pred, inputs.target.tolist(), inputs.arrays, inputs.array_params, inputs.params
    )
    raises(lambda: lists.call(loss), "target", "an array", "list", loss.name)


@pytest.mark.parametrize("loss", DEFAULTS)
def test_integer_targets_are_accepted(loss):
    """Hard labels and counts may come as integers (cast to pred's dtype)."""
    inputs = small(loss)
    inputs.target = np.round(inputs.target)  # hard labels, whole counts
    as_int = I.Inputs(
        inputs.pred,
        inputs.target.astype(np.int64),
        inputs.arrays,
        inputs.array_params,
        inputs.params,
    )
    I.assert_close(I.to_numpy(as_int.call(loss)), I.to_numpy(inputs.call(loss)), 1e-15)


@pytest.mark.parametrize(
    ("pred_backend", "target_backend"),
    [("numpy", "torch"), ("torch", "numpy"), ("jax", "numpy"), ("numpy", "array_api_strict")],
)
@pytest.mark.parametrize("loss", DEFAULTS)
def test_mixed_namespaces(loss, pred_backend, target_backend):
    inputs = small(loss)
    pred = I.convert(inputs.pred, pred_backend)
    target = I.convert(inputs.target, target_backend)
    arrays = tuple(I.convert(a, pred_backend) for a in inputs.arrays)
    kw = {k: I.convert(v, pred_backend) for k, v in inputs.array_params.items()}
    raises(
        lambda: loss(pred, target, *arrays, **kw, **inputs.params),
        "target",
        "the same library as pred",
        target_backend.split("_")[0],
        loss.name,
    )


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("loss", DEFAULTS)
def test_weight_of_a_wrong_shape(loss, backend):
    inputs = I.make_inputs(loss, I.default_params(loss))
    for bad in map(np.ones, [(8,), (5, 8), (8, 5, 2)]):
        raises(
            lambda b=bad: call(loss, inputs, backend, weight=b),
            "weight",
            "(8, 5)",
            str(bad.shape),
            loss.name,
        )
    raises(lambda: call(loss, inputs, backend, weight="heavy"), "weight", "an array", "str")


@pytest.mark.parametrize("loss", DEFAULTS)
def test_unknown_keyword_is_a_type_error(loss):
    inputs = small(loss)
    with pytest.raises(TypeError, match="unexpected keyword"):
        inputs.call(loss, reduce="mean")
    with pytest.raises(TypeError, match="unexpected keyword"):
        inputs.call(loss, size_average=True)
    if not loss.positional_arrays:
        with pytest.raises(TypeError, match="positional"):
            loss(inputs.pred, inputs.target, 1.0)


# ---- hyperparameters ----------------------------------------------------------------------------
NAMED_OUT_OF_RANGE = [
    ("huber", "delta", 0.0),
    ("huber", "delta", -1.0),
    ("pseudo_huber", "delta", 0.0),
    ("quantile", "q", 0.0),
    ("quantile", "q", 1.0),
    ("quantile", "q", 1.5),
    ("focal_loss", "gamma", -1.0),
    ("focal_loss", "alpha", 1.5),
    ("smooth_l1", "beta", -1.0),
    ("binary_cross_entropy_with_logits", "label_smoothing", 2.0),
    ("binary_cross_entropy", "eps", 0.0),
    ("gaussian_nll", "eps", 0.0),
]


def _generated_out_of_range() -> list[tuple[str, str, float]]:
    """For every float parameter: just outside each end of its declared range, and NaN."""
    out = []
    for loss in I.ALL_LOSSES:
        for p in loss.spec.params:
            if p.kind != "float":
                continue
            if p.low is not None:
                out.append((loss.name, p.name, p.low - 1.0))
                if not p.low_inclusive:
                    out.append((loss.name, p.name, p.low))
            if p.high is not None:
                out.append((loss.name, p.name, p.high + 1.0))
                if not p.high_inclusive:
                    out.append((loss.name, p.name, p.high))
            out.append((loss.name, p.name, float("nan")))
    return out


OUT_OF_RANGE = sorted(set(NAMED_OUT_OF_RANGE) | set(_generated_out_of_range()), key=str)


@pytest.mark.parametrize(("name", "param", "value"), OUT_OF_RANGE, ids=str)
def test_hyperparameter_out_of_range(name, param, value):
    loss = lossatlas.get(name)
    inputs = small(loss)
    inputs.params[param] = value
    p = loss.spec.param(param)
    expected = "a real number" if value != value else p.range_text().replace(" or None", "")
    raises(
        lambda: inputs.call(loss), param, expected, repr(value) if value == value else "nan", name
    )
    # also checked on torch tensors and without value checks (it costs nothing)
    with lossatlas.config.override(check_values=False):
        raises(lambda: call(loss, inputs, "torch"), param, name=name)


PARAMS = [(loss, p) for loss in I.ALL_LOSSES for p in loss.spec.params]


@pytest.mark.parametrize(
    ("loss", "param"), [pytest.param(lo, p, id=f"{lo.name}-{p.name}") for lo, p in PARAMS]
)
def test_hyperparameter_of_a_wrong_type(loss, param):
    """A flag given 1 or a string; a number given True, a string or a list."""
    inputs = small(loss)
    if param.kind == "bool":
        bad_values = [1, 0, "True", None]
        expected = "True or False"
    elif param.kind == "float":
        bad_values = [True, "0.5", [0.5]] + ([] if param.allow_none else [None])
        expected = "a "
    else:  # an array parameter
        bad_values = ["1.0", [1.0, 2.0, 3.0]] + ([] if param.allow_none else [None])
        expected = "an array or a number"
    for bad in bad_values:
        bound = I.Inputs(inputs.pred, inputs.target, (), {}, dict(inputs.params))
        for name, value in zip(loss.positional_arrays, inputs.arrays, strict=True):
            bound.params[name] = value
        bound.params.update(inputs.array_params)
        bound.params[param.name] = bad
        raises(lambda b=bound: b.call(loss), param.name, expected, "", loss.name)


# ---- values: a pass over the data, skipped when disabled or under jax.jit -----------------------
def _value_cases() -> list[Any]:
    """(id, loss, inputs, argument, got): inputs with a value outside the domain."""
    cases = []
    for loss in I.ALL_LOSSES:
        for pid, params in I.param_sets(loss):
            if not I.is_base(loss, params):
                continue
            domain = I.pred_domain(loss, params)
            bad_preds = {
                "probability": (1.5, -0.25),
                "nonnegative": (-1.0,),
                "positive": (0.0, -1.0),
            }.get(domain, ())
            bad_targets = {
                "binary": (1.5, -0.5),
                "sign": (2.0, 0.5),
                "nonnegative": (-1.0,),
                "real": (float("nan"),),
            }[loss.spec.target_domain]
            for value in bad_preds:
                cases.append((f"{loss.name}-{pid}-pred={value}", loss, params, "pred", value))
            for value in bad_targets:
                cases.append((f"{loss.name}-{pid}-target={value}", loss, params, "target", value))
    cases.append(("gaussian_nll-var=-1", lossatlas.gaussian_nll, {}, "var", -1.0))
    return [pytest.param(*c[1:], id=c[0]) for c in cases]


VALUE_CASES = _value_cases()


def _poisoned(loss: Any, params: dict[str, Any], argument: str, value: float) -> I.Inputs:
    params = {**I.default_params(loss), **params}
    inputs = small(loss, params)
    if argument == "var":
        var = np.ones(40)
        var[1] = value
        inputs.arrays = (var,)
    else:
        bad = getattr(inputs, argument).copy()
        bad[1] = value
        setattr(inputs, argument, bad)
    return inputs


def _describe(value: float) -> str:
    return "NaN" if value != value else f"{value:g}"


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize(("loss", "params", "argument", "value"), VALUE_CASES)
def test_values_outside_the_domain(loss, params, argument, value, backend):
    """Probabilities outside [0, 1], labels outside [0, 1] or {-1, 0, 1}, negative counts,
    NaN targets, negative variances: LossInputError on NumPy, torch and eager JAX."""
    inputs = _poisoned(loss, params, argument, value)
    raises(lambda: call(loss, inputs, backend), argument, "", _describe(value), loss.name)
    # The analytic derivatives check their inputs too; a NaN target is only looked for where
    # the result is not finite (no extra pass otherwise), so a derivative that does not
    # depend on it (hess of mse, grad of quantile) may pass it through.
    if loss.spec.elementwise and value == value:
        x = inputs.map(lambda a: I.convert(a, backend))
        raises(lambda: x.call(loss.grad), argument, name=loss.name)
        raises(lambda: x.call(loss.hess), argument, name=loss.name)


@pytest.mark.parametrize(("loss", "params", "argument", "value"), VALUE_CASES)
def test_value_checks_can_be_disabled(loss, params, argument, value):
    """check_values=False: no error, the loss is computed (garbage in, garbage out)."""
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
