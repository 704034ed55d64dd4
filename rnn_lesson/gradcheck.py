"""Numerical gradients (数値微分) to check backpropagation.

A central difference, (L(θ + ε) - L(θ - ε)) / 2ε, approximates dL/dθ with an
error of order ε². Comparing it with BPTT's gradient, entry by entry, is evidence that
the backward pass is right at these weights (a wrong one usually shows as a large relative
error, and where): evidence, not a proof.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Real

import numpy as np

from .activations import get_activation
from .checks import function, real_array
from .model import (
    PARAM_NAMES,
    Params,
    _backward,
    _forward,
    as_params,
    check_grads,
    check_inputs,
    loss,
    too_large,
)


def numerical_gradient(
    loss_fn: Callable[[Params], float], params: Params, eps: float = 1e-6
) -> Params:
    """Central differences of ``loss_fn(params)`` for every entry of every parameter.

    ``loss_fn`` gets a float64 copy of ``params`` with one entry moved by ±eps at a time
    (a copy, so the caller's ``params`` never change, even if ``loss_fn`` raises; and
    float64, so integer or float32 parameters do not round the step away).
    returns arrays shaped like the parameters. Cost: two calls of ``loss_fn`` per entry.
    """
    function(loss_fn, "loss_fn", "(params) -> float", 1)
    params, _, _ = as_params(params)
    _check_eps(eps)
    moved = {k: np.array(v, dtype=float) for k, v in params.items()}
    grads = {}
    for name in PARAM_NAMES:
        p = moved[name]
        g = np.zeros_like(p, dtype=float)
        for idx in np.ndindex(p.shape):
            keep = p[idx]
            p[idx] = keep + eps
            plus = _loss_value(loss_fn(moved), name, idx)
            p[idx] = keep - eps
            minus = _loss_value(loss_fn(moved), name, idx)
            p[idx] = keep
            g[idx] = (plus - minus) / (2 * eps)
        grads[name] = g
    return grads


def _check_eps(eps: object) -> None:
    if not (isinstance(eps, float) and 0 < eps < 1):
        raise ValueError(f"eps must be a float in (0, 1), got {eps!r}")


def _loss_value(value: object, name: str, idx: tuple) -> float:
    """A loss_fn's result as a float: it must be one finite real number."""
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "iuf":
        value = value.reshape(()).item()
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(
            f"loss_fn must return one finite real number; with {name}{list(idx)} moved "
            f"it returned {value!r}"
        )
    return value


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(|a|, |b|) over all entries: 0 for equal arrays, ~1 for unrelated ones.

    The denominator is floored at 1e-12 so two zero arrays give 0, not NaN.
    """
    a, b = real_array(a, "a"), real_array(b, "b")
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
    returns {parameter name: relative error}, each a finite float >= 0
    """
    params, X, D = check_inputs(params, X, D)
    if backward_fn is not None:
        function(backward_fn, "backward_fn", "(params, cache, D) -> grads", 3)
    backward_fn = backward_fn or _backward
    _check_eps(eps)
    get_activation(activation)
    params = {k: np.array(v, dtype=float) for k, v in params.items()}
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is caught below, by value
        _, cache = _forward(params, X, activation)
        if not np.all(np.isfinite(cache["u"])):
            raise ValueError(too_large(params, "the hidden state"))
        analytic = check_grads(backward_fn(params, cache, D), params)
        try:
            numeric = numerical_gradient(
                lambda p: float(np.sum(loss(_forward(p, X, activation)[0], D))), params, eps
            )
        except ValueError:  # the outputs, so the loss, are not finite near these weights
            raise ValueError(too_large(params, "the loss")) from None
    if not all(np.all(np.isfinite(analytic[k])) for k in PARAM_NAMES):
        if backward_fn is _backward:
            raise ValueError(too_large(params, "the gradients"))
        raise ValueError("backward_fn returned gradients with inf or NaN in them")
    return {k: relative_error(analytic[k], numeric[k]) for k in PARAM_NAMES}
