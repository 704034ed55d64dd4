"""Gradient clipping (勾配クリッピング) by the global norm.

The five gradients of a model are treated as one vector g; its global norm ||g|| is the
square root of the sum of the squares of all their entries. Clipping at g_max: if ||g|| is
above g_max, all five are scaled by g_max / ||g||, so the direction is kept and the step
is at most lr · g_max. (Texts often call the threshold c; here c is the output bias.) In a
stack of K models each model is clipped by its own norm.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from .model import PARAM_NAMES, Params


def global_norm(grads: Params, single: bool) -> float | np.ndarray:
    """||g|| = sqrt(Σ over the five gradients of the squares of their entries): a float for
    one model, (K,) for a stack of K."""
    if single:  # one dot product of all entries: the cheapest way for small arrays
        flat = np.concatenate([grads[k].ravel() for k in PARAM_NAMES])
        return math.sqrt(flat @ flat)
    K = grads["W"].shape[0]
    g2 = [grads[k].reshape(K, -1) for k in PARAM_NAMES]
    return np.sqrt(sum(np.einsum("ki,ki->k", g, g) for g in g2))


def clip(grads: Params, norm: float | np.ndarray, g_max: float | np.ndarray) -> Params:
    """g · g_max / ||g|| where ||g|| > g_max (per model in a stack), else g unchanged.

    norm: ``global_norm(grads)``; g_max: a positive number, or (K,) of them (inf: no clipping)
    """
    if np.ndim(norm) == 0:
        if norm > g_max:
            return {k: grads[k] * (g_max / norm) for k in PARAM_NAMES}
        return grads
    scale = np.where(norm > g_max, g_max / np.maximum(norm, g_max), 1.0)
    return {k: grads[k] * scale.reshape((-1,) + (1,) * (grads[k].ndim - 1)) for k in PARAM_NAMES}


def check_clip_norm(value: object, n_models: int | None) -> float | np.ndarray | None:
    """``clip_norm`` checked: None, a positive number (inf: no clipping), or for a stack one
    per model, (K,)."""
    if value is None:
        return None
    allowed = "None or a positive number (inf: no clipping)" + (
        f", or {n_models} of them, one per model" if n_models is not None else ""
    )
    if isinstance(value, Real) and not isinstance(value, bool):
        if not value > 0:  # also False for NaN
            raise ValueError(f"clip_norm must be {allowed}, got {value!r}")
        return float(value) if n_models is None else np.full(n_models, float(value))
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.ndim != 1 or n_models is None or arr.shape[0] != n_models:
        raise ValueError(f"clip_norm must be {allowed}, got {value!r}")
    if not np.all(arr > 0):
        raise ValueError(f"clip_norm must be {allowed}; got {arr.tolist()}")
    return arr
