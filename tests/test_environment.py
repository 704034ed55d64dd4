"""The set-up stays consistent: pyproject.toml vs environment.yml and binder/, the install
routes, CI, the README, imports."""

import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:>=\s*([0-9][0-9A-Za-z.]*))?\s*$")
IGNORED = {"python", "pip"}


def parse_requirement(text: str) -> tuple[str, str | None]:
    """'numpy>=2' -> ('numpy', '2'); a name without a bound -> (name, None)."""
    m = REQUIREMENT.match(text)
    if not m:
        raise AssertionError(f"not a 'name' or 'name>=version' requirement: {text!r}")
    return re.sub(r"[-_.]+", "-", m.group(1).lower()), m.group(2)


def conda_dependencies(text: str) -> tuple[list[str], list[str]]:
    """The conda and pip items of environment.yml's top-level `dependencies:` list.

    A small line parser for this simple file (pyyaml is not a dependency): items are
    `- spec` lines; a `- pip:` item opens a nested list of pip items.
    """
    conda, pip = [], []
    in_deps, pip_indent = False, None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            in_deps = line == "dependencies:"
            pip_indent = None
            continue
        if not in_deps:
            continue
        item = line.strip()
        assert item.startswith("- "), f"unexpected line in dependencies: {raw!r}"
        value = item[2:].strip()
        if pip_indent is not None and indent > pip_indent:
            pip.append(value)
            continue
        pip_indent = None
        if value == "pip:":
            pip_indent = indent
        else:
            conda.append(value)
    return conda, pip


def test_the_parser_on_a_sample():
    sample = (
        "name: x\ndependencies:\n  - python>=3.10\n  - numpy>=2  # comment\n"
        "  - pip\n  - pip:\n      - -e .\n  - pytest>=8\nchannels:\n  - conda-forge\n"
    )
    assert conda_dependencies(sample) == (
        ["python>=3.10", "numpy>=2", "pip", "pytest>=8"],
        ["-e ."],
    )
    assert parse_requirement("Foo_Bar>=1.2") == ("foo-bar", "1.2")
    assert parse_requirement("pip") == ("pip", None)
    with pytest.raises(AssertionError):
        parse_requirement("numpy<2")


def load_project() -> dict:
    # tomllib is in the standard library from Python 3.11; on 3.10 these checks skip.
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def load():
    project = load_project()
    extras = project["optional-dependencies"]
    wanted = project["dependencies"] + extras["lab"] + extras["test"]
    conda, pip = conda_dependencies((ROOT / "environment.yml").read_text())
    return wanted, conda, pip


# Which of pyproject.toml's lists each conda environment installs. A dependency added to
# pyproject.toml goes into each file that installs its list, with the same lower bound.
ENVIRONMENT_FILES = {
    "environment.yml": ("dependencies", "lab", "test"),  # the conda route: learner and tests
    "binder/environment.yml": ("dependencies", "lab"),  # what the notebooks need in JupyterLab
}
CONDA_ONLY = IGNORED | {"python=3.11"}


@pytest.mark.parametrize("path", sorted(ENVIRONMENT_FILES))
def test_the_conda_environments_match_pyproject(path):
    project = load_project()
    lists = {"dependencies": project["dependencies"], **project["optional-dependencies"]}
    wanted = [r for name in ENVIRONMENT_FILES[path] for r in lists[name]]
    from_pyproject = dict(parse_requirement(r) for r in wanted)
    conda, _ = conda_dependencies((ROOT / path).read_text())
    from_conda = dict(parse_requirement(r) for r in conda if r not in CONDA_ONLY)
    for name in IGNORED:
        from_conda.pop(name, None)
    missing = {k: v for k, v in from_pyproject.items() if k not in from_conda}
    extra = {k: v for k, v in from_conda.items() if k not in from_pyproject}
    assert not missing, f"in pyproject.toml but not in {path}: {missing}"
    assert not extra, f"in {path} but not in pyproject.toml's {ENVIRONMENT_FILES[path]}: {extra}"
    differ = {k: (v, from_conda[k]) for k, v in from_pyproject.items() if from_conda[k] != v}
    assert not differ, f"lower bounds differ (pyproject, {path}): {differ}"


def test_every_dependency_has_a_lower_bound():
    wanted, _, _ = load()
    unbounded = [r for r in wanted if parse_requirement(r)[1] is None]
    assert not unbounded, f"give these a lower bound known to work: {unbounded}"


def test_jupyterlab_is_the_extra_lab_and_only_there():
    project = load_project()
    extras = project["optional-dependencies"]
    assert [parse_requirement(r)[0] for r in extras["lab"]] == ["jupyterlab"]
    names = {parse_requirement(r)[0] for r in project["dependencies"]}
    assert {"numpy", "matplotlib", "ipywidgets", "threadpoolctl"} <= names
    assert not names & {"jupyterlab", "notebook", "jupyter", "jupyter-server"}, names


