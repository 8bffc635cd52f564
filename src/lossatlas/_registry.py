"""The catalogue of losses: the single source for docs, plots, the CLI and the generic tests."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from ._loss import Loss
from ._validate import LossInputError, describe

_BY_NAME: dict[str, Loss] = {}
_BY_KEY: dict[str, Loss] = {}
#: The order families are listed in; a family not named here follows, alphabetically.
PREFERRED_FAMILY_ORDER = ("regression", "classification", "multiclass", "margin")

L = TypeVar("L", bound=Loss)


class UnknownLossError(LossInputError, KeyError):
    """No loss has the name asked for (a ``LossInputError`` and a ``KeyError``)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return LossInputError.__str__(self)


def _key(name: str) -> str:
    """Case-, underscore- and punctuation-insensitive lookup key: 'HuberLoss' == 'huber_loss'."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


def _keys_for(loss: Loss) -> set[str]:
    spec = loss.spec
    names = {spec.name, *spec.aliases}
    for qualified in spec.framework_names.values():
        # an entry with a parenthesised note ("... (from_logits=True)") is documentation only
        names.update(one.strip() for one in qualified.split(",") if "(" not in one)
    return {_key(n) for n in names if n}


def register(loss: L) -> L:
    """Add a loss instance to the catalogue; names and aliases must be unique."""
    if loss.name in _BY_NAME:
        raise ValueError(f"loss {loss.name!r} is registered twice")
    keys = _keys_for(loss)
    for key in keys:
        other = _BY_KEY.get(key)
        if other is not None and other is not loss:
            raise ValueError(f"alias {key!r} of {loss.name!r} already names {other.name!r}")
    _BY_NAME[loss.name] = loss
    for key in keys:
        _BY_KEY[key] = loss
    return loss


def get(name: Any) -> Loss:
    """The loss called ``name`` or any alias of it (PyTorch, Keras, TensorFlow, Paddle, optax).

    Raises:
        UnknownLossError: no loss has that name (a ``LossInputError`` and a ``KeyError``);
            ``LossInputError`` if ``name`` is not a string.
    """
    if not isinstance(name, str):
        raise LossInputError("get", "name", "a loss name (a string)", describe(name))
    loss = _BY_KEY.get(_key(name))
    if loss is None:
        raise UnknownLossError(
            "get", "name", "the name of a registered loss (`lossatlas list`)", repr(name)
        )
    return loss


def families() -> tuple[str, ...]:
    """The families of the registered losses, in the preferred order, then alphabetically."""
    present = {loss.spec.family for loss in _BY_NAME.values()}
    known = [f for f in PREFERRED_FAMILY_ORDER if f in present]
    return (*known, *sorted(present - set(known)))


def catalog(family: str | None = None) -> list[Loss]:
    """All registered losses, ordered by family then name; optionally one family only."""
    order = {f: i for i, f in enumerate(families())}
    losses = [x for x in _BY_NAME.values() if family is None or x.spec.family == family]
    return sorted(losses, key=lambda x: (order[x.spec.family], x.name))
