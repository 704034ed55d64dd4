"""The classroom hub's configuration and the load test's arguments, checked without a hub.

The load test itself (a hub, N students, their kernels) is `make classroom-check`.
"""

import asyncio
import grp
import importlib.util
import os
import pwd
import sys
import types
from pathlib import Path

import pytest
from test_environment import conda_dependencies
from traitlets.config import Config

from rnn_lesson import workers

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "classroom" / "jupyterhub_config.py"
LOADTEST_ENV = {
    "CLASSROOM_MODE": "loadtest",
    "CLASSROOM_USER_PREFIX": "rnnltab12",
    "CLASSROOM_TEST_PASSWORD": "a-password-of-24-letters",
    "CLASSROOM_STUDENT_VENV": "/srv/some/venv",
    "CLASSROOM_PORT": "18000",
    # Folders that exist, belong to root and only root may write on any Linux machine.
    "CLASSROOM_NOTEBOOKS": "/",
    "CLASSROOM_HOME_BASE": "/",
}


def load_config(monkeypatch, env: dict[str, str]) -> tuple[Config, dict]:
    """Execute jupyterhub_config.py as JupyterHub does; return (config, its namespace)."""
    for key in [k for k in os.environ if k.startswith("CLASSROOM_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    config = Config()
    namespace = {"get_config": lambda: config, "__file__": str(CONFIG)}
    exec(compile(CONFIG.read_text(), str(CONFIG), "exec"), namespace)
    return config, namespace


def load_test_module():
    spec = importlib.util.spec_from_file_location("load_test", ROOT / "classroom" / "load_test.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["load_test"] = module
    spec.loader.exec_module(module)
    return module


def test_loadtest_mode_listens_on_loopback_with_the_dummy_authenticator(monkeypatch):
    c, _ = load_config(monkeypatch, LOADTEST_ENV)
    assert c.JupyterHub.bind_url == "http://127.0.0.1:18000"
    assert c.JupyterHub.hub_ip == "127.0.0.1"
    assert c.ConfigurableHTTPProxy.api_url.startswith("http://127.0.0.1:")
    assert c.JupyterHub.authenticator_class == "dummy"
    assert c.DummyAuthenticator.password == LOADTEST_ENV["CLASSROOM_TEST_PASSWORD"]
    assert c.Authenticator.username_pattern == r"^rnnltab12[0-9]+$"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"CLASSROOM_IP": "0.0.0.0"}, "127.0.0.1 only"),
        ({"CLASSROOM_USER_PREFIX": ""}, "CLASSROOM_USER_PREFIX"),
        ({"CLASSROOM_USER_PREFIX": "Root"}, "CLASSROOM_USER_PREFIX"),
        ({"CLASSROOM_TEST_PASSWORD": "short"}, "CLASSROOM_TEST_PASSWORD"),
        ({"CLASSROOM_MODE": "open"}, "CLASSROOM_MODE"),
    ],
)
def test_loadtest_mode_refuses_unsafe_settings(monkeypatch, change, message):
    with pytest.raises(ValueError, match=message):
        load_config(monkeypatch, {**LOADTEST_ENV, **change})


def test_teach_mode_needs_a_teacher(monkeypatch):
    with pytest.raises(ValueError, match="CLASSROOM_TEACHER"):
        load_config(monkeypatch, {"CLASSROOM_MODE": "teach"})
    with pytest.raises(ValueError, match="CLASSROOM_TEACHER"):
        load_config(monkeypatch, {"CLASSROOM_TEACHER": "Miss Smith"})


def teach_env(tmp_path, **more: str) -> dict[str, str]:
    class_list = tmp_path / "class.txt"
    class_list.write_text("tanaka\nsuzuki\n")
    return {
        "CLASSROOM_STUDENT_VENV": "/srv/some/venv",
        "CLASSROOM_NOTEBOOKS": "/",
        "CLASSROOM_HOME_BASE": "/",
        "CLASSROOM_MODE": "teach",
        "CLASSROOM_TEACHER": "teach-k7q2",
        "CLASSROOM_CLASS_LIST": str(class_list),
        **more,
    }


