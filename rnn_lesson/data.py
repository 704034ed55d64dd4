"""Binary addition as a sequence task.

A pair (a, b) becomes a sequence of T time steps. At step t the network sees the
t-th bit of a and of b, and must output the t-th bit of a + b. Time runs from the
least significant bit (LSB, t = 0) to the most significant (MSB, t = T - 1), the
way a person adds with carries.

    X: (batch, T, 2) float, X[i, t] = (bit t of a_i, bit t of b_i)
    D: (batch, T, 1) float, D[i, t, 0] = bit t of a_i + b_i

To keep every sum inside T bits, a and b are below 2**(T - 1).

A second task, for notebook 07, needs a longer memory: the k-step delay task
(遅延タスク). The input is two random bit streams; the output at step t must be the
first stream's bit of step t - k. Addition needs to remember one step back (the
carry); this task needs k. See ``make_delay_batch``.
"""

from __future__ import annotations

import numpy as np

from .checks import array_size, boolean, generator, positive_int

MAX_BITS = 62  # int64 holds a + b for a, b < 2**62


def _check_bits(T: object) -> int:
    T = positive_int(T, "number of bits T")
    if T > MAX_BITS:
        raise ValueError(f"number of bits T must be at most {MAX_BITS} (int64), got {T}")
    return T


def _as_int_array(values: object, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype == bool or arr.dtype.kind not in "iu":
        if (
            arr.dtype.kind == "f"
            and np.all(np.isfinite(arr))
            and np.all(arr == np.round(arr))
            and np.all(np.abs(arr) < 2.0**MAX_BITS)  # else the cast to int64 overflows
        ):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"{name} must be whole numbers in [0, 2**{MAX_BITS}), got {values!r}")
    if (arr < 0).any():
        raise ValueError(f"{name} must be whole numbers >= 0, got a negative value {arr.min()}")
    if (arr >= 2**MAX_BITS).any():  # e.g. uint64, which the cast to int64 would wrap
        raise ValueError(f"{name} must be below 2**{MAX_BITS}, got {arr.max()}")
    return arr.astype(np.int64)


def int_to_bits(n: int | np.ndarray, T: int) -> np.ndarray:
    """Integers to their T bits, LSB first.

    n: int or (batch,) whole numbers in [0, 2**T)
    returns: (T,) or (batch, T) int, element t is bit t (worth 2**t)
    """
    T = _check_bits(T)
    arr = _as_int_array(n, "numbers to encode")
    if np.any(arr >= 2**T):
        raise ValueError(f"{arr.max()} does not fit in {T} bits: numbers must be below 2**{T}")
    return (arr[..., None] >> np.arange(T)) & 1


def bits_to_int(bits: np.ndarray) -> np.ndarray | int:
    """Bits (LSB first) back to integers: the inverse of ``int_to_bits``.

    bits: (..., T) of 0/1 (floats such as network outputs are rounded at 0.5)
    returns: (...) int, or a Python int for a single number
    """
    bits = np.asarray(bits)
    if bits.ndim < 1 or not 1 <= bits.shape[-1] <= MAX_BITS:
        raise ValueError(f"bits must have a last axis of length 1..{MAX_BITS}, got {bits.shape}")
    if bits.dtype.kind not in "biuf" or not np.all(np.isfinite(bits)):
        raise ValueError(f"bits must be 0 or 1 (or finite floats, rounded at 0.5), got {bits!r}")
    b = (bits > 0.5).astype(np.int64) if bits.dtype.kind == "f" else bits.astype(np.int64)
    if np.any((b != 0) & (b != 1)):
        raise ValueError("bits must be 0 or 1")
    value = b @ (np.int64(1) << np.arange(bits.shape[-1], dtype=np.int64))
    return int(value) if np.ndim(value) == 0 else value


