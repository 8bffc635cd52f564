"""The catalogue of losses: the single source for docs, plots, the CLI and the generic tests."""

from __future__ import annotations

import re
from typing import TypeVar

from ._loss import Loss

_BY_NAME: dict[str, Loss] = {}
_BY_KEY: dict[str, Loss] = {}
FAMILY_ORDER = ("regression", "classification", "margin")

L = TypeVar("L", bound=Loss)


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


def get(name: str) -> Loss:
    """The loss called ``name`` or any alias of it (PyTorch, Keras, TensorFlow, Paddle, optax)."""
    loss = _BY_KEY.get(_key(name))
    if loss is None:
        raise KeyError(f"no loss named {name!r}; `lossatlas list` shows the catalogue")
    return loss


def catalog(family: str | None = None) -> list[Loss]:
    """All registered losses, ordered by family then name; optionally one family only."""
    order = {f: i for i, f in enumerate(FAMILY_ORDER)}
    losses = [x for x in _BY_NAME.values() if family is None or x.spec.family == family]
    return sorted(losses, key=lambda x: (order.get(x.spec.family, len(order)), x.name))
