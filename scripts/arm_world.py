"""The ARM worlds of ``scripts/run_worlds.py``: the notebooks on aarch64, under emulation.

Many learners run the series on Apple-silicon Macs or ARM cloud machines: another instruction
set, numpy's NEON or SVE loops, other OpenBLAS kernels. On an x86-64 machine these worlds run
in an arm64 Debian (bookworm, made by ``debootstrap``) whose programs ``qemu-user-static``
runs, through the kernel's ``binfmt_misc``. A venv inside it holds the aarch64 wheels of the
same packages: numpy, matplotlib, nbval and a few more at the versions of the venv that runs
this script (``PINNED``).

    arm64         qemu's default CPU (SVE and SME): numpy's SVE loops where it has them
    arm64-neon    QEMU_CPU=neoverse-n1: NEON, no SVE, like Apple's M1 to M3

Everything is kept under ``build/arm64/`` (git ignores ``build/``): the Debian packages, the
root file system, the venv. The first run builds it; every run copies the project's files as
they are in the working tree (``git ls-files``) into it, reinstalls the venv when
pyproject.toml or the pinned versions changed, and runs nbval there. It needs root (chroot,
mount, apt-get); what is missing, qemu-user-static and debootstrap, is installed with apt-get.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "arm64"
ROOTFS = BUILD / "rootfs"
PROJECT = "/project"  # where the project's files are copied, inside ROOTFS
VENV = "/venv"
SUITE = "bookworm"
WORLDS = {"arm64": {}, "arm64-neon": {"QEMU_CPU": "neoverse-n1"}}
BINFMT = Path("/proc/sys/fs/binfmt_misc")
QEMU_CONF = Path("/usr/lib/binfmt.d/qemu-aarch64.conf")  # qemu-user-static's registration line
# The variables of run_worlds.py that reach the emulated world; the rest of the caller's
# environment (an x86 OPENBLAS_CORETYPE, say) means nothing there. PYTEST_ADDOPTS passes
# options to pytest, e.g. PYTEST_ADDOPTS="--junitxml=/tmp/times.xml" (a path in the world).
PASSED_ON = (
    "OPENBLAS_NUM_THREADS",
    "IPYTHONDIR",
    "NPY_DISABLE_CPU_FEATURES",
    "QEMU_CPU",
    "PYTEST_ADDOPTS",
)
# The packages whose versions the ARM worlds take from the venv that runs this script.
PINNED = {"numpy", "matplotlib", "threadpoolctl", "ipykernel", "ipywidgets", "nbval", "pytest"}


class CannotRun(RuntimeError):
    """The machine cannot run the ARM worlds; the message says why and what to do."""


def run(cmd: list[str], **kwargs) -> None:
    print("   ", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kwargs)


def check_machine() -> None:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        raise CannotRun(
            f"the ARM worlds emulate aarch64 on x86-64; this machine is {platform.machine()}"
            " (on an ARM machine, the default world is already an ARM world)"
        )
    if os.geteuid() != 0:
        raise CannotRun(
            "the ARM worlds need root (apt-get, mount binfmt_misc, debootstrap, chroot):"
            " run as root, e.g. sudo make arm-worlds"
        )


def install_tools() -> None:
    """qemu-user-static and debootstrap, from Debian's packages, when they are missing."""
    if QEMU_CONF.exists() and shutil.which("debootstrap"):
        return
    if not shutil.which("apt-get"):
        raise CannotRun("qemu-user-static and debootstrap are missing, and there is no apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-q"], env=env)
    run(["apt-get", "install", "-y", "-q", "qemu-user-static", "debootstrap"], env=env)


