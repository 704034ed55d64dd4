"""Numbers for notebook 07: gradients through time, the k-step delay task, truncated BPTT.

- ``gradient_reach``: how large the gradient of the last step's error is when it reaches
  step t - k, relative to step t: the product of k Jacobians (ヤコビ行列) applied to it.
- ``global_grad_norm``: ||g||, the norm of all five gradients taken together, per model.
- The k-step delay task (``rnn_lesson.data.make_delay_batch``): its loss and accuracy,
  which score only the steps t >= k (``mask``), BPTT for it, and ``train_delay``.
- Truncated BPTT (打ち切りBPTT) with truncation length τ: the sequence is cut into chunks of
  τ steps; the hidden state z flows forward across a cut, the deltas do not flow back across
  it. ``truncated_bptt`` computes this from the whole sequence's cache; ``forward_from`` and
  ``chunk_bptt`` do it one chunk at a time, keeping only one chunk's cache: the same
  gradients (``tests/test_through_time.py``). With tanh, BPTT needs only the states z
  (f'(u) = 1 - z**2): τ·H numbers per sequence instead of T·H (the cache also keeps u).
  ``train_delay`` makes one update per batch of whole sequences, not one per chunk.

numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .activations import DERIVATIVES_FROM_Z, get_activation, sigmoid
from .checks import learning_rate, positive_int
from .data import make_delay_batch
from .model import (
    PARAM_NAMES,
    Params,
    _bptt,
    _each_step,
    _forward,
    _matmul_for,
    _sum_outer,
    check_inputs,
    check_params,
)


def gradient_reach(params: Params, X: np.ndarray, activation: str = "tanh") -> np.ndarray:
    """||δ[T-1-k]|| / ||δ[T-1]|| for k = 0 .. T-1: median over the sequences of X.

    Only the last step's output error is kept (δout[T-1] = 1, every other δout = 0), so
    δ[T-1-k] = δ[T-1] Π_{j=1..k} (Wᵀ diag(f'(u[T-1-j]))): the gradient that reaches k steps
    back. returns (T,) for one model, (K, T) for a stack.
    """
    params, X, _ = check_inputs(params, X)
    get_activation(activation)
    _, cache = _forward(params, X, activation)
    delta_out = np.zeros(cache["y"].shape)
    delta_out[..., -1, :] = 1.0
    _, delta = _bptt(params, cache, delta_out)
    size = np.linalg.norm(delta, axis=-1)  # (..., batch, T)
    ratio = size / size[..., -1:]
    return np.median(ratio, axis=-2)[..., ::-1]  # index k = steps back from the last


def global_grad_norm(grads: Params) -> np.ndarray | float:
    """||g|| = sqrt(Σ over the five gradients of the squares of all their entries).

    For a stack (a leading axis K on every gradient), one norm per model: (K,).
    """
    lead = grads["W_in"].shape[:-2]
    sq = sum((np.asarray(grads[k]) ** 2).reshape(lead + (-1,)).sum(axis=-1) for k in PARAM_NAMES)
    out = np.sqrt(sq)
    return float(out) if np.ndim(out) == 0 else out


# ---------------------------------------------------------------------------
# The k-step delay task
# ---------------------------------------------------------------------------
def delay_loss(Y: np.ndarray, D: np.ndarray, mask: np.ndarray) -> np.ndarray | float:
    """L = mean over the batch of Σ over the scored steps of 1/2 (y[t] - d[t])**2."""
    out = (0.5 * mask * (Y - D) ** 2).sum(axis=(-2, -1)).mean(axis=-1)
    return float(out) if np.ndim(out) == 0 else out


def delay_accuracy(Y: np.ndarray, D: np.ndarray, mask: np.ndarray) -> np.ndarray | float:
    """Share of the scored output bits (steps t >= k) that are right, rounded at 0.5.

    mask: (T, 1), or (K, 1, T, 1) for a stack whose models have different delays.
    """
    right = ((Y > 0.5) == (D > 0.5)) * mask
    n_scored = np.broadcast_to(mask, Y.shape).sum(axis=(-3, -2, -1))
    out = right.sum(axis=(-3, -2, -1)) / n_scored
    return float(out) if np.ndim(out) == 0 else out


def delay_delta_out(Y: np.ndarray, D: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """δout[t] = mask[t] (y[t] - d[t]) y[t](1 - y[t]) / batch: the unscored steps give none."""
    return mask * (Y - D) * Y * (1.0 - Y) / Y.shape[-3]


def truncated_bptt(
    params: Params,
    cache: dict,
    delta_out: np.ndarray,
    truncate=None,
    entry_term: bool = True,
    drop_w_terms_at: Sequence[int] = (),
) -> Params:
    """BPTT with truncation length τ = ``truncate`` (None: full BPTT, the package's ``_bptt``).

    The steps are cut into chunks [0, τ), [τ, 2τ), ...; the recursion
    δ[t] = (δ[t+1] Wᵀ + δout[t] W_outᵀ) ⊙ f'(u[t]) runs inside a chunk only: at the first
    step of a chunk the delta handed back to the previous step is set to 0. The state
    z[t-1] that entered the chunk still counts as an input (in the gradient of W), as a
    constant: the chunk does not know where it came from.

    entry_term=False drops that input's term z[c-1]ᵀ δ[c] from W's gradient at every chunk
    start c > 0 (an intervention for notebook 07): the gradient of the same loss with W held
    fixed where it multiplies the entering state.

    drop_w_terms_at: steps t (1 to T - 1) whose term z[t-1]ᵀ δ[t] is dropped from W's
    gradient, wherever they lie (the control for entry_term=False: as many terms dropped
    elsewhere); the deltas still flow back through W there.

    For a stack, ``truncate`` may be a list of K values, one per model (None: that model full).
    """
    if not isinstance(entry_term, (bool, np.bool_)):
        raise ValueError(f"entry_term must be True or False, got {entry_term!r}")
    dropped = _dropped_steps(drop_w_terms_at, cache["u"].shape[-2])
    if truncate is None and not dropped:
        return _bptt(params, cache, delta_out)[0]
    keep = _keep_factors(truncate, check_params(params)[0], cache["u"].shape[-2])
    get_activation(cache["activation"])
    X, u, z = cache["X"], cache["u"], cache["z"]
    W, W_out = params["W"], params["W_out"]
    from_out = _each_step(delta_out, np.swapaxes(W_out, -1, -2))
    f_prime = DERIVATIVES_FROM_Z[cache["activation"]](z)  # f'(u[t]), from z[t] = f(u[t])
    delta = np.empty_like(u)
    delta_next = np.zeros(u.shape[:-2] + u.shape[-1:])
    W_T, mm = np.swapaxes(W, -1, -2), _matmul_for(W)
    for t in reversed(range(u.shape[-2])):
        delta_next = (mm(delta_next, W_T) + from_out[..., t, :]) * f_prime[..., t, :]
        delta[..., t, :] = delta_next
        delta_next = delta_next * keep[t]  # 0 at the first step of a chunk: no δ across a cut
    delta_W = delta[..., 1:, :]
    if not entry_term:  # no z[c-1]ᵀ δ[c] at a chunk start c: keep[c] = 0 there
        per_step = keep[1:, None] if keep.ndim == 1 else np.transpose(keep[1:], (1, 2, 0, 3))
        delta_W = delta_W * per_step
    if dropped:  # no z[t-1]ᵀ δ[t] at the steps t named
        factor = np.ones(u.shape[-2] - 1)
        factor[[t - 1 for t in dropped]] = 0.0
        delta_W = delta_W * factor[:, None]
    return {
        "W_in": _sum_outer(X, delta),
        "W": _sum_outer(z[..., :-1, :], delta_W),  # z[t-1] enters as a constant
        "W_out": _sum_outer(z, delta_out),
        "b": delta.sum(axis=(-3, -2)),
        "c": delta_out.sum(axis=(-3, -2)),
    }


def _dropped_steps(steps: object, T: int) -> list[int]:
    """``drop_w_terms_at`` checked: distinct whole numbers from 1 to T - 1."""
    allowed = f"a list of distinct steps from 1 to T - 1 = {T - 1}"
    if not isinstance(steps, (list, tuple, np.ndarray)):
        raise ValueError(f"drop_w_terms_at must be {allowed}, got {steps!r}")
    out = []
    for t in steps:
        if isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, np.integer)):
            raise ValueError(f"drop_w_terms_at must be {allowed}, got {steps!r}")
        if not 1 <= t <= T - 1 or int(t) in out:
            raise ValueError(f"drop_w_terms_at must be {allowed}, got {list(steps)!r}")
        out.append(int(t))
    return out


def _keep_factors(truncate, lead: tuple[int, ...], T: int) -> np.ndarray:
    """keep[t] = 0.0 where step t starts a chunk (t % τ == 0), else 1.0: (T,) or (T, K, 1, 1)."""
    per_model = lead != () and isinstance(truncate, (list, tuple, np.ndarray))
    taus = list(truncate) if per_model else [truncate]
    if per_model and len(taus) != lead[0]:
        raise ValueError(f"truncate lists {len(taus)} lengths for a stack of {lead[0]} models")
    taus = [None if tau is None else positive_int(tau, "truncation length") for tau in taus]
    keep = np.array([[0.0 if tau and t % tau == 0 else 1.0 for tau in taus] for t in range(T)])
    return keep.reshape(T, -1, 1, 1) if per_model else keep[:, 0]


def forward_from(
    params: Params, X: np.ndarray, z0: np.ndarray, activation: str = "tanh"
) -> tuple[np.ndarray, dict]:
    """The forward pass from a given state z[-1] = z0 (batch, H) instead of 0: one chunk.

    The same steps as ``rnn_lesson.forward``; the cache keeps z0 for ``chunk_bptt``.
    """
    params, X, _ = check_inputs(params, X)
    f, _ = get_activation(activation)
    W_in, W, W_out, b, c = (params[k] for k in PARAM_NAMES)
    mm = _matmul_for(W)
    u = _each_step(X, W_in) + b[..., None, None, :]
    z = np.empty_like(u)
    z_prev = np.broadcast_to(z0, u.shape[:-2] + u.shape[-1:])  # z[-1] = z0
    for t in range(X.shape[-2]):
        u[..., t, :] += mm(z_prev, W)  # u[t] = x[t] W_in + z[t-1] W + b
        z[..., t, :] = z_prev = f(u[..., t, :])
    y = sigmoid(_each_step(z, W_out) + c[..., None, None, :])
    return y, {"X": X, "u": u, "z": z, "y": y, "activation": activation, "z0": z0}


def chunk_bptt(params: Params, cache: dict, delta_out: np.ndarray) -> Params:
    """BPTT over one chunk from ``forward_from``: ``_bptt`` plus z0ᵀ δ[0] in W's gradient."""
    grads, delta = _bptt(params, cache, delta_out)
    z0 = np.broadcast_to(cache["z0"], delta.shape[:-2] + delta.shape[-1:])
    grads["W"] = grads["W"] + _sum_outer(z0[..., None, :], delta[..., :1, :])
    return grads


@dataclass
class DelayResult:
    """What ``train_delay`` returns; for a stack, the model axis last.

    params:   the trained parameters
    updates:  (n_evals,) update counts, 0 first
    accuracy: (n_evals,) or (n_evals, K) share of the scored test bits right
    """

    params: Params
    k: int | list[int]
    truncate: object
    updates: np.ndarray
    accuracy: np.ndarray


def train_delay(
    params: Params,
    *,
    rng: np.random.Generator,
    k,
    T: int = 16,
    activation: str = "tanh",
    lr: float | np.ndarray = 0.5,
    n_updates: int = 2000,
    batch_size: int = 16,
    truncate=None,
    eval_every: int = 500,
    n_test: int = 200,
    n_scored: int | None = None,
    entry_term: bool = True,
    drop_w_terms_at: Sequence[int] = (),
) -> DelayResult:
    """Minibatch SGD on the k-step delay task, with full or truncated BPTT; one model or a stack.

    k: the delay, or for a stack a list of K delays (one per model)
    truncate: None (full BPTT), a truncation length τ, or for a stack a list of K (None or τ)
    Each update draws bits = ``rng.integers(0, 2, size=(batch_size, T, 2))``: every model sees the
    same input bits, each with its own delay's targets. ``n_test`` sequences from
    ``default_rng(12345)`` are scored every ``eval_every`` updates (the steps t >= k only).
    n_scored: None scores (in the loss and the accuracy) every step t >= k; a number scores
    only the last ``n_scored`` steps of each sequence, the same number for every delay
    (it must be at most T - k for every k).
    entry_term: False drops the entering state's term from W's truncated gradient, for every
    model (``truncated_bptt``); drop_w_terms_at drops the terms of the steps it names.
    One update per batch: the gradient (full or truncated) of the whole sequences, summed
    over their chunks; truncation here cuts the reach of the gradient, not the number of updates.
    """
    lead, _ = check_params(params)
    if len(lead) > 1:
        raise ValueError(f"a stack has one leading model axis, got lead shape {lead}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    get_activation(activation)
    lr = learning_rate(lr, lead[0] if lead else None)
    n_updates = positive_int(n_updates, "n_updates")
    eval_every = positive_int(eval_every, "eval_every")
    batch_size = positive_int(batch_size, "batch size")
    ks = list(k) if lead and isinstance(k, (list, tuple, np.ndarray)) else [k] * (lead or (1,))[0]
    if len(ks) != (lead or (1,))[0]:
        raise ValueError(f"k lists {len(ks)} delays for a stack of {lead[0]} models")
    _keep_factors(truncate, lead, T)  # checks truncate
    if not isinstance(entry_term, (bool, np.bool_)):
        raise ValueError(f"entry_term must be True or False, got {entry_term!r}")
    _dropped_steps(drop_w_terms_at, T)
    if n_scored is not None:
        n_scored = positive_int(n_scored, "n_scored")
        longest = max((kk for kk in ks if isinstance(kk, (int, np.integer))), default=0)
        if n_scored > T - longest:
            raise ValueError(f"n_scored must be at most T - k = {T - longest}, got {n_scored}")

    def task(rng_: np.random.Generator, size: int):
        """Shared inputs X (size, T, 2); targets and masks per model, (K, size, T, 1)."""
        bits = rng_.integers(0, 2, size=(size, T, 2))
        parts = [make_delay_batch(bits, kk) for kk in ks]
        if n_scored is not None:  # score the last n_scored steps only, for every delay
            for _, _, mask in parts:
                mask[: T - n_scored] = 0.0
        X = parts[0][0]
        if not lead:
            return X, parts[0][1], parts[0][2]
        return X, np.stack([d for _, d, _ in parts]), np.stack([m[None] for _, _, m in parts])

    X_test, D_test, mask_test = task(np.random.default_rng(12345), positive_int(n_test, "n_test"))
    p = {name: np.array(params[name], dtype=float) for name in PARAM_NAMES}
    step = {
        n: lr if not lead else np.asarray(lr).reshape((-1,) + (1,) * (p[n].ndim - 1))
        for n in PARAM_NAMES
    }
    updates, accs = [], []

    def record(n: int) -> None:
        Y, _ = _forward(p, X_test, activation)
        updates.append(n)
        accs.append(delay_accuracy(Y, D_test, mask_test))

    record(0)
    for n in range(1, n_updates + 1):
        X, D, mask = task(rng, batch_size)
        Y, cache = _forward(p, X, activation)
        grads = truncated_bptt(
            p, cache, delay_delta_out(Y, D, mask), truncate, entry_term, drop_w_terms_at
        )
        p = {name: p[name] - step[name] * grads[name] for name in PARAM_NAMES}
        if n % eval_every == 0 or n == n_updates:
            record(n)
    return DelayResult(p, ks if lead else ks[0], truncate, np.array(updates), np.array(accs))
