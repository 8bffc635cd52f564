"""Shared fixtures. JAX runs in 64-bit mode so that float64 tests are float64 on every backend."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import jax
import pytest

jax.config.update("jax_enable_x64", True)

sys.path.insert(0, str(Path(__file__).parent))  # make tests/_inputs.py importable

import lossatlas  # noqa: E402


@pytest.fixture
def torch_fast_path_if_available():
    """Use the torch fast paths when src/lossatlas/torch/_fast.py exists, else the composed code.

    The fast paths are the default for torch tensors; while they are being written the generic
    suite still runs on the array-API definitions.
    """
    try:
        available = importlib.util.find_spec("lossatlas.torch._fast") is not None
    except ImportError:
        available = False
    if available:
        yield True
    else:
        with lossatlas.config.override(fast_paths=False):
            yield False
