"""Adding numbers of any length with the RNN, and an adder whose weights are set by hand.

The weights do not depend on the number of time steps T, so a network trained on 8-bit
sums runs on sequences of any length. ``rnn_add`` does that for two Python ints of any
size; ``sequences`` and ``exact_share`` test many long sums (and many models) at once.

``handmade_adder`` builds a network that adds exactly, from reasoning alone: threshold
units on s[t] = a[t] + b[t] + carry[t-1], the full adder (全加算器) in weights.

    carry[t] = 1 if s[t] >= 2 else 0     (the carry, 繰り上がり, out of bit t)
    sum bit t = s[t] mod 2
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from .activations import get_activation
from .checks import positive_int
from .model import Params, _forward, check_params


def _check_nonnegative_int(value: object, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral):
        raise ValueError(
            f"{name} must be a whole number >= 0 (a Python int of any size), "
            f"got {value!r} of type {type(value).__name__}"
        )
    if value < 0:
        raise ValueError(f"{name} must be >= 0 (the network adds unsigned numbers), got {value}")
    return int(value)


def int_to_bit_array(n: int, T: int) -> np.ndarray:
    """The T lowest bits of a Python int >= 0 of any size, LSB first: (T,) uint8."""
    if n.bit_length() > T:
        raise ValueError(f"{n} does not fit in {T} bits")
    raw = n.to_bytes((T + 7) // 8, "little")
    return np.unpackbits(np.frombuffer(raw, dtype=np.uint8), bitorder="little")[:T]


def bit_array_to_int(bits: np.ndarray) -> int:
    """Bits (LSB first, 0/1) back to a Python int of any size."""
    packed = np.packbits(np.asarray(bits, dtype=np.uint8), bitorder="little")
    return int.from_bytes(packed.tobytes(), "little")


def rnn_add(params: Params, a: int, b: int, activation: str = "tanh") -> int:
    """a + b as the network computes it, for whole numbers a, b >= 0 of any size.

    The bits are read straight from the ints, LSB first, over T = bit length + 1 steps
    (bit length of the larger number; the extra step lets the last carry out).
    params: one model (not a stack). Returns the network's answer as a Python int.
    """
    a = _check_nonnegative_int(a, "a")
    b = _check_nonnegative_int(b, "b")
    lead, _ = check_params(params)
    if lead != ():
        raise ValueError(f"rnn_add takes one model, not a stack (lead shape {lead})")
    get_activation(activation)
    T = max(a.bit_length(), b.bit_length()) + 1
    X = np.stack([int_to_bit_array(a, T), int_to_bit_array(b, T)], axis=-1)[None].astype(float)
    p = {k: np.asarray(v, dtype=float) for k, v in params.items()}
    with np.errstate(over="ignore", invalid="ignore"):
        Y, _ = _forward(p, X, activation)
    return bit_array_to_int(Y[0, :, 0] > 0.5)


def sequences(
    a_bits: np.ndarray, b_bits: np.ndarray, extra_steps: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs, targets and carries for pairs given as bits (LSB first), of any length.

    a_bits, b_bits: (batch, n) of 0/1; ``extra_steps`` steps of (0, 0) are appended
    (1 lets the last carry out, as in ``rnn_add``).
    returns X (batch, T, 2) float, D (batch, T, 1) float, carry (batch, T) int: carry[:, t]
    is the carry out of step t, the one bit the network must remember for step t + 1.
    """
    a_bits, b_bits = np.asarray(a_bits), np.asarray(b_bits)
    if a_bits.ndim != 2 or a_bits.shape != b_bits.shape or a_bits.size == 0:
        raise ValueError(
            f"a_bits and b_bits must be (batch, n), got {a_bits.shape}, {b_bits.shape}"
        )
    if not (np.isin(a_bits, (0, 1)).all() and np.isin(b_bits, (0, 1)).all()):
        raise ValueError("a_bits and b_bits must hold bits, 0 or 1")
    if isinstance(extra_steps, bool) or not isinstance(extra_steps, Integral) or extra_steps < 0:
        raise ValueError(f"extra_steps must be a whole number >= 0, got {extra_steps!r}")
    batch, n = a_bits.shape
    T = n + int(extra_steps)
    X = np.zeros((batch, T, 2))
    X[:, :n, 0], X[:, :n, 1] = a_bits, b_bits
    s_bits = X.sum(axis=2).astype(int)  # a[t] + b[t]
    D = np.empty((batch, T, 1))
    carry = np.empty((batch, T), dtype=int)
    c = np.zeros(batch, dtype=int)
    for t in range(T):  # the full adder, step by step: s = a + b + carry in
        s = s_bits[:, t] + c
        D[:, t, 0], c = s % 2, s // 2
        carry[:, t] = c
    return X, D, carry


