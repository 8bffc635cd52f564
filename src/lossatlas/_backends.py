"""Which implementation of a loss runs: the one place that decides.

Every loss has its definition, written against the array API. An array library may also have
fast paths (a native kernel, an ``autograd.Function``) for some losses. Fast paths are not part
of the core: a provider module registers them here with :func:`register` when it is imported,
and the core imports the provider of a library only when the first array of that library
arrives (the provider of library ``L`` is the module ``lossatlas.L._fast``, if it exists).

A fast path is a function ``(loss, call) -> Unreduced | None``: the unreduced loss, or None
where it does not apply to this call (then the definition runs). It never reduces: the one
reducer does that. A fast path must equal the definition to a few ulps on every input it
accepts; the tests hold each registered one to that over the edge values of its loss.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._config import config

FastPathFn = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class FastPath:
    """A registered fast path: for ``loss`` on arrays of ``library``, ``run(loss, call)``."""

    library: str
    loss: str
    run: FastPathFn
    doc: str


_FAST: dict[tuple[str, str], FastPath] = {}
_LOADED: set[str] = set()


def register(library: str, loss: str, run: FastPathFn, doc: str = "") -> FastPathFn:
    """Register ``run`` as the fast path of the loss named ``loss`` on ``library``'s arrays."""
    key = (library, loss)
    if key in _FAST and _FAST[key].run is not run:
        raise ValueError(f"a fast path for {loss!r} on {library} is already registered")
    _FAST[key] = FastPath(library, loss, run, doc or (run.__doc__ or "").strip())
    return run


def load(library: str) -> None:
    """Import the provider of ``library``'s fast paths once, if there is one."""
    if library in _LOADED:
        return
    _LOADED.add(library)
    name = f"{__package__}.{library}._fast"
    try:
        found = importlib.util.find_spec(name) is not None
    except ImportError:  # no subpackage of that name
        found = False
    if found:
        importlib.import_module(name)


def fast_path(library: str, loss: str) -> FastPath | None:
    """The fast path registered for ``loss`` on ``library`` (after loading its provider)."""
    load(library)
    return _FAST.get((library, loss))


def registered(library: str | None = None) -> list[FastPath]:
    """Every registered fast path (of one library), after loading that library's provider."""
    if library is not None:
        load(library)
    return [f for f in _FAST.values() if library is None or f.library == library]


def implementation(loss: Any, call: Any) -> Any:
    """The unreduced loss of a validated call: from the fast path of the call's library where
    one is registered, fast paths are enabled and it accepts the call; else the definition."""
    if config.fast_paths and call.size > 0 and call.has_values:
        found = fast_path(call.library, loss.name)
        if found is not None:
            out = found.run(loss, call)
            if out is not None:
                return out
    return loss.definition(call)
