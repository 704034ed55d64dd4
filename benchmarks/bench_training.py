"""Training speed of rnn_lesson, measured in one run on one machine.

    .venv/bin/python benchmarks/bench_training.py      (or: make bench)

1. The course's per-sample loop (one sample, one time step, one np.dot at a time)
   against the package's per-sample SGD, 10,000 updates each.
   Goal: the package at least 2x faster.
2. Minibatch SGD to 100% of all 16,384 pairs, 10 seeds. Goal: at most 0.1 s, 10 of 10.
3. 90 stacked models x 10,000 per-sample updates against one model. Goal: all 90 in 15 s.
4. The explorer of notebook 06: its default change (tanh, Xavier, lr 0.1, 2,000 updates),
   with 1 seed and with 5, retrained and redrawn. Goal: at most 1 s with 5 seeds.
   (``--explorer``: run this section and the fifth only.)
5. One evaluation over all 16,384 pairs, of four networks. Goal: at least 3x faster than
   before issue 21 (float64 walk).

"Before": sections 1, 4 and 5 also time the package as it was before issue 21 ("the core,
second version"), at commit OLD_REF, taken from git into a temporary folder as the package
``rnn_lesson_old``, in the same run, so the ratios compare like with like. Without git (or
that commit) those lines are left out.

Times are wall-clock medians over a few repeats (the load average is printed, since
other work on the machine slows everything down). Takes about 3 minutes.
"""

from __future__ import annotations

import importlib
import io
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import rnn_lesson as R

H, T, LR = 16, 8, 0.1
N_UPDATES = 10_000
REPEATS = 3
NEVER = 10**9  # eval_every so large that train() evaluates only at update 0 and at the end
OLD_REF = "d43ca6f99d633f9c44947d890dffaf12f70c48a6"  # main before issue 21


