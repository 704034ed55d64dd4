"""Loss and exact-sum accuracy over every pair a, b < 2**(T - 1).

The plain way is ``forward`` on all 16,384 sequences of ``all_pairs(8)``. This module gets
the same numbers much faster, with two observations.

1. A tree of prefixes. After t + 1 steps the network has seen only t + 1 bit pairs, so
   however many sequences there are, at step t there are only 4**(t + 1) different hidden
   states. We run the RNN over that tree, each prefix once: 4 + 16 + ... + 16,384 states
   for the first T - 1 steps, and 16,384 for the last, whose input bits are always (0, 0)
   because a, b < 2**(T - 1).

2. float32, where the answer cannot change. A pair is right when every output is on the
   right side of 0.5, that is, when every logit v[t] = z[t] W_out + c has the right sign;
   the loss is reported at a few digits. Neither needs float64's last bits, and float32
   is several times faster for tanh and sigmoid (numpy's float64 tanh has no SIMD code on
   many machines). So the tree is walked in float32, and beside every hidden state it
   carries a bound on how far float32 rounding can have moved it from the exact value
   (``_bound``; it uses f's slope, which is near 0 for a saturated unit, and in the last
   COARSE_STEPS steps, to save time, f's largest slope, ``_coarse_bound``). Wherever a
   logit is closer to 0 than twice its bound, its sign is in doubt. A pair with some bit
   surely wrong is wrong whatever the doubtful signs are; the pairs that would be right
   unless a sign in doubt is wrong (none to a few dozen) are computed again with
   ``forward`` in float64. So the accuracy is exactly that of ``forward`` in float64 on
   every pair. The loss is float32's, summed in float64 (each node's term once, weighted
   by the pairs that share it), and agrees with float64's to about 1e-7 (relative) on the
   networks of the tests. Where float32 is not to be trusted, the tree is walked in
   float64 instead (the same walk, with float64's rounding in the bounds): where it
   overflows, where it leaves many pairs in doubt, or where the bounds of the logits in
   doubt could move the loss by as much as the loss itself (``_Sums.add_logits``), which
   happens only for weights far larger than training makes. ReLU is always walked in
   float64: it has no slow function to save, and without saturation its float32 errors
   grow with the weights (with large weights and c, its float32 loss was off by 3e-5).

The tree is walked whole while a step's states fit in CHUNK_ELEMENTS hidden numbers, and
beyond that in chunks of prefixes, each chunk down to the last step before the next: the
memory stays bounded for long sequences. The largest arrays are written into buffers kept
per step (``_thread_buffers``), the same memory for every chunk and every evaluation.
``tests/test_evaluate.py`` checks all of it against ``forward``.
"""

from __future__ import annotations

import contextlib
import functools
import threading

import numpy as np
from threadpoolctl import ThreadpoolController

from .activations import get_activation, sigmoid
from .checks import positive_int
from .data import encode
from .model import PARAM_NAMES, Params, _forward, as_params, too_large

# The four input pairs (bit of a, bit of b) a step can see.
BIT_PAIRS = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
MAX_EVAL_BITS = 12
# Hidden numbers expanded at once: at most 2**16 per (states, H) array (256 KB in float32,
# which stays in the caches). At T = 8, H = 16 that splits the tree into 4 chunks of 4,096
# pairs.
CHUNK_ELEMENTS = 2**16
# Pairs whose sign is in doubt, at most, before the model is walked in float64 instead.
MAX_IN_DOUBT = 1 / 8
# The last steps, whose error bounds take f's slope as its largest (``_coarse_bound``).
COARSE_STEPS = 2
# A bound on the relative rounding error of float32's tanh and sigmoid as numpy computes them,
# taken generously: 2**-19 is 16 units in the last place.
F_ERROR = 2.0**-19


