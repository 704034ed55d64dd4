"""Re-execute the notebooks with nbval in several numerical worlds.

A *numerical world* is one choice of the floating-point kernels that numpy runs on: which
OpenBLAS kernel does the matrix products (``OPENBLAS_CORETYPE``) and whether numpy's own
SIMD code paths for tanh, exp, sums, ... are used (``NPY_DISABLE_CPU_FEATURES``). Each gives
results that differ in the last bits, and long SGD runs are chaotic: such a difference can
change which seeds learn. A learner's laptop is one more world. The notebooks therefore
state results of training as rates over many seeds with margins, and this script checks that
every output nbval compares, and every assert, is the same in each of these worlds:

    default               the machine as it is
    sandybridge           OPENBLAS_CORETYPE=Sandybridge (AVX kernels)
    nehalem               OPENBLAS_CORETYPE=Nehalem (SSE kernels)
    haswell               OPENBLAS_CORETYPE=Haswell (AVX2 + FMA kernels)
    no-simd               numpy's SIMD dispatch switched off (NPY_DISABLE_CPU_FEATURES)
    sandybridge-no-simd   both
    avx2                  on a machine with AVX-512: Haswell kernels and numpy's AVX-512
                          code switched off, as on an AVX2 machine, most laptops' world
                          (numpy's AVX2 exp rounds differently from its AVX-512 one); the
                          committed outputs come from this world (``make execute``)
    arm64, arm64-neon     aarch64 under emulation (scripts/arm_world.py): only when named

On an x86-64 machine with AVX2 these are at least five distinct worlds. A world that would
repeat the default one (on a machine without AVX-512 OpenBLAS usually picks its Haswell
kernels by itself) is skipped, and said so. On another processor only the worlds it can run
are used. The ARM worlds, much slower (about 13 times the native time), run only when named
with ``--world``, every notebook in them unless notebooks are named.

    python scripts/run_worlds.py                      every world, every notebook
    python scripts/run_worlds.py --world nehalem      one world
    python scripts/run_worlds.py notebooks/04_training.ipynb --jobs 1
    python scripts/run_worlds.py --beside "python -m pytest tests"
    python scripts/run_worlds.py --early "python -m pytest -m no_make_route tests"
    python scripts/run_worlds.py --world arm64 --world arm64-neon   (as root)

``--beside COMMAND`` runs one more command as one more job among the worlds (``make test``
runs the unit tests this way: alone they would keep one core busy and leave the other idle).
It starts last, after every world has started: a short job at the end fills the core that the
last world would otherwise leave idle. Its output is printed when it ends, all of it if it
fails, and it counts as passed or failed like a world.

``--early COMMAND`` runs a command beside the worlds from the start, outside the ``--jobs``
places, and counts it the same way. It is for a command that mostly waits: ``make test`` runs
the README's route without make this way (tests/test_no_make_route.py: a fresh venv that pip
fills from PyPI, about a minute of downloading with some 50 s of CPU time). Waiting while the
worlds compute costs them little; in the last place it would leave a core idle at the end.

Worlds run ``--jobs`` at a time (default: one more than the machine has cores, so that no
core idles while the last world finishes), each as its own pytest process with one BLAS
thread; a failing world's whole output is printed. The last line reads "worlds: N passed, M failed".

Notebooks 01 and 02 train nothing: every number they print comes from a fixed computation
on fixed inputs. When no notebooks are named, they run in the default world only, and the
other worlds re-execute the notebooks that train (03 onwards).

Only the default world turns figures into PNG images. In the other worlds every line of
plotting code still runs, and a figure's text output ("<Figure size 800x340 with 1 Axes>")
is compared as usual, but the kernel is configured (``InlineBackend.figure_formats``, in an
IPython directory of its own) to make no image: nbval does not compare images, a world is
there to check numbers, and the images cost about 13 s of CPU time per world.
"""

from __future__ import annotations

import argparse
import glob
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import arm_world  # noqa: E402  (scripts/ is no package)

