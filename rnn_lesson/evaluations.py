"""When and where ``train`` evaluates over all pairs.

When: at update 0, every ``eval_every`` updates or at the updates ``eval_at`` lists, at each
model's last update, and when the last model still training stops.

Where: in the training loop (the default), or beside it, while the training goes on: in a
second thread, or in the worker processes of ``workers.evaluation_pool()`` (any
``concurrent.futures.Executor``). Beside it, the rows come back in order at the end
(``finish``); the numbers are the same.
"""

from __future__ import annotations

from concurrent.futures import Executor, ThreadPoolExecutor

import numpy as np

from .evaluate import evaluate_unchecked
from .history import History
from .model import Params


class Evaluations:
    """Evaluates a run's models over all pairs and appends the rows to its ``History``."""

    def __init__(
        self,
        history: History,
        activation: str,
        T: int,
        due: set[int] | int,
        background: bool | Executor = False,
    ):
        """due: the updates to evaluate at (a set), or every how many updates (an int)
        background: False (in the loop), True (a thread of its own), or an Executor"""
        self.history, self.activation, self.T, self.due_at = history, activation, T, due
        # Evaluating in a second thread while the training goes on: numpy releases the GIL in
        # the evaluation's large array operations, so on two cores the two can run side by
        # side. (Only just: the training loop's small operations keep the GIL nearly all the
        # time. Worker processes, given as an Executor, have an interpreter of their own.)
        self.own_pool = background is not False and not isinstance(background, Executor)
        self.pool = ThreadPoolExecutor(1) if self.own_pool else background or None
        self.pending: list[tuple] = []  # (update, future of (loss, acc), training, g_max, ...)

    def due(self, n: int) -> bool:
        return n in self.due_at if isinstance(self.due_at, set) else n % self.due_at == 0

    def record(self, n: int, p: Params, models: np.ndarray | slice) -> None:
        """Evaluate the models ``models`` (those in the stack ``p``) at update n, and append
        the row (in the background: start the evaluation; ``finish`` appends the row)."""
        h = self.history
        row = (n, h.training.copy(), h.take_g_max(), models)
        if self.pool is not None and n > 0:
            self.pending.append(
                (self.pool.submit(evaluate_unchecked, p, self.activation, self.T), *row)
            )
        else:
            self._append(evaluate_unchecked(p, self.activation, self.T), *row, p)

    def finish(self, cancelled: bool) -> None:
        """Append the rows of the evaluations done in the background, in order; after a
        cancelled run, those not started are dropped (and so are the rows after them)."""
        for future, *_ in self.pending if cancelled else ():
            future.cancel()
        for future, *row in self.pending:
            if future.cancelled():
                break
            self._append(future.result(), *row, None)
        if self.own_pool:  # our own thread; a pool we were given stays up
            self.pool.shutdown()

    def _append(self, evaluated: tuple, n, training, g_max, models, p) -> None:
        """Append the row: the models not in the stack keep their last values."""
        loss, acc = (np.atleast_1d(a) for a in evaluated)
        h = self.history
        if not isinstance(models, slice):  # some models have left the stack (after their last)
            loss_all, acc_all = h.losses[-1].copy(), h.accs[-1].copy()
            loss_all[models], acc_all[models] = loss, acc
            loss, acc = loss_all, acc_all
        h.append(n, loss, acc, training, g_max, p)
