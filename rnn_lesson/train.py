"""Stochastic gradient descent (確率的勾配降下法, SGD) on binary addition.

One update: draw ``batch_size`` random pairs, run forward and BPTT, and step every
parameter against its gradient, θ ← θ - lr · dL/dθ. ``batch_size=1`` is the
course's per-sample SGD. Every ``eval_every`` updates the loss and exact-sum
accuracy over *all* pairs are recorded.

A stack of K models (parameters with a leading axis K) trains in the same loop:
all K see the same random pairs, so each ends exactly where a run on its own with
the same ``rng`` seed would. The learning rate may differ per model.

Divergence: when a model's loss or any of its weights stops being finite, that
model stops. Its parameters stay at their last finite values, ``diverged_at``
records the update, and its history ends at its last finite evaluation, so no
NaN reaches a table or a plot (see ``TrainResult`` for a stack).

Gradient clipping (勾配クリッピング), ``clip_norm=g_max``: before the step, the five
gradients of a model are treated as one vector g, and if its global norm ||g||
(the square root of the sum of the squares of all their entries) is above g_max, all
five are scaled by g_max / ||g||. The direction is kept, the step is at most lr · g_max.
(Texts often call the threshold c; here c is the output bias.)
In a stack each model is clipped by its own norm. ``TrainResult.grad_norm`` records
||g|| before clipping (with or without ``clip_norm``).

For the explorer of notebook 05 (and anyone who needs them), ``train`` also takes one
generator per model of a stack (each model then draws its own pairs and trains exactly as
it would alone), an explicit list of updates to evaluate at (``eval_at``), a ``should_stop``
callback checked after every update (to cancel a run), and ``eval_overflow_stops=False``,
which makes ``diverged_at`` independent of when the evaluations happen.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from numbers import Real

import numpy as np

from .activations import get_activation
from .checks import array_size, boolean, function, generator, learning_rate, positive_int
from .data import PairStream, _check_bits
from .evaluate import MAX_EVAL_BITS, evaluate_unchecked
from .model import PARAM_NAMES, Params, _backward, _forward, as_params, check_grads, too_large


@dataclass
class TrainResult:
    """What ``train`` returns. For a stack, arrays carry the model axis last.

    params:      the trained parameters (same shapes as given)
    updates:     (n_evals,) the update count at each evaluation, 0 first
    loss:        (n_evals,) or (n_evals, K) loss over all pairs
    accuracy:    (n_evals,) or (n_evals, K) share of all pairs summed exactly right
    grad_norm:   (n_evals,) or (n_evals, K) the largest global gradient norm ||g|| (before
                 clipping) of the updates since the previous evaluation; at update 0, the
                 norm of the first gradient (inf if that gradient was not finite); like
                 loss, a diverged model of a stack repeats its last value
    diverged_at: None or the update where the model diverged; for a stack, a list

    Every number in ``loss`` and ``accuracy`` is finite. The history ends at the last
    evaluation where a model was still training, so a single model that diverged at
    update d has its last point before d, and ``diverged_at`` says d. In a stack the
    rows go on while any model trains; a model that diverged keeps its last finite
    loss and accuracy in the later rows (its parameters stay where they were), and
    ``curve(k)`` returns only its points before it diverged.
    """

    params: Params
    activation: str
    T: int
    updates: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    grad_norm: np.ndarray
    diverged_at: int | None | list[int | None]
    _n_valid: np.ndarray = field(repr=False)

    def curve(self, model: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(updates, loss, accuracy) of one model, only the points before any divergence.

        model: None for a single model; 0..K-1 for model k of a stack of K.
        returns three (n,) arrays, n >= 1 for a result of ``train``
        """
        n_models = None if self.loss.ndim == 1 else self.loss.shape[1]
        if n_models is None and model is not None:
            raise ValueError(
                f"this result holds one model: call curve() without one, not {model!r}"
            )
        if n_models is not None and not (
            isinstance(model, (int, np.integer)) and not isinstance(model, bool)
            and 0 <= model < n_models
        ):  # fmt: skip
            raise ValueError(
                f"model must be one of 0..{n_models - 1} for this stack, got {model!r}"
            )
        n = int(self._n_valid if model is None else self._n_valid[model])
        loss = self.loss if model is None else self.loss[:, model]
        acc = self.accuracy if model is None else self.accuracy[:, model]
        return self.updates[:n], loss[:n], acc[:n]

    def first_perfect(self) -> int | None | list[int | None]:
        """The first recorded update with 100% of pairs right (None if never)."""
        acc = self.accuracy if self.accuracy.ndim == 2 else self.accuracy[:, None]
        hits = [np.flatnonzero(acc[:, k] == 1.0) for k in range(acc.shape[1])]
        firsts = [int(self.updates[h[0]]) if h.size else None for h in hits]
        return firsts[0] if self.accuracy.ndim == 1 else firsts

    def message(self) -> str:
        """One line a notebook or widget can show: final accuracy, or where it diverged."""
        div = self.diverged_at if isinstance(self.diverged_at, list) else [self.diverged_at]
        acc = np.atleast_1d(self.accuracy[-1])
        lines = []
        for k, (d, a) in enumerate(zip(div, acc, strict=True)):
            who = "" if len(div) == 1 else f"model {k}: "
            if d is not None:
                lines.append(
                    f"{who}diverged at update {d}: the loss or a weight became inf/NaN, "
                    "so training stopped there (try a smaller learning rate or initial weights)"
                )
            else:
                lines.append(
                    f"{who}{100 * a:.2f}% of all pairs right after {self.updates[-1]:,} updates"
                )
        return "\n".join(lines)