ROOT = Path(__file__).resolve().parent.parent
NO_TRAINING = ("01_concept.ipynb", "02_forward_pass.ipynb")  # checked in the default world
# pytest, as `python -m pytest` runs it, but with one optional module kept out. nbformat (which
# nbval uses to read the notebooks) validates them with jsonschema, and jsonschema imports
# rfc3987_syntax, when it is installed (JupyterLab's dependencies install it), for its "iri"
# format check; that module builds a grammar at import, 3.4 s of CPU in every world here
# (pytest collecting one notebook: 5.0 s with it, 1.6 s without). The notebook schema has
# no "iri" field, so nothing it checks is lost.
PYTEST_WITHOUT_IRI_CHECKS = (
    "import sys; sys.modules['rfc3987_syntax'] = None; import pytest; sys.exit(pytest.main())"
)

# glibc's memory allocator, tuned to keep the memory that numpy frees for reuse. By default it
# gives the top of its heap back to the operating system as soon as 128 KB there are free,
# and serves larger blocks as fresh mappings; training allocates and frees arrays of 40 to
# 500 KB at every update (a stack's hidden states, an evaluation's chunks), so the same pages
# were handed back and faulted in again: 2.8 million page faults and 11 s of system time in
# one world (nehalem, 03 to 07). With blocks of up to 32 MB from the heap, and freed memory
# kept up to 64 MB, the same world took 0.18 million faults, 2 s of system time and 5% less
# CPU time in all, with the same peak memory. Where an array lives does not change what is
# computed: every notebook gives the same outputs.
# (Other C libraries ignore these variables; a value set by the caller wins.)
ARM_CELL_TIMEOUT = 7200  # seconds per cell in the ARM worlds
MALLOC_KEEPS_FREED_MEMORY = {
    "MALLOC_MMAP_THRESHOLD_": str(32 * 2**20),
    "MALLOC_TRIM_THRESHOLD_": str(64 * 2**20),
}


def _no_simd() -> str:
    """Every SIMD target numpy dispatches to at run time (the baseline cannot be switched off)."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_dispatch__
    return " ".join(__cpu_dispatch__)


def _above_avx2() -> str:
    """numpy's SIMD targets above AVX2 (X86_V4, AVX512_*), if this CPU runs any of them."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    above = [t for t in __cpu_dispatch__ if t == "X86_V4" or t.startswith("AVX512")]
    return " ".join(above) if any(__cpu_features__.get(t) for t in above) else ""


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def worlds() -> dict[str, dict[str, str]]:
    """The worlds this machine can run: {name: environment variables to set}."""
    found = {"default": {}}
    x86 = platform.machine().lower() in ("x86_64", "amd64")
    flags = _cpu_flags()
    if x86:
        found["nehalem"] = {"OPENBLAS_CORETYPE": "Nehalem"}
        if "avx" in flags:
            found["sandybridge"] = {"OPENBLAS_CORETYPE": "Sandybridge"}
        if {"avx2", "fma"} <= flags:
            found["haswell"] = {"OPENBLAS_CORETYPE": "Haswell"}
    no_simd = _no_simd()
    if no_simd:
        found["no-simd"] = {"NPY_DISABLE_CPU_FEATURES": no_simd}
        if "sandybridge" in found:
            found["sandybridge-no-simd"] = {**found["sandybridge"], **found["no-simd"]}
    above_avx2 = _above_avx2() if x86 else ""
    if above_avx2 and "haswell" in found:
        found["avx2"] = {"OPENBLAS_CORETYPE": "Haswell", "NPY_DISABLE_CPU_FEATURES": above_avx2}
    return found


def describe(env: dict[str, str], arm: bool = False) -> str:
    """What the world really runs on, asked of a fresh Python in that world.

    "OpenBLAS kernel Haswell; numpy SIMD X86_V3", say.
    """
    code = (
        "import numpy, threadpoolctl\n"
        "from numpy._core._multiarray_umath import __cpu_features__ as f, __cpu_dispatch__ as d\n"
        "blas = [i.get('architecture') for i in threadpoolctl.threadpool_info()"
        " if i.get('internal_api') == 'openblas']\n"
        "simd = [x for x in d if f.get(x)]\n"
        "print(f\"OpenBLAS kernel {', '.join(map(str, blas)) or '?'}; \""
        " f\"numpy SIMD {', '.join(simd) or 'baseline only'}\")\n"
    )
    cmd = [sys.executable, "-c", code]
    run = subprocess.run(
        arm_world.inside(cmd, env) if arm else cmd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600 if arm else 60,
    )
    return run.stdout.strip() or f"(could not tell: {run.stderr.strip()[-200:]})"


