"""The JupyterLab settings shipped with the project (jupyterlab-settings/overrides.json): valid
for this JupyterLab, read by it, and put in place by every install route (make lab's venv, the
classroom's students' venv, Binder's postBuild). `make lab-check` checks them in a browser."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from test_environment import load_lab_check

ROOT = Path(__file__).resolve().parents[1]
OVERRIDES = ROOT / "jupyterlab-settings" / "overrides.json"
NOTIFICATION = "@jupyterlab/apputils-extension:notification"
INSTALLED = Path("share", "jupyter", "lab", "settings", "overrides.json")

needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


def shipped() -> dict:
    return json.loads(OVERRIDES.read_text(encoding="utf-8"))


def schema(plugin: str) -> dict:
    package, name = plugin.split(":")
    path = Path(sys.prefix, "share", "jupyter", "lab", "schemas", package, f"{name}.json")
    return json.loads(path.read_text(encoding="utf-8"))


def test_overrides_are_json_and_turn_the_news_off():
    overrides = shipped()
    assert overrides[NOTIFICATION] == {"fetchNews": "false", "checkForUpdates": False}


def test_overrides_are_valid_for_this_jupyterlab():
    """Every plugin and value exists in the installed JupyterLab's schemas ("false" is the
    schema's "Never" for fetchNews: a string, not a boolean)."""
    for plugin, values in shipped().items():
        jsonschema.validate(values, schema(plugin))
    never = [c["const"] for c in schema(NOTIFICATION)["properties"]["fetchNews"]["oneOf"]]
    assert "false" in never


def test_jupyterlab_reads_them_as_defaults(tmp_path):
    """JupyterLab's own settings code, given the installed folder: the defaults it serves."""
    from jupyterlab_server.settings_utils import _get_overrides, get_settings

    settings = tmp_path / "share" / "jupyter" / "lab" / "settings"
    settings.mkdir(parents=True)
    shutil.copy(OVERRIDES, settings / "overrides.json")
    overrides, error = _get_overrides(str(settings))
    assert not error
    result, _ = get_settings(
        str(settings),
        str(Path(sys.prefix, "share", "jupyter", "lab", "schemas")),
        str(tmp_path / "user-settings"),
        schema_name=NOTIFICATION,
        overrides=overrides,
    )
    defaults = {k: v["default"] for k, v in result["schema"]["properties"].items()}
    assert defaults["fetchNews"] == "false"
    assert defaults["checkForUpdates"] is False


def make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@needs_make
def test_make_installs_them_into_the_venv_once(tmp_path):
    """The rule `make lab` and `make lab-check` depend on, run into a temp venv folder (-o:
    the venv's own install counts as done)."""
    venv = tmp_path / "venv"
    target = venv / INSTALLED
    base = [f"VENV={venv}", "-o", f"{venv}/.installed-lab"]
    done = make(*base, str(target))
    assert done.returncode == 0, done.stderr
    assert json.loads(target.read_text()) == shipped()
    assert make(*base, "-q", str(target)).returncode == 0  # up to date: nothing to do again
    target.write_text("{}")
    os.utime(target, (0, 0))  # older than the shipped file: copied again
    assert make(*base, str(target)).returncode == 0
    assert json.loads(target.read_text()) == shipped()


@needs_make
@pytest.mark.parametrize("goal", ["lab", "lab-check"])
def test_make_lab_and_lab_check_install_them(tmp_path, goal):
    venv = tmp_path / "venv"
    dry = make("-n", f"VENV={venv}", "-o", f"{venv}/.installed-lab", goal)
    assert dry.returncode == 0, dry.stderr
    assert f"install -D -m 644 jupyterlab-settings/overrides.json {venv / INSTALLED}" in dry.stdout


@needs_make
def test_make_classroom_venv_installs_them_for_the_students(tmp_path):
    venv = tmp_path / "students"
    dry = make("-n", f"CLASSROOM_STUDENT_VENV={venv}", "classroom-venv")
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    install = f"install -D -m 644 jupyterlab-settings/overrides.json {venv / INSTALLED}"
    assert install in lines
    chmod = [i for i, line in enumerate(lines) if line.startswith(f"chmod -R a+rX,go-w {venv}")]
    assert chmod and lines.index(install) < chmod[-1]  # then made readable to every student


def test_binder_postbuild_installs_them(tmp_path):
    """binder/postBuild run as repo2docker runs it, with a stand-in `python` whose sys.prefix
    is a temp folder (and whose pip does nothing)."""
    prefix = tmp_path / "conda-env"
    stub = tmp_path / "bin" / "python"
    stub.parent.mkdir()
    stub.write_text(f'#!/bin/sh\n[ "$1" = "-c" ] && echo "{prefix}"\nexit 0\n')
    stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{stub.parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", str(ROOT / "binder" / "postBuild")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((prefix / INSTALLED).read_text()) == shipped()


def test_lab_check_writes_no_news_setting_of_its_own(tmp_path):
    """make lab-check relies on the shipped settings, as a learner's JupyterLab does."""
    check = load_lab_check()
    check.write_settings(tmp_path)
    written = {p.relative_to(tmp_path).as_posix(): p.read_text() for p in tmp_path.rglob("*.*")}
    assert written, "write_settings wrote nothing at all"
    assert not [name for name in written if "notification" in name], written
    assert not [name for name, text in written.items() if "fetchNews" in text], written
    assert check.SHIPPED_SETTINGS == OVERRIDES


def test_lab_check_looks_for_the_pop_up_jupyterlab_shows():
    """The text lab-check looks for is the one this JupyterLab's news pop-up shows."""
    check = load_lab_check()
    static = Path(sys.prefix, "share", "jupyter", "lab", "static")
    assert any(check.NEWS_POPUP in p.read_text(errors="replace") for p in static.glob("*.js"))
