"""Backends and the small training loops the studies share.

Models are linear in their features (``z = X @ beta``; a column of ones gives the intercept).
The data and every loss evaluation live in the chosen backend (NumPy, PyTorch or JAX, float64);
the parameter vector is a small NumPy array, and the gradient and Hessian with respect to it are
formed from the LIBRARY's per-element ``.grad`` / ``.hess`` by the chain rule:
``d/dbeta mean(l(X beta)) = X^T l'(z) / n`` and ``X^T diag(l''(z)) X / n``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

BACKENDS = ("numpy", "torch", "jax")


@dataclass(frozen=True)
class Backend:
    """Converts NumPy arrays to the backend's float64 arrays and back."""

    name: str

    def asarray(self, a: Any) -> Any:
        a = np.ascontiguousarray(a, dtype=np.float64)
        if self.name == "torch":
            import torch

            return torch.tensor(a, dtype=torch.float64)
        if self.name == "jax":
            import jax.numpy as jnp

            return jnp.asarray(a, dtype=jnp.float64)
        return a

    def numpy(self, x: Any) -> np.ndarray:
        if self.name == "torch":
            return x.detach().cpu().numpy().astype(np.float64)
        return np.asarray(x, dtype=np.float64)

    def scalar(self, x: Any) -> float:
        return float(self.numpy(x))

    @property
    def xp(self) -> Any:
        """The array-API namespace of this backend's arrays."""
        from array_api_compat import array_namespace

        return array_namespace(self.asarray(np.zeros(1)))


@contextlib.contextmanager
def backend_scope(name: str) -> Iterator[Backend]:
    """The backend, with JAX switched to 64-bit inside the block (and only there)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {list(BACKENDS)}")
    if name == "jax":
        import jax

        with jax.enable_x64(True):
            yield Backend(name)
    else:
        yield Backend(name)


@contextlib.contextmanager
def torch_scope() -> Iterator[Any]:
    """torch with one intra-op thread (the models of the torch studies are small, and one
    thread makes their sums the same on every run), the caller's global RNG state restored
    afterwards."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            yield torch
    finally:
        torch.set_num_threads(threads)


def progress_bar(iterable: Iterable[Any], *, desc: str, progress: bool, total: int | None = None):
    """A tqdm bar on stderr, or the plain iterable when ``progress`` is False."""
    if not progress:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, total=total, file=sys.stderr, leave=False)


# ---- fitting ---------------------------------------------------------------------------------
@dataclass
class Fit:
    """A fitted linear model: ``beta`` and how the optimiser got there."""

    beta: np.ndarray
    n_iter: int
    converged: bool
    objective: float
    history: list[float] = field(default_factory=list)


def _mask(d: int, penalize: np.ndarray | None) -> np.ndarray:
    return np.ones(d) if penalize is None else np.asarray(penalize, dtype=np.float64)


def objective(
    loss: Any,
    bk: Backend,
    X: Any,
    y: Any,
    beta: np.ndarray,
    params: dict[str, Any] | None = None,
    *,
    l2: float = 0.0,
    penalize: np.ndarray | None = None,
) -> float:
    """``mean(loss(X beta, y)) + l2/2 * |penalize * beta|^2``."""
    z = X @ bk.asarray(beta)
    value = bk.scalar(loss(z, y, **(params or {})))
    m = _mask(beta.shape[0], penalize)
    return value + 0.5 * l2 * float(np.sum(m * beta * beta))