def run_world(
    name: str, extra: dict[str, str], notebooks: list[str], side_by_side: bool
) -> tuple[str, bool, str]:
    env = {**MALLOC_KEEPS_FREED_MEMORY, **os.environ, **extra}
    if side_by_side:
        # One BLAS thread per world, the default world included. OpenBLAS's extra threads
        # spin while they wait for work: with the worlds already filling every core, a second
        # thread made notebook 04 burn 91 s of CPU instead of 55 s, and slowed the other
        # worlds. OpenBLAS splits a matrix product between threads by whole entries of the
        # result, so one thread gives the same numbers. A value set by the caller wins.
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
    start = time.perf_counter()
    # (no hypothesis: the notebooks do not use it, and its plugin costs each world ~2 s to load)
    cmd = [sys.executable, "-c", PYTEST_WITHOUT_IRI_CHECKS, "-q", "-p", "no:cacheprovider"]
    cmd += ["-p", "no:hypothesispytest", "--nbval", "--nbval-current-env", *notebooks]
    arm = name in arm_world.WORLDS
    with tempfile.TemporaryDirectory(dir=arm_world.ROOTFS / "tmp" if arm else None) as ipython_dir:
        if name != "default":
            # No PNG images (see the module's docstring): the default world makes them.
            config = Path(ipython_dir, "profile_default", "ipython_kernel_config.py")
            config.parent.mkdir(parents=True)
            config.write_text("c.InlineBackend.figure_formats = set()\n")
            env["IPYTHONDIR"] = ipython_dir
        if arm:  # with each cell's time, to tell each notebook's (13 times the native one),
            # and more time per cell than nbval's 2,000 s: on a busy machine 05's sweep,
            # 1,230 s of CPU under emulation, ran past that
            extra = [
                f"--nbval-cell-timeout={ARM_CELL_TIMEOUT}",
                "--durations=0",
                "--durations-min=0",
            ]
            cmd = arm_world.inside([*cmd, *extra], env)
        run = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    last = (run.stdout.strip().splitlines() or ["(no output)"])[-1].strip("= ")
    described = describe(env, arm=True) if arm else describe(env)
    head = f"{name:20s} {described}\n{'':20s} {last}, {seconds:.0f} s"
    if arm:
        head += f"\n{'':20s} {arm_world.notebook_times(run.stdout + run.stderr)}"
    return head, run.returncode == 0, run.stdout + run.stderr


