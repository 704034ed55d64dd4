"""Activation functions (活性化関数) and their derivatives.

Each derivative takes the *pre-activation* ``u``, as the course's equations do:
``f'(u)``. The output layer's sigmoid is the one exception the lessons point out:
there the derivative is written with the output ``y = sigmoid(v)`` as
``y * (1 - y)``, which equals ``sigmoid'(v)``. Taking ``sigmoid'(y)`` instead
(the derivative evaluated *at the output*) is the course code's mistake.

All functions are safe for any finite input: no overflow warnings, no NaN.

BPTT needs f'(u[t]) at every step, after the forward pass has already computed
z[t] = f(u[t]). For these three functions f'(u) can be written with z alone
(``DERIVATIVES_FROM_Z``): tanh'(u) = 1 - z**2, sigmoid'(u) = z (1 - z),
relu'(u) = 1 where z > 0. These are still the derivatives *at u*, the same numbers
as ``d_tanh(u)`` and the others (``tests/test_activations.py`` checks it bit for
bit), only without computing f a second time over the whole sequence. (This is not
the course code's mistake: that takes the derivative *at* the output, sigmoid'(y).)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .checks import choice

Array = np.ndarray


def sigmoid(x: Array) -> Array:
    """sigmoid(x) = 1 / (1 + exp(-x)), computed without overflow.

    exp is only ever taken of -|x| <= 0, so it lies in (0, 1]:
    for x >= 0 use 1 / (1 + e), for x < 0 the equal form e / (1 + e), e = exp(-|x|).
    The numerator, 1 where x >= 0 and e elsewhere, is the larger of e and (x >= 0) read
    as 1 or 0, since e <= 1: the same numbers as np.where(x >= 0, 1.0, e), about five times
    faster (np.where with a scalar is slow), and NaN stays NaN.
    """
    e = np.exp(-np.abs(x))
    return np.maximum(e, x >= 0) / (1.0 + e)


def d_sigmoid(u: Array) -> Array:
    """sigmoid'(u) = sigmoid(u) * (1 - sigmoid(u))."""
    s = sigmoid(u)
    return s * (1.0 - s)


def tanh(x: Array) -> Array:
    """tanh(x), numpy's own (already safe for large |x|)."""
    return np.tanh(x)


def d_tanh(u: Array) -> Array:
    """tanh'(u) = 1 - tanh(u)**2.

    The course writes 1 / cosh(u)**2, which is the same function but overflows
    (cosh(800) is inf) and warns for large |u|; this form never does.
    """
    return 1.0 - np.tanh(u) ** 2


def relu(x: Array) -> Array:
    """relu(x) = max(x, 0)."""
    return np.maximum(x, 0.0)


def d_relu(u: Array) -> Array:
    """relu'(u) = 1 where u > 0, else 0 (we take 0 at u = 0)."""
    return (u > 0).astype(float)


def d_tanh_from_z(z: Array) -> Array:
    """tanh'(u) = 1 - z**2, from the hidden state z = tanh(u)."""
    return 1.0 - z**2


def d_sigmoid_from_z(z: Array) -> Array:
    """sigmoid'(u) = z * (1 - z), from the hidden state z = sigmoid(u)."""
    return z * (1.0 - z)


def d_relu_from_z(z: Array) -> Array:
    """relu'(u) = 1 where z = relu(u) > 0 (that is, where u > 0), else 0."""
    return (z > 0).astype(float)


ACTIVATIONS: dict[str, tuple[Callable[[Array], Array], Callable[[Array], Array]]] = {
    "sigmoid": (sigmoid, d_sigmoid),
    "tanh": (tanh, d_tanh),
    "relu": (relu, d_relu),
}


# f'(u) written with z = f(u), for BPTT: the same numbers as ACTIVATIONS' derivatives.
DERIVATIVES_FROM_Z: dict[str, Callable[[Array], Array]] = {
    "sigmoid": d_sigmoid_from_z,
    "tanh": d_tanh_from_z,
    "relu": d_relu_from_z,
}


def get_activation(name: str) -> tuple[Callable[[Array], Array], Callable[[Array], Array]]:
    """Return ``(f, f_prime)`` for ``name`` in {'sigmoid', 'tanh', 'relu'}."""
    choice(name, "activation", tuple(ACTIVATIONS))
    return ACTIVATIONS[name]
