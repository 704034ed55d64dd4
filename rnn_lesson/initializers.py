"""Weight initializers (重みの初期値): normal with a fixed std, Xavier, He.

"Xavier" here is the fan-in form, std 1/sqrt(n_in) (LeCun's scaling); Glorot and Bengio's
original, variance 2 / (n_in + n_out), is not used.

All draw from a ``numpy.random.Generator`` that the caller passes in, so a seed
fixes every weight.
"""

from __future__ import annotations

import math

import numpy as np

from .checks import array_size, choice, generator, positive_int, positive_number

INITIALIZERS = ("normal", "xavier", "he")
# std * N(0, 1) must stay finite (N(0, 1) draws are far below 1e100 in size); in practice
# weights above a few units already saturate tanh and sigmoid and make ReLU overflow.
MAX_STD = 1e100


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
    ``std`` must be in (0, 1e100], even for the initializers that do not use it.
    """
    choice(init, "initializer", INITIALIZERS)
    generator(rng)
    if not isinstance(shape, tuple) or len(shape) < 2:
        raise ValueError(
            f"a weight shape must be a tuple of at least 2 dimensions (n_in, n_out), got {shape!r}"
        )
    for n in shape:
        positive_int(n, "every dimension of a weight shape")
    array_size(math.prod(shape), f"a weight of shape {shape}")
    std = positive_number(std, "std", MAX_STD)
    if init == "normal":
        scale = std
    elif init == "xavier":
        scale = 1.0 / math.sqrt(shape[-2])
    else:  # "he"
        scale = math.sqrt(2.0 / shape[-2])
    return scale * rng.standard_normal(shape)