def run_beside(command: str, side_by_side: bool) -> tuple[str, bool, str]:
    """Run ``command`` (a shell command line) in the repository; (head line, passed, output)."""
    env = {**MALLOC_KEEPS_FREED_MEMORY, **os.environ}
    if side_by_side:  # one BLAS thread, as the worlds beside it
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
    start = time.perf_counter()
    run = subprocess.run(command, shell=True, env=env, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    last = (run.stdout.strip().splitlines() or ["(no output)"])[-1].strip("= ")
    head = f"{command}\n{'':20s} {last}, {seconds:.0f} s"
    return head, run.returncode == 0, run.stdout + run.stderr


def main() -> int:
    known = worlds()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="default: notebooks/*.ipynb")
    names = sorted(known) + list(arm_world.WORLDS)
    parser.add_argument("--world", action="append", choices=names, help="repeatable")
    cores = os.cpu_count() or 1
    parser.add_argument(
        "--jobs", type=int, default=cores + 1, help=f"worlds at a time (default {cores + 1})"
    )
    parser.add_argument(
        "--beside",
        metavar="COMMAND",
        help="a shell command to run as one more job (its "
        "pass or fail counts with the worlds'), e.g. the unit tests",
    )
    parser.add_argument(
        "--early",
        metavar="COMMAND",
        help="a shell command to run from the start, beside the worlds and outside --jobs "
        "(its pass or fail counts with the worlds'), e.g. one that mostly downloads",
    )
    parser.add_argument(
        "--env-of",
        metavar="WORLD",
        help="print the shell commands (export ...) that make WORLD, for eval; nothing if "
        "this machine has no such world, or it is the default one; and run nothing",
    )
    args = parser.parse_args()
    if args.env_of is not None:
        env = known.get(args.env_of, {})
        print("; ".join(f"export {k}={shlex.quote(v)}" for k, v in env.items()))
        return 0
    every = args.notebooks or sorted(glob.glob(str(ROOT / "notebooks" / "*.ipynb")))
    training = every if args.notebooks else [n for n in every if Path(n).name not in NO_TRAINING]
    chosen = {w: {**known, **arm_world.WORLDS}[w] for w in (args.world or known)}
    if set(chosen) & set(arm_world.WORLDS):
        try:
            arm_world.prepare()
        except arm_world.CannotRun as why:
            print(f"cannot run the ARM worlds: {why}", file=sys.stderr)
            return 2
    if not args.world:  # drop a world that only names the kernel the default uses anyway
        default = describe(dict(os.environ))
        for name, extra in list(chosen.items()):
            core = extra.get("OPENBLAS_CORETYPE", "")
            if list(extra) == ["OPENBLAS_CORETYPE"] and f"kernel {core};" in default:
                print(f"skip {name}: the default world already runs {core} ({default})")
                del chosen[name]
    side_by_side = args.jobs > 1 and len(chosen) > 1
    beside = "".join(f" and `{c}`" for c in (args.early, args.beside) if c)
    print(f"nbval in {len(chosen)} numerical worlds{beside}, {args.jobs} at a time:", flush=True)
    # 01 and 02 (no training) run in the default world and the ARM worlds only.
    plan = {
        w: (env, every if w not in known or w == "default" else training)
        for w, env in chosen.items()
    }
    return run_all(plan, args.beside, args.jobs, side_by_side, early=args.early)


def run_all(
    plan: dict[str, tuple[dict[str, str], list[str]]],
    beside: str | None,
    jobs: int,
    side_by_side: bool,
    early: str | None = None,
) -> int:
    """Each world of ``plan`` ({name: (variables, notebooks)}), the command ``beside`` and the
    command ``early`` (started first, outside the ``jobs`` places)."""
    with (
        ThreadPoolExecutor(max_workers=1) as early_pool,
        ThreadPoolExecutor(max_workers=max(1, jobs)) as pool,
    ):
        first = [early_pool.submit(run_beside, early, True)] if early else []
        # Jobs start in the order they are submitted, as places free up. The default world
        # (the most notebooks, and the only one that makes images) goes first, and the
        # command beside goes last: it is short, and keeps the cores busy while the last
        # worlds run. (When it went first, it was done within two minutes, and at the end
        # the last world ran alone for about 30 s, one core idle.)
        started = [
            pool.submit(run_world, w, env, notebooks, side_by_side)
            for w, (env, notebooks) in plan.items()
        ]
        other = [pool.submit(run_beside, beside, jobs > 1)] if beside else []
        results = []
        for job in started + other + first:
            head, ok, output = job.result()
            print(("PASS " if ok else "FAIL ") + head, flush=True)
            if not ok:
                print(output, flush=True)
            results.append(ok)
    early_ok = results.pop() if first else True
    beside_ok = results.pop() if other else True
    for command, ok, ran in ((early, early_ok, first), (beside, beside_ok, other)):
        if ran:
            print(f"beside the worlds, `{command}`: {'passed' if ok else 'FAILED'}")
    print(f"worlds: {sum(results)} passed, {len(results) - sum(results)} failed")
    return 0 if all(results) and beside_ok and early_ok else 1


if __name__ == "__main__":
    sys.exit(main())
