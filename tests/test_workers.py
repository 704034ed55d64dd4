"""The explorer's worker processes: the same numbers as evaluating in the kernel, a pool that
outlives a run and replaces a dead worker, and the environment setting that turns them off."""

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import rnn_lesson as R  # noqa: E402
from rnn_lesson import widgets as W  # noqa: E402
from rnn_lesson import workers  # noqa: E402
from rnn_lesson.experiments import backward_course_output  # noqa: E402


class Counting(Executor):
    """Passes every task on to ``pool`` and counts them."""

    def __init__(self, pool: Executor) -> None:
        self.pool, self.submitted = pool, 0

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        return self.pool.submit(fn, *args, **kwargs)


def train_stack(**kwargs) -> R.TrainResult:
    """Two ReLU models; model 1 (seed 2) diverges at update 6, model 0 trains on."""
    rngs = [np.random.default_rng(s) for s in (0, 2)]
    starts = [R.init_params(16, "normal", rng=rng) for rng in rngs]
    return R.train(R.stack_params(starts), rng=rngs, activation="relu",
                   backward_fn=backward_course_output, n_updates=60, eval_every=7,
                   eval_overflow_stops=False, **kwargs)  # fmt: skip


def close(box: W.Explorer) -> None:
    for w in [*box.controls.values(), *box.children, box]:
        w.close()


def broken_pool() -> Executor:
    """The workers' pool, after one of its workers died."""
    pool = workers.evaluation_pool()
    with pytest.raises(BrokenProcessPool):
        pool.submit(os._exit, 1).result(timeout=60)
    return pool


def test_evaluating_in_the_worker_processes_gives_the_same_history():
    pool = workers.evaluation_pool()
    counting = Counting(pool)
    here = train_stack()
    for there in (train_stack(eval_in_background=pool), train_stack(eval_in_background=counting)):
        assert here.diverged_at == there.diverged_at == [None, 6]
        for name in ("updates", "loss", "accuracy", "grad_norm", "_n_valid"):
            np.testing.assert_array_equal(getattr(here, name), getattr(there, name))
    assert counting.submitted == 9  # updates 7, 14, ..., 56 and 60; update 0 in the kernel
    # The pool is left running for the next run, and is the one returned again.
    assert pool.submit(int, "7").result(timeout=60) == 7
    assert workers.evaluation_pool() is pool


def test_the_explorer_evaluates_in_the_worker_processes(monkeypatch):
    counting = Counting(workers.evaluation_pool())
    monkeypatch.setattr(W, "evaluation_pool", lambda: counting)
    box = W.explorer(n_updates=200, n_seeds=2, hidden_size=4, background=False)
    try:
        assert counting.submitted == 10  # every evaluation but update 0's
        alone, _ = W.run_experiment(n_updates=200, n_seeds=2, hidden_size=4)  # in a thread
        np.testing.assert_array_equal(box.result.loss, alone.loss)
        np.testing.assert_array_equal(box.result.accuracy, alone.accuracy)
    finally:
        close(box)


def test_a_dead_worker_is_replaced():
    dead = broken_pool()
    pool = workers.evaluation_pool()
    assert pool is not dead
    assert pool.submit(int, "3").result(timeout=60) == 3


def test_ctrl_c_in_the_kernel_does_not_stop_the_workers():
    # Jupyter interrupts a kernel (its Stop button) by sending SIGINT to the kernel's whole
    # process group, and so to the workers too.
    pool = workers.evaluation_pool()
    pids = {pool.submit(os.getpid).result(timeout=60) for _ in range(6)}
    assert os.getpid() not in pids
    for pid in pids:
        os.kill(pid, signal.SIGINT)
    time.sleep(1.0)  # a worker that did not ignore it would be dead by now, the pool broken
    assert workers.evaluation_pool() is pool
    assert pool.submit(int, "5").result(timeout=60) == 5


