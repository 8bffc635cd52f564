"""Input checks shared by every loss; each failure raises :class:`LossInputError`."""

from __future__ import annotations

import math
from typing import Any

from array_api_compat import size

from ._config import config
from ._xp import const, is_tracing, value_range


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
) -> None:
    """A scalar hyperparameter must be a real number inside [low, high] (or the open ends)."""
    if value is None:
        if allow_none:
            return
        raise LossInputError(function, name, "a number", "None")
    # a flag or a string is not a number, even where float() would take it (True, "0.5")
    is_flag = isinstance(value, bool) or getattr(getattr(value, "dtype", None), "kind", "") == "b"
    if is_flag or isinstance(value, (str, bytes)):
        raise LossInputError(function, name, "a real number", describe(value))
    if not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise LossInputError(function, name, "a real number", describe(value)) from None
    if math.isnan(value):
        raise LossInputError(function, name, "a real number", "nan")
    lo_ok = low is None or (value >= low if low_inclusive else value > low)
    hi_ok = high is None or (value <= high if high_inclusive else value < high)
    if not (lo_ok and hi_ok):
        left = "(-inf" if low is None else ("[" if low_inclusive else "(") + f"{low:g}"
        right = "inf)" if high is None else f"{high:g}" + ("]" if high_inclusive else ")")
        raise LossInputError(function, name, f"a value in {left}, {right}", repr(value))


def check_same_shape(function: str, name: str, x: Any, reference: Any, ref_name: str) -> None:
    if tuple(x.shape) != tuple(reference.shape):
        raise LossInputError(
            function,
            name,
            f"the shape of '{ref_name}' {tuple(reference.shape)} (no implicit broadcasting)",
            f"shape {tuple(x.shape)}",
        )


def values_checkable(x: Any) -> bool:
    return config.check_values and not is_tracing(x) and size(x) > 0


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
        raise LossInputError(
            function,
            name,
            f"values in {left}{low:g}, {high:g}]",
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
