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
gradients of a model are scaled down so that their global norm ||g|| is at most g_max
(``clipping``). ``TrainResult.grad_norm`` records ||g|| before clipping.

For the explorer of notebook 06 and the sweep of ``experiments`` (and anyone who needs
them), ``train`` also takes one generator per model of a stack (each model then draws its
own pairs and trains exactly as it would alone), one number of updates per model of a stack
(a model leaves the stack after its last), an explicit list of updates to evaluate at
(``eval_at``), a ``should_stop`` callback checked after every update (to cancel a run), and
``eval_overflow_stops=False``, which makes ``diverged_at`` independent of when the
evaluations happen.

The loop itself is ``_sgd``: draw pairs, forward, backward, clip, update, record. The rest
is in small pieces: ``history`` (the rows and the divergence bookkeeping), ``evaluations``
(when and where to evaluate: in the loop, a thread or worker processes), ``clipping``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from .activations import get_activation
from .checks import array_size, boolean, function, generator, learning_rate, positive_int
from .clipping import check_clip_norm, clip, global_norm
from .data import PairStream, _check_bits
from .evaluate import MAX_EVAL_BITS
from .evaluations import Evaluations
from .history import History, TrainResult
from .model import PARAM_NAMES, Params, _backward, _forward, as_params, check_grads

__all__ = ["TrainResult", "train"]


