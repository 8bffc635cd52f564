"""Input domains as objects: what an input may hold, how it is checked, sampled and made safe.

A domain is named on each :class:`~lossatlas._spec.Input` of a loss. The same object drives the
value checks (``check``), the random inputs of the generic tests (``sample``), the special
values of the edge tests (``edges``), the value put in place of an element that a zero weight
masks out (``safe``) and the docs (``description``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validate import (
    check_class_indices,
    check_interval,
    check_members,
    check_sums_to_one,
    values_checkable,
)
from ._xp import device

#: per floating dtype: (largest finite, smallest normal, smallest subnormal, 1 - ulp(1)/2)
FLOAT_FACTS: dict[str, tuple[float, float, float, float]] = {
    "float16": (65504.0, 2.0**-14, 2.0**-24, 1.0 - 2.0**-11),
    "bfloat16": (3.3895313892515355e38, 2.0**-126, 2.0**-133, 1.0 - 2.0**-8),
    "float32": (3.4028234663852886e38, 2.0**-126, 2.0**-149, 1.0 - 2.0**-24),
    "float64": (1.7976931348623157e308, 2.0**-1022, 5e-324, 1.0 - 2.0**-53),
}


@dataclass(frozen=True)
class Domain:
    """What one input (or the variable of a probe) may hold.

    Attributes:
        name: the key used in specs ("real", "probability", "class_index", ...).
        description: one line for the docs.
        low, high: the range of values; ``low_open`` excludes the lower end.
        members: a finite set of allowed values (sign labels), checked instead of the range.
        index: integer class indices in [0, C): never cast to float, never differentiated.
        simplex: the values along the last (class) axis also sum to 1.
        log_simplex: the values are log-probabilities: their exponentials along the last
            (class) axis sum to 1.
        safe: a value inside the domain, put where a zero weight masks an element out, so
            that nothing computed from the masked element is NaN or infinite.
        relative: the allowed values depend on other inputs (labels within each target
            length, lengths up to a padded size): the loss checks them
            (``Loss._check_inputs``) and its ``spec.sampler`` draws them.
        ignorable: a value equal to the loss's ``ignore_index`` is also allowed (a pixel
            of a segmentation mask that the loss leaves out); the range (or membership) check
            reads ``ignore_index`` from the context.
    """

    name: str
    description: str
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    members: tuple[float, ...] | None = None
    index: bool = False
    simplex: bool = False
    log_simplex: bool = False
    safe: float = 0.0
    relative: bool = False
    ignorable: bool = False

    def check(self, function: str, argument: str, xp: Any, x: Any, **context: Any) -> None:
        """Raise :class:`LossInputError` if a value of ``x`` lies outside the domain.

        An index domain reads ``n_classes`` and ``ignore_index`` from ``context``. Skipped when
        value checks are off, under JAX tracing and on arrays without values (torch's meta).
        """
        if self.relative:
            return
        if self.index:
            check_class_indices(
                function, argument, xp, x, context["n_classes"], context.get("ignore_index")
            )
        elif self.members is not None:
            ignore = context.get("ignore_index") if self.ignorable else None
            extra = () if ignore is None else (float(ignore),)
            check_members(function, argument, xp, x, self.members + extra)
        elif self.low > -math.inf or self.high < math.inf:
            ignore = context.get("ignore_index") if self.ignorable else None
            if ignore is not None and values_checkable(x):  # ignored values read as the low end
                x = xp.where(x == ignore, xp.asarray(self.low, dtype=x.dtype, device=device(x)), x)
            check_interval(function, argument, xp, x, self.low, self.high, low_open=self.low_open)
            if self.simplex or self.log_simplex:
                check_sums_to_one(function, argument, xp, x, log=self.log_simplex)

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...], **context: Any) -> Any:
        """Random valid values as a NumPy array: float64, or int64 for an index domain."""
        if self.relative:
            raise ValueError(f"values of domain {self.name!r} are drawn by the loss's sampler")
        if self.index:
            return rng.integers(0, context["n_classes"], size=shape)
        if self.simplex or self.log_simplex:
            raw = rng.gamma(1.0, size=shape) + 0.05
            probs = raw / raw.sum(axis=-1, keepdims=True)
            return np.log(probs) if self.log_simplex else probs
        return _SAMPLERS[self.name](rng, shape)

    def edges(self, dtype: str) -> tuple[float, ...]:
        """Special values in ``dtype`` for the edge tests: both ends of the domain (exact 0 and
        1 for probabilities, +-inf for unbounded ones), the magnitudes 1e4, 1e30 and 1e300
        where ``dtype`` has them, confident logits (12, 16, 40), small values where losses
        are tiny (1e-7, 1e-3), and the smallest normal and subnormal numbers. Each value is
        exact in ``dtype`` after rounding there (the caller rounds)."""
        if self.members is not None:
            return tuple(sorted(set(self.members)))
        big, tiny, sub, below_one = FLOAT_FACTS[dtype]
        magnitudes = [v for v in (1.0, 12.0, 16.0, 40.0, 1e4, 1e30, 1e300) if v <= big]
        small = [sub, tiny, 1e-7, 1e-3]
        values: set[float] = set()
        if self.high == math.inf:
            values |= {math.inf, *magnitudes}
        if self.low == -math.inf:
            values |= {-math.inf, *(-m for m in magnitudes), *(-v for v in small)}
        if self.low <= 0.0 <= self.high and not (self.low == 0.0 and self.low_open):
            values.add(0.0)
        if self.low < tiny and self.high > tiny:
            values |= set(small)
        if self.high == 1.0:
            values |= {0.5, 1.0 - 1e-3, below_one, 1.0}
            values -= {v for v in magnitudes if v > 1.0}
        return tuple(sorted(values))

    def range_text(self) -> str:
        """The allowed values as an interval or a set, for messages and docs."""
        if self.members is not None:
            return "{" + ", ".join(f"{m:g}" for m in self.members) + "}"
        left = "(" if self.low_open or self.low == -math.inf else "["
        right = ")" if self.high == math.inf else "]"
        return f"{left}{self.low:g}, {self.high:g}{right}"


def _counts_and_rates(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Non-negative values: whole counts (zeros included) mixed with positive rates."""
    counts = rng.poisson(2.0, size=shape).astype(np.float64)
    return np.where(rng.random(shape) < 0.5, counts, np.abs(rng.normal(size=shape)) * 2.0 + 0.1)


_SAMPLERS = {
    "real": lambda rng, shape: rng.normal(size=shape) * 3.0,
    "logit": lambda rng, shape: rng.normal(size=shape) * 3.0,
    "probability": lambda rng, shape: rng.uniform(0.01, 0.99, size=shape),
    "positive": lambda rng, shape: np.abs(rng.normal(size=shape)) * 2.0 + 0.1,
    "nonnegative": _counts_and_rates,
    # hard 0/1 labels and soft labels mixed
    "binary": lambda rng, shape: np.where(
        rng.random(shape) < 0.5,
        rng.integers(0, 2, size=shape).astype(np.float64),
        rng.uniform(0.0, 1.0, size=shape),
    ),
    "mask": lambda rng, shape: np.where(
        rng.random(shape) < 0.7,
        rng.integers(0, 2, size=shape).astype(np.float64),
        rng.uniform(0.0, 1.0, size=shape),
    ),
    "sign": lambda rng, shape: rng.choice(np.array([-1.0, 1.0]), size=shape),
    "strict_sign": lambda rng, shape: rng.choice(np.array([-1.0, 1.0]), size=shape),
    "hard_mask": lambda rng, shape: rng.integers(0, 2, size=shape).astype(np.float64),
    "log_probability": lambda rng, shape: np.log(rng.uniform(0.01, 0.99, size=shape)),
    "cosine": lambda rng, shape: rng.uniform(-1.0, 1.0, size=shape),
}

DOMAINS: dict[str, Domain] = {
    d.name: d
    for d in (
        Domain("real", "any real number"),
        Domain("logit", "any real number (a logit, the input of a sigmoid or a softmax)"),
        Domain("probability", "a probability in [0, 1]", low=0.0, high=1.0, safe=0.5),
        Domain("positive", "a positive number", low=0.0, low_open=True, safe=1.0),
        Domain("nonnegative", "a number >= 0 (a rate, a count, a variance)", low=0.0, safe=1.0),
        Domain("binary", "a label in [0, 1] (hard 0/1 or soft)", low=0.0, high=1.0),
        Domain(
            "mask",
            "a mask value in [0, 1] (hard 0/1 or soft), or ignore_index (left out)",
            low=0.0,
            high=1.0,
            ignorable=True,
        ),
        Domain("sign", "a label in {-1, 1} (0 is read as -1)", members=(-1.0, 0.0, 1.0), safe=1.0),
        Domain("strict_sign", "a label -1 or 1 (0 is an error)", members=(-1.0, 1.0), safe=1.0),
        Domain(
            "hard_mask",
            "a hard label 0 or 1, or ignore_index (left out)",
            members=(0.0, 1.0),
            ignorable=True,
        ),
        Domain(
            "log_probability",
            "a log-probability: a number <= 0, -inf for probability 0",
            high=0.0,
            safe=-1.0,
        ),
        Domain("class_index", "an integer class index in [0, C), or ignore_index", index=True),
        Domain("cosine", "a cosine similarity in [-1, 1]", low=-1.0, high=1.0),
        Domain(
            "label",
            "an integer label; samples with equal labels belong together (any integers: "
            "no class count)",
            index=True,
            relative=True,
        ),
        Domain(
            "label_sequence",
            "integer labels in [0, C) other than the blank, padded (values past each "
            "sequence's length are ignored)",
            index=True,
            relative=True,
        ),
        Domain(
            "length",
            "an integer length in [0, the padded size]",
            index=True,
            relative=True,
        ),
        Domain(
            "box",
            "the 4 finite coordinates of a box in the format named by fmt: xyxy with "
            "x1 <= x2 and y1 <= y2, or xywh / cxcywh with w, h >= 0 (0 0 0 0 is a point)",
            relative=True,
        ),
        Domain(
            "simplex",
            "class probabilities: values in [0, 1] that sum to 1 along the class axis",
            low=0.0,
            high=1.0,
            simplex=True,
        ),
        Domain(
            "log_simplex",
            "class log-probabilities: values <= 0 (-inf for probability 0) whose exponentials "
            "sum to 1 along the class axis",
            high=0.0,
            log_simplex=True,
            safe=-1.0,
        ),
    )
}


def domain(name: str) -> Domain:
    """The domain called ``name``."""
    try:
        return DOMAINS[name]
    except KeyError:
        raise ValueError(f"unknown domain {name!r}; known: {sorted(DOMAINS)}") from None