def evaluate_all_pairs(
    params: Params, activation: str = "tanh", T: int = 8
) -> tuple[np.ndarray | float, np.ndarray | float]:
    """(loss, accuracy) over all 4**(T - 1) pairs: floats, or one per model of a stack.

    loss is the mean over pairs of Σ_t 1/2 (y[t] - d[t])**2, accuracy the share of
    pairs whose every output bit is right: the accuracy exactly that of ``accuracy`` of
    ``forward`` on ``make_batch(*all_pairs(T), T)``, the loss the same to about 1e-7.
    Weights so large that the loss overflows (ReLU's can) raise ValueError.
    """
    params, lead, _ = as_params(params)
    get_activation(activation)
    T = positive_int(T, "number of bits T")
    if T > MAX_EVAL_BITS:
        raise ValueError(f"T must be at most {MAX_EVAL_BITS} to evaluate all pairs, got {T}")
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is caught below, by value
        loss, acc = evaluate_unchecked(params, activation, T)
    if not np.all(np.isfinite(loss)):
        raise ValueError(too_large(params, "the loss over all pairs"))
    return loss, acc


def evaluate_unchecked(
    params: Params, activation: str, T: int
) -> tuple[np.ndarray | float, np.ndarray | float]:
    """``evaluate_all_pairs`` without the checks, for ``train``: the loss may be inf or NaN.
    (Overflow warnings are silenced here, in whichever thread or process runs it: numpy's
    error state is per thread, and the overflow is seen by value.)"""
    lead = params["W_in"].shape[:-2]
    with one_blas_thread(), np.errstate(over="ignore", invalid="ignore"):
        if lead == ():
            return _evaluate_one(params, activation, T)
        # One model at a time: faster than the whole stack at once, whose arrays outgrow
        # the caches.
        loss, acc = np.empty(lead), np.empty(lead)
        for i in np.ndindex(lead):
            one = {k: params[k][i] for k in PARAM_NAMES}
            loss[i], acc[i] = _evaluate_one(one, activation, T)
        return loss, acc


@functools.cache
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()


def one_blas_thread() -> contextlib.AbstractContextManager:
    """A block in which the BLAS library computes on one thread; the number it had before
    comes back at the block's end.

    The walk's products, (n, 16) times (16, 64) in chunks, are too small for BLAS's threads
    to pay for waking and waiting: on a busy machine, an evaluation with OpenBLAS's two
    threads took 46-61 ms of CPU time against 6 ms on one thread (``make bench`` shows the
    effect on a quiet one). OpenBLAS's setting is global to the process; threadpoolctl lets
    one Python thread (the first that set it, usually the main one) change it and ignores
    the others, so evaluations in several threads at once cannot undo each other's
    settings (an evaluation in a background thread then keeps the main thread's setting).
    """
    return _blas_controller().limit(limits=1, user_api="blas")


