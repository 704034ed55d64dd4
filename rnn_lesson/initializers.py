"""Weight initializers (重みの初期値): normal with a fixed std, Xavier, He.

All draw from a ``numpy.random.Generator`` that the caller passes in, so a seed
fixes every weight.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from .checks import choice, positive_int

INITIALIZERS = ("normal", "xavier", "he")


def init_weight(
    shape: tuple[int, ...],
    init: str,
    rng: np.random.Generator,
    std: float = 1.0,
) -> np.ndarray:
    """Draw a weight matrix of ``shape`` = (..., n_in, n_out).

    - "normal": std * N(0, 1), the course's default (std = 1).
    - "xavier": N(0, 1) / sqrt(n_in), keeps the variance of ``x @ W`` near that of x
      for tanh and sigmoid.
    - "he":     N(0, 1) * sqrt(2 / n_in), the same idea for ReLU, which zeroes half its inputs.

    ``n_in`` is the number of inputs each unit sums over: shape[-2].
    """
    choice(init, "initializer", INITIALIZERS)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    for n in shape:
        positive_int(n, "every dimension of a weight shape")
    if len(shape) < 2:
        raise ValueError(f"a weight shape needs at least 2 dimensions (n_in, n_out), got {shape}")
    if init == "normal":
        is_number = isinstance(std, Real) and not isinstance(std, bool)
        if not (is_number and math.isfinite(std) and std > 0):
            raise ValueError(f"std must be a positive finite number, got {std!r}")
        scale = float(std)
    elif init == "xavier":
        scale = 1.0 / math.sqrt(shape[-2])
    else:  # "he"
        scale = math.sqrt(2.0 / shape[-2])
    return scale * rng.standard_normal(shape)