def old_package():
    """rnn_lesson as it was at OLD_REF, imported as ``rnn_lesson_old`` (None without git)."""
    if "rnn_lesson_old" in sys.modules:
        return sys.modules["rnn_lesson_old"]
    root = Path(__file__).resolve().parent.parent
    try:
        archive = subprocess.run(
            ["git", "-C", str(root), "archive", OLD_REF, "rnn_lesson"],
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    folder = tempfile.mkdtemp(prefix="rnn_lesson_old_")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    os.rename(os.path.join(folder, "rnn_lesson"), os.path.join(folder, "rnn_lesson_old"))
    sys.path.insert(0, folder)  # (spawned worker processes inherit sys.path)
    return importlib.import_module("rnn_lesson_old")


# ---------------------------------------------------------------------------
# 1. The course's way: per sample, per time step, nothing vectorised.
# ---------------------------------------------------------------------------
def course_style_train(params, rng, n_updates, lr):
    """SGD written the way the course writes it, with its two mistakes corrected.

    Same math as rnn_lesson (biases b and c included, delta_out with y(1 - y), tanh),
    same random pairs (one rng.integers(0, 128, size=(2, 1)) per update), but one sample
    at a time, a Python loop over the time steps, np.dot on (1, H) rows, and u, z kept
    in (T + 1, H) buffers whose row 0 is z[-1] = 0. Uses nothing from rnn_lesson.
    It is leaner than the course's own code (no helper-function calls for the loss, no
    rounded prediction per step, no print), so the comparison flatters the baseline.
    """
    W_in, W, W_out = params["W_in"].copy(), params["W"].copy(), params["W_out"].copy()
    b, c = params["b"].copy(), params["c"].copy()
    binary = np.unpackbits(np.arange(2**T, dtype=np.uint8)[:, None], axis=1)  # MSB first
    u = np.zeros((T + 1, H))
    z = np.zeros((T + 1, H))
    y = np.zeros((T, 1))
    delta_out = np.zeros((T, 1))
    delta = np.zeros((T + 1, H))  # row T stays 0: nothing flows back from after the end
    for _ in range(n_updates):
        a_int, b_int = rng.integers(0, 2 ** (T - 1), size=(2, 1))[:, 0]
        a_bin, b_bin, d_bin = binary[a_int], binary[b_int], binary[a_int + b_int]
        W_in_grad, W_grad, W_out_grad = np.zeros_like(W_in), np.zeros_like(W), np.zeros_like(W_out)
        b_grad, c_grad = np.zeros_like(b), np.zeros_like(c)
        all_loss = 0.0
        for t in range(T):  # t = 0 is the least significant bit, the last column of binary
            X = np.array([a_bin[-t - 1], b_bin[-t - 1]]).reshape(1, -1)
            dd = d_bin[-t - 1]
            u[t + 1] = np.dot(X, W_in) + np.dot(z[t].reshape(1, -1), W) + b
            z[t + 1] = np.tanh(u[t + 1])
            y[t] = 1 / (1 + np.exp(-(np.dot(z[t + 1].reshape(1, -1), W_out) + c)))
            all_loss += 0.5 * (y[t, 0] - dd) ** 2
            delta_out[t] = (y[t] - dd) * y[t] * (1 - y[t])
        for t in reversed(range(T)):
            X = np.array([a_bin[-t - 1], b_bin[-t - 1]]).reshape(1, -1)
            delta[t] = (
                np.dot(delta[t + 1].reshape(1, -1), W.T)
                + np.dot(delta_out[t].reshape(1, -1), W_out.T)
            ) * (1 - np.tanh(u[t + 1]) ** 2)
            W_out_grad += np.dot(z[t + 1].reshape(-1, 1), delta_out[t].reshape(1, -1))
            W_grad += np.dot(z[t].reshape(-1, 1), delta[t].reshape(1, -1))
            W_in_grad += np.dot(X.T, delta[t].reshape(1, -1))
            b_grad += delta[t]
            c_grad += delta_out[t]
        W_in -= lr * W_in_grad
        W -= lr * W_grad
        W_out -= lr * W_out_grad
        b -= lr * b_grad
        c -= lr * c_grad
    return {"W_in": W_in, "W": W, "W_out": W_out, "b": b, "c": c}


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def timed(fn, repeats=REPEATS):
    """(median wall seconds, all wall seconds, last result, median CPU seconds) of fn().

    CPU time (time.process_time, all threads of this process) is less disturbed by other
    work on the machine than wall time, so it is printed beside it where it matters.
    """
    times, cpu, result = [], [], None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(times), times, result, statistics.median(cpu)


def eval_seconds(params, repeats=9):
    return timed(lambda: R.evaluate_all_pairs(params), repeats)[0]


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def simd_info():
    """The SIMD extensions numpy uses here, and whether the CPU has AVX-512: two machines sold
    as the same 2-core AMD EPYC, one with AVX-512 and one without, differ severalfold here
    (see docs/performance.md)."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    used = [x for x in __cpu_dispatch__ if __cpu_features__.get(x)]
    avx512 = "yes" if __cpu_features__.get("AVX512F") else "no"
    return f"numpy SIMD {', '.join(used) or 'baseline only'}; AVX-512: {avx512}"


def blas_info():
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}"
    except Exception as exc:  # show_config's layout is not a stable API
        return f"unknown ({type(exc).__name__})"


def load():
    try:
        return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "load average unknown"


def ms(seconds):
    return f"{1000 * seconds:8.1f} ms"


# ---------------------------------------------------------------------------
def main():
    print("rnn_lesson training benchmark")
    print(f"  machine: {platform.platform()}, {os.cpu_count()} CPUs, {cpu_name()}")
    print(f"  python {platform.python_version()}, numpy {np.__version__}, BLAS {blas_info()}")
    print(f"  {simd_info()}")
    threads = {
        k: os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS") if k in os.environ
    }
    print(f"  BLAS thread settings: {threads or 'numpy defaults'}; at start: {load()}")
    print(f"  every time is the median of {REPEATS} runs unless said otherwise")
    total_start = time.perf_counter()

    # 1 ---------------------------------------------------------------------
    print(f"\n1. Per-sample SGD, H = {H}, tanh, Xavier, lr {LR}, {N_UPDATES:,} updates")
    p0 = R.init_params(H, "xavier", rng=np.random.default_rng(0))
    t_course, runs_course, course_params, cpu_course = timed(
        lambda: course_style_train(p0, np.random.default_rng(1), N_UPDATES, LR)
    )
    t_pkg, runs_pkg, result, cpu_pkg = timed(
        lambda: R.train(
            p0, rng=np.random.default_rng(1), lr=LR, n_updates=N_UPDATES, eval_every=NEVER
        )
    )
    t_eval = eval_seconds(p0)
    old = old_package()
    if old is not None:
        t_old, runs_old, result_old, _ = timed(
            lambda: old.train(
                p0, rng=np.random.default_rng(1), lr=LR, n_updates=N_UPDATES, eval_every=NEVER
            )
        )
    diff = max(np.abs(course_params[k] - result.params[k]).max() for k in R.PARAM_NAMES)
    print(f"   course-style loop : {t_course:6.2f} s  ({1e3 * t_course / N_UPDATES:.3f} ms/update)")
    print(
        f"   rnn_lesson.train  : {t_pkg:6.2f} s  ({1e3 * t_pkg / N_UPDATES:.3f} ms/update; "
        f"includes the 2 evaluations over all pairs that train() always makes, "
        f"at update 0 and at the end, {ms(2 * t_eval).strip()})"
    )
    ratio = t_course / t_pkg
    print(
        f"   ratio             : {ratio:6.2f}x   goal >= 2x: {'met' if ratio >= 2 else 'NOT met'}"
    )
    print(
        f"   CPU time instead  : course {cpu_course:.2f} s, package {cpu_pkg:.2f} s, "
        f"ratio {cpu_course / cpu_pkg:.2f}x"
    )
    print(f"   same random pairs, same final weights: max |difference| = {diff:.1e}")
    print(f"   (all runs, s: course {fmt(runs_course)}; package {fmt(runs_pkg)})")
    if old is not None:
        same = all(np.array_equal(result_old.params[k], result.params[k]) for k in R.PARAM_NAMES)
        print(
            f"   before issue 21   : {t_old:6.2f} s  (this code {t_old / t_pkg:.2f}x as fast; "
            f"final weights {'bit for bit the same' if same else 'DIFFERENT'}; "
            f"runs, s: {fmt(runs_old)})"
        )

    # 2 ---------------------------------------------------------------------
    print("\n2. Minibatch SGD to 100% of all 16,384 pairs, 10 seeds, H = 16, tanh, Xavier,")
    print("   batch 32, lr 2.0, evaluation every 10 updates, stop at 100% (each seed run once)")
    updates, seconds, n_evals = minibatch_runs(32, 2.0)
    reached = sum(u is not None for u in updates)
    done = [u for u in updates if u is not None]
    t_eval = eval_seconds(p0)
    print(f"   updates to 100%   : {updates}")
    verdict = "met" if reached == 10 else "NOT met"
    print(f"   reached 100%      : {reached} of 10   goal 10 of 10: {verdict}")
    if done:
        print(f"   median updates    : {statistics.median(done):.0f}")
    med, worst = statistics.median(seconds), max(seconds)
    print(
        f"   time to 100%      : median {med:.3f} s, max {worst:.3f} s   "
        f"goal <= 0.1 s: {'met' if worst <= 0.1 else 'median met' if med <= 0.1 else 'NOT met'}"
    )
    n_med = int(statistics.median(done)) if done else 100
    t_updates = updates_alone(n_med, 32, 2.0)
    print(
        f"   evaluation cost   : {statistics.median(n_evals):.0f} evaluations (median) of "
        f"{ms(t_eval).strip()} each (measured alone)"
    )
    print(
        f"   updates alone     : {t_updates:.3f} s for {n_med} updates (train() for {n_med} "
        f"updates minus train() for 1, both evaluating only at the start and end)"
    )
    # Most of that time is spent checking all pairs; checking less often trades the
    # resolution of "updates to 100%" for time.
    ups25, secs25, _ = minibatch_runs(32, 2.0, eval_every=25)
    ok25 = [u for u in ups25 if u is not None]
    med25, worst25 = statistics.median(secs25), max(secs25)
    verdict25 = "met" if worst25 <= 0.1 else "median met" if med25 <= 0.1 else "NOT met"
    print(
        f"   checked every 25  : {len(ok25)} of 10 reach 100%, median {statistics.median(ok25):.0f}"
        f" updates, time median {med25:.3f} s, max {worst25:.3f} s   goal <= 0.1 s: {verdict25}"
    )
    print("   other settings, same 10 seeds (median / max updates to 100%, seeds reaching it):")
    for batch, lr in [(16, 2.0), (64, 2.0), (32, 3.0)]:
        ups, secs, _ = minibatch_runs(batch, lr)
        ok = [u for u in ups if u is not None]
        med_u = f"{statistics.median(ok):.0f} / {max(ok)}" if ok else "-"
        print(
            f"     batch {batch:3d}, lr {lr}: {med_u:>9} updates, {len(ok)} of 10, "
            f"median {statistics.median(secs):.3f} s"
        )

    # 3 ---------------------------------------------------------------------
    K = 90
    inits = ("normal", "xavier", "he")
    lrs = np.geomspace(0.01, 1.0, K // len(inits))
    print(
        f"\n3. {K} stacked models ({len(inits)} initializers x {len(lrs)} learning rates "
        f"0.01..1), tanh, per-sample SGD, {N_UPDATES:,} updates"
    )
    models = [
        R.init_params(H, init, rng=np.random.default_rng(i))
        for init in inits
        for i in range(len(lrs))
    ]
    stack = R.stack_params(models)
    lr_k = np.tile(lrs, len(inits))
    t_one, _, _, _ = timed(
        lambda: R.train(
            models[0], rng=np.random.default_rng(2), lr=LR, n_updates=N_UPDATES, eval_every=NEVER
        )
    )
    t_stack, runs_stack, res, _ = timed(
        lambda: R.train(
            stack, rng=np.random.default_rng(2), lr=lr_k, n_updates=N_UPDATES, eval_every=NEVER
        )
    )
    t_eval_stack = timed(lambda: R.evaluate_all_pairs(stack), 1)[0]
    print(f"   one model         : {t_one:6.2f} s")
    print(
        f"   {K} models, stacked: {t_stack:6.2f} s   goal <= 15 s: "
        f"{'met' if t_stack <= 15 else 'NOT met'}   ({t_stack / t_one:.1f}x one model, "
        f"{K * t_one / t_stack:.1f}x faster than {K} runs one after another)"
    )
    print(
        f"   (includes 2 evaluations of all {K} models over all pairs, "
        f"{2 * t_eval_stack:.2f} s; runs, s: {fmt(runs_stack)})"
    )
    diverged = sum(d is not None for d in res.diverged_at)
    perfect = int(np.sum(res.accuracy[-1] == 1.0))
    print(f"   after training: {perfect} of {K} at 100% of all pairs, {diverged} diverged")

    explorer_section()
    evaluation_section()
    print(f"\ntotal benchmark time {time.perf_counter() - total_start:.0f} s; at end: {load()}")


def explorer_section(repeats: int = 5) -> None:
    """4. The explorer's answer time: one change with the default settings, as the explorer
    makes it (train every seed, draw the three panels over the previous curves, update the
    widgets), timed by the explorer itself (``last_seconds``), median of ``repeats``; and
    the same with the package before issue 21."""
    print(
        "\n4. The explorer's default change (tanh, Xavier, lr 0.1, H = 16, 2,000 updates, batch 1),"
    )
    print(f"   retrained and redrawn in the kernel, median of {repeats} changes")
    old = old_package()
    answers = {}
    for n_seeds in (1, 5):
        for package, label in [(R, "now"), (old, "before")]:
            if package is None:
                continue
            answers[n_seeds, label] = explorer_runs(package, n_seeds, repeats, label)
        if (n_seeds, "before") in answers:
            before, now = answers[n_seeds, "before"], answers[n_seeds, "now"]
            print(f"            ratio: {before / now:.2f}x faster than before issue 21")


def explorer_runs(package, n_seeds: int, repeats: int, label: str) -> float:
    """Time ``repeats`` changes of an explorer of ``package`` (rnn_lesson or rnn_lesson_old);
    print them; return the median answer time. The explorer's worker processes stop after."""
    W = importlib.import_module(package.__name__ + ".widgets")
    workers = importlib.import_module(package.__name__ + ".workers")
    box = W.explorer(n_seeds=n_seeds, background=False)
    walls, cpus, trains = [], [], []
    for _ in range(repeats):
        cpu = time.process_time()
        box.update()
        cpus.append(time.process_time() - cpu)
        walls.append(box.last_seconds)
        start = time.perf_counter()
        W.run_experiment(n_seeds=n_seeds, eval_pool=workers.evaluation_pool())  # as the explorer
        trains.append(time.perf_counter() - start)
    answer = statistics.median(walls)
    goal = ""
    if n_seeds == 5 and label == "now":
        goal = f"   goal <= 1 s: {'met' if answer <= 1.0 else 'NOT met'}"
    seeds = f"{n_seeds} seed{'s' if n_seeds > 1 else ' '}"
    print(
        f"   {seeds} {label:>6}: answered in {answer:5.2f} s{goal}"
        f"   (run_experiment alone {statistics.median(trains):.2f} s; "
        f"kernel CPU time {statistics.median(cpus):.2f} s; all runs, s: {fmt(walls)})"
    )
    for w in [*box.controls.values(), *box.children, box]:
        w.close()
    if workers._pool is not None:  # the other package's workers must not take the cores
        workers._pool.shutdown()
        workers._pool = None
    return answer


def evaluation_section(repeats: int = 9) -> None:
    """5. One evaluation over all pairs, now and before issue 21, of four networks."""
    print("\n5. One evaluation over all 16,384 pairs (loss and accuracy), median of "
          f"{repeats}, H = 16, tanh")  # fmt: skip
    start = R.init_params(H, "xavier", rng=np.random.default_rng(0))
    nets = {
        "Xavier, untrained": start,
        "Xavier, 300 updates": train_for(start, 300),
        "Xavier, 3,000 updates": train_for(start, 3000),
        "normal(std=1), untrained": R.init_params(H, "normal", rng=np.random.default_rng(0)),
    }
    old = old_package()
    # All of today's timings first: the old evaluation leaves OpenBLAS's second thread
    # spinning for a while after it returns, which would slow (and add CPU time to) a
    # measurement of today's evaluation that followed it.
    now = {}
    for label, params in nets.items():
        R.evaluate_all_pairs(params)  # warm: caches, the first allocation of its arrays
        now[label] = timed(lambda p=params: R.evaluate_all_pairs(p), repeats)
    ratios, cpu_ratios, one_thread_ratios = [], [], []
    for label, params in nets.items():
        wall, _, _, cpu = now[label]
        text = f"   {label:<26}: now {ms(wall)}"
        if old is not None:
            old.evaluate_all_pairs(params)
            before, _, _, before_cpu = timed(lambda p=params: old.evaluate_all_pairs(p), repeats)
            with threadpool_limits(limits=1, user_api="blas"):  # like for like: one thread
                one, _, _, _ = timed(lambda p=params: old.evaluate_all_pairs(p), repeats)
            same = old.evaluate_all_pairs(params)[1] == R.evaluate_all_pairs(params)[1]
            ratios.append(before / wall)
            cpu_ratios.append(before_cpu / cpu)
            one_thread_ratios.append(one / wall)
            text += f", before {ms(before)}, {before / wall:4.1f}x faster"
            text += f" (CPU time: {ms(cpu)} against {ms(before_cpu)}, {before_cpu / cpu:.1f}x;"
            text += f" before on one BLAS thread, as now: {ms(one)}, {one / wall:.1f}x)"
            text += "" if same else "   ACCURACY DIFFERS"
        print(text)
    if ratios:
        print(
            f"   goal >= 3x faster: met for {sum(r >= 3 for r in ratios)} of {len(ratios)} "
            f"networks in wall time (the old code on its default BLAS threads), "
            f"{sum(r >= 3 for r in cpu_ratios)} of {len(ratios)} in CPU time, "
            f"{sum(r >= 3 for r in one_thread_ratios)} of {len(ratios)} against the old code "
            "on one BLAS thread"
        )


def train_for(params, n_updates):
    return R.train(
        params, rng=np.random.default_rng(1), n_updates=n_updates, eval_every=NEVER
    ).params


def minibatch_runs(batch, lr, n_seeds=10, eval_every=10):
    updates, seconds, n_evals = [], [], []
    for seed in range(n_seeds):
        rng = np.random.default_rng(seed)
        p = R.init_params(H, "xavier", rng=rng)
        start = time.perf_counter()
        result = R.train(
            p,
            rng=rng,
            lr=lr,
            n_updates=1000,
            batch_size=batch,
            eval_every=eval_every,
            stop_at_100=True,
        )
        seconds.append(time.perf_counter() - start)
        updates.append(result.first_perfect())
        n_evals.append(len(result.updates))
    return updates, seconds, n_evals


def updates_alone(n, batch, lr):
    """Seconds for n - 1 minibatch updates, without the evaluations train() always makes."""
    p = R.init_params(H, "xavier", rng=np.random.default_rng(0))

    def run(k):
        return R.train(
            p, rng=np.random.default_rng(1), lr=lr, n_updates=k, batch_size=batch, eval_every=NEVER
        )

    return max(0.0, timed(lambda: run(n), 5)[0] - timed(lambda: run(1), 5)[0])


def fmt(values):
    return ", ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    if sys.argv[1:] == ["--explorer"]:
        print(
            f"rnn_lesson explorer benchmark; {os.cpu_count()} CPUs, {cpu_name()}, {simd_info()}; "
            f"at start: {load()}"
        )
        explorer_section()
        evaluation_section()
        print(f"at end: {load()}")
    else:
        sys.exit(main())
