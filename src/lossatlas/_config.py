"""Library-wide switches: ``lossatlas.config``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, fields


@dataclass
class Config:
    """Global settings.

    Attributes:
        check_values: run value checks (probabilities in [0, 1], targets in the allowed set, NaN
            in targets) on eager backends. They cost a pass over the data and, on a GPU, a
            synchronisation. Under JAX tracing they are always skipped.
        fast_paths: use a backend's fast path (on torch: a native kernel where it computes the
            same loss to a few ulps, or an autograd.Function with a closed-form backward) where
            one is registered, instead of the composed array-API definition.
    """

    check_values: bool = True
    fast_paths: bool = True

    @contextlib.contextmanager
    def override(self, **changes: bool) -> Iterator[Config]:
        """Temporarily change settings: ``with lossatlas.config.override(check_values=False):``."""
        names = {f.name for f in fields(self)}
        unknown = set(changes) - names
        if unknown:
            raise TypeError(f"unknown config setting(s): {sorted(unknown)}; known: {sorted(names)}")
        saved = {name: getattr(self, name) for name in changes}
        for name, value in changes.items():
            setattr(self, name, value)
        try:
            yield self
        finally:
            for name, value in saved.items():
                setattr(self, name, value)


config = Config()
