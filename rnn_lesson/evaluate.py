"""Loss and exact-sum accuracy over every pair a, b < 2**(T - 1).

The plain way is ``forward`` on all 16,384 sequences of ``all_pairs(8)``. This
module gets the same numbers about 3.4 times faster with one observation: after
t + 1 steps the network has seen only t + 1 bit pairs, so however many sequences
there are, at step t there are only 4**(t + 1) different hidden states. We run the
RNN over that tree of prefixes, each prefix once: 4 + 16 + ... + 16,384 states
for the first T - 1 steps, and 16,384 for the last, whose input bits are always
(0, 0) because a, b < 2**(T - 1). ``tests/test_evaluate.py`` checks it against
the plain way.

The tree is walked in chunks of prefixes, each chunk down to the last step before
the next, so that no array holds more than CHUNK_ELEMENTS hidden numbers. For long
sequences or many hidden units this keeps the memory bounded (a level of the tree
holds 4**11 x H states at T = 12). It also makes the usual case faster. The whole
tree's arrays at T = 8, H = 16 (2 MB each, about 10 MB in all) go back to the operating
system after every evaluation and are requested again, page by page: about 2,100 page
faults per evaluation. Half-megabyte arrays stay with the memory allocator and are reused
from one chunk to the next, once it has seen a larger block freed (glibc's allocator then
keeps such sizes; a notebook kernel has long done that): about 20 faults, and 1.4 times
faster here. The loss is summed chunk by chunk, so it can differ from the plain way's sum
in the last bit.
"""

from __future__ import annotations

import numpy as np

from .activations import get_activation, sigmoid
from .checks import positive_int
from .model import PARAM_NAMES, Params, as_params, too_large

# The four input pairs (bit of a, bit of b) a step can see.
BIT_PAIRS = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
MAX_EVAL_BITS = 12
# Hidden numbers expanded at once: at most 2**16 (512 KB) per (states, H) array. At T = 8,
# H = 16 that splits the tree into 4 chunks of 4,096 sequences. Here 2**22 (one chunk) was
# about 1.4 times slower (see the module's docstring), and 2**13 (32 chunks) slower still.
CHUNK_ELEMENTS = 2**16


def evaluate_all_pairs(
    params: Params, activation: str = "tanh", T: int = 8
) -> tuple[np.ndarray | float, np.ndarray | float]:
    """(loss, accuracy) over all 4**(T - 1) pairs: floats, or one per model of a stack.

    loss is the mean over pairs of Σ_t 1/2 (y[t] - d[t])**2, accuracy the share of
    pairs whose every output bit is right: the same as ``loss`` and ``accuracy`` of
    ``forward`` on ``make_batch(*all_pairs(T), T)``.
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
    """``evaluate_all_pairs`` without the checks, for ``train``: the loss may be inf or NaN."""
    f, _ = get_activation(activation)
    lead = params["W_in"].shape[:-2]
    if lead == ():
        return _evaluate_one(params, f, T)
    # One model at a time: faster than the whole stack at once, whose arrays outgrow the caches.
    loss, acc = np.empty(lead), np.empty(lead)
    for i in np.ndindex(lead):
        loss[i], acc[i] = _evaluate_one({k: params[k][i] for k in PARAM_NAMES}, f, T)
    return loss, acc


def _evaluate_one(params: Params, f, T: int) -> tuple[float, float]:
    """(loss, accuracy) of one model: the sums over the pairs of every chunk, added up."""
    prefixes = (
        np.zeros((1, params["W"].shape[0])),  # one prefix so far: the empty one, z[-1] = 0
        np.zeros(1, dtype=int),  # the true carry into this step, per prefix
        np.ones(1, dtype=bool),  # every output bit so far right?
        np.zeros(1),  # Σ over the steps so far of 1/2 (y - d)**2
    )
    sums: list[tuple[float, int, int]] = []  # (Σ loss, pairs right, pairs) per chunk
    _walk(params, f, T, 0, prefixes, sums)
    n_pairs = sum(n for _, _, n in sums)
    return float(sum(s for s, _, _ in sums) / n_pairs), float(sum(r for _, r, _ in sums) / n_pairs)


def accuracy_pruned(params: Params, f, T: int) -> float:
    """The accuracy of one model, without the loss: the same walk, but a prefix is dropped as
    soon as one of its output bits is wrong (every pair that starts with it is wrong, whatever
    follows). What is left at the end are the pairs summed right. No checks: for callers
    that checked ``params`` (``experiments.accuracy_all_pairs``)."""
    prefixes = (np.zeros((1, params["W"].shape[0])), np.zeros(1, dtype=int), None, None)
    sums: list[tuple[float, int, int]] = []
    _walk(params, f, T, 0, prefixes, sums, prune=True)
    return sum(r for _, r, _ in sums) / 4 ** (T - 1)


def _walk(
    params: Params, f, T: int, start: int, prefixes: tuple, sums: list, prune: bool = False
) -> None:
    """Run the prefixes from step ``start`` to the end; append their sums to ``sums``:
    (Σ loss over their pairs, how many pairs are right, how many pairs).

    A prefix at step t grows into 4**(T - 1 - t) sequences. Where the prefixes' sequences
    would need more than CHUNK_ELEMENTS hidden numbers, they are split into contiguous
    chunks, each walked to the end in turn. (Pruned, only the next step's numbers count:
    the prefixes that survive it may be few.)
    prune: drop every prefix with a wrong output bit, and keep no loss (``accuracy_pruned``);
        the sums are then (0.0, pairs right, 0), and ``prefixes`` holds None for all_right
        and the loss
    """
    W_in, W, W_out, b, c = (params[k] for k in PARAM_NAMES)
    z, carry, all_right, loss = prefixes
    for t in range(start, T):
        x = BIT_PAIRS if t < T - 1 else BIT_PAIRS[:1]  # the last step only sees (0, 0)
        n, m = z.shape[0], x.shape[0]
        # hidden numbers per prefix at the end (pruned: at the next step, as they may not grow)
        per_prefix = (m if prune else 4 ** (T - 1 - t)) * W.shape[0]
        if n > 1 and n * per_prefix > CHUNK_ELEMENTS:
            size = max(1, CHUNK_ELEMENTS // per_prefix)
            for s in range(0, n, size):
                chunk = slice(s, s + size)
                parts = tuple(None if a is None else a[chunk] for a in (z, carry, all_right, loss))
                _walk(params, f, T, t, parts, sums, prune)
            return
        # u[t] = x[t] W_in + z[t-1] W + b, for every (prefix, next input) combination
        # (x W_in + b is only (m, H): adding b there, not to the big sum, is several times faster)
        u = (z @ W)[:, None, :] + (x @ W_in + b)[None, :, :]
        z = f(u).reshape(n * m, -1)
        y = sigmoid(z @ W_out + c)[:, 0]  # y[t] = σ(z[t] W_out + c), (n * m,)
        total = (carry[:, None] + x.sum(axis=1).astype(int)[None, :]).reshape(-1)
        d, carry = total & 1, total >> 1  # the sum's bit t (its last bit), the carry onward
        right = (y > 0.5) == (d == 1)
        if prune:
            z, carry = z[right], carry[right]
            if z.shape[0] == 0:
                break
            continue
        all_right = np.repeat(all_right, m) & right
        loss = np.repeat(loss, m) + 0.5 * (y - d) ** 2
    if prune:
        sums.append((0.0, z.shape[0], 0))
    else:
        sums.append((loss.sum(), all_right.sum(), loss.size))