def requirements_of(name: str, extras: frozenset = frozenset()) -> set[str]:
    """The names a distribution installed here requires, markers evaluated for this Python
    and the given extras (none: what `pip install name` brings)."""
    from importlib.metadata import distribution

    from packaging.requirements import Requirement  # JupyterLab's dependency, installed

    found = set()
    for text in distribution(name).requires or []:
        req = Requirement(text)
        envs = [{"extra": e} for e in extras] or [{"extra": ""}]
        if req.marker is None or any(req.marker.evaluate(env) for env in envs):
            found.add(re.sub(r"[-_.]+", "-", req.name.lower()))
    return found


def test_installing_the_package_alone_pulls_no_jupyterlab():
    """Every package `pip install .` brings, found through the installed packages' metadata
    (the dependencies of the dependencies, and so on): JupyterLab and its server are not
    among them, so a learner who has Jupyter already gets no second one."""
    # The package's own list from pyproject.toml (the installed copy's may be older), the
    # rest from the metadata of the packages installed here.
    seen, todo = set(), {parse_requirement(r)[0] for r in load_project()["dependencies"]}
    while todo:
        name = todo.pop()
        seen.add(name)
        todo |= requirements_of(name) - seen
    assert {"numpy", "matplotlib", "ipywidgets", "threadpoolctl"} <= seen
    assert not seen & {"jupyterlab", "jupyter-server", "notebook", "jupyterlab-server"}, seen


def test_every_install_route_installs_jupyterlab_where_it_is_needed():
    """make lab, make test (and lab-check, which uses make lab's venv), the students' venv of
    the classroom hub, the README's route without make; conda and Binder by their lists."""
    makefile = (ROOT / "Makefile").read_text()

    def recipe(target):
        m = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", makefile, re.M)
        assert m, f"no `{target}:` in the Makefile"
        return m.group(1)

    assert '-e ".[lab]"' in recipe("$(VENV)/.installed-lab")
    assert '-e ".[lab,test]"' in recipe("$(VENV)/.installed-test")
    assert '".[lab]"' in recipe("classroom-venv")
    assert "$(VENV)/.installed-lab" in makefile.split("\nlab-check:")[1].splitlines()[0]
    readme = (ROOT / "README.md").read_text()
    assert readme.count('-m pip install -e ".[lab]"') == 2  # Linux and macOS, Windows


def test_environment_yml_installs_the_package_and_python():
    _, conda, pip = load()
    assert "-e ." in pip, "environment.yml needs `- pip: [-e .]` to install rnn_lesson"
    names = {parse_requirement(r)[0] for r in conda}
    assert {"python", "pip"} <= names
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^name:\s*rnn-lesson\s*$", text, re.M)
    assert re.search(r"^channels:\s*\n\s*-\s*conda-forge\s*$", text, re.M)


def test_ci_runs_make_test_then_the_browser_check():
    lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert "make test" in lines, lines
    assert "make lab-check" in lines, lines
    assert lines.index("make test") < lines.index("make lab-check"), lines


