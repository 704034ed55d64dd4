"""Numerical gradients (数値微分) to check backpropagation.

A central difference, (L(θ + ε) - L(θ - ε)) / 2ε, approximates dL/dθ with an
error of order ε². Comparing it with BPTT's gradient, entry by entry, proves the
backward pass right (or shows where it is wrong).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .model import PARAM_NAMES, Params, _backward, _forward, check_inputs, check_params, loss


def numerical_gradient(
    loss_fn: Callable[[Params], float], params: Params, eps: float = 1e-6
) -> Params:
    """Central differences of ``loss_fn(params)`` for every entry of every parameter.

    ``params`` is changed one entry at a time and restored; returns arrays shaped
    like the parameters. Cost: two calls of ``loss_fn`` per entry.
    """
    check_params(params)
    if not (isinstance(eps, float) and 0 < eps < 1):
        raise ValueError(f"eps must be a float in (0, 1), got {eps!r}")
    grads = {}
    for name in PARAM_NAMES:
        p = params[name]
        g = np.zeros_like(p, dtype=float)
        for idx in np.ndindex(p.shape):
            keep = p[idx]
            p[idx] = keep + eps
            plus = loss_fn(params)
            p[idx] = keep - eps
            minus = loss_fn(params)
            p[idx] = keep
            g[idx] = (plus - minus) / (2 * eps)
        grads[name] = g
    return grads


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(|a|, |b|) over all entries: 0 for equal arrays, ~1 for unrelated ones.

    The denominator is floored at 1e-12 so two zero arrays give 0, not NaN.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(
            f"relative_error compares arrays of one shape, got {a.shape} and {b.shape}"
        )
    scale = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0), 1e-12)
    return float(np.abs(a - b).max(initial=0.0) / scale)


def gradient_check(
    params: Params,
    X: np.ndarray,
    D: np.ndarray,
    activation: str = "tanh",
    backward_fn: Callable | None = None,
    eps: float = 1e-6,
) -> dict[str, float]:
    """Relative error between BPTT's gradients and central differences, per parameter.

    ``backward_fn(params, cache, D)`` defaults to ``rnn_lesson.backward``; pass another
    (a learner's own, or a deliberately wrong one) to check it.
    """
    X, D = check_inputs(params, X, D)
    backward_fn = backward_fn or _backward
    params = {k: np.array(v, dtype=float) for k, v in params.items()}
    _, cache = _forward(params, X, activation)
    analytic = backward_fn(params, cache, D)
    numeric = numerical_gradient(
        lambda p: float(np.sum(loss(_forward(p, X, activation)[0], D))), params, eps
    )
    return {k: relative_error(analytic[k], numeric[k]) for k in PARAM_NAMES}
