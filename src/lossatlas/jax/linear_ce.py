"""Fused linear + softmax cross entropy on JAX arrays, without the (tokens, vocab) logits.

The JAX twin of ``lossatlas.torch.linear_cross_entropy`` (see its docstring for the
formula, the options and the accuracy): ``lax.scan`` over token chunks (the token count is
padded to a multiple of ``chunk_size`` with ignored rows) inside a ``jax.custom_vjp``. For
"mean" and "sum" the forward rule computes the gradients chunk by chunk (grad_hidden = G @ W,
grad_weight += G^T h, grad_bias += sum G, with G = dl/dz of the chunk) and the backward rule
scales them by the scalar cotangent; for "none" the backward rule recomputes them with the
per-token cotangent. ``vocab_chunk_size`` splits the vocabulary into static slices merged
with an online log-sum-exp. Runs under ``jax.jit`` (chunk sizes are static Python ints);
matmuls run in the input dtype with float32 accumulation (``preferred_element_type``) for
bfloat16 and float32, float64 in float64. No higher-order derivatives.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from .._linear_ce import (
    CHUNK_ELEMENTS,
    NAME,
    check_chunk,
    check_inputs,
    check_options,
    default_chunk_size,
    finish,
    merge,
    vocab_pieces,
)
from .._validate import check_class_indices


class _Config(NamedTuple):
    reduction: str
    smoothing: float
    softcap: float | None
    z_loss: float
    chunk: int
    vocab_chunk: int | None


def _acc(dtype: Any) -> Any:
    return jnp.float64 if dtype == jnp.float64 else jnp.float32


def _logits(h, w, b, acc, softcap):
    """(z, t): capped logits in the accumulation dtype and t = tanh(x / c) (None uncapped)."""
    z = jnp.dot(h, w.T, preferred_element_type=acc)
    if b is not None:
        z = z + b.astype(acc)
    if softcap is None:
        return z, None
    t = jnp.tanh(z / softcap)
    return t * softcap, t


def _stats(z, local, smoothing):
    """(top, rest, z_y, spread, e) of a piece: e = exp(z - top) with 0 at one largest entry,
    rest = sum e, z_y the logit at ``local`` (0 where local is -1: off the piece)."""
    cls = lax.broadcasted_iota(jnp.int32, z.shape, 1)
    top = jnp.max(z, axis=-1, keepdims=True)
    at = jnp.argmax(z, axis=-1, keepdims=True)
    is_y = cls == local
    z_y = jnp.sum(jnp.where(is_y, z, 0.0), axis=-1, keepdims=True)
    shifted = z - top
    spread = jnp.sum(shifted, axis=-1, keepdims=True) if smoothing else None
    e = jnp.where(cls == at, 0.0, jnp.exp(shifted))
    return top, jnp.sum(e, axis=-1, keepdims=True), z_y, spread, e, cls == at, is_y


def _chunk(h, w, b, label, scale, cfg: _Config, want_grad: bool):
    """Values (n,) of one token chunk and, with ``want_grad``, (grad_h, grad_w, grad_b) of its
    tokens with the per-token factor ``scale`` (n,)."""
    acc = _acc(h.dtype)
    vocab = w.shape[0]
    s = cfg.smoothing
    index = label[:, None]
    pieces = vocab_pieces(vocab, cfg.vocab_chunk)
    state = z_y = kept = None
    for v0, v1 in pieces:
        z, t = _logits(h, w[v0:v1], None if b is None else b[v0:v1], acc, cfg.softcap)
        local = (
            index - v0
            if len(pieces) == 1
            else jnp.where((index >= v0) & (index < v1), index - v0, -1)
        )
        top, rest, y_part, spread, e, is_top, is_y = _stats(z, local, s)
        z_y = y_part if z_y is None else z_y + y_part
        piece = (top, rest, spread, v1 - v0)
        state = piece if state is None else merge(jnp, state, piece)
        if len(pieces) == 1:
            kept = (e, is_top, is_y, t)
    top, rest, spread, _ = state
    values, lse, nll_y = finish(jnp, top, rest, z_y, spread, vocab, s, cfg.z_loss)
    values = values[:, 0]
    if not want_grad:
        return values, None
    sc = scale[:, None].astype(acc)
    big_a = sc if not cfg.z_loss else sc * (1.0 + 2.0 * cfg.z_loss * lse)
    a_y = 1.0 - s + s / vocab
    p_y = jnp.exp(-nll_y)
    exact_y = sc * (a_y * jnp.expm1(-nll_y)) + (big_a - a_y * sc) * p_y
    grad_h = None
    grad_w = []
    grad_b = []
    for v0, v1 in pieces:
        wp = w[v0:v1]
        if kept is not None:
            e, is_top, is_y, t = kept
            p = jnp.where(is_top, 1.0, e) / (1.0 + rest)
        else:
            z, t = _logits(h, wp, None if b is None else b[v0:v1], acc, cfg.softcap)
            p = jnp.exp(z - lse)
            cls = lax.broadcasted_iota(jnp.int32, z.shape, 1)
            is_y = cls == jnp.where((index >= v0) & (index < v1), index - v0, -1)
        g = big_a * p
        if s:
            g = g - (s / vocab) * sc
        g = jnp.where(is_y, exact_y, g)
        if t is not None:
            g = g * (1.0 - t * t)
        g_in = g.astype(h.dtype)
        grad_b.append(jnp.sum(g, axis=0))
        grad_w.append(jnp.dot(g_in.T, h, preferred_element_type=acc))
        part = jnp.dot(g_in, wp, preferred_element_type=acc)
        grad_h = part if grad_h is None else grad_h + part
    cat = (lambda parts: parts[0]) if len(pieces) == 1 else jnp.concatenate
    return values, (grad_h, cat(grad_w), cat(grad_b))


def _scan(h, w, b, label, valid, scale, cfg: _Config):
    """Values (N,) and, with ``scale``, gradients in the input dtypes (padding rows are
    ignored)."""
    n, hid = h.shape
    c = min(cfg.chunk, max(n, 1))
    k = -(-n // c)
    pad = k * c - n
    acc = _acc(h.dtype)
    want = scale is not None

    def split(x, fill=0):
        x = jnp.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1), constant_values=fill)
        return x.reshape((k, c, *x.shape[1:]))

    xs = (split(h), split(label), split(valid) if scale is None else split(scale))

    def body(carry, x):
        hc, yc, sc = x
        values, grads = _chunk(hc, w, b, yc, sc, cfg, want)
        if not want:
            return carry, (values, jnp.zeros((0,), h.dtype))
        gw, gb = carry
        gh, dw, db = grads
        return (gw + dw, gb + db), (values, gh.astype(h.dtype))

    init = (jnp.zeros(w.shape, acc), jnp.zeros(w.shape[0], acc)) if want else ()
    carry, (values, gh) = lax.scan(body, init, xs)
    values = values.reshape(-1)[:n]
    if not want:
        return values, None
    gw, gb = carry
    grads = (
        gh.reshape(-1, hid)[:n],
        gw.astype(w.dtype),
        None if b is None else gb.astype(b.dtype),
    )
    return values, grads


def _reduce(values, valid, reduction):
    values = values * valid
    if reduction == "none":
        return values
    total = jnp.sum(values)
    if reduction == "sum":
        return total
    return total / jnp.maximum(jnp.sum(valid), 1.0)


def _scale(valid, reduction):
    return valid / jnp.maximum(jnp.sum(valid), 1.0) if reduction == "mean" else valid


@partial(jax.custom_vjp, nondiff_argnums=(5,))
def _fused(h, w, b, label, valid, cfg: _Config):
    values, _ = _scan(h, w, b, label, valid, None, cfg)
    return _reduce(values, valid, cfg.reduction)


def _fused_fwd(h, w, b, label, valid, cfg: _Config):
    if cfg.reduction == "none":
        values, _ = _scan(h, w, b, label, valid, None, cfg)
        return _reduce(values, valid, cfg.reduction), (h, w, b, label, valid, None)
    values, grads = _scan(h, w, b, label, valid, _scale(valid, cfg.reduction), cfg)
    return _reduce(values, valid, cfg.reduction), (None, None, None, label, valid, grads)


def _fused_bwd(cfg: _Config, res, g):
    h, w, b, label, valid, grads = res
    if grads is None:  # "none": the cotangent is per token
        _, grads = _scan(h, w, b, label, valid, valid * g.astype(valid.dtype), cfg)
        gh, gw, gb = grads
    else:
        gh, gw, gb = (None if x is None else x * g.astype(x.dtype) for x in grads)
    return gh, gw, gb, None, None


_fused.defvjp(_fused_fwd, _fused_bwd)


def _is_array(x: Any) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype")


def linear_cross_entropy(
    hidden: Any,
    weight: Any,
    target: Any,
    *,
    bias: Any = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    softcap: float | None = None,
    z_loss: float = 0.0,
    reduction: str = "mean",
    chunk_size: int | None = None,
    vocab_chunk_size: int | None = None,
) -> Any:
    """Softmax cross entropy of ``hidden @ weight.T + bias`` without building the logits:
    ``lossatlas.torch.linear_cross_entropy`` on JAX arrays (same arguments and semantics).
    Differentiable (``jax.grad``) in hidden, weight and bias; jit-compatible."""
    check_inputs(NAME, jnp, hidden, weight, target, bias, is_array=_is_array, kind="a JAX array")
    ignore_index, smoothing, softcap, z_loss = check_options(
        NAME, ignore_index, label_smoothing, softcap, z_loss, reduction
    )
    chunks = [
        check_chunk(NAME, "chunk_size", chunk_size),
        check_chunk(NAME, "vocab_chunk_size", vocab_chunk_size),
    ]
    vocab = weight.shape[0]
    check_class_indices(NAME, "target", jnp, target, vocab, ignore_index)
    h = hidden.reshape(-1, hidden.shape[-1])
    y = target.reshape(-1)
    acc = _acc(hidden.dtype)
    valid = jnp.ones(y.shape, acc) if ignore_index is None else (y != ignore_index).astype(acc)
    label = jnp.where(valid > 0, y, 0).astype(jnp.int32)
    cfg = _Config(
        reduction, smoothing, softcap, z_loss, chunks[0] or default_chunk_size(vocab), chunks[1]
    )
    out = _fused(h, weight, bias, label, valid, cfg)
    out = out.astype(hidden.dtype)
    return out.reshape(target.shape) if reduction == "none" else out


__all__ = ["CHUNK_ELEMENTS", "default_chunk_size", "linear_cross_entropy"]