def test_the_workers_end_when_the_kernel_is_killed_alone():
    # (as the system's out-of-memory killer would: only the kernel, not its process group)
    code = (
        "import os, time\n"
        "from rnn_lesson import workers\n"
        "pool = workers.evaluation_pool()\n"
        "pids = set()\n"
        "while len(pids) < workers.DEFAULT_WORKERS:\n"
        "    pids.add(pool.submit(os.getpid).result(timeout=60))\n"
        "print(*pids, flush=True)\n"
        "time.sleep(120)\n"
    )
    kernel = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(pid) for pid in kernel.stdout.readline().split()]
        assert len(pids) == 2 and all(alive(pid) for pid in pids)
    finally:
        kernel.kill()
        kernel.wait()
        kernel.stdout.close()
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in pids if alive(pid)]
    for pid in left:  # (do not leave them behind if the test fails)
        os.kill(pid, signal.SIGKILL)
    assert not left


def alive(pid: int) -> bool:
    """Is process ``pid`` running (not ended, not a zombie waiting to be reaped)?"""
    if os.path.exists("/proc/self/stat"):  # Linux: a zombie has ended, though not yet reaped
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except FileNotFoundError:
            return False
    try:  # elsewhere (macOS): does it exist at all?
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_explorer_falls_back_to_a_thread_when_a_worker_died(monkeypatch):
    dead = broken_pool()
    monkeypatch.setattr(W, "evaluation_pool", lambda: dead)
    box = W.explorer(n_updates=100, n_seeds=1, hidden_size=4, background=False)
    try:
        assert box.text.startswith("settings:") and "cannot train" not in box.text
        assert box.result.updates[-1] == 100
    finally:
        close(box)


def test_the_environment_sets_how_many_workers(monkeypatch):
    monkeypatch.setenv(workers.ENV_VAR, "0")
    assert workers.n_workers() == 0 and workers.evaluation_pool() is None
    box = W.explorer(n_updates=100, n_seeds=1, hidden_size=4, background=False)  # a thread
    try:
        assert box.text.startswith("settings:") and box.result.updates[-1] == 100
    finally:
        close(box)
    monkeypatch.setenv(workers.ENV_VAR, "1")
    pool = workers.evaluation_pool()
    assert pool._max_workers == 1 and pool.submit(int, "1").result(timeout=60) == 1
    monkeypatch.delenv(workers.ENV_VAR)
    assert workers.n_workers() == workers.DEFAULT_WORKERS == 2
    assert workers.evaluation_pool()._max_workers == 2


@pytest.mark.parametrize("value", ["two", "-1", "9", "1.5", "²"])
def test_a_bad_number_of_workers_says_what_is_allowed(monkeypatch, value):
    monkeypatch.setenv(workers.ENV_VAR, value)
    with pytest.raises(ValueError, match=r"RNN_LESSON_EVAL_WORKERS must be a whole number from 0"):
        workers.evaluation_pool()
    # The explorer shows it instead of a plot, as it does any error.
    box = W.explorer(n_updates=100, n_seeds=1, hidden_size=4, background=False)
    try:
        assert box.text.startswith("cannot train: RNN_LESSON_EVAL_WORKERS must be")
    finally:
        close(box)


@pytest.mark.parametrize("value", [True, "processes", 2])
def test_run_experiment_takes_an_executor_or_none(value):
    with pytest.raises(ValueError, match="eval_pool must be None or a concurrent.futures.Executor"):
        W.run_experiment(n_updates=100, n_seeds=1, hidden_size=4, eval_pool=value)


@pytest.mark.parametrize("value", ["yes", 1, None, object()])
def test_eval_in_background_takes_a_bool_or_an_executor(value):
    p = R.init_params(2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="True, False or a concurrent.futures.Executor"):
        R.train(p, rng=np.random.default_rng(0), n_updates=5, eval_overflow_stops=False,
                eval_in_background=value)  # fmt: skip
