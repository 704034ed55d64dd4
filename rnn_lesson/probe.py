"""Looking for the carry inside a network's hidden states z[t]. numpy only.

Z is a set of hidden states, one per row, (N, H); ``carry`` the true carry out of the
step each state was computed at, (N,) of 0/1 (``adder.sequences`` gives it).

- ``fit_probe`` / ``probe_predict``: a linear probe, a least-squares fit of w, bias with
  z w + bias = +1 where carry = 1 and -1 where carry = 0; its prediction is the sign.
- ``unit_signs``: for every single unit j, how often the sign of z_j says the carry;
  ``unit_thresholds``: the same at the best threshold for each unit, not only at 0.
- ``input_reader``: a baseline that sees no hidden state, only the last m input pairs.
- ``pca``: principal component analysis (主成分分析) of Z.
- ``kmeans`` and ``transitions``: hidden states grouped into a few clusters, and which
  cluster follows which for each input pair: the network read as an automaton.
- ``full_adder``: the automaton the network should have learned.
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from .checks import positive_int

# The four input pairs (bit of a, bit of b), indexed by a + 2 b.
INPUTS = ((0, 0), (1, 0), (0, 1), (1, 1))


def _check_states(Z: object, carry: object | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    Z = np.asarray(Z, dtype=float)
    if Z.ndim != 2 or Z.shape[0] < 1 or not np.all(np.isfinite(Z)):
        raise ValueError(f"Z must be a finite (N, H) array of hidden states, got shape {Z.shape}")
    if carry is None:
        return Z, None
    carry = np.asarray(carry)
    if carry.shape != Z.shape[:1] or not np.isin(carry, (0, 1)).all():
        raise ValueError(f"carry must be (N,) = {Z.shape[:1]} of 0/1, got shape {carry.shape}")
    return Z, carry.astype(int)


def fit_probe(Z: np.ndarray, carry: np.ndarray) -> tuple[np.ndarray, float]:
    """Least squares: the w (H,) and bias that make z w + bias closest to 2 carry - 1."""
    Z, carry = _check_states(Z, carry)
    A = np.hstack([Z, np.ones((Z.shape[0], 1))])
    # one BLAS thread: a problem this small gains nothing from more, and on a busy machine
    # OpenBLAS threads waiting for each other made each fit some 10 times slower
    with threadpool_limits(1):
        coef = np.linalg.lstsq(A, 2.0 * carry - 1.0, rcond=None)[0]
    return coef[:-1], float(coef[-1])


def probe_predict(w: np.ndarray, bias: float, Z: np.ndarray) -> np.ndarray:
    """The probe's carry for every state: 1 where z w + bias > 0, else 0. (N,) int."""
    Z, _ = _check_states(Z)
    return (Z @ np.asarray(w, dtype=float) + bias > 0).astype(int)