def train(
    params: Params,
    *,
    rng: np.random.Generator | Sequence[np.random.Generator],
    activation: str = "tanh",
    lr: float | np.ndarray = 0.1,
    n_updates: int = 10_000,
    batch_size: int = 1,
    T: int = 8,
    eval_every: int = 100,
    stop_at_100: bool = False,
    backward_fn: Callable | None = None,
    clip_norm: float | np.ndarray | None = None,
    eval_at: Sequence[int] | None = None,
    should_stop: Callable[[], bool] | None = None,
    eval_overflow_stops: bool = True,
    eval_in_background: bool | Executor = False,
) -> TrainResult:
    """Train with SGD; the given ``params`` are not changed (a copy is trained).

    rng: draws the training pairs, ``random_pairs(rng, batch_size, T)`` once per update;
        for a stack of K models also a list of K generators: model k draws its own pairs
        from ``rng[k]`` (X then has shape (K, batch, T, 2)), so it ends exactly where a run
        of that model alone with ``rng[k]`` would
    lr: a positive number, or (K,) of them for a stack of K models
    eval_every: record loss and accuracy over all pairs every this many updates
    stop_at_100: stop at the first evaluation where every model that still trains is at 100%
    backward_fn: ``backward_fn(params, cache, D)`` in place of BPTT (e.g. a deliberately wrong
        one, to see what it does); it must accept one model and a stack, as ``backward`` does
    clip_norm: None (no clipping), or a positive number g_max, or (K,) of them for a stack (inf:
        that model is not clipped): when the global norm ||g|| of a model's five gradients is
        above g_max, scale them by g_max / ||g||
    eval_at: None (evaluate every ``eval_every`` updates), or the updates at which to
        evaluate, whole numbers from 1 to n_updates; update 0 and the last update are
        evaluated in any case
    should_stop: None, or a function of no arguments called after every update; when it
        returns True, training stops there (e.g. a newer setting in the explorer cancels the
        run) and the result holds the history up to the last evaluation before, with no
        evaluation at the stopping update, and the parameters of that update
    eval_overflow_stops: True (the default): an evaluation whose loss over all pairs is not
        finite (weights so large that some pair's hidden state overflows, ReLU's can) counts
        as divergence at that update. False: only an update whose outputs or new weights are
        not finite does, so ``diverged_at`` is the same however often the run is evaluated;
        the model goes on training, and its curve ends at its last finite evaluation
    eval_in_background: evaluate while training goes on, the same numbers sooner on two
        cores: True in a second thread, or an ``Executor`` to submit the evaluations to
        (the explorer's worker processes, ``workers.evaluation_pool()``; it is left running).
        Needs ``eval_overflow_stops=False`` and ``stop_at_100=False``, since then no decision
        waits for an evaluation
    """
    params, lead, H = as_params(params)
    if len(lead) > 1:
        raise ValueError(f"a stack has one leading model axis, got lead shape {lead}")
    rngs = _generators(rng, lead[0] if lead else None)
    get_activation(activation)
    lr = learning_rate(lr, lead[0] if lead else None)
    n_updates = positive_int(n_updates, "n_updates")
    batch_size = positive_int(batch_size, "batch size")
    eval_every = positive_int(eval_every, "eval_every")
    boolean(stop_at_100, "stop_at_100")
    boolean(eval_overflow_stops, "eval_overflow_stops")
    given_pool = eval_in_background if isinstance(eval_in_background, Executor) else None
    if given_pool is None and not isinstance(eval_in_background, (bool, np.bool_)):
        raise ValueError(
            "eval_in_background must be True, False or a concurrent.futures.Executor, "
            f"got {eval_in_background!r}"
        )
    if eval_in_background and (eval_overflow_stops or stop_at_100):
        raise ValueError(
            "eval_in_background=True needs eval_overflow_stops=False and stop_at_100=False: "
            "with them, training would have to wait for every evaluation"
        )
    checkpoints = None if eval_at is None else _checkpoints(eval_at, n_updates)
    if should_stop is not None:
        function(should_stop, "should_stop", "() -> bool", 0)
    T = _check_bits(T)
    if T > MAX_EVAL_BITS:
        raise ValueError(f"T must be at most {MAX_EVAL_BITS} to evaluate on all pairs, got {T}")
    n_models = lead[0] if lead else 1
    array_size(
        n_models * batch_size * T * H,
        f"a batch's hidden states ({n_models}, {batch_size:,}, {T}, {H})",
    )
    backward = _backward
    if backward_fn is not None:
        backward = _checked(function(backward_fn, "backward_fn", "(params, cache, D) -> grads", 3))
    clip = None if clip_norm is None else _clip_norm(clip_norm, lead[0] if lead else None)
    # One model trains as it is (2-D matrix products are the fastest); the per-model
    # bookkeeping below views every array as (K, -1), with K = 1 for one model.
    single = lead == ()
    K = 1 if single else lead[0]
    p = {k: np.array(params[k], dtype=float) for k in PARAM_NAMES}
    lr_k = np.broadcast_to(np.asarray(lr, dtype=float), (K,))
    step = {k: lr if single else lr_k.reshape((K,) + (1,) * (p[k].ndim - 1)) for k in PARAM_NAMES}
    training = np.ones(K, dtype=bool)
    diverged_at = np.full(K, -1)
    n_valid = np.zeros(K, dtype=int)
    curve_ends = np.zeros(K, dtype=bool)  # (eval_overflow_stops=False) an evaluation overflowed
    updates, losses, accs, grad_norms = [], [], [], []
    g_max = np.zeros(K)  # the largest ||g|| since the last evaluation
    if clip is not None and not single:
        clip = np.broadcast_to(np.asarray(clip, dtype=float), (K,))

    def record(n: int) -> None:
        """Evaluate over all pairs at update n and append the row (in the background: only
        start the evaluation; ``finish_background`` appends the row when it is done)."""
        if pool is not None and n > 0:
            future = pool.submit(_evaluate_quietly, p, activation, T)
            pending.append((n, future, training.copy(), g_max.copy()))
        else:
            loss, acc = np.atleast_1d(*evaluate_unchecked(p, activation, T))
            append(n, loss, acc, training, g_max.copy())
        g_max[:] = 0.0

    def append(n: int, loss, acc, training: np.ndarray, g_norm: np.ndarray) -> None:
        """Append the evaluation at update n; ``training`` says which models still train."""
        # Finite weights so large that the loss over all pairs overflows: diverged too,
        # unless they are the weights given: then the input is at fault.
        bad = training & ~np.isfinite(loss)
        if n == 0 and bad.any():
            where = "" if single else f" (models {np.flatnonzero(bad).tolist()} of the stack)"
            raise ValueError(too_large(p, "the loss over all pairs") + where)
        if eval_overflow_stops:
            diverged_at[bad] = n
            training[bad] = False
        else:  # the model trains on, but its curve ends at its last finite evaluation
            curve_ends[bad] = True
        # (at update 0, g_norm is set at update 1, from the first gradient)
        if n > 0:  # a stopped model keeps its last finite point: no NaN in the history
            kept = training & ~curve_ends
            loss, acc = np.where(kept, loss, losses[-1]), np.where(kept, acc, accs[-1])
            g_norm = np.where(training, g_norm, grad_norms[-1])
        updates.append(n)
        losses.append(loss)
        accs.append(acc)
        grad_norms.append(g_norm)
        n_valid[training & ~curve_ends] = len(updates)

    def finish_background(cancelled: bool) -> None:
        """Append the rows of the evaluations done in the background, in order; after a
        cancelled run, those not started are dropped (and so are the rows after them)."""
        for _, future, _, _ in pending if cancelled else ():
            future.cancel()
        for n, future, was_training, g_norm in pending:
            if future.cancelled():
                break
            loss, acc = np.atleast_1d(*future.result())
            append(n, loss, acc, was_training, g_norm)
        if given_pool is None:  # our own thread; a pool we were given stays up
            pool.shutdown()

    # Evaluating in a second thread while the training goes on: numpy releases the GIL in
    # the evaluation's large array operations, so on two cores the two can run side by side.
    # (Only just: the training loop's small operations keep the GIL nearly all the time.
    # Worker processes, given as an Executor, have an interpreter of their own.)
    if given_pool is not None:
        pool = given_pool
    else:
        pool = ThreadPoolExecutor(1) if eval_in_background else None
    pending: list[tuple] = []  # (update, future of (loss, acc), models training, g_max)
    cancelled = False  # by should_stop
    # random_pairs(rng, batch_size, T) for every update; one generator per model: (K, batch, T, .)
    # (leaving the `with`, however the loop ends, rng is left just after the pairs used)
    pairs = PairStream(rngs or [rng], batch_size, T, n_updates, per_model=rngs is not None)
    with np.errstate(over="ignore", invalid="ignore"), pairs:  # divergence is caught by value
        record(0)
        stopped = not training.all()  # has any model stopped? (a Python bool: cheap to test)
        for n in range(1, n_updates + 1 if training.any() else 1):
            X, D = pairs.next()
            y, cache = _forward(p, X, activation)
            grads = backward(p, cache, D)
            # ||g|| = sqrt(Σ over all five gradients of the squares of their entries), per model
            if single:  # one dot product of all entries: the cheapest way for small arrays
                flat = np.concatenate([grads[k].ravel() for k in PARAM_NAMES])
                g_norm = math.sqrt(flat @ flat)
                if not g_norm <= g_max[0]:  # (a NaN norm is kept too)
                    g_max[0] = g_norm
            else:
                g2 = [grads[k].reshape(K, -1) for k in PARAM_NAMES]
                g_norm = np.sqrt(sum(np.einsum("ki,ki->k", g, g) for g in g2))
                g_max = np.maximum(g_max, g_norm)
            if n == 1:  # update 0's entry: the first gradient, at the initial weights
                first = np.broadcast_to(np.asarray(g_norm, dtype=float), (K,))
                grad_norms[0] = np.where(np.isfinite(first), first, np.inf)
            if clip is not None:  # g ← g · g_max / ||g|| when ||g|| > g_max (those models only)
                if single:
                    if g_norm > clip:
                        grads = {k: grads[k] * (clip / g_norm) for k in PARAM_NAMES}
                else:
                    scale = np.where(g_norm > clip, clip / np.maximum(g_norm, clip), 1.0)
                    grads = {k: grads[k] * scale.reshape(step[k].shape) for k in PARAM_NAMES}
            new = {k: p[k] - step[k] * grads[k] for k in PARAM_NAMES}
            # A non-finite entry anywhere makes a sum over it non-finite: one cheap test
            # over everything, and only if it fails, the same test model by model.
            if not math.isfinite(y.sum() + sum(new[k].sum() for k in PARAM_NAMES)):
                total = y.reshape(K, -1).sum(axis=1)
                total += sum(new[k].reshape(K, -1).sum(axis=1) for k in PARAM_NAMES)
                bad = training & ~np.isfinite(total)
                diverged_at[bad] = n
                training &= ~bad
                stopped = True
            if stopped:  # stopped models keep their last finite parameters
                for k in PARAM_NAMES:  # (not p - 0 * grad: a NaN gradient would leak in)
                    new[k].reshape(K, -1)[~training] = p[k].reshape(K, -1)[~training]
            p = new
            if should_stop is not None and should_stop():
                cancelled = True
                break
            due = n % eval_every == 0 if checkpoints is None else n in checkpoints
            if due or n == n_updates or (stopped and not training.any()):
                record(n)
                stopped = not training.all()
                if not training.any() or (stop_at_100 and np.all(accs[-1][training] == 1.0)):
                    break

    if pool is not None:
        finish_background(cancelled)
    div = [int(d) if d >= 0 else None for d in diverged_at]
    # The history ends at the last evaluation where some model still trained.
    n_rows = n_valid.max()
    updates_arr = np.array(updates[:n_rows])
    acc_arr, loss_arr = np.array(accs[:n_rows]), np.array(losses[:n_rows])
    gn_arr = np.array(grad_norms[:n_rows])
    if single:
        return TrainResult(
            p,
            activation,
            T,
            updates_arr,
            loss_arr[:, 0],
            acc_arr[:, 0],
            gn_arr[:, 0],
            div[0],
            n_valid[0],
        )
    return TrainResult(p, activation, T, updates_arr, loss_arr, acc_arr, gn_arr, div, n_valid)


