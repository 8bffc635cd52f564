"""JAX-specific lossatlas functions (imported explicitly: ``import lossatlas`` does not import
JAX). The losses themselves work on JAX arrays from ``lossatlas`` directly; this package holds
what needs JAX's own machinery (``lax.scan``, ``jax.custom_vjp``).

    >>> from lossatlas.jax import linear_cross_entropy
"""

from __future__ import annotations

from .linear_ce import default_chunk_size, linear_cross_entropy

__all__ = ["default_chunk_size", "linear_cross_entropy"]