def enable_binfmt() -> None:
    """Mount binfmt_misc if needed and register qemu for aarch64 programs."""
    if not (BINFMT / "register").exists():
        done = subprocess.run(
            ["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0 or not (BINFMT / "register").exists():
            raise CannotRun(
                f"binfmt_misc is not mounted at {BINFMT} and could not be mounted"
                f" ({done.stderr.strip() or 'no error given'}); in a container, mount it on"
                " the host or start the container with --privileged"
            )
    if not (BINFMT / "qemu-aarch64").exists():
        # The flag F in the line makes the kernel open qemu now: the chroot needs no copy of it.
        line = QEMU_CONF.read_text().strip()
        try:
            (BINFMT / "register").write_text(line)
        except OSError as error:
            raise CannotRun(f"could not register qemu-aarch64 with binfmt_misc: {error}") from None
    if (BINFMT / "qemu-aarch64").read_text().splitlines()[0] != "enabled":
        raise CannotRun(f"{BINFMT / 'qemu-aarch64'} is disabled: echo 1 > that file")


def debian_mirror() -> str:
    """The Debian mirror that apt uses on this machine (deb.debian.org if none is found)."""
    for source in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in source.read_text().splitlines():
            if line.startswith("URIs:") and not line.rstrip().endswith("-security"):
                return line.split()[1]
    return "http://deb.debian.org/debian"


def build_rootfs() -> None:
    """An arm64 Debian with Python, made once (about 4 minutes); its packages are kept."""
    if (ROOTFS / "usr" / "bin" / "python3").exists():
        return
    fresh = BUILD / "rootfs.tmp"
    for point in mounts_under(fresh):  # left by a debootstrap that was stopped
        run(["umount", "--lazy", str(point)])
    shutil.rmtree(fresh, ignore_errors=True)
    (BUILD / "debs").mkdir(parents=True, exist_ok=True)
    run(
        [
            "debootstrap",
            "--arch=arm64",
            "--variant=minbase",
            "--include=python3,python3-venv,python3-pip,ca-certificates",
            f"--cache-dir={BUILD / 'debs'}",
            SUITE,
            str(fresh),
            debian_mirror(),
        ]
    )
    fresh.rename(ROOTFS)


def mounts_under(folder: Path) -> list[Path]:
    """The mount points inside ``folder``, deepest first."""
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        point = Path(line.split()[1].replace("\\040", " "))
        if point.is_relative_to(folder):
            found.append(point)
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def mount_proc_and_shm() -> None:
    """/proc and /dev/shm in the world (debootstrap made the device nodes in /dev).

    They stay mounted, so that two runs in one clone (one world each, say) cannot unmount
    them under each other. Nothing of the machine's own is mounted there: deleting build/
    can harm nothing else (``umount build/arm64/rootfs/proc build/arm64/rootfs/dev/shm``
    first lets it delete everything).
    """
    for kind, target in (("proc", "proc"), ("tmpfs", "dev/shm")):
        if not (ROOTFS / target).is_mount():
            run(["mount", "-t", kind, kind, str(ROOTFS / target)])


def chroot(*cmd: str, env: dict[str, str] | None = None) -> list[str]:
    """The command line that runs ``cmd`` in the world, in the project's folder, with ``env``."""
    base = {"HOME": "/root", "PATH": f"{VENV}/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    pairs = [f"{k}={v}" for k, v in {**base, **(env or {})}.items()]
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"  # found whatever PATH env gives
    return [chroot, str(ROOTFS), "/usr/bin/env", "-i", "-C", PROJECT, *pairs, *cmd]


def copy_project() -> None:
    """The working tree's files, as they are now (tracked or new, not ignored), into the world."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    target = ROOTFS / PROJECT.lstrip("/")
    names = {name for name in listed if name and (ROOT / name).is_file()}
    for folder in ("rnn_lesson", "notebooks", "tests", "scripts"):  # files deleted here since
        for old in (target / folder).rglob("*"):
            if old.is_file() and "__pycache__" not in old.parts:
                if str(old.relative_to(target)) not in names:
                    old.unlink()
    for name in names:  # only what changed: a run in the world may be reading the rest
        source, copy = ROOT / name, target / name
        if not copy.exists() or copy.read_bytes() != source.read_bytes():
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)


def pinned_versions() -> str:
    """The versions of this venv's packages that shape what the notebooks print (pip freeze).

    Only these: the rest follow from them, and some of this venv's newest versions need a
    newer Python than Debian bookworm's 3.11.2.
    """
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return "".join(f"{line}\n" for line in frozen if line.split("==")[0].lower() in PINNED)


def install_venv() -> None:
    """The venv in the world: the project, editable, with its test extras, at pinned versions."""
    pins = pinned_versions()
    wanted = hashlib.sha256((pins + (ROOT / "pyproject.toml").read_text()).encode()).hexdigest()
    stamp = ROOTFS / VENV.lstrip("/") / ".installed"
    if stamp.exists() and stamp.read_text() == wanted:
        return
    (ROOTFS / "etc" / "pip-constraints.txt").write_text(pins)
    # This machine's certificate authorities (a proxy's among them) and name servers.
    shutil.copy2("/etc/ssl/certs/ca-certificates.crt", ROOTFS / "etc" / "host-ca.crt")
    shutil.copy2("/etc/resolv.conf", ROOTFS / "etc" / "resolv.conf")
    certs = {"SSL_CERT_FILE": "/etc/host-ca.crt", "PIP_CERT": "/etc/host-ca.crt"}
    python = f"{VENV}/bin/python"
    if not (ROOTFS / python.lstrip("/")).exists():
        run(chroot("/usr/bin/python3", "-m", "venv", VENV))
        run(chroot(python, "-m", "pip", "install", "-q", "uv", env=certs))
    # uv, a compiled program, resolves and installs far faster than pip would under emulation.
    # Without --compile-bytecode: Python compiles (and keeps) what the worlds import, no more.
    uv = [f"{VENV}/bin/uv", "pip", "install", "--python", python]
    run(chroot(*uv, "-c", "/etc/pip-constraints.txt", "-e", ".[test]", env=certs))
    # matplotlib's first import builds its font cache and says so on stderr: in a notebook's
    # first cell, that is an output nbval did not expect (01, cell 0, on a fresh build).
    run(chroot(python, "-c", "import matplotlib.pyplot"))
    stamp.write_text(wanted)


def prepare() -> None:
    """Everything the ARM worlds need, built or refreshed; raises CannotRun if impossible."""
    check_machine()
    start, cpu = time.perf_counter(), children_cpu_time()
    print("arm64 environment (build/arm64/):", flush=True)
    install_tools()
    enable_binfmt()
    build_rootfs()
    copy_project()
    mount_proc_and_shm()
    install_venv()
    took = f"{time.perf_counter() - start:.0f} s, CPU time {children_cpu_time() - cpu:.0f} s"
    print(f"arm64 environment ready, {took}", flush=True)


def children_cpu_time() -> float:
    """The CPU time of the commands run so far (debootstrap and the rest, run one by one)."""
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def inside(cmd: list[str], env: dict[str, str]) -> list[str]:
    """``cmd`` (run_worlds.py's command, with host paths) as run in the world, with ``env``."""

    def path(text: str) -> str:
        if text.startswith(str(ROOTFS)):
            return text[len(str(ROOTFS)) :] or "/"
        if text.startswith(str(ROOT)):
            return PROJECT + text[len(str(ROOT)) :]
        return text

    passed = {k: path(v) for k, v in env.items() if k in PASSED_ON or k.startswith("MALLOC_")}
    args = [path(a) for a in cmd[1:]]
    return [sys.executable, "-c", CPU_TIME, *chroot(f"{VENV}/bin/python", *args, env=passed)]


# Runs a command and then writes the CPU time it and its children took to stderr. Under
# emulation that is the time the run would take alone on a free core (CI's case), whatever
# else the machine was doing meanwhile.
CPU_TIME = (
    "import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:]); _, status, use = "
    "os.wait4(p.pid, 0); print(f'CPU time {use.ru_utime + use.ru_stime:.0f} s', file=sys.stderr); "
    "sys.exit(os.waitstatus_to_exitcode(status))"
)


def notebook_times(pytest_output: str) -> str:
    """Each notebook's seconds from pytest's --durations report, and the CPU time of the
    whole run: "01 70 s, 03 345 s; CPU time 420 s"."""
    seconds: dict[str, float] = {}
    for time_taken, notebook in re.findall(
        r"^([\d.]+)s \w+ +\S*?([^/\s]+)\.ipynb::", pytest_output, re.M
    ):
        name = notebook.split("_")[0]
        seconds[name] = seconds.get(name, 0.0) + float(time_taken)
    times = ", ".join(f"{name} {s:.0f} s" for name, s in sorted(seconds.items()))
    cpu = re.findall(r"^CPU time \d+ s$", pytest_output, re.M)
    return f"{times or '(no times)'}; {cpu[-1] if cpu else 'CPU time ?'}"