def random_sequences(
    rng: np.random.Generator, size: int, n_bits: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``size`` random pairs of n_bits-bit numbers (every bit a fair coin) as ``sequences``."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    size, n_bits = positive_int(size, "size"), positive_int(n_bits, "n_bits")
    a_bits, b_bits = rng.integers(0, 2, size=(2, size, n_bits))
    return sequences(a_bits, b_bits)


def exact_share(params: Params, X: np.ndarray, D: np.ndarray, activation: str = "tanh"):
    """Share of the sequences whose every output bit is right: a float, or one per model.

    The same as ``accuracy(forward(params, X)[0], D)`` (it compares the output's logit with 0
    instead of y with 0.5, which differs only for logits within 1e-16 of 0), but it keeps only
    the current hidden state, so sequences thousands of steps long fit in memory, for a whole stack.
    X (batch, T, 2), D (batch, T, 1) shared by every model of a stack.
    """
    lead, H = check_params(params)
    f, _ = get_activation(activation)
    X, D = np.asarray(X, dtype=float), np.asarray(D, dtype=float)
    if X.ndim != 3 or X.shape[-1] != 2 or D.shape != X.shape[:-1] + (1,):
        raise ValueError(f"X must be (batch, T, 2) and D (batch, T, 1), got {X.shape}, {D.shape}")
    W_in, W, W_out, b, c = (
        np.asarray(params[k], dtype=float) for k in ("W_in", "W", "W_out", "b", "c")
    )
    b, c = b[..., None, :], c[..., None, :]  # broadcast over the batch
    z = np.zeros(lead + (X.shape[0], H))
    right = np.ones(lead + (X.shape[0],), dtype=bool)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(X.shape[1]):
            z = f(X[:, t] @ W_in + z @ W + b)  # z[t] = f(x[t] W_in + z[t-1] W + b)
            v = (z @ W_out + c)[..., 0]  # y[t] > 0.5 exactly when v > 0
            right &= (v > 0) == (D[:, t, 0] > 0.5)
    out = right.mean(axis=-1)
    return float(out) if np.ndim(out) == 0 else out


def carry_chain_pairs(k: int, rng: np.random.Generator | None = None) -> list[tuple[int, int]]:
    """Sums of k-bit numbers that make the network keep one bit, carry or no carry, for k steps.

    Where the input is (1, 0) or (0, 1), the carry out equals the carry in: the network must
    pass on what it holds. (Where it is (1, 1) or (0, 0) the carry is made or cleared anew,
    so (2**k - 1) + (2**k - 1), a carry out of every bit, asks for no memory at all.)

    (2**k - 1) + 1: a carry made at bit 0 is passed on through k - 1 steps of (1, 0);
    (2**k - 1) + 0: "no carry" is kept through k steps of (1, 0).
    With ``rng``, two more: the same with bits 1 to k - 1 a random mix of (1, 0) and (0, 1),
    a = 2 r + 1, b = 2 (2**(k-1) - 1 - r) + 1 (sum 2**k) and a = 2 r, b = 2 (2**(k-1) - 1 - r)
    (sum 2**k - 2), for a random (k - 1)-bit r.
    """
    k = positive_int(k, "k")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be None or a numpy.random.Generator, got {type(rng).__name__}")
    ones = 2**k - 1
    pairs = [(ones, 1), (ones, 0)]
    if rng is not None:
        r = bit_array_to_int(rng.integers(0, 2, k - 1)) if k > 1 else 0
        flip = 2 ** (k - 1) - 1 - r  # the other bit of every pair: (1, 0) where r has 1
        pairs += [(2 * r + 1, 2 * flip + 1), (2 * r, 2 * flip)]
    return pairs


def handmade_adder(activation: str = "tanh", gain: float | None = None) -> Params:
    """An RNN that adds exactly, with weights set by reasoning, not by training.

    s[t] = a[t] + b[t] + carry[t-1] is 0, 1, 2 or 3; the sum bit is s mod 2 and the carry
    is [s >= 2]. Threshold units on s give both: with h_k = [s >= k],
    sum bit = h_1 - h_2 + h_3 and carry = h_2.

    tanh (3 units): z_k = tanh(gain (s - k + 1/4)), about +1 when s >= k and -1 when not.
        Unit 2 is the carry; the next step reads it back as (1 + z_2) / 2. At t = 0,
        z[-1] = 0 reads as carry 1/2, so the thresholds sit at k - 1/4, not k - 1/2.
    sigmoid (3 units): z_k = sigmoid(gain (s - k + 1/2)), about 1 or 0; z[-1] = 0 is "no carry".
    relu (3 units): r_j = relu(s - j), j = 0, 1, 2, exact for whole s; [s >= k] = r_{k-1} - r_k,
        so carry = r_1 - r_2 and sum bit = s - 2 carry = r_0 - 2 r_1 + 2 r_2 (a fourth unit
        relu(s - 3) would always be 0, since s <= 3).

    gain: the slope of the threshold units (tanh 20, sigmoid 20 by default; unused for relu).
    The output is y = sigmoid(10 (2 * sum bit - 1)), about 0.99995 or 0.00005.
    """
    get_activation(activation)
    if gain is None:
        gain = 20.0
    if isinstance(gain, bool) or not isinstance(gain, (Integral, float)) or not gain > 0:
        raise ValueError(f"gain must be a positive number, got {gain!r}")
    g, v = float(gain), 10.0  # v: half the output's logit range, y = sigmoid(±v)
    if activation == "tanh":
        # u_k = g (a + b + (1 + z_2)/2 - k + 1/4) = g a + g b + (g/2) z_2 + g (3/4 - k)
        W_in = np.full((2, 3), g)
        W = np.zeros((3, 3))
        W[1, :] = g / 2  # z_2[t-1], the carry, feeds every unit
        b = g * (0.75 - np.array([1.0, 2.0, 3.0]))
        # 2 * sum bit - 1 = 2 (h_1 - h_2 + h_3) - 1 = z_1 - z_2 + z_3, with h_k = (1 + z_k)/2
        W_out = v * np.array([[1.0], [-1.0], [1.0]])
        c = np.zeros(1)
    elif activation == "sigmoid":
        # u_k = g (a + b + z_2 - k + 1/2), z_k = h_k
        W_in = np.full((2, 3), g)
        W = np.zeros((3, 3))
        W[1, :] = g
        b = g * (0.5 - np.array([1.0, 2.0, 3.0]))
        # 2 * sum bit - 1 = 2 (z_1 - z_2 + z_3) - 1
        W_out = 2 * v * np.array([[1.0], [-1.0], [1.0]])
        c = np.array([-v])
    else:  # relu
        # u_j = a + b + (r_1 - r_2)[t-1] - j: s - j, with the carry r_1 - r_2 fed back
        W_in = np.ones((2, 3))
        W = np.zeros((3, 3))
        W[1, :], W[2, :] = 1.0, -1.0
        b = np.array([0.0, -1.0, -2.0])
        # 2 * sum bit - 1 = 2 (r_0 - 2 r_1 + 2 r_2) - 1
        W_out = 2 * v * np.array([[1.0], [-2.0], [2.0]])
        c = np.array([-v])
    return {"W_in": W_in, "W": W, "W_out": W_out, "b": b, "c": c}
