"""Input checks shared by every loss; each failure raises :class:`LossInputError`."""

from __future__ import annotations

import math
from typing import Any

from array_api_compat import size

from ._config import config
from ._xp import const, has_values, is_tracing, value_range


class LossInputError(ValueError):
    """A loss was called with an invalid argument.

    The message names the function, the argument, what was expected and what was given.
    Attributes of the same names carry the parts.
    """

    def __init__(self, function: str, argument: str, expected: str, got: str) -> None:
        self.function = function
        self.argument = argument
        self.expected = expected
        self.got = got
        super().__init__(f"{function}(): argument '{argument}' expected {expected}, got {got}")


def describe(x: Any) -> str:
    shape = getattr(x, "shape", None)
    dtype = getattr(x, "dtype", None)
    if shape is not None and dtype is not None:
        return f"{type(x).__module__.split('.')[0]} array of shape {tuple(shape)} and dtype {dtype}"
    return f"{type(x).__name__} {x!r}"[:120]


def scalar_value(function: str, name: str, value: Any, *, integer: bool = False) -> Any:
    """A hyperparameter given as a number: a Python int or float, a NumPy scalar or a 0-d
    array with a real (not complex, not boolean) value that needs no gradient, returned as a
    Python number. Anything else raises :class:`LossInputError`."""
    expected = "an integer" if integer else "a real number"
    # a flag or a string is not a number, even where float() would take it (True, "0.5")
    dtype = getattr(value, "dtype", None)
    kind = getattr(dtype, "kind", "")
    is_flag = isinstance(value, bool) or kind == "b" or "bool" in str(dtype)
    if (
        is_flag
        or isinstance(value, (str, bytes, complex))
        or kind == "c"
        or "complex" in str(dtype)
    ):
        raise LossInputError(function, name, expected, describe(value))
    if isinstance(value, (int, float)):
        number = value
    else:
        shape = getattr(value, "shape", None)
        if shape is None or tuple(shape) != ():
            raise LossInputError(function, name, expected, describe(value))
        if getattr(value, "requires_grad", False) or is_tracing(value):
            raise LossInputError(
                function,
                name,
                f"{expected} (a concrete value: this hyperparameter is not differentiable)",
                describe(value) + (" that requires grad" if not is_tracing(value) else ", traced"),
            )
        if not has_values(value):
            raise LossInputError(function, name, expected, describe(value) + " without values")
        try:
            number = value.item() if hasattr(value, "item") else float(value)
        except (TypeError, ValueError):
            raise LossInputError(function, name, expected, describe(value)) from None
    if integer:
        if isinstance(number, float):
            if not number.is_integer():
                raise LossInputError(function, name, expected, repr(number))
            number = int(number)
        return int(number)
    return float(number) if not isinstance(number, int) else number


def check_parameter(
    function: str,
    name: str,
    value: Any,
    low: float | None,
    high: float | None,
    *,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    allow_none: bool = False,
    integer: bool = False,
    excluded: tuple[float, float] | None = None,
) -> Any:
    """A scalar hyperparameter must be a real number inside [low, high] (or the open ends),
    outside the open interval ``excluded``; an unbounded end excludes infinity. Returns the
    value as a Python number (or None)."""
    if value is None:
        if allow_none:
            return None
        raise LossInputError(function, name, "an integer" if integer else "a number", "None")
    number = scalar_value(function, name, value, integer=integer)
    if isinstance(number, float) and math.isnan(number):
        raise LossInputError(function, name, "a real number", "nan")
    lo_ok = (
        number > -math.inf if low is None else (number >= low if low_inclusive else number > low)
    )
    hi_ok = (
        number < math.inf if high is None else (number <= high if high_inclusive else number < high)
    )
    inside_gap = excluded is not None and excluded[0] < number < excluded[1]
    if not (lo_ok and hi_ok) or inside_gap:
        raise LossInputError(
            function,
            name,
            f"a value in {interval_text(low, high, low_inclusive, high_inclusive, excluded)}",
            repr(value if isinstance(value, (int, float)) else number),  # 3.0 as given
        )
    return number


def interval_text(
    low: float | None,
    high: float | None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    excluded: tuple[float, float] | None = None,
) -> str:
    """'[0, 1]', '(0, inf)', '(-inf, inf)': an unbounded end is open; '[0, inf) except (0, 1)'
    with an excluded open interval."""
    left = "(-inf" if low is None else ("[" if low_inclusive else "(") + f"{low:g}"
    right = "inf)" if high is None else f"{high:g}" + ("]" if high_inclusive else ")")
    gap = "" if excluded is None else " except " + interval_text(*excluded, False, False)
    return f"{left}, {right}{gap}"


