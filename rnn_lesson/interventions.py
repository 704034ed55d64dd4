"""Initial weights with some matrices at the course's scale (std 1) and the rest at the
Xavier scale: an intervention that changes one suspected cause of a failure at a time.

Notebook 04 asks why the course's normal(std = 1) start learns less often than Xavier's.
Every std-1 network has a recurrent W that amplifies, but also large W_in and W_out; to
see which matters, change only one of them. ``init_mixed`` draws the std-1 weights of
``init_params(hidden_size, "normal", rng=rng, std=1)`` and scales every matrix *not* named
in ``std_one`` by 1/sqrt(n_in), its Xavier scale (``initializers``). Both initializers
draw the same N(0, 1) numbers in the same order, so a matrix left at std 1 is exactly that
seed's std-1 matrix and a scaled one exactly that seed's Xavier matrix: the settings differ
in the scales only, never in the random draws.
"""

from __future__ import annotations

import math

import numpy as np

from .model import Params, init_params

WEIGHTS = ("W_in", "W", "W_out")


def init_mixed(
    hidden_size: int, std_one: tuple[str, ...] | list[str], *, rng: np.random.Generator
) -> Params:
    """Weights from ``rng``: those named in ``std_one`` with std 1, the others Xavier; biases 0.

    std_one: the weight matrices kept at std 1, a subset of ("W_in", "W", "W_out");
        all three give ``init_params(hidden_size, "normal", rng=rng, std=1)``, none gives
        ``init_params(hidden_size, "xavier", rng=rng)`` (for the same seed of ``rng``)
    """
    names = () if isinstance(std_one, str) else tuple(std_one)
    if isinstance(std_one, str) or any(k not in WEIGHTS for k in names):
        raise ValueError(f"std_one must name some of {WEIGHTS}, got {std_one!r}")
    params = init_params(hidden_size, "normal", rng=rng, std=1.0)
    for k in WEIGHTS:
        if k not in names:
            params[k] = params[k] * (1.0 / math.sqrt(params[k].shape[-2]))  # Xavier: 1/sqrt(n_in)
    return params
