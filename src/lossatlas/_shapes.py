"""Shape patterns of loss inputs: ``"*b C"``, ``"*b"``, ``"*b 4"``, ``"N T C"``, ``""``.

A pattern is a space-separated list of dimensions: ``*name`` matches any number of leading or
trailing dimensions (at most one per pattern), a name matches one dimension, an integer matches
a dimension of that size. Names are bound by the first input that uses them and must agree in
every later one, so ``logits: "*b C"`` and ``labels: "*b"`` say that the labels have the
logits' shape without the class axis.
"""

from __future__ import annotations

from dataclasses import dataclass

Bindings = dict[str, "int | tuple[int, ...]"]


@dataclass(frozen=True)
class ShapeMismatch(Exception):
    """Why a shape does not match a pattern, in words for an error message."""

    expected: str
    got: str


def _tokens(pattern: str) -> list[str]:
    tokens = pattern.split()
    if sum(t.startswith("*") for t in tokens) > 1:
        raise ValueError(f"shape pattern {pattern!r} has more than one '*' group")
    return tokens


def describe(pattern: str, bindings: Bindings) -> str:
    """The pattern with what is already bound filled in: ``"*b C"`` with b = (8,) and C = 5
    reads ``"(8, 5)"``; unbound names stay as they are (``"(*b, 5)"``)."""
    parts: list[str] = []
    for token in _tokens(pattern):
        bound = bindings.get(token.lstrip("*"))
        if token.startswith("*") and isinstance(bound, tuple):
            parts.extend(str(d) for d in bound)
        elif not token.startswith("*") and bound is not None:
            parts.append(str(bound))
        else:
            parts.append(token)
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def match(pattern: str, shape: tuple[int, ...], bindings: Bindings) -> Bindings:
    """The bindings extended by matching ``shape`` against ``pattern``.

    Raises:
        ShapeMismatch: the shape has the wrong number of dimensions or a dimension disagrees
            with a literal or an earlier binding.
    """
    tokens = _tokens(pattern)
    shape = tuple(int(d) for d in shape)
    star = next((i for i, t in enumerate(tokens) if t.startswith("*")), None)
    fixed = len(tokens) - (star is not None)
    if (star is None and len(shape) != fixed) or len(shape) < fixed:
        raise ShapeMismatch(_expected(pattern, bindings), f"shape {shape}")
    out = dict(bindings)
    if star is None:
        pairs = list(zip(tokens, shape, strict=True))
    else:
        n_star = len(shape) - fixed
        head, tail = tokens[:star], tokens[star + 1 :]
        pairs = list(zip(head, shape[:star], strict=True))
        pairs += list(zip(tail, shape[star + n_star :], strict=True))
        name = tokens[star][1:]
        group = shape[star : star + n_star]
        if name in out and out[name] != group:
            raise ShapeMismatch(_expected(pattern, bindings), f"shape {shape}")
        out[name] = group
    for token, size in pairs:
        if token.isdigit():
            if int(token) != size:
                raise ShapeMismatch(_expected(pattern, bindings), f"shape {shape}")
        elif token in out and out[token] != size:
            raise ShapeMismatch(_expected(pattern, bindings), f"shape {shape}")
        else:
            out[token] = size
    return out


def _expected(pattern: str, bindings: Bindings) -> str:
    if not pattern:
        return "shape () (a 0-d array)"
    return f"shape [{pattern}] = {describe(pattern, bindings)}"


def resolve(pattern: str, bindings: Bindings) -> tuple[int, ...]:
    """The shape a fully bound pattern stands for (the output shape of a loss)."""
    out: list[int] = []
    for token in _tokens(pattern):
        if token.startswith("*"):
            out.extend(bindings[token[1:]])  # type: ignore[arg-type]
        elif token.isdigit():
            out.append(int(token))
        else:
            out.append(int(bindings[token]))  # type: ignore[arg-type]
    return tuple(out)