def unit_signs(Z: np.ndarray, carry: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How well the sign of each single unit gives the carry.

    returns agreement (H,): the share of states where [z_j > 0] is the carry (polarity +1)
    or is its opposite (polarity -1), whichever is larger; and polarity (H,) of +1/-1.
    """
    Z, carry = _check_states(Z, carry)
    same = ((Z > 0) == (carry[:, None] == 1)).mean(axis=0)
    polarity = np.where(same >= 0.5, 1, -1)
    return np.maximum(same, 1.0 - same), polarity


def unit_thresholds(Z: np.ndarray, carry: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How well one unit gives the carry at its best threshold: [z_j > theta] or its opposite.

    returns agreement (H,), the largest share of states any threshold theta (either way
    round) gets right, and theta (H,), a threshold that reaches it (midway between two
    neighbouring values of z_j, or below all of them). ``unit_signs`` is theta = 0.
    """
    Z, carry = _check_states(Z, carry)
    N = Z.shape[0]
    order = np.argsort(Z, axis=0, kind="stable")  # (N, H)
    zs = np.take_along_axis(Z, order, axis=0)
    ones = carry[order]  # the carry of the states in that order, per unit
    # cut after the i-th smallest value (i = 0..N): predict 1 above the cut
    ones_below = np.vstack([np.zeros((1, Z.shape[1]), dtype=int), np.cumsum(ones, axis=0)])
    zeros_below = np.arange(N + 1)[:, None] - ones_below
    right = (zeros_below + ones.sum(axis=0) - ones_below) / N  # (N + 1, H)
    right = np.maximum(right, 1.0 - right)
    # a cut between two equal values is no threshold: only cuts where the value changes
    valid = np.vstack(
        [np.ones((1, Z.shape[1]), bool), zs[1:] > zs[:-1], np.ones((1, Z.shape[1]), bool)]
    )
    right = np.where(valid, right, -1.0)
    best = right.argmax(axis=0)
    padded = np.vstack([zs[:1] - 1.0, zs, zs[-1:] + 1.0])  # values below and above all states
    cols = np.arange(Z.shape[1])
    theta = (padded[best, cols] + padded[best + 1, cols]) / 2
    return right[best, cols], theta


def input_reader(X: np.ndarray, carry: np.ndarray, m: int, fit, test) -> float:
    """A baseline with no hidden state: it guesses the carry from the last m input pairs alone.

    X (batch, T, 2) inputs, carry (batch, T) the true carries; steps before the start count as
    a pair of their own. For every pattern of the last m pairs the reader answers the carry
    seen most often with it in the sums ``fit`` (a slice or index), and is scored on the sums
    ``test``. returns the share of the steps of ``test`` it gets right. On long random sums
    it approaches 1 - 2**-(m + 1): it is wrong only when all m pairs are (1, 0) or (0, 1).
    """
    X, carry = np.asarray(X), np.asarray(carry)
    if X.ndim != 3 or X.shape[-1] != 2 or carry.shape != X.shape[:2]:
        raise ValueError(
            f"X must be (batch, T, 2) and carry (batch, T), got {X.shape}, {carry.shape}"
        )
    m = positive_int(m, "m")
    pair = 1 + (X[..., 0] + 2 * X[..., 1]).astype(int)  # 1..4; 0: before the start
    code = np.zeros(carry.shape, dtype=np.int64)
    for back in range(m):
        shifted = np.zeros_like(pair)
        shifted[:, back:] = pair[:, : pair.shape[1] - back]
        code = code * 5 + shifted
    patterns = 5**m
    seen = np.bincount(code[fit].ravel(), minlength=patterns)
    with_carry = np.bincount(code[fit].ravel(), weights=carry[fit].ravel(), minlength=patterns)
    guess = (2 * with_carry > seen).astype(int)  # the majority; no carry on a tie or if unseen
    return float(np.mean(guess[code[test]] == carry[test]))


def pca(Z: np.ndarray, n_components: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Principal component analysis (主成分分析) of the rows of Z.

    returns the projections (N, n) of the centred states onto the first n components,
    the components (n, H) (unit vectors, each signed so its largest entry is positive),
    and the share of the variance each explains (n,).
    """
    Z, _ = _check_states(Z)
    n = positive_int(n_components, "n_components")
    if n > Z.shape[1]:
        raise ValueError(f"n_components must be at most H = {Z.shape[1]}, got {n}")
    centred = Z - Z.mean(axis=0)
    _, s, Vt = np.linalg.svd(centred, full_matrices=False)
    comps = Vt[:n] * np.sign(Vt[:n][np.arange(n), np.abs(Vt[:n]).argmax(axis=1)])[:, None]
    var = s**2
    share = var[:n] / var.sum() if var.sum() > 0 else np.zeros(n)
    return centred @ comps.T, comps, share


def _sq_distances(Z: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """|z - centre|**2 for every state and centre, (N, k), as |z|**2 - 2 z.centre + |centre|**2."""
    d2 = (Z**2).sum(axis=1)[:, None] - 2 * Z @ centres.T + (centres**2).sum(axis=1)[None, :]
    return np.maximum(d2, 0.0)


def kmeans(
    Z: np.ndarray, k: int, rng: np.random.Generator, n_init: int = 5, n_iter: int = 100
) -> tuple[np.ndarray, np.ndarray]:
    """k-means clustering (k平均法): k centres, each state in the cluster of its nearest one.

    Starts are drawn k-means++ style from ``rng`` (far points are likelier to start a
    cluster); the best of ``n_init`` runs (least sum of squared distances) is kept.
    Clusters are numbered by their centre's first coordinate (then the next), so the
    numbering does not depend on the start.
    returns labels (N,) int in 0..k-1, centres (k, H).
    """
    Z, _ = _check_states(Z)
    k, n_init, n_iter = (
        positive_int(v, name) for v, name in ((k, "k"), (n_init, "n_init"), (n_iter, "n_iter"))
    )
    if k > Z.shape[0]:
        raise ValueError(f"k must be at most the number of states {Z.shape[0]}, got {k}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    best = None
    for _ in range(n_init):
        centres = Z[[rng.integers(Z.shape[0])]]
        for _ in range(1, k):
            d2 = _sq_distances(Z, centres).min(axis=1)
            total = d2.sum()
            pick = rng.choice(Z.shape[0], p=d2 / total) if total > 0 else rng.integers(Z.shape[0])
            centres = np.vstack([centres, Z[pick]])
        for _ in range(n_iter):
            labels = _sq_distances(Z, centres).argmin(axis=1)
            new = centres.copy()
            for j in range(k):
                if np.any(labels == j):
                    new[j] = Z[labels == j].mean(axis=0)
            if np.array_equal(new, centres):
                break
            centres = new
        d2 = _sq_distances(Z, centres)
        labels = d2.argmin(axis=1)
        inertia = d2[np.arange(Z.shape[0]), labels].sum()
        if best is None or inertia < best[0]:
            best = (inertia, labels, centres)
    _, labels, centres = best
    order = np.lexsort(centres.T[::-1])  # by the first coordinate, then the second, ...
    rank = np.empty(k, dtype=int)
    rank[order] = np.arange(k)
    return rank[labels], centres[order]


def transitions(before: np.ndarray, inputs: np.ndarray, after: np.ndarray, k: int) -> np.ndarray:
    """Counts of (cluster before, input pair, cluster after): (k, 4, k) int.

    before, after: (N,) cluster of z[t-1] and of z[t]; inputs: (N, 2) bits (a[t], b[t]).
    """
    k = positive_int(k, "k")
    before, after, inputs = np.asarray(before), np.asarray(after), np.asarray(inputs)
    if before.shape != after.shape or before.ndim != 1 or inputs.shape != before.shape + (2,):
        raise ValueError("before, after must be (N,) and inputs (N, 2)")
    counts = np.zeros((k, 4, k), dtype=int)
    np.add.at(counts, (before, (inputs[:, 0] + 2 * inputs[:, 1]).astype(int), after), 1)
    return counts


def full_adder(carry_in: int, a: int, b: int) -> tuple[int, int]:
    """The full adder (全加算器): (sum bit, carry out) of a + b + carry_in."""
    s = a + b + carry_in
    return s % 2, s // 2


def read_automaton(labels: np.ndarray, X: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    """The automaton that clustered hidden states follow.

    labels: (batch, T) the cluster of z[t]; X: (batch, T, 2) the inputs.
    From z[t-1] in cluster i, input x[t] = (a, b) leads to z[t] in some cluster j; the
    automaton's move is the j seen most often for each (i, input).
    returns next_state (k, 4) int (-1 where a pair (i, input) was never seen; inputs
    indexed a + 2 b as in INPUTS) and the share of all steps that follow it.
    """
    labels, X = np.asarray(labels), np.asarray(X)
    if labels.ndim != 2 or X.shape != labels.shape + (2,) or labels.shape[1] < 2:
        raise ValueError(
            f"labels must be (batch, T >= 2) and X (batch, T, 2), got {labels.shape}, {X.shape}"
        )
    counts = transitions(labels[:, :-1].ravel(), X[:, 1:].reshape(-1, 2), labels[:, 1:].ravel(), k)
    seen = counts.sum(axis=2) > 0
    next_state = np.where(seen, counts.argmax(axis=2), -1)
    return next_state, float(counts.max(axis=2).sum() / counts.sum())


def minimize(next_state: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Merge the states no input sequence can tell apart (Moore machine minimization).

    Two states are equivalent when they give the same output and, for every input, move to
    equivalent states. Start from the split by output and refine until nothing changes.
    next_state (k, 4) as from ``read_automaton`` (-1: never seen, kept as its own "unknown");
    output (k,): each state's output bit. returns group (k,) int, numbered from 0 in order of
    first appearance.
    """
    next_state, output = np.asarray(next_state), np.asarray(output)
    if next_state.ndim != 2 or output.shape != next_state.shape[:1]:
        raise ValueError("next_state must be (k, n_inputs) and output (k,)")
    group = np.unique(output, return_inverse=True)[1].ravel()
    while True:
        signature = [
            (group[i], *(group[j] if j >= 0 else -1 for j in next_state[i]))
            for i in range(len(output))
        ]
        number = {sig: n for n, sig in enumerate(dict.fromkeys(signature))}
        new = np.array([number[sig] for sig in signature])
        if len(number) == len(set(group.tolist())):
            return new
        group = new