def stub_hub_modules(monkeypatch, tmp_path) -> type:
    """The hub's venv has nativeauthenticator and classroom_auth's imports; the project's
    venv does not. Stand-ins: a module that names a folder, and a class to point at."""
    fake = types.ModuleType("nativeauthenticator")
    fake.__file__ = str(tmp_path / "__init__.py")
    monkeypatch.setitem(sys.modules, "nativeauthenticator", fake)
    auth = types.ModuleType("classroom_auth")
    auth.ClassroomAuthenticator = type("ClassroomAuthenticator", (), {})
    monkeypatch.setitem(sys.modules, "classroom_auth", auth)
    return auth.ClassroomAuthenticator


def test_teach_mode_uses_the_classroom_authenticator(monkeypatch, tmp_path):
    authenticator = stub_hub_modules(monkeypatch, tmp_path)
    c, _ = load_config(monkeypatch, teach_env(tmp_path))
    assert c.JupyterHub.authenticator_class is authenticator
    assert c.NativeAuthenticator.open_signup is False
    assert c.NativeAuthenticator.enable_signup is True
    assert c.NativeAuthenticator.allowed_failed_logins == 0  # no lockout per name
    assert c.Authenticator.admin_users == {"teach-k7q2"}
    assert c.ClassroomAuthenticator.teacher_hash_file.endswith("teacher.bcrypt")
    assert c.ClassroomAuthenticator.class_list_file == str(tmp_path / "class.txt")
    assert c.JupyterHub.template_paths == [
        str(ROOT / "classroom" / "templates"),
        str(tmp_path / "templates"),
    ]
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8000"  # served to a class via a proxy
    assert "subdomain_host" not in c.JupyterHub


def test_teach_mode_needs_a_class_list_and_closes_sign_ups_on_request(monkeypatch, tmp_path):
    stub_hub_modules(monkeypatch, tmp_path)
    with pytest.raises(ValueError, match="CLASSROOM_CLASS_LIST"):
        load_config(monkeypatch, teach_env(tmp_path, CLASSROOM_CLASS_LIST=""))
    c, _ = load_config(monkeypatch, teach_env(tmp_path, CLASSROOM_SIGNUP="closed"))
    assert c.NativeAuthenticator.enable_signup is False
    with pytest.raises(ValueError, match="CLASSROOM_SIGNUP"):
        load_config(monkeypatch, teach_env(tmp_path, CLASSROOM_SIGNUP="later"))


def test_students_servers_can_have_origins_of_their_own(monkeypatch, tmp_path):
    stub_hub_modules(monkeypatch, tmp_path)
    host = "https://hub.example.edu"
    c, _ = load_config(monkeypatch, teach_env(tmp_path, CLASSROOM_SUBDOMAIN_HOST=host))
    assert c.JupyterHub.subdomain_host == host
    assert c.JupyterHub.cookie_host_prefix_enabled is True
    with pytest.raises(ValueError, match="CLASSROOM_SUBDOMAIN_HOST"):
        load_config(monkeypatch, teach_env(tmp_path, CLASSROOM_SUBDOMAIN_HOST="hub/x"))


def test_each_student_gets_a_local_process_in_the_project_environment(monkeypatch):
    c, ns = load_config(monkeypatch, LOADTEST_ENV)
    assert c.JupyterHub.spawner_class == "localprocess"
    assert c.Spawner.cmd[:2] == ["/bin/sh", "-c"]
    assert 'exec /srv/some/venv/bin/jupyterhub-singleuser "$@"' in c.Spawner.cmd[2]
    assert c.Spawner.environment["PATH"].startswith("/srv/some/venv/bin:")
    assert c.Spawner.default_url == "/lab/tree/notebooks/01_concept.ipynb"
    assert c.Spawner.pre_spawn_hook is ns["before_start"]
    assert c.Spawner.post_stop_hook is ns["after_stop"]
    assert c.Spawner.disable_user_config is True
    assert "--KernelManager.transport=ipc" in c.Spawner.args
    # The explorer evaluates in a thread on the shared hub: no worker processes per student.
    monkeypatch.setenv(workers.ENV_VAR, c.Spawner.environment[workers.ENV_VAR])
    assert workers.n_workers() == 0