def _evaluate_one(
    params: Params, activation: str, T: int, dtype: type | None = None
) -> tuple[float, float]:
    """(loss, accuracy) of one model: the tree walked in ``dtype``, the pairs whose accuracy
    is in doubt again with ``forward`` in float64. Falls back to float64 where float32
    overflows, leaves more than MAX_IN_DOUBT of the pairs in doubt, or may be far off in the
    loss (``_Sums.loss_error``)."""
    if dtype is None:  # relu: no slow float64 function to save, and no saturation to stop
        dtype = np.float64 if activation == "relu" else np.float32  # its errors (see above)
    n_pairs = 4 ** (T - 1)
    sums = _Sums(T, MAX_IN_DOUBT * n_pairs if dtype != np.float64 else np.inf)
    _walk(_Weights(params, activation, dtype), T, 0, _root(params, dtype), 0, sums)
    unsure = sums.too_many() or not np.isfinite(sums.loss) or sums.loss_error > sums.loss
    if dtype != np.float64 and unsure:
        return _evaluate_one(params, activation, T, np.float64)
    in_doubt = np.concatenate(sums.in_doubt)
    right = sums.right
    # every pair whose accuracy is in doubt, computed again the plain way, a chunk at a time
    rows = max(1, CHUNK_ELEMENTS // (T * params["W"].shape[0]))
    for s in range(0, in_doubt.size, rows):
        X, D = encode(*_pairs_of(in_doubt[s : s + rows], T), T)
        Y, _ = _forward(params, X, activation)
        right += int(np.all((Y > 0.5) == (D > 0.5), axis=(1, 2)).sum())
    return float(sums.loss / n_pairs), float(right / n_pairs)


class _Weights:
    """One model's weights in the walk's dtype, and the constants of its error bounds.

    Rounding (u = 2**-24 in float32, 2**-53 in float64): a row z times a matrix M, summed
    over n terms in any order, with M's entries rounded to the dtype, is off by at most
    about (n + 1) u Σ_i |z_i| |M_ij|. Here n <= H + 3 (H products, x W_in's two, b), so
    ``c_u`` = (H + 5) u; f adds at most ``f_error`` (F_ERROR, relative, and |z| <= 1 but
    for relu, which rounds nothing).
    """

    def __init__(self, params: Params, activation: str, dtype: type):
        self.activation, self.dtype = activation, dtype
        self.f, _ = get_activation(activation)
        W_in, W, W_out, b, c = (params[k] for k in PARAM_NAMES)
        self.W, self.W_out, self.c = W.astype(dtype), W_out.astype(dtype), dtype(c[0])
        self.input = (BIT_PAIRS @ W_in + b).astype(dtype)  # x W_in + b for the 4 inputs, (4, H)
        H = W.shape[0]
        self.c_u = (H + 5) * 2.0 ** -(np.finfo(dtype).nmant + 1)
        self.f_error = (F_ERROR if dtype == np.float32 else 2.0**-48) * (activation != "relu")
        self.abs_W, self.abs_W_out = np.abs(self.W), np.abs(self.W_out)
        # W four times side by side: z W4 is (z W, z W, z W, z W), the recurrent part of a
        # prefix's four children in one product, as the rows (n, 4 H) -> (4 n, H) of the tree
        self.W4, self.abs_W4 = np.tile(self.W, 4), np.tile(self.abs_W, 4)
        # the thread's buffers hold the memory; _rows remembers which of them ``rows`` has
        # already filled with this model's numbers in this evaluation
        self._rows: dict = {}
        self._buffers = _thread_buffers()
        # the rounding of x W_in + b, c_u (|x| |W_in| + |b|), (4, H)
        self.input_error = (self.c_u * (BIT_PAIRS @ np.abs(W_in) + np.abs(b))).astype(dtype)
        self.c_error = dtype(self.c_u * abs(c[0]))

    def rows(self, what: str, m: int, n: int) -> np.ndarray:
        """``what[:m]`` (``"input"`` or ``"input_error"``, (4, H): the input parts, or their
        rounding bounds) laid side by side and repeated for n rows, (n, m H): added to a
        (n, m H) product, it is one addition over whole arrays (a (H,) row added to every row
        of an array costs numpy a short loop per row)."""
        have = self._rows.get((what, m))
        if have is None or have.shape[0] < n:  # as many rows as a chunk can have, at once
            part = getattr(self, what)[:m].reshape(1, -1)
            n_max = max(n, CHUNK_ELEMENTS // part.size)
            have = self._rows[(what, m)] = self.buffer(what, m, (n_max, part.size))
            have[...] = part
        return have[:n]

    def buffer(self, name: str, index: int, shape: tuple[int, int]) -> np.ndarray:
        """An array of ``shape`` in the dtype for ``name`` at step ``index`` (or, for
        ``rows``, for m children): the same memory for every chunk, and for the next
        evaluation in this thread (``_thread_buffers``)."""
        size = shape[0] * shape[1]
        key = (name, index, self.dtype)
        have = self._buffers.get(key)
        if have is None or have.size < size:
            have = self._buffers[key] = np.empty(size, dtype=self.dtype)
        return have[:size].reshape(shape)


_local = threading.local()


def _thread_buffers() -> dict:
    """This thread's buffers for the walk's largest arrays, kept from one evaluation to the next.

    A fresh array of a few hundred KB for every operation is slow: the memory allocator gives
    freed memory back to the operating system and asks for it again, and every new page is
    zeroed when first touched. At T = 8, H = 16 an evaluation took 3.1-3.5 ms with these
    buffers and 3.6-4.6 ms without (separate runs, on the 2-core machine of ``make bench``,
    whose section 5 times evaluations). They hold about 2.6 MB (8 MB once
    a walk in float64 has run; at most about 23 MB, at T = 12 and H = 64). One set per thread,
    so that an evaluation in a background thread never writes into the main thread's arrays.
    """
    if not hasattr(_local, "buffers"):
        _local.buffers = {}
    return _local.buffers


def _root(params: Params, dtype: type) -> tuple:
    """The tree's root: one prefix, the empty one (z[-1] = 0, exactly)."""
    H = params["W"].shape[0]
    return (
        np.zeros((1, H), dtype=dtype),  # z[t-1] per prefix
        np.zeros((1, H), dtype=dtype),  # a bound on |z[t-1] - exact| + c_u |z[t-1]| (``_bound``)
        np.ones(1, dtype=bool),  # could every output bit so far be right?
        np.zeros(1, dtype=bool),  # the sign of some logit so far in doubt?
    )


class _Sums:
    """What the walk adds up over the chunks: the loss (every node's, weighted by how many
    pairs share it), the pairs surely right, the leaf indices (``_pairs_of``) of the pairs
    that are right unless a sign in doubt is wrong (only those need computing again), and a
    gauge of how far off the loss may be (``loss_error``)."""

    def __init__(self, T: int, max_in_doubt: float) -> None:
        self.T, self.loss, self.right = T, 0.0, 0
        self.in_doubt: list[np.ndarray] = [np.zeros(0, dtype=int)]
        self.n_in_doubt, self.max_in_doubt = 0, max_in_doubt
        self.loss_error = 0.0

    def too_many(self) -> bool:
        """More pairs in doubt than ``max_in_doubt``: the walk stops, to start again in float64."""
        return self.n_in_doubt > self.max_in_doubt

    def add_logits(self, t: int, first: int, v: np.ndarray, v_err: np.ndarray, doubt) -> None:
        """Add the loss terms 1/2 (y - d)**2 of the logits v of step t's nodes, from index
        ``first`` on, each node shared by 4**(T - 2 - t) pairs (1 at the last step).

        |y - d| is σ(v) where d = 0 and 1 - σ(v) = σ(-v) where d = 1, that is
        1 / (1 + exp(sign v)) with sign = 2 d - 1: accurate to the dtype's relative precision
        even where y is within 1e-8 of d (exp overflows to inf where the term is 0).

        ``loss_error`` gauges the error of the logits in doubt, the least accurate ones: by
        their bounds, a term moves at most 4/27 v_err (the largest slope of 1/2 σ(v)**2 in
        the loss is 4/27). That bound is loose (the errors are typically a thousandth of it
        and less), so it is used only as a gauge: where it exceeds the loss itself, the
        weights are so large (or c so far out) that the walk is done again in float64.
        """
        sign = _target_bits(self.T)[1][t][first : first + v.size]
        term = np.exp(sign * v)  # (overflow to inf is ignored: see evaluate_unchecked)
        term += 1
        np.reciprocal(term, out=term)
        shared_by = 4 ** max(self.T - 2 - t, 0)
        self.loss += shared_by * 0.5 * float(np.sum(term * term, dtype=np.float64))
        if doubt.any():
            self.loss_error += shared_by * 4 / 27 * float(np.sum(v_err[doubt], dtype=np.float64))

    def add(self, first: int, maybe_right: np.ndarray, in_doubt: np.ndarray) -> None:
        """Add the pairs (leaves) from index ``first`` on."""
        self.right += int(np.count_nonzero(maybe_right & ~in_doubt))
        self.in_doubt.append(first + np.flatnonzero(maybe_right & in_doubt))
        self.n_in_doubt += self.in_doubt[-1].size


def _walk(w: _Weights, T: int, start: int, prefixes: tuple, first: int, sums: _Sums) -> None:
    """Run the prefixes from step ``start`` to the end, and add their pairs to ``sums``.

    ``first`` is the index of the first prefix among all of its step's. A prefix at step t
    grows into 4**(T - 1 - t) sequences. Where a step's states would be more than
    CHUNK_ELEMENTS hidden numbers, the prefixes are split into contiguous chunks, each walked
    to the end in turn (so the leaves come out in order). (Not in the last COARSE_STEPS
    steps, where one bound in ``err`` stands for ``group`` states; the first of them is the
    last step whose states can outgrow a chunk, since the very last step has one child.)
    """
    z, err, maybe_right, in_doubt = prefixes
    d_bits = _target_bits(T)[0]
    group = 1  # states per row of err (more than 1 in the last COARSE_STEPS steps)
    size = None
    for t in range(start, T):
        m = 4 if t < T - 1 else 1  # the last step only sees the input (0, 0)
        n, H = z.shape
        if n > 1 and group == 1 and n * m * H > CHUNK_ELEMENTS:
            rows = max(1, CHUNK_ELEMENTS // (m * H))
            now = (z, err, maybe_right, in_doubt)
            for s in range(0, n, rows):
                if not sums.too_many():
                    _walk(w, T, t, tuple(a[s : s + rows] for a in now), first + s, sums)
            return
        # u[t] = x[t] W_in + z[t-1] W + b, for every (prefix, next input) combination
        u = np.matmul(z, w.W4 if m == 4 else w.W, out=w.buffer("u", t, (n, m * H)))
        u += w.rows("input", m, n)  # (n, m H): the children of each prefix side by side
        if t < T - COARSE_STEPS:  # a bound per state (and f applied to u)
            err = _bound(w, err, u, m, t).reshape(n * m, H)
        else:  # one bound per state of step T - 1 - COARSE_STEPS, for all its descendants
            if size is None and w.activation == "relu":  # only relu's bound needs |z|
                size = np.abs(z)
            err, size = _coarse_bound(w, err, size, m)
            group *= m
            _f_in_place(w, u)
        z = u.reshape(n * m, H)
        v = (z @ w.W_out)[:, 0] + w.c  # the logit of y[t] = σ(v), (n * m,)
        v_err = (err @ w.abs_W_out)[:, 0] + w.c_error  # a bound on |v - exact v|
        if group > 1:
            v_err = np.repeat(v_err, group)
        first *= m
        # y > 0.5 exactly where v > 0. In doubt where the rounding could have moved v across 0:
        # |v| within twice its bound (so that the exact logit, and float64's, are also away
        # from 0), unless the bound is 0 (v computed exactly, as where z = 0 and c = 0).
        # Written so that NaN is in doubt.
        doubt = ~(v_err <= 0) & ~(np.abs(v) > 2 * v_err + 2.0**-20)
        sums.add_logits(t, first, v, v_err, doubt)
        right = (v > 0) == d_bits[t][first : first + n * m]  # the sum's bit t, per sequence
        if m > 1:
            maybe_right, in_doubt = np.repeat(maybe_right, m), np.repeat(in_doubt, m)
        maybe_right &= right | doubt  # a pair with a bit surely wrong is wrong, doubts or not
        in_doubt |= doubt
    sums.add(first, maybe_right, in_doubt)


def _bound(w: _Weights, err: np.ndarray, u: np.ndarray, m: int, t: int) -> np.ndarray:
    """Apply f to u, (n, m H), in place, and return a bound on how far rounding has moved each
    z[t] = f(u[t]) from its exact value, plus c_u |z[t]| (what the next step's bound needs).

    ``err`` is that bound for z[t-1], (n, H). The error of u[t] is at most
        du = err |W| + c_u (|x| |W_in| + |b|)
    (what z[t-1]'s error becomes through W, and the rounding of this step's sums); z[t]'s
    at most f's largest slope over u ± du, times du, plus f's own rounding (f_error). The
    slope is bounded from z[t] itself, so a saturated unit, whose slope is near 0, stops
    the error:
        tanh:    1 - tanh², and |tanh| >= |z[t]| - f_error - du there (tanh is 1-Lipschitz)
        sigmoid: 1/4 - (σ - 1/2)², and |σ - 1/2| >= |z[t] - 1/2| - f_error - du there
        relu:    1 where u > -du, else 0 (relu rounds nothing, and its z is not below 1)
    """
    du = np.matmul(err, w.abs_W4 if m == 4 else w.abs_W, out=w.buffer("du", t, u.shape))
    du += w.rows("input_error", m, err.shape[0])  # (n, m H), as u
    zero = w.dtype(0)
    if w.activation == "relu":
        du *= u > -du
        _f_in_place(w, u)
        du += w.c_u * u
        return du
    _f_in_place(w, u)
    if w.activation == "tanh":
        size = np.abs(u, out=w.buffer("size", t, u.shape))
        size *= w.dtype(1 - w.f_error)  # |tanh(u)| at least, f's rounding aside
        low = np.subtract(size, du, out=w.buffer("err", t, u.shape))
        np.maximum(low, zero, out=low)
        low *= low
        np.subtract(w.dtype(1), low, out=low)  # the slope bound
        low *= du
        # + f's rounding and c_u |z|, both relative to |z|: where z = 0 exactly (and so
        # the error is 0, as when x = 0, b = 0 and z[t-1] = 0), the bound stays 0
        size *= w.dtype((w.f_error + w.c_u) / (1 - w.f_error))
        low += size
        return low
    low = np.subtract(u, w.dtype(0.5), out=w.buffer("err", t, u.shape))
    np.abs(low, out=low)
    low -= du
    low -= w.dtype(w.f_error)
    np.maximum(low, zero, out=low)
    low *= low
    np.subtract(w.dtype(0.25), low, out=low)  # the slope bound
    low *= du
    low += w.dtype(w.f_error + w.c_u)  # f's rounding, and c_u |z| with |z| <= 1
    return low


def _coarse_bound(
    w: _Weights, err: np.ndarray, size: np.ndarray, m: int
) -> tuple[np.ndarray, np.ndarray]:
    """``_bound`` for all the children of each row at once, taking f's slope as its largest
    (1 for tanh and relu, 1/4 for sigmoid): cheaper, and
    looser by a factor of about |W| per step, so it is used for the last COARSE_STEPS steps
    only (they hold most of the states).

    err: the bound of ``_bound`` for the parents (or their ancestors), (n, H)
    size: a bound on the parents' |z|, (n, H) (only relu needs it: the others' |z| <= 1)
    returns the bound for every child of each row, (n, H), and a bound on the children's |z|
    """
    du = err @ w.abs_W + w.input_error[:m].max(axis=0)
    if w.activation == "relu":  # |z[t]| <= |u[t]| <= |z[t-1]| |W| + |x W_in + b|
        size = size @ w.abs_W + np.abs(w.input[:m]).max(axis=0)
        return du + w.c_u * size, size
    if w.activation == "sigmoid":
        du *= w.dtype(0.25)
    return du + w.dtype(w.f_error + w.c_u), size


def _f_in_place(w: _Weights, u: np.ndarray) -> None:
    """u = f(u), in place."""
    if w.activation == "tanh":
        np.tanh(u, out=u)
    elif w.activation == "relu":
        np.maximum(u, w.dtype(0), out=u)
    else:
        u[...] = sigmoid(u)


@functools.lru_cache(maxsize=2)
def _target_bits(T: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per step t, the sum's bit t for every node of the tree at that step, in the tree's
    order (at step t < T - 1, node i holds the inputs k[0..t] as base-4 digits, k[0] the most
    significant; at step T - 1, the leaves, the pairs as ``_pairs_of`` reads them), and the
    same as the signs 2 d - 1 (float32) that ``_Sums.add_logits`` takes."""
    bits = []
    for t in range(T):
        depth = min(t + 1, T - 1)  # the inputs that vary: the last step's is (0, 0)
        a, b = _pairs_of(np.arange(4**depth, dtype=np.int64), depth + 1)
        bits.append(((a + b) >> t) & 1 == 1)
    return bits, [np.where(d, np.float32(1), np.float32(-1)) for d in bits]


def _pairs_of(leaves: np.ndarray, T: int) -> tuple[np.ndarray, np.ndarray]:
    """The pairs (a, b) at the given leaf indices of the tree.

    Leaf i is reached by the inputs k[0], ..., k[T-2] (rows of BIT_PAIRS: bit of a = k & 1,
    bit of b = k >> 1), the first step's k the most significant base-4 digit of i.
    """
    a = np.zeros(leaves.size, dtype=np.int64)
    b = np.zeros(leaves.size, dtype=np.int64)
    for t in range(T - 1):
        k = (leaves >> (2 * (T - 2 - t))) & 3
        a |= (k & 1) << t
        b |= (k >> 1) << t
    return a, b