def _evaluate_quietly(params: Params, activation: str, T: int) -> tuple:
    """``evaluate_unchecked`` in another thread or process (numpy's error state is per thread)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return evaluate_unchecked(params, activation, T)


def _generators(rng: object, n_models: int | None) -> list[np.random.Generator] | None:
    """Check ``rng``: one Generator (returns None), or for a stack a list of one per model."""
    if isinstance(rng, (list, tuple)):
        if n_models is None or len(rng) != n_models:
            want = "one per model of a stack" if n_models is None else f"{n_models}, one per model"
            raise ValueError(f"rng may be a list of generators only {want}; got {len(rng)}")
        return [generator(r) for r in rng]
    generator(rng)
    return None


def _checkpoints(eval_at: object, n_updates: int) -> set[int]:
    """Check ``eval_at``: whole numbers from 1 to n_updates; return them as a set."""
    if not isinstance(eval_at, (list, tuple, range, np.ndarray)):
        raise ValueError(
            f"eval_at must be a list of updates from 1 to {n_updates:,}, got {eval_at!r}"
        )
    for n in eval_at:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= n_updates:
            raise ValueError(
                f"eval_at must hold whole numbers from 1 to n_updates = {n_updates:,}, got {n!r}"
            )
    return {int(n) for n in eval_at}


def _clip_norm(value: object, n_models: int | None) -> float | np.ndarray:
    """Check ``clip_norm``: a positive number (inf: no clipping), or for a stack one per model."""
    allowed = "None or a positive number (inf: no clipping)" + (
        f", or {n_models} of them, one per model" if n_models is not None else ""
    )
    if isinstance(value, Real) and not isinstance(value, bool):
        if not value > 0:  # also False for NaN
            raise ValueError(f"clip_norm must be {allowed}, got {value!r}")
        return float(value)
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.ndim != 1 or n_models is None or arr.shape[0] != n_models:
        raise ValueError(f"clip_norm must be {allowed}, got {value!r}")
    if not np.all(arr > 0):
        raise ValueError(f"clip_norm must be {allowed}; got {arr.tolist()}")
    return arr


def _checked(backward_fn: Callable) -> Callable:
    """``backward_fn``, raising ValueError if it returns anything but gradients shaped like
    the parameters (NaN or inf in them is divergence, caught by the training loop)."""

    def backward(params: Params, cache: dict, D: np.ndarray) -> Params:
        return check_grads(backward_fn(params, cache, D), params)

    return backward