def test_idle_servers_are_culled(monkeypatch):
    c, _ = load_config(monkeypatch, {**LOADTEST_ENV, "CLASSROOM_CULL_TIMEOUT": "600"})
    (service,) = c.JupyterHub.services
    assert service["command"][1:4] == ["-m", "jupyterhub_idle_culler", "--timeout=600"]
    (role,) = c.JupyterHub.load_roles
    assert role["services"] == [service["name"]]
    assert {"list:users", "read:users:activity", "delete:servers"} <= set(role["scopes"])


@pytest.mark.parametrize("name", ["../etc", "Root", "a b", "x" * 40, "1abc"])
def test_the_pre_spawn_hook_refuses_names_that_are_no_account_names(monkeypatch, name):
    _, ns = load_config(monkeypatch, LOADTEST_ENV)
    spawner = types.SimpleNamespace(user=types.SimpleNamespace(name=name))
    with pytest.raises(ValueError, match="not usable as a system account name"):
        asyncio.run(ns["before_start"](spawner))


def test_the_pre_spawn_hook_never_starts_a_server_as_an_account_it_did_not_create(monkeypatch):
    # root exists, is not a member (gr_mem) of its own primary group, and has uid 0: refused
    # before anything is created, and before any process is signalled.
    root_group = grp.getgrgid(0).gr_name
    assert "root" not in grp.getgrnam(root_group).gr_mem
    _, ns = load_config(monkeypatch, {**LOADTEST_ENV, "CLASSROOM_GROUP": root_group})
    spawner = types.SimpleNamespace(user=types.SimpleNamespace(name=pwd.getpwuid(0).pw_name))
    with pytest.raises(PermissionError, match="outside the group"):
        asyncio.run(ns["before_start"](spawner))
    with pytest.raises(PermissionError, match="outside the group"):
        asyncio.run(ns["after_stop"](spawner))


@pytest.mark.parametrize(
    "argv",
    [
        ["--students", "0"],
        ["--students", "101"],
        ["--students", "many"],
        ["--changes", "0"],
        ["--time-limit", "10"],
    ],
)
def test_the_load_test_refuses_bad_arguments(argv, capsys):
    load_test = load_test_module()
    with pytest.raises(SystemExit) as exit_:
        load_test.parse_args(argv)
    assert exit_.value.code == 2
    assert argv[0] in capsys.readouterr().err


def test_the_load_test_defaults_to_a_class_of_20():
    args = load_test_module().parse_args([])
    assert (args.students, args.changes) == (20, 3)


def test_the_load_test_raises_concurrency_to_the_whole_class():
    levels = load_test_module().concurrency_levels
    assert levels(1) == [1]
    assert levels(3) == [1, 2, 3]
    assert levels(20) == [1, 2, 5, 10, 15, 20]
    assert levels(24) == [1, 2, 5, 10, 15, 20, 24]
    with pytest.raises(ValueError, match="at least 1"):
        levels(0)


def test_percentiles_are_nearest_rank():
    percentile = load_test_module().percentile
    values = [float(v) for v in range(20, 0, -1)]
    assert percentile(values, 50) == 10.0
    assert percentile(values, 95) == 19.0
    assert percentile(values, 100) == 20.0
    assert percentile([3.0], 95) == 3.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_the_load_test_sends_traffic_to_loopback_only():
    hub = load_test_module().Hub(18000, "password")
    assert hub.url("/hub/login") == "http://127.0.0.1:18000/hub/login"
    with pytest.raises(RuntimeError, match="127.0.0.1"):
        hub.url("http://example.org/hub/login")


def test_binder_installs_what_the_notebooks_need_and_the_package():
    # What binder/environment.yml lists, against pyproject.toml: tests/test_environment.py.
    conda, pip = conda_dependencies((ROOT / "binder" / "environment.yml").read_text())
    assert "python=3.11" in conda and "pip" in conda
    assert pip == []  # rnn_lesson comes from postBuild, after the repository is copied in
    post_build = ROOT / "binder" / "postBuild"
    assert post_build.stat().st_mode & 0o111, "repo2docker runs postBuild as a program"
    assert "pip install --no-deps ." in post_build.read_text()