def check_same_shape(function: str, name: str, x: Any, reference: Any, ref_name: str) -> None:
    if tuple(x.shape) != tuple(reference.shape):
        raise LossInputError(
            function,
            name,
            f"the shape of '{ref_name}' {tuple(reference.shape)} (no implicit broadcasting)",
            f"shape {tuple(x.shape)}",
        )


def values_checkable(x: Any) -> bool:
    """Whether value checks run on ``x``: they are on, ``x`` is concrete (not a JAX tracer, not
    a torch meta tensor) and not empty."""
    return config.check_values and not is_tracing(x) and has_values(x) and size(x) > 0


def check_interval(
    function: str,
    name: str,
    xp: Any,
    x: Any,
    low: float,
    high: float,
    *,
    low_open: bool = False,
) -> None:
    """Every value of ``x`` lies in [low, high] (or (low, high]); NaN fails. Skipped if disabled."""
    if not values_checkable(x):
        return
    lo, hi = value_range(xp, x)
    ok_lo = lo > low if low_open else lo >= low
    if not (ok_lo and hi <= high):
        left = "(" if low_open else "["
        right = ")" if high == math.inf else "]"
        raise LossInputError(
            function,
            name,
            f"values in {left}{low:g}, {high:g}{right}",
            f"values in [{lo:g}, {hi:g}]" if not (math.isnan(lo) or math.isnan(hi)) else "NaN",
        )


def check_members(function: str, name: str, xp: Any, x: Any, allowed: tuple[float, ...]) -> None:
    """Every value of ``x`` is one of ``allowed``. Skipped if disabled or under tracing."""
    if not values_checkable(x):
        return
    ok = x == allowed[0]
    for value in allowed[1:]:
        ok = ok | (x == value)
    if not bool(xp.all(ok)):
        # name the offending values (the range of all values may lie inside the allowed one)
        lo = float(xp.min(xp.where(ok, const(xp, math.inf, x), x)))
        hi = float(xp.max(xp.where(ok, const(xp, -math.inf, x), x)))
        if math.isnan(lo) or math.isnan(hi):
            got = "NaN"
        else:
            got = f"{lo:g}" if lo == hi else f"values from {lo:g} to {hi:g} outside the set"
        expected = f"values in {{{', '.join(f'{a:g}' for a in allowed)}}}"
        raise LossInputError(function, name, expected, got)


def check_finite_target(function: str, name: str, xp: Any, x: Any) -> None:
    """Targets may not hold NaN (it would silently poison the reduced loss)."""
    if not values_checkable(x):
        return
    if bool(xp.any(xp.isnan(x))):
        raise LossInputError(function, name, "no NaN values", "NaN")


def check_sums_to_one(
    function: str, name: str, xp: Any, x: Any, tolerance: float = 1e-2, *, log: bool = False
) -> None:
    """Every vector along the last axis sums to 1 within ``tolerance`` (1%: room for the
    rounding of half-precision probabilities, none for unnormalised scores); with ``log``,
    the exponentials of the values (log-probabilities) do."""
    if not values_checkable(x):
        return
    totals = xp.sum(xp.exp(x) if log else x, axis=-1)
    lo, hi = value_range(xp, totals)
    if not (abs(lo - 1.0) <= tolerance and abs(hi - 1.0) <= tolerance):
        raise LossInputError(
            function,
            name,
            ("log-probabilities whose exponentials sum" if log else "probabilities that sum")
            + " to 1 (within 1%) along the class axis",
            f"sums from {lo:g} to {hi:g}" if lo == lo and hi == hi else "NaN",
        )


def check_class_indices(
    function: str, name: str, xp: Any, x: Any, n_classes: int, ignore_index: int | None
) -> None:
    """Every value is a class index in [0, n_classes), or ``ignore_index``."""
    if not values_checkable(x):
        return
    valid = (x >= 0) & (x < n_classes)
    if ignore_index is not None:
        valid = valid | (x == ignore_index)
    if not bool(xp.all(valid)):
        info = xp.iinfo(x.dtype)  # sentinels in place of the valid values
        lo = int(xp.min(xp.where(valid, const(xp, info.max, x), x)))
        hi = int(xp.max(xp.where(valid, const(xp, info.min, x), x)))
        got = f"{lo}" if lo == hi else f"values from {lo} to {hi} outside the range"
        allowed = f"class indices in [0, {n_classes})"
        if ignore_index is not None:
            allowed += f" or ignore_index {ignore_index}"
        raise LossInputError(function, name, allowed, got)