def fit_newton(
    loss: Any,
    bk: Backend,
    X: Any,
    y: Any,
    *,
    params: dict[str, Any] | None = None,
    l2: float = 0.0,
    penalize: np.ndarray | None = None,
    beta0: np.ndarray | None = None,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> Fit:
    """Damped Newton on ``mean(loss) + l2/2 |beta|^2`` with the loss's analytic grad and hess.

    The Hessian's eigenvalues are floored at a small positive value (focal loss is not convex)
    and each step is backtracked until the objective decreases enough (Armijo).
    """
    params = params or {}
    n, d = X.shape
    m = _mask(d, penalize)
    beta = np.zeros(d) if beta0 is None else np.array(beta0, dtype=np.float64)
    f = objective(loss, bk, X, y, beta, params, l2=l2, penalize=penalize)
    history = [f]
    converged = False
    it = 0
    while it < max_iter:
        it += 1
        z = X @ bk.asarray(beta)
        g_el = loss.grad(z, y, **params)
        h_el = loss.hess(z, y, **params)
        grad = bk.numpy(X.T @ g_el) / n + l2 * m * beta
        hess = bk.numpy(X.T @ (X * h_el[:, None])) / n + l2 * np.diag(m)
        if np.linalg.norm(grad) < tol:
            converged = True
            break
        evals, evecs = np.linalg.eigh(0.5 * (hess + hess.T))
        floor = 1e-10 * max(1.0, float(np.max(np.abs(evals))))
        step = -evecs @ ((evecs.T @ grad) / np.maximum(evals, floor))
        slope = float(grad @ step)
        t = 1.0
        while True:
            candidate = beta + t * step
            f_new = objective(loss, bk, X, y, candidate, params, l2=l2, penalize=penalize)
            if np.isfinite(f_new) and f_new <= f + 1e-4 * t * slope:
                break
            t *= 0.5
            if t < 1e-12:
                break
        if t < 1e-12:  # no decrease possible along the Newton direction: at the optimum
            converged = True
            break
        delta = np.linalg.norm(candidate - beta)
        beta, f = candidate, f_new
        history.append(f)
        if delta < tol * (1.0 + np.linalg.norm(beta)):
            converged = True
            break
    return Fit(beta=beta, n_iter=it, converged=converged, objective=f, history=history)


def fit_irls(
    loss: Any,
    bk: Backend,
    X: np.ndarray,
    y: np.ndarray,
    *,
    params: dict[str, Any] | None = None,
    max_iter: int = 500,
    tol: float = 1e-12,
    eps: float = 1e-9,
    start: np.ndarray | None = None,
) -> Fit:
    """Iteratively reweighted least squares for a regression (M-estimation) loss.

    With residuals ``r = X beta - y`` and the loss's derivative ``psi = loss.grad``, each step
    solves the weighted least squares with weights ``psi(r) / r`` (|r| floored at ``eps``). Its
    fixed point is the stationary point ``X^T psi(r) = 0``. ``X`` and ``y`` are NumPy arrays;
    the loss's derivative is evaluated on the backend. It starts from ``start``, else from the
    MSE fit; a redescending (non-convex) loss has several stationary points, and should start
    from a robust fit (Huber's, as MM-estimation does).
    """
    params = params or {}
    y_b = bk.asarray(y)
    beta = np.linalg.lstsq(X, y, rcond=None)[0] if start is None else np.array(start, float)
    converged = False
    it = 0
    while it < max_iter:
        it += 1
        r = X @ beta - y
        r_safe = np.where(np.abs(r) < eps, eps, r)
        psi = bk.numpy(loss.grad(bk.asarray(y + r_safe), y_b, **params))
        w = psi / r_safe
        xtw = X.T * w
        new = np.linalg.solve(xtw @ X, xtw @ y)
        delta = np.max(np.abs(new - beta))
        beta = new
        if delta < tol * (1.0 + np.max(np.abs(beta))):
            converged = True
            break
    f = objective(loss, bk, bk.asarray(X), y_b, beta, params)
    return Fit(beta=beta, n_iter=it, converged=converged, objective=f)


def gradient_descent(
    bk: Backend,
    X: Any,
    beta0: np.ndarray,
    *,
    grad_z: Callable[[Any], Any],
    lr: float,
    epochs: int,
    record: Callable[[int, np.ndarray], None] | None = None,
) -> np.ndarray:
    """Plain full-batch gradient descent: ``beta -= lr * X^T grad_z(X beta) / n``.

    ``grad_z(z)`` returns the per-example derivative of the loss with respect to the score
    ``z`` (a backend array); ``record(epoch, beta)`` is called with epoch 0 before the first
    step and after every epoch.
    """
    n = X.shape[0]
    beta = np.array(beta0, dtype=np.float64)
    if record is not None:
        record(0, beta)
    for epoch in range(1, epochs + 1):
        g = bk.numpy(X.T @ grad_z(X @ bk.asarray(beta))) / n
        beta = beta - lr * g
        if record is not None:
            record(epoch, beta)
    return beta