def make_batch(
    a: np.ndarray | int, b: np.ndarray | int, T: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """Encode pairs (a, b) and their sums as the network's input and target.

    a, b: (batch,) whole numbers below 2**(T - 1)
    returns X: (batch, T, 2) float, D: (batch, T, 1) float; time runs LSB to MSB.
    """
    T = _check_bits(T)
    a = np.atleast_1d(_as_int_array(a, "a"))
    b = np.atleast_1d(_as_int_array(b, "b"))
    if a.ndim != 1 or a.shape != b.shape or a.size == 0:
        raise ValueError(
            f"a and b must be 1-D, non-empty and of equal length, got {a.shape} and {b.shape}"
        )
    array_size(a.size * T * 2, f"X for {a.size:,} pairs of {T} bits")
    limit = 2 ** (T - 1)
    if (a >= limit).any() or (b >= limit).any():
        raise ValueError(
            f"with T = {T} bits, a and b must be below 2**{T - 1} = {limit} "
            f"so that a + b fits; got max {max(a.max(), b.max())}"
        )
    return encode(a, b, T)


def encode(a: np.ndarray, b: np.ndarray, T: int) -> tuple[np.ndarray, np.ndarray]:
    """``make_batch`` without the checks, for the training loop's hot path.

    a, b: (batch,) int64 below 2**(T - 1) (the caller guarantees it)
    """
    shifts = np.arange(T)  # bit t of n is (n >> t) & 1
    X = np.empty((a.shape[0], T, 2))
    X[..., 0] = (a[:, None] >> shifts) & 1
    X[..., 1] = (b[:, None] >> shifts) & 1
    D = np.empty((a.shape[0], T, 1))
    D[..., 0] = ((a + b)[:, None] >> shifts) & 1
    return X, D


class PairStream:
    """The training pairs of a run, update after update, drawn a block of updates at a time.

    Update n gets exactly the pairs that ``rng.integers(0, 2**(T - 1), size=(2, batch))`` would
    draw at that point (what ``random_pairs`` draws), as X: (batch, T, 2) and D: (batch, T, 1)
    from one generator ``rngs = [rng]``; with ``per_model``, one generator per model of a
    stack of K, X: (K, batch, T, 2), model k's pairs from ``rngs[k]``.

    One call ``rng.integers(0, high, size=(B, 2, batch))`` gives the pairs of B such calls, in
    order, and leaves ``rng`` where they would: numpy draws these integers from 64-bit words,
    two per word, each update takes 2 * batch of them (an even number), and a power-of-two
    range ``high`` never rejects a draw (``tests/test_data.py`` checks it). Drawing and
    encoding a block at once saves two numpy calls' overhead per update, about a tenth of a
    small model's update. ``close()`` puts the generators back where the updates taken so far
    leave them, so a run that stops early uses up no pair it did not train on (as a ``with``
    block: however the block ends).
    """

    BLOCK_NUMBERS = 2**16  # X's numbers per block, at most (512 KB)

    def __init__(
        self,
        rngs: list[np.random.Generator],
        batch: int,
        T: int,
        n_updates: int,
        per_model: bool = False,
    ):
        if not isinstance(rngs, (list, tuple)) or not rngs:
            raise ValueError(f"rngs must be a list of numpy.random.Generator, got {rngs!r:.80}")
        rngs = [generator(r) for r in rngs]
        if not boolean(per_model, "per_model") and len(rngs) != 1:
            raise ValueError(f"one generator, or per_model=True; got {len(rngs)} generators")
        self.rngs, self.per_model = rngs, per_model
        self.batch = positive_int(batch, "batch size")
        self.T = _check_bits(T)
        self.left = positive_int(n_updates, "n_updates")
        array_size(len(rngs) * self.batch * self.T * 2, "X of one update")
        self.size = self.used = 0  # updates in the current block, and taken from it
        self.X = self.D = None
        self.states: list = []

    def next(self) -> tuple[np.ndarray, np.ndarray]:
        """X, D of the next update."""
        if self.used == self.size:
            self._draw()
        i = self.used
        self.used += 1
        return self.X[i], self.D[i]

    def _draw(self) -> None:
        K, batch, T = len(self.rngs), self.batch, self.T
        B = min(self.left, max(1, self.BLOCK_NUMBERS // (K * batch * T * 2)))
        self.states = [r.bit_generator.state for r in self.rngs]
        high = 2 ** (T - 1)
        ab = np.stack([r.integers(0, high, size=(B, 2, batch)) for r in self.rngs], axis=1)
        X, D = encode(ab[:, :, 0].ravel(), ab[:, :, 1].ravel(), T)  # (B, K, 2, batch) -> pairs
        shape = (B, K, batch) if self.per_model else (B, batch)
        self.X, self.D = X.reshape(*shape, T, 2), D.reshape(*shape, T, 1)
        self.size, self.used, self.left = B, 0, self.left - B

    def __enter__(self) -> PairStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Leave the generators where the updates taken so far leave them."""
        if self.used < self.size:  # stopped inside a block: draw again only what was used
            for r, state in zip(self.rngs, self.states, strict=True):
                r.bit_generator.state = state
                r.integers(0, 2 ** (self.T - 1), size=(self.used, 2, self.batch))
            self.size = self.used


def all_pairs(T: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Every pair a, b < 2**(T - 1), for exhaustive evaluation.

    returns a, b: (4**(T - 1),) int; 16,384 pairs at T = 8, a varying slowest.
    """
    T = _check_bits(T)
    if T > 12:
        raise ValueError(f"all_pairs lists 4**(T-1) pairs; T must be at most 12, got {T}")
    n = 2 ** (T - 1)
    a, b = np.divmod(np.arange(n * n), n)
    return a, b


def random_pairs(rng: np.random.Generator, size: int, T: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """``size`` random pairs a, b, each uniform in [0, 2**(T - 1)).

    Both come from one call, ``rng.integers(0, 2**(T-1), size=(2, size))``, so a
    seed fixes the whole sequence of pairs.
    """
    generator(rng)
    size = positive_int(size, "batch size")
    T = _check_bits(T)
    array_size(size * T * 2, f"X for {size:,} pairs of {T} bits")  # what make_batch makes of them
    a, b = rng.integers(0, 2 ** (T - 1), size=(2, size))
    return a, b


def make_delay_batch(bits: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The k-step delay task: output at step t the input bit of step t - k.

    bits: (batch, T, 2) of 0/1, the two input streams; stream 0 is the one to repeat,
        stream 1 only distracts (the network must learn to ignore it)
    k: the delay, 0 <= k < T
    returns X: (batch, T, 2) float (the bits), D: (batch, T, 1) float with
        D[:, t, 0] = bits[:, t - k, 0] for t >= k and 0 for t < k, and
        mask: (T, 1) float, 1 at the steps t >= k that are scored and 0 at the first k,
        whose answer lies before the start
    """
    bits = np.asarray(bits)
    if bits.ndim != 3 or bits.shape[-1] != 2 or bits.shape[0] < 1 or bits.shape[1] < 1:
        raise ValueError(f"bits must have shape (batch, T, 2), got {bits.shape}")
    if bits.dtype.kind not in "biuf" or not np.all((bits == 0) | (bits == 1)):
        raise ValueError("bits must be 0 or 1")
    T = bits.shape[1]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < T:
        raise ValueError(f"the delay k must be a whole number in [0, T) = [0, {T}), got {k!r}")
    X = bits.astype(float)
    D = np.zeros(X.shape[:-1] + (1,))
    D[:, k:, 0] = X[:, : T - k, 0]  # d[t] = x[t - k], stream 0
    mask = np.zeros((T, 1))
    mask[k:] = 1.0
    return X, D, mask


def random_delay_batch(
    rng: np.random.Generator, size: int, T: int, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``size`` random sequences of the k-step delay task: ``make_delay_batch`` of
    ``rng.integers(0, 2, size=(size, T, 2))`` (one draw, so a seed fixes them)."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    size = positive_int(size, "batch size")
    T = _check_bits(T)
    return make_delay_batch(rng.integers(0, 2, size=(size, T, 2)), k)
