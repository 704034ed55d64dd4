"""The README's route without make, as a newcomer on Linux follows it.

The lines of the README's fenced block for Linux and macOS (the one after the comment that
names this file) run in a fresh copy of the repository, one after another, with plain
`python3` and pip: a new venv, then ``pip install -e ".[lab]"`` from PyPI. The block's last
line, which opens JupyterLab, runs as written with the options a test needs (no browser, a
port and a token of its own, ``--allow-root`` as root) and must serve JupyterLab; then
notebook 01 runs headless in the new venv (``jupyter nbconvert --execute``) and must run
without an error. The Windows block must say the same with Windows's paths.

It takes about a minute, most of it pip downloading and installing JupyterLab's ~100
packages, so it needs PyPI, like ``make test``'s own install. It runs in ``make test`` with
the other unit tests, beside the numerical worlds (docs/development.md). To leave it out of a
quick run: ``pytest -m "not no_make_route"``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
LINUX_MARKER = "tests/test_no_make_route.py runs these lines"
WINDOWS_MARKER = "tests/test_no_make_route.py checks that they match"
LAUNCH = ".venv/bin/jupyter lab "


def fenced_block_after(text: str, marker: str) -> list[str]:
    """The command lines of the first fenced code block after the line holding ``marker``
    (blank lines and `#` comments left out)."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if marker in line), None)
    assert start is not None, f"the README has no line with {marker!r}"
    fence = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("```"))
    assert fence == start + 1, "the fenced block must follow the marker's line"
    end = next(i for i in range(fence + 1, len(lines)) if lines[i].startswith("```"))
    block = [line.strip() for line in lines[fence + 1 : end]]
    return [line for line in block if line and not line.startswith("#")]


def linux_lines() -> list[str]:
    return fenced_block_after(README.read_text(encoding="utf-8"), LINUX_MARKER)


def test_the_readme_block_is_found_and_ends_by_opening_notebook_01():
    lines = linux_lines()
    assert lines[0].startswith("python3 -m venv .venv"), lines
    assert any('pip install -e ".[lab]"' in line for line in lines), lines
    assert lines[-1] == LAUNCH + "notebooks/01_concept.ipynb", lines
    assert not any(line.startswith(LAUNCH) for line in lines[:-1]), lines
    assert fenced_block_after("x\n<!-- m -->\n```sh\n# c\n\na b\n```\n", "m") == ["a b"]


def test_the_windows_block_says_the_same():
    text = README.read_text(encoding="utf-8")
    windows = fenced_block_after(text, WINDOWS_MARKER)
    expected = []
    for line in linux_lines():
        line = re.sub(r"^python3 ", "py ", line)
        line = line.replace(".venv/bin/", ".venv\\Scripts\\")
        line = line.replace("notebooks/", "notebooks\\")
        expected.append(line)
    assert windows == expected


def copy_of_the_repository(dest: Path) -> Path:
    """The files a fresh clone has: git's tracked files (as they are in the working tree) and
    new files not ignored, without .venv and the other ignored folders."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is skipped
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def newcomer_environment(home: Path) -> dict[str, str]:
    """This process's environment as a newcomer's shell would have it: no venv active (the
    one running these tests left off PATH), and Jupyter's and IPython's folders in ``home``,
    so that no setting or kernel of this machine's user takes part."""
    env = dict(os.environ)
    active = env.pop("VIRTUAL_ENV", None)
    ours = {str(Path(sys.prefix) / "bin"), *([str(Path(active) / "bin")] if active else [])}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p not in ours)
    for name in ("PYTHONPATH", "PYTHONHOME", "JUPYTER_PATH", "JUPYTER_CONFIG_PATH"):
        env.pop(name, None)
    for name, sub in (
        ("JUPYTER_CONFIG_DIR", "jupyter-config"),
        ("JUPYTER_DATA_DIR", "jupyter-data"),
        ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"),
        ("IPYTHONDIR", "ipython"),
    ):
        env[name] = str(home / sub)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except OSError as e:  # refused while the server starts, or an HTTP error
        return getattr(e, "code", 0) or 0, str(e)


def run(line: str, cwd: Path, env: dict, timeout: float) -> subprocess.CompletedProcess:
    done = subprocess.run(
        ["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"`{line}` failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.no_make_route
def test_the_route_without_make_opens_jupyterlab_and_runs_notebook_01(tmp_path):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout, to copy what a clone has")
    repo = copy_of_the_repository(tmp_path / "rnn-lesson")
    env = newcomer_environment(tmp_path / "home")
    *install, launch = linux_lines()
    times = {}

    start = time.perf_counter()
    for line in install:
        run(line, repo, env, timeout=900)
    times["install"] = time.perf_counter() - start
    python = repo / ".venv" / "bin" / "python"
    where = run(f"{python} -c 'import rnn_lesson; print(rnn_lesson.__file__)'", repo, env, 60)
    assert where.stdout.strip().startswith(str(repo)), where.stdout  # the copy, editable

    # The last line, as written, plus what a test needs: it must serve JupyterLab.
    port, token = free_port(), "no-make-route-test"
    base = f"http://127.0.0.1:{port}"
    options = f" --no-browser --port={port} --IdentityProvider.token={token}"
    if os.geteuid() == 0:
        options += " --allow-root"
    start = time.perf_counter()
    lab = subprocess.Popen(
        ["bash", "-c", "exec " + launch + options],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        status, body = 0, ""
        while time.perf_counter() - start < 120 and lab.poll() is None:
            status, body = get(f"{base}/lab/tree/notebooks/01_concept.ipynb?token={token}")
            if status == 200:
                break
            time.sleep(0.5)
        assert status == 200 and "JupyterLab" in body, (status, body[:500])
        status, specs = get(f"{base}/api/kernelspecs?token={token}")
        assert status == 200 and "python3" in json.loads(specs)["kernelspecs"], specs[:500]
        times["lab"] = time.perf_counter() - start
    finally:
        lab.terminate()
        try:
            log = lab.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            lab.kill()
            log = lab.communicate()[0]
    assert f":{port}/lab" in log, log[-3000:]

    # Notebook 01, headless, in the new venv's kernel.
    start = time.perf_counter()
    out = tmp_path / "executed"
    run(
        f".venv/bin/jupyter nbconvert --to notebook --execute --output-dir {out} "
        "notebooks/01_concept.ipynb",
        repo,
        env,
        timeout=600,
    )
    times["notebook 01"] = time.perf_counter() - start
    executed = json.loads((out / "01_concept.ipynb").read_text(encoding="utf-8"))
    code = [c for c in executed["cells"] if c["cell_type"] == "code"]
    assert code and all(c.get("execution_count") for c in code if c["source"])
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    print("route without make, seconds:", {k: round(v, 1) for k, v in times.items()})
    shutil.rmtree(repo)  # the venv is some 430 MB; pytest keeps its last three tmp folders
