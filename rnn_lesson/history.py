"""The history of a training run, and its divergence bookkeeping.

``train`` records the loss and accuracy over all pairs at a few updates, and the largest
gradient norm between them. ``History`` holds these rows for one model or a stack of K, and
decides what a row says for a model that no longer trains:

- A model diverges at the first update whose outputs or new weights are not finite
  (``keep_finite``). It stops there: its parameters stay at their last finite values, and
  its later rows repeat its last finite point, so no NaN reaches a table or a plot.
- An evaluation whose loss is not finite (weights so large that some pair's hidden state
  overflows) counts as divergence too, unless ``eval_overflow_stops`` is False: then the
  model trains on, and only its curve ends at its last finite evaluation.
- A model of a stack that reached its own last update (``finish``) stops the same way,
  without diverging.

``result`` turns the rows into a ``TrainResult``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .model import PARAM_NAMES, Params, too_large


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
    rows go on while any model trains; a model that diverged (or reached its own last
    update) keeps its last finite loss and accuracy in the later rows (its parameters stay
    where they were), and ``curve(k)`` returns only its points before it stopped.
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
                    f"{who}diverged at update {d}: the outputs, the loss or a weight became "
                    "inf/NaN, so training stopped there (try a smaller learning rate or initial "
                    "weights)"
                )
            else:
                lines.append(
                    f"{who}{100 * a:.2f}% of all pairs right after {self.updates[-1]:,} updates"
                )
        return "\n".join(lines)


class History:
    """The rows of a run of K models (K = 1 and ``single`` for one unstacked model)."""

    def __init__(self, n_models: int, single: bool, eval_overflow_stops: bool):
        K = n_models
        self.single, self.eval_overflow_stops = single, eval_overflow_stops
        self.training = np.ones(K, dtype=bool)  # which models still train
        self.stopped = False  # has any model stopped? (a Python bool: cheap to test)
        self.diverged_at = np.full(K, -1)
        self.n_valid = np.zeros(K, dtype=int)  # rows up to each model's last finite point
        self.curve_ends = np.zeros(K, dtype=bool)  # an evaluation overflowed (and it trains on)
        self.g_max = np.zeros(K)  # the largest ||g|| since the last row
        self.updates: list[int] = []
        self.losses: list[np.ndarray] = []
        self.accs: list[np.ndarray] = []
        self.grad_norms: list[np.ndarray] = []

    def note_grad_norm(self, n: int, norm, models: np.ndarray | slice) -> None:
        """Keep the largest ||g|` since the last row (a NaN norm is kept too); at update 1,
        the first gradient's norm is also update 0's entry."""
        if self.single:
            if not norm <= self.g_max[0]:
                self.g_max[0] = norm
        else:
            self.g_max[models] = np.maximum(self.g_max[models], norm)
        if n == 1 and self.updates == [0]:
            first = np.broadcast_to(np.asarray(norm, dtype=float), self.g_max[models].shape)
            self.grad_norms[0][models] = np.where(np.isfinite(first), first, np.inf)

    def keep_finite(self, n: int, y: np.ndarray, new: Params, old: Params, models) -> Params:
        """``new``, the parameters after update n of the models ``models`` (those in the
        stack), with every model that diverged at this update, or earlier, back at ``old``."""
        # A non-finite entry anywhere makes a sum over it non-finite: one cheap test over
        # everything, and only if it fails, the same test model by model.
        if not math.isfinite(y.sum() + sum(new[k].sum() for k in PARAM_NAMES)):
            k = len(self.training[models])
            total = y.reshape(k, -1).sum(axis=1)
            total += sum(new[name].reshape(k, -1).sum(axis=1) for name in PARAM_NAMES)
            bad = np.zeros_like(self.training)
            bad[models] = ~np.isfinite(total)
            bad &= self.training
            self.diverged_at[bad] = n
            self.training &= ~bad
            self.stopped = True
        if self.stopped:  # stopped models keep their last finite parameters
            frozen = ~self.training[models]
            k = frozen.size
            for name in PARAM_NAMES:  # (not old - 0 * grad: a NaN gradient would leak in)
                new[name].reshape(k, -1)[frozen] = old[name].reshape(k, -1)[frozen]
        return new

    def finish(self, done: np.ndarray) -> None:
        """The models ``done`` (a mask over all K) reached their last update."""
        self.training &= ~done
        self.stopped = True

    def take_g_max(self) -> np.ndarray:
        """The largest ||g|| per model since the last row; starts the next interval."""
        g = self.g_max.copy()
        self.g_max[:] = 0.0
        return g

    def append(self, n: int, loss, acc, training: np.ndarray, g_norm: np.ndarray, p) -> None:
        """The row of update n: ``loss``, ``acc`` per model (K,), for the models ``training``
        when it was evaluated (``p``: the parameters then, for the message of bad input)."""
        # Finite weights so large that the loss over all pairs overflows: diverged too,
        # unless they are the weights given: then the input is at fault.
        bad = training & ~np.isfinite(loss)
        if n == 0 and bad.any():
            where = "" if self.single else f" (models {np.flatnonzero(bad).tolist()} of the stack)"
            raise ValueError(too_large(p, "the loss over all pairs") + where)
        if self.eval_overflow_stops:
            self.diverged_at[bad] = n
            self.training[bad] = False
            self.stopped = self.stopped or bool(bad.any())
            training = training & ~bad
        else:  # the model trains on, but its curve ends at its last finite evaluation
            self.curve_ends[bad] = True
        # (at update 0, g_norm is set at update 1, from the first gradient)
        if n > 0:  # a stopped model keeps its last finite point: no NaN in the history
            kept = training & ~self.curve_ends
            loss, acc = np.where(kept, loss, self.losses[-1]), np.where(kept, acc, self.accs[-1])
            g_norm = np.where(training, g_norm, self.grad_norms[-1])
        self.updates.append(n)
        self.losses.append(loss)
        self.accs.append(acc)
        self.grad_norms.append(g_norm)
        self.n_valid[training & ~self.curve_ends] = len(self.updates)

    def result(self, params: Params, activation: str, T: int) -> TrainResult:
        """The rows up to the last evaluation where some model still trained."""
        div = [int(d) if d >= 0 else None for d in self.diverged_at]
        n_rows = self.n_valid.max()
        rows = [np.array(a[:n_rows]) for a in (self.losses, self.accs, self.grad_norms)]
        if self.single:
            rows = [a[:, 0] for a in rows]
        loss, acc, g_norm = rows
        updates = np.array(self.updates[:n_rows])
        n_valid = self.n_valid[0] if self.single else self.n_valid
        return TrainResult(
            params, activation, T, updates, loss, acc, g_norm, div[0] if self.single else div,
            n_valid,
        )  # fmt: skip
