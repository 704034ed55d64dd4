"""Argument checks shared by the public functions.

Every check raises ``ValueError`` with a message that says what was wrong and
what is allowed, so a learner who passes the wrong thing sees how to fix it.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np


def positive_int(value: object, name: str) -> int:
    """Return ``value`` as an int, or raise if it is not a whole number >= 1."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value}")
    return int(value)


def choice(value: object, name: str, allowed: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``allowed``, or raise listing the allowed names."""
    if value not in allowed:
        names = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"unknown {name} {value!r}; choose one of {names}")
    return value  # type: ignore[return-value]


def learning_rate(lr: object, n_models: int | None = None) -> float | np.ndarray:
    """Check a learning rate: one positive finite number, or one per model.

    ``n_models`` is the size of the leading model axis (None for one model).
    Returns a float, or a float array of shape (n_models,).
    """
    allowed = "a positive finite number" + (
        f" or {n_models} of them, one per model" if n_models is not None else ""
    )
    if isinstance(lr, Real) and not isinstance(lr, bool):
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"learning rate must be {allowed}, got {lr!r}")
        return float(lr)
    arr = np.asarray(lr, dtype=float) if _is_numeric_sequence(lr) else None
    if arr is None or arr.ndim != 1 or n_models is None or arr.shape[0] != n_models:
        raise ValueError(f"learning rate must be {allowed}, got {lr!r}")
    if not (np.all(np.isfinite(arr)) and np.all(arr > 0)):
        raise ValueError(f"learning rate must be {allowed}; got {arr.tolist()}")
    return arr


def _is_numeric_sequence(obj: object) -> bool:
    try:
        arr = np.asarray(obj)
    except (TypeError, ValueError):
        return False
    return arr.dtype.kind in "iuf"