def load_lab_check():
    path = ROOT / "scripts" / "check_in_lab.py"
    spec = importlib.util.spec_from_file_location("check_in_lab", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_lab_check_runs_the_browser_check_on_the_system_chromium():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^lab-check:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe, "no `lab-check:` target in the Makefile"
    body = recipe.group(1)
    assert "scripts/check_in_lab.py" in body
    assert re.search(r"apt-get install -y chromium", body), "installs Chromium when missing"
    assert "pip install playwright" in makefile
    # Playwright drives the system's Chromium; `playwright install` would download browsers.
    commands = [s for s in makefile.splitlines() if s.startswith("\t")]
    commands += [s for s in (ROOT / ".ci" / "run").read_text().splitlines() if "#" not in s]
    assert not [s for s in commands if re.search(r"playwright\s+install", s)]


def test_the_browser_check_runs_the_notebooks_longest_first_by_the_teaching_doc():
    check = load_lab_check()
    seconds = check.documented_seconds(check.TIMES_DOC.read_text(encoding="utf-8"))
    names = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert {name[:2] for name in names} <= set(seconds), ("documented times", seconds, names)
    order = check.run_order(names, seconds)
    assert sorted(order) == names
    times = [seconds[name[:2]] for name in order]
    assert times == sorted(times, reverse=True), order
    # a notebook docs/classroom.md does not time yet counts as a long one
    assert check.run_order(["01_a.ipynb", "99_new.ipynb"], {"01": 7.0})[0] == "99_new.ipynb"


def test_the_browser_check_says_it_cannot_start_and_starts_nothing(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "check_in_lab.py"),
            "--lab-python",
            str(tmp_path / "no-venv" / "bin" / "python"),
            "--chromium",
            str(tmp_path / "no-chromium"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout.startswith("FAIL  "), done.stdout
    assert "JupyterLab on" not in done.stdout


def test_readme_names_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme
    assert "make lab" in readme
    assert "environment.yml" in readme, "the README shows the conda route"
    assert "mybinder.org" in readme, "the README shows Binder"


def make_test_recipe() -> str:
    """The commands of `make test`, continued lines joined and $(PYTEST_UNIT) written out."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe, "no `test:` target in the Makefile"
    unit = re.search(r"^PYTEST_UNIT\s*:?=\s*(.*)$", makefile, re.M)
    body = re.sub(r"\\\n\t*", "", recipe.group(1))
    return body.replace("$(PYTEST_UNIT)", unit.group(1) if unit else "$(PYTEST_UNIT)")


def test_make_test_runs_unit_tests_and_strict_nbval_in_several_worlds():
    body = make_test_recipe()
    assert re.search(r"pytest\b.*\btests\b", body)
    assert "scripts/run_worlds.py" in body
    runner = (ROOT / "scripts" / "run_worlds.py").read_text()
    assert '"--nbval", "--nbval-current-env"' in runner
    for text in (body, runner):  # strict: stored outputs are compared, no number is masked
        assert "--nbval-lax" not in text and "--nbval-sanitize-with" not in text


def test_the_unit_tests_run_beside_the_worlds_and_count():
    body = make_test_recipe()
    assert re.search(r"run_worlds\.py .*--beside \"[^\"]*pytest\b[^\"]*\btests\"", body), body
    # and the README's route without make, from the start (it mostly waits for downloads)
    early = re.search(r"--early \"([^\"]*)\"", body)
    assert early and "-m no_make_route tests/test_no_make_route.py" in early.group(1), body
    assert "-m 'not no_make_route' tests\"" in body, "the other unit tests leave it out"
    runner = load_runner()
    head, ok, output = runner.run_beside("echo first line; echo 3 passed", side_by_side=True)
    assert ok and "3 passed" in head and "first line" in output
    head, ok, output = runner.run_beside("echo 1 failed >&2; exit 1", side_by_side=False)
    assert not ok and "1 failed" in output


def test_the_command_beside_starts_after_every_world(monkeypatch, capsys):
    runner = load_runner()
    started = []

    def world(name, extra, notebooks, side_by_side):
        started.append(name)
        return name, True, ""

    def beside(command, side_by_side):
        started.append(command)
        return command, command != "fails", ""

    monkeypatch.setattr(runner, "run_world", world)
    monkeypatch.setattr(runner, "run_beside", beside)
    for command, code in (("unit tests", 0), ("fails", 1)):
        started.clear()
        argv = ["run_worlds.py", "--jobs", "1", "--world", "default", "--world", "nehalem"]
        monkeypatch.setattr(sys, "argv", [*argv, "--beside", command])
        assert runner.main() == code
        assert started == ["default", "nehalem", command]
    out = capsys.readouterr().out
    assert "`unit tests`: passed" in out and "`fails`: FAILED" in out


def test_the_early_command_runs_beside_the_worlds_outside_their_places(monkeypatch, capsys):
    """--early: started with the worlds, even with one place (--jobs 1) taken by a world that
    waits for it; its failure fails the run."""
    import threading

    runner = load_runner()
    early_started = threading.Event()

    def world(name, extra, notebooks, side_by_side):
        return name, early_started.wait(timeout=10), ""

    def beside(command, side_by_side):
        if command.startswith("early"):
            early_started.set()
        return command, not command.endswith("fails"), ""

    monkeypatch.setattr(runner, "run_world", world)
    monkeypatch.setattr(runner, "run_beside", beside)
    for command, code in (("early", 0), ("early fails", 1)):
        early_started.clear()
        argv = ["run_worlds.py", "--jobs", "1", "--world", "default"]
        monkeypatch.setattr(sys, "argv", [*argv, "--early", command, "--beside", "unit"])
        assert runner.main() == code
    out = capsys.readouterr().out
    assert "`early`: passed" in out and "`early fails`: FAILED" in out
    assert "`unit`: passed" in out and "worlds: 1 passed, 0 failed" in out


def load_runner():
    spec = importlib.util.spec_from_file_location("run_worlds", ROOT / "scripts" / "run_worlds.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="x86-64 only")
def test_the_worlds_differ_in_blas_kernel_or_numpy_simd():
    worlds = load_runner().worlds()
    assert worlds["default"] == {}
    others = [env for name, env in worlds.items() if name != "default"]
    assert len({tuple(sorted(env.items())) for env in others}) == len(others)  # all different
    assert {"OPENBLAS_CORETYPE": "Nehalem"} in others
    assert any("NPY_DISABLE_CPU_FEATURES" in env for env in others)
    if {"avx2", "fma"} <= load_runner()._cpu_flags():
        assert len(others) >= 5, worlds  # so at least 4 differ from the default on any AVX2 machine


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="x86-64 only")
def test_a_machine_with_avx512_also_runs_the_avx2_world():
    """Most laptops run numpy's AVX2 code; on a machine whose numpy runs AVX-512 code, the
    default world is not theirs, so a world with that code switched off stands in for it."""
    from numpy._core._multiarray_umath import __cpu_features__

    runner = load_runner()
    worlds = runner.worlds()
    if not __cpu_features__.get("AVX512F"):
        assert "avx2" not in worlds
        return
    seen = runner.describe({**os.environ, **worlds["avx2"]})
    assert "numpy SIMD X86_V3" in seen and "AVX512" not in seen and "X86_V4" not in seen, seen


def test_make_execute_runs_in_the_avx2_world_where_there_is_one():
    runner = load_runner()
    script = ROOT / "scripts" / "run_worlds.py"
    shown = subprocess.run(
        ["bash", "-c", f'eval "$("{sys.executable}" "{script}" --env-of avx2)" && env'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for key, value in runner.worlds().get("avx2", {}).items():
        assert f"{key}={value}" in shown
    recipe = (ROOT / "Makefile").read_text().split("\nexecute:")[1].split("\n\n")[0]
    assert "--env-of avx2" in recipe and "nbconvert" in recipe


def ignored_cells() -> list[tuple[str, str]]:
    """(notebook, source) of every cell whose output nbval does not compare."""
    tagged = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if "nbval-ignore-output" in cell.get("metadata", {}).get("tags", []):
                tagged.append((path.name, "".join(cell["source"])))
            assert "nbval-skip" not in cell.get("metadata", {}).get("tags", []), path.name
    return tagged


def ignores_for_a_reason(source: str) -> bool:
    """A cell may leave its output unchecked only if it times something, shows the live
    explorer, or prints a measurement of training and asserts the claim it makes (its numbers
    differ between numerical worlds; its assert still fails the cell)."""
    code = "\n".join(line.split("#")[0] for line in source.splitlines())
    measured = "print(" in code and re.search(r"^\s*assert\b", code, re.M)
    return "perf_counter" in code or "explorer(" in code or bool(measured)


def test_ignores_for_a_reason_tells_the_cases_apart():
    assert ignores_for_a_reason("t = time.perf_counter()")
    assert ignores_for_a_reason("box = explorer(n_seeds=5)")
    assert ignores_for_a_reason("print(rate)\nassert rate.low > 0.5")
    assert not ignores_for_a_reason("print(rate)")  # a measurement nothing checks
    assert not ignores_for_a_reason("assert x  # print(x)")
    assert not ignores_for_a_reason("print('at most 12 of 20')  # assert nothing")


def test_nbval_ignores_only_timings_the_explorer_and_asserted_measurements():
    tagged = ignored_cells()
    bad = [(name, source[:80]) for name, source in tagged if not ignores_for_a_reason(source)]
    assert not bad, bad


def test_the_numerics_do_not_import_plotting_or_widgets():
    code = (
        "import sys, rnn_lesson; "
        "bad = sorted(m for m in ('matplotlib', 'ipywidgets') if m in sys.modules); "
        "assert not bad, bad"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr


def test_the_worlds_and_the_command_beside_keep_freed_memory(monkeypatch):
    runner = load_runner()
    seen = []

    def run(cmd, *, env, **kwargs):
        seen.append(env)
        return subprocess.CompletedProcess(cmd, 0, "1 passed\n", "")

    monkeypatch.setattr(runner.subprocess, "run", run)
    monkeypatch.setattr(runner, "describe", lambda env: "described")
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "12345")  # a value set by the caller wins
    runner.run_world("nehalem", {"OPENBLAS_CORETYPE": "Nehalem"}, [], side_by_side=True)
    runner.run_beside("true", side_by_side=True)
    for env in seen:
        assert env["MALLOC_MMAP_THRESHOLD_"] == str(32 * 2**20)
        assert env["MALLOC_TRIM_THRESHOLD_"] == "12345"
    assert seen[0]["OPENBLAS_CORETYPE"] == "Nehalem" and len(seen) == 2
