"""Worker processes that evaluate beside the training: the explorer's (notebook 06) other cores.

The explorer retrains several networks on every change and evaluates each on all pairs
ten times along the way. The evaluations are most of its work, and they can run while
the training goes on. In a thread they barely do: the training loop is many small numpy
operations, and the thread running it holds Python's interpreter lock (GIL) nearly all
the time, so the evaluating thread waits for the lock at every step. A process has an
interpreter of its own.

``evaluation_pool()`` starts the worker processes the first time it is called and returns
the same pool afterwards (a new one if a worker has died). They use the "spawn" start
method, which works alike on Linux, macOS and Windows and is safe in a Jupyter kernel,
whose threads make a plain fork unsafe. A worker is a fresh Python process: it imports
numpy and ``rnn_lesson`` (about 0.3 s, once), inherits the environment, and so computes in
the same numerical world as the kernel, to the last bit. The workers stop with the kernel.

How many: the environment variable RNN_LESSON_EVAL_WORKERS, 2 if it is not set. 0 means
none: the explorer then evaluates in a thread, as ``run_experiment`` alone does. A shared
server (the classroom JupyterHub) sets 0: there the cores are shared by the class anyway,
and each worker holds some memory per student.

Only the explorer uses them. A spawned worker imports the main module of the program that
started it, so a script (not a notebook) that builds an explorer needs the usual
``if __name__ == "__main__":`` guard; without it, every worker would run the script again.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor

from threadpoolctl import threadpool_limits

ENV_VAR = "RNN_LESSON_EVAL_WORKERS"
DEFAULT_WORKERS = 2  # training on one core, evaluating on two: on two cores, both stay busy
MAX_WORKERS = 8

_pool: ProcessPoolExecutor | None = None
_lock = threading.Lock()


def n_workers() -> int:
    """How many worker processes the environment asks for (``ENV_VAR``; unset: 2, 0: none)."""
    value = os.environ.get(ENV_VAR, "").strip()
    if value == "":
        return DEFAULT_WORKERS
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_WORKERS:
        raise ValueError(
            f"{ENV_VAR} must be a whole number from 0 (no worker processes) to {MAX_WORKERS}, "
            f"got {value!r}"
        )
    return int(value)


def evaluation_pool() -> ProcessPoolExecutor | None:
    """The worker processes for evaluations, started on the first call (and after a worker
    died, or when ``ENV_VAR`` asks for another number); None if it asks for none."""
    global _pool
    n = n_workers()
    with _lock:
        # (_broken: the pool's own flag that a worker died; it has no public one)
        if _pool is not None and (_pool._broken or _pool._max_workers != n):
            _pool.shutdown(wait=False, cancel_futures=True)
            _pool = None
        if _pool is None and n > 0:
            _pool = ProcessPoolExecutor(
                n, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker
            )
            for _ in range(n):  # start the workers now, not at the first evaluation
                _pool.submit(_ready)
        return _pool


def _start_worker() -> None:
    """Run in each worker as it starts.

    - Ignore Ctrl-C (SIGINT). Jupyter interrupts a kernel by sending SIGINT to its whole
      process group, workers included: without this, the Stop button would kill them.
    - Stop when the kernel does. A kernel that exits shuts its pool down, and Jupyter kills
      a kernel's whole process group; but a kernel killed alone (by the system, out of
      memory) would leave its workers waiting forever. A thread waits for the kernel to end.
    - One BLAS thread (OpenBLAS, in numpy's wheels). With more, the workers and the kernel
      ask for more threads than there are cores, and OpenBLAS's idle threads wait by
      spinning: measured on two cores, the explorer's default change took 2.9 s instead of
      1.7 s. One thread gives the same numbers: the threads split a product by rows and
      columns, not a sum.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    threadpool_limits(1)


def _exit_with_parent() -> None:
    """Wait until the process that started this worker ends; then end this one."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        parent.join()
        os._exit(0)


def _ready() -> None:
    """A task that does nothing: submitting it makes the pool start a worker."""