def train(
    params: Params,
    *,
    rng: np.random.Generator | Sequence[np.random.Generator],
    activation: str = "tanh",
    lr: float | np.ndarray = 0.1,
    n_updates: int | Sequence[int] = 10_000,
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
    n_updates: the number of updates; for a stack also (K,) of them, one per model: model k
        stops after its own last update (and leaves the stack, so it costs nothing more),
        and is evaluated there; its later rows repeat its last point, like a diverged one's
    eval_every: record loss and accuracy over all pairs every this many updates
    stop_at_100: stop at the first evaluation where every model that still trains is at 100%
    backward_fn: ``backward_fn(params, cache, D)`` in place of BPTT (e.g. a deliberately wrong
        one, to see what it does); it must accept one model and a stack, as ``backward`` does
    clip_norm: None (no clipping), or a positive number g_max, or (K,) of them for a stack (inf:
        that model is not clipped): when the global norm ||g|| of a model's five gradients is
        above g_max, scale them by g_max / ||g||
    eval_at: None (evaluate every ``eval_every`` updates), or the updates at which to
        evaluate, whole numbers from 1 to n_updates; update 0 and the last update (of each
        model) are evaluated in any case
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
    run = _Run.checked(params, rng, activation, lr, n_updates, batch_size, T, eval_every,
                       stop_at_100, backward_fn, clip_norm, eval_at, should_stop,
                       eval_overflow_stops, eval_in_background)  # fmt: skip
    p = {k: np.array(run.params[k], dtype=float) for k in PARAM_NAMES}  # a copy, trained
    history = History(run.K, run.single, eval_overflow_stops)
    evaluations = Evaluations(history, activation, run.T, run.due, run.background)
    # random_pairs(rng, batch_size, T) for every update; one generator per model: (K, batch, T, .)
    # (leaving the `with`, however the loop ends, rng is left just after the pairs used)
    rngs = run.rngs or [rng]
    pairs = PairStream(rngs, run.batch_size, run.T, run.last, per_model=run.rngs is not None)
    with np.errstate(over="ignore", invalid="ignore"), pairs:  # divergence is caught by value
        p, cancelled = _sgd(p, pairs, run, history, evaluations)
    evaluations.finish(cancelled)
    return history.result(p, activation, run.T)


def _sgd(
    p: Params, pairs: PairStream, run: _Run, history: History, evaluations: Evaluations
) -> tuple[Params, bool]:
    """The SGD loop: per update, draw pairs, forward, backward (BPTT), clip, update, record.
    Returns the trained parameters and whether ``should_stop`` cancelled the run."""
    models = slice(None)  # the models in the stack p: all, until some reach their last update
    lr, g_max, final = run.lr, run.clip_norm, None
    evaluations.record(0, p, models)
    for n in range(1, run.last + 1 if history.training.any() else 1):
        X, D = pairs.next()
        if run.rngs is not None and final is not None:
            X, D = X[models], D[models]  # the pairs of the models still in the stack
        y, cache = _forward(p, X, run.activation)
        grads = run.backward(p, cache, D)
        norm = global_norm(grads, run.single)  # ||g|| per model, before clipping
        history.note_grad_norm(n, norm, models)
        if g_max is not None:
            grads = clip(grads, norm, g_max)
        new = {k: p[k] - _per_model(lr, p[k]) * grads[k] for k in PARAM_NAMES}
        p = history.keep_finite(n, y, new, p, models)  # diverged models keep their last weights
        if run.should_stop is not None and run.should_stop():
            return _all_models(final, p, models), True
        last_here = n in run.end_set  # the last update of some models
        if evaluations.due(n) or last_here or (history.stopped and not history.training.any()):
            evaluations.record(n, p, models)
            if not history.training.any() or (
                run.stop_at_100 and np.all(history.accs[-1][history.training] == 1.0)
            ):
                break
        if last_here and n < run.last:  # those models leave the stack
            final = _all_models(final, p, models)
            history.finish(run.ends == n)
            keep = run.ends[models] > n
            models = np.arange(run.K)[models][keep]
            p, lr = {k: v[keep] for k, v in p.items()}, lr[keep]
            g_max = None if g_max is None else g_max[keep]
    return _all_models(final, p, models), False


def _per_model(value: float | np.ndarray, like: np.ndarray) -> float | np.ndarray:
    """A number, or one per model of a stack, (K,), shaped to multiply ``like``, (K, ...)."""
    return value if np.ndim(value) == 0 else value.reshape((-1,) + (1,) * (like.ndim - 1))


def _all_models(final: Params | None, p: Params, models: slice | np.ndarray) -> Params:
    """The parameters of every model: ``p`` while all are in the stack (``final`` None);
    after some have left it, ``final`` with the models ``models`` set to theirs in ``p``."""
    if final is None:
        return p
    for k in PARAM_NAMES:
        final[k][models] = p[k]
    return final


@dataclass
class _Run:
    """The checked settings of a run (see ``train``)."""

    params: Params
    single: bool  # one model, not a stack
    K: int  # models (1 for a single one)
    rngs: list[np.random.Generator] | None  # one per model, or None: one shared
    activation: str
    lr: float | np.ndarray
    ends: np.ndarray  # the last update, per model, (K,)
    end_set: set[int]  # the same, as a set
    last: int  # the last update of all
    batch_size: int
    T: int
    due: set[int] | int  # when to evaluate, besides update 0 and each model's last
    stop_at_100: bool
    backward: Callable
    clip_norm: float | np.ndarray | None
    should_stop: Callable[[], bool] | None
    background: bool | Executor  # where to evaluate: False in the loop, True a thread, a pool

    @classmethod
    def checked(cls, params, rng, activation, lr, n_updates, batch_size, T, eval_every,
                stop_at_100, backward_fn, clip_norm, eval_at, should_stop, eval_overflow_stops,
                eval_in_background) -> _Run:  # fmt: skip
        params, lead, H = as_params(params)
        if len(lead) > 1:
            raise ValueError(f"a stack has one leading model axis, got lead shape {lead}")
        n_models = lead[0] if lead else None
        rngs = _generators(rng, n_models)
        get_activation(activation)
        lr = learning_rate(lr, n_models)
        ends = _n_updates(n_updates, n_models)
        last = int(ends.max())
        batch_size = positive_int(batch_size, "batch size")
        eval_every = positive_int(eval_every, "eval_every")
        boolean(stop_at_100, "stop_at_100")
        boolean(eval_overflow_stops, "eval_overflow_stops")
        if not isinstance(eval_in_background, (bool, np.bool_, Executor)):
            raise ValueError(
                "eval_in_background must be True, False or a concurrent.futures.Executor, "
                f"got {eval_in_background!r}"
            )
        if not isinstance(eval_in_background, Executor):
            eval_in_background = bool(eval_in_background)  # (np.True_ and np.False_ too)
        if eval_in_background is not False and (eval_overflow_stops or stop_at_100):
            raise ValueError(
                "eval_in_background=True needs eval_overflow_stops=False and stop_at_100=False: "
                "with them, training would have to wait for every evaluation"
            )
        due = eval_every if eval_at is None else _checkpoints(eval_at, last)
        if should_stop is not None:
            function(should_stop, "should_stop", "() -> bool", 0)
        T = _check_bits(T)
        if T > MAX_EVAL_BITS:
            raise ValueError(f"T must be at most {MAX_EVAL_BITS} to evaluate on all pairs, got {T}")
        K = n_models or 1
        array_size(
            K * batch_size * T * H, f"a batch's hidden states ({K}, {batch_size:,}, {T}, {H})"
        )
        backward = _backward
        if backward_fn is not None:
            backward = _checked(
                function(backward_fn, "backward_fn", "(params, cache, D) -> grads", 3)
            )
        clip_norm = check_clip_norm(clip_norm, n_models)
        single = n_models is None
        lr = lr if single else np.broadcast_to(np.asarray(lr, dtype=float), (K,)).copy()
        return cls(params, single, K, rngs, activation, lr, ends, set(ends.tolist()), last,
                   batch_size, T, due,
                   bool(stop_at_100), backward, clip_norm, should_stop,
                   eval_in_background)  # fmt: skip


def _n_updates(value: object, n_models: int | None) -> np.ndarray:
    """Check ``n_updates``: a whole number >= 1, or for a stack one per model; return one per
    model, (K,) (K = 1 for a single model)."""
    if isinstance(value, (list, tuple, np.ndarray)) and n_models is not None:
        ends = [positive_int(v, "each of n_updates") for v in value]
        if len(ends) != n_models:
            raise ValueError(
                f"n_updates must be one number, or {n_models}, one per model; got {len(ends)}"
            )
        return np.array(ends)
    return np.full(n_models or 1, positive_int(value, "n_updates"))


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


def _checked(backward_fn: Callable) -> Callable:
    """``backward_fn``, raising ValueError if it returns anything but gradients shaped like
    the parameters (NaN or inf in them is divergence, caught by the training loop)."""

    def backward(params: Params, cache: dict, D: np.ndarray) -> Params:
        return check_grads(backward_fn(params, cache, D), params)

    return backward
