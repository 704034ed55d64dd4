"""The ARM worlds of scripts/run_worlds.py, without emulating anything (that takes an hour)."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def runner():
    spec = importlib.util.spec_from_file_location("run_worlds", ROOT / "scripts" / "run_worlds.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def arm(runner, monkeypatch):
    """scripts/arm_world.py on a machine that could run it: x86-64, root."""
    module = runner.arm_world
    monkeypatch.setattr(module.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(module.os, "geteuid", lambda: 0)
    return module


def test_the_arm_worlds_are_named_and_run_only_when_asked(runner):
    assert runner.arm_world.WORLDS == {"arm64": {}, "arm64-neon": {"QEMU_CPU": "neoverse-n1"}}
    assert not set(runner.worlds()) & {"arm64", "arm64-neon"}  # make test stays x86 only
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^arm-worlds:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe and "run_worlds.py" in recipe.group(1)
    assert re.search(r"^ARM_WORLDS \?= arm64 arm64-neon$", makefile, re.M)


def test_not_root_is_refused_with_a_clear_message(arm, monkeypatch):
    monkeypatch.setattr(arm.os, "geteuid", lambda: 1000)
    with pytest.raises(arm.CannotRun, match="need root"):
        arm.check_machine()


def test_another_processor_is_refused(arm, monkeypatch):
    monkeypatch.setattr(arm.platform, "machine", lambda: "aarch64")
    with pytest.raises(arm.CannotRun, match="default world is already an ARM world"):
        arm.check_machine()


def test_binfmt_misc_that_cannot_be_mounted_is_said(arm, monkeypatch, tmp_path):
    monkeypatch.setattr(arm, "BINFMT", tmp_path)  # no "register" file there: not mounted
    calls = []

    def mount(cmd, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 32, "", "mount: permission denied")

    monkeypatch.setattr(arm.subprocess, "run", mount)
    with pytest.raises(arm.CannotRun, match="binfmt_misc is not mounted.*permission denied"):
        arm.enable_binfmt()
    assert calls and calls[0][:3] == ["mount", "-t", "binfmt_misc"]


def test_qemu_is_registered_when_binfmt_misc_lacks_it(arm, monkeypatch, tmp_path):
    conf = tmp_path / "qemu-aarch64.conf"
    conf.write_text(":qemu-aarch64:M::magic:mask:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:OPF\n")
    binfmt = tmp_path / "binfmt_misc"
    binfmt.mkdir()
    (binfmt / "register").write_text("")
    monkeypatch.setattr(arm, "BINFMT", binfmt)
    monkeypatch.setattr(arm, "QEMU_CONF", conf)
    (binfmt / "qemu-aarch64").write_text("disabled\n")  # registered, but switched off
    with pytest.raises(arm.CannotRun, match="disabled"):
        arm.enable_binfmt()
    (binfmt / "qemu-aarch64").unlink()
    with pytest.raises(FileNotFoundError):  # a real kernel would now list qemu-aarch64
        arm.enable_binfmt()
    assert (binfmt / "register").read_text() == conf.read_text().strip()


def test_run_worlds_stops_with_the_message_before_any_world(runner, monkeypatch, capsys):
    monkeypatch.setattr(runner.arm_world.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(runner.arm_world.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(runner, "run_world", lambda *a: pytest.fail("a world ran"))
    monkeypatch.setattr(sys, "argv", ["run_worlds.py", "--world", "arm64-neon"])
    assert runner.main() == 2
    assert "cannot run the ARM worlds: the ARM worlds need root" in capsys.readouterr().err


def test_a_command_runs_in_the_world_with_its_paths_and_variables(arm):
    ipython_dir = str(arm.ROOTFS / "tmp" / "abc")
    notebook = str(ROOT / "notebooks" / "03_bptt.ipynb")
    env = {
        "QEMU_CPU": "neoverse-n1",
        "OPENBLAS_NUM_THREADS": "1",
        "OPENBLAS_CORETYPE": "Haswell",  # an x86 kernel: left out
        "MALLOC_TRIM_THRESHOLD_": "5",
        "IPYTHONDIR": ipython_dir,
        "PATH": "/host/bin",
    }
    cmd = arm.inside([sys.executable, "-c", "code", "--nbval", notebook], env)
    assert cmd[:3] == [sys.executable, "-c", arm.CPU_TIME]  # times the run on the host
    cmd = cmd[3:]
    assert Path(cmd[0]).name == "chroot" and cmd[1] == str(arm.ROOTFS)
    assert cmd[-5:] == [
        "/venv/bin/python",
        "-c",
        "code",
        "--nbval",
        "/project/notebooks/03_bptt.ipynb",
    ]
    assert {"QEMU_CPU=neoverse-n1", "OPENBLAS_NUM_THREADS=1", "MALLOC_TRIM_THRESHOLD_=5"} < set(cmd)
    assert "IPYTHONDIR=/tmp/abc" in cmd and "PATH=/venv/bin:/usr/bin:/bin" in cmd
    assert not any(a.startswith("OPENBLAS_CORETYPE") or "/host/bin" in a for a in cmd)


def test_the_mirror_is_the_one_apt_uses(arm, monkeypatch, tmp_path):
    (tmp_path / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\n"
    )
    real = Path

    monkeypatch.setattr(
        arm, "Path", lambda p: tmp_path if p == "/etc/apt/sources.list.d" else real(p)
    )
    assert arm.debian_mirror() == "http://mirror.example/debian"


def test_each_notebooks_time_and_the_cpu_time_are_read_from_the_output(arm):
    output = (
        "....\n=== slowest durations ===\n12.50s call     notebooks/03_bptt.ipynb::Cell 4\n"
        "2.50s setup    notebooks/03_bptt.ipynb::Cell 0\n"
        "0.40s call     notebooks/01_concept.ipynb::Cell 1\n4 passed in 20.0s\nCPU time 31 s\n"
    )
    assert arm.notebook_times(output) == "01 0 s, 03 15 s; CPU time 31 s"
    done = subprocess.run(
        [sys.executable, "-c", arm.CPU_TIME, sys.executable, "-c", "import sys; sys.exit(3)"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 3 and re.fullmatch(r"CPU time \d+ s\n", done.stderr)


def test_an_arm_world_gives_each_cell_more_time_than_nbvals_default(runner, monkeypatch, tmp_path):
    """Under emulation on a busy machine, notebook 05's sweep ran past nbval's 2,000 s."""
    seen = {}

    def fake_run(cmd, **kwargs):
        seen["cmd"] = cmd
        return subprocess.CompletedProcess(cmd, 0, "1 passed\n", "")

    monkeypatch.setattr(runner.arm_world, "ROOTFS", tmp_path)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(runner.arm_world, "inside", lambda cmd, env: cmd)
    monkeypatch.setattr(runner, "describe", lambda env, arm=False: "")
    monkeypatch.setattr(runner.arm_world, "notebook_times", lambda text: "")
    monkeypatch.setattr(runner.subprocess, "run", fake_run)
    runner.run_world("arm64", {}, ["notebooks/05_experiments.ipynb"], side_by_side=False)
    assert f"--nbval-cell-timeout={runner.ARM_CELL_TIMEOUT}" in seen["cmd"]
    assert runner.ARM_CELL_TIMEOUT > 2000
    runner.run_world("nehalem", {}, ["notebooks/05_experiments.ipynb"], side_by_side=False)
    assert not any("cell-timeout" in part for part in seen["cmd"])  # x86 keeps nbval's default
