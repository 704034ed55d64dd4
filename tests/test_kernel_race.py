"""classroom/kernel_race.py without kernels: its arguments, and how it reads the kernels'
transport from the hub's configuration. The stress test itself is
`make classroom-kernel-race`."""

import os
from pathlib import Path

import pytest
from test_classroom_policy import load

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "classroom" / "jupyterhub_config.py"


@pytest.fixture(scope="module")
def race():
    load("accounts")
    load("load_test")
    return load("kernel_race")


def write_config(tmp_path: Path, args: list[str]) -> Path:
    """A hub configuration that, like ours, reads its mode from the environment."""
    path = tmp_path / "jupyterhub_config.py"
    path.write_text(
        "import os\n"
        "c = get_config()\n"
        "if os.environ['CLASSROOM_MODE'] != 'loadtest':\n"
        "    raise ValueError('not in loadtest mode')\n"
        "c.JupyterHub.bind_url = 'http://127.0.0.1:' + os.environ.get('CLASSROOM_PORT', '8000')\n"
        f"c.Spawner.args = {args!r}\n"
    )
    return path


def test_parse_args_defaults_and_bounds(race):
    args = race.parse_args([])
    assert (args.servers, args.kernels, args.rounds, args.port_churn) == (20, 2, 3, 0)
    assert args.servers * args.kernels >= 40  # the issue asks for at least 40 at once
    assert args.config == CONFIG
    for bad in (["--servers", "0"], ["--kernels", "x"], ["--time-limit", "10"], ["--only", "tcp"]):
        with pytest.raises(SystemExit) as exit_:
            race.parse_args(bad)
        assert exit_.value.code == 2


def test_parse_args_refuses_a_missing_config(race, tmp_path, capsys):
    with pytest.raises(SystemExit):
        race.parse_args(["--config", str(tmp_path / "nothing.py")])
    assert "no hub configuration" in capsys.readouterr().err


def test_settings_old_is_new_minus_the_transport(race):
    args = [
        "--MappingKernelManager.cull_idle_timeout=3600",
        "--ServerApp.some_server_option=1",
        "--KernelManager.transport=ipc",
    ]
    settings = race.kernel_settings(args)
    assert settings["new"] == [
        "--MappingKernelManager.cull_idle_timeout=3600",
        "--KernelManager.transport=ipc",
    ]
    assert settings["old"] == ["--MappingKernelManager.cull_idle_timeout=3600"]
    assert race.transport_of(settings["new"]) == "ipc"
    assert race.transport_of(settings["old"]) == "tcp"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--MappingKernelManager.cull_interval=300"], "sets no --KernelManager.transport"),
        ([], "sets no --KernelManager.transport"),
        (["--KernelManager.transport=ipc", "--KernelManager.transport=tcp"], "more than once"),
        (["--KernelManager.transport", "ipc"], "--Class.trait=value"),
    ],
)
def test_settings_refuse_a_config_with_nothing_to_compare(race, args, message):
    with pytest.raises(ValueError, match=message):
        race.kernel_settings(args)


def test_spawner_args_executes_the_config_in_loadtest_mode_and_restores_the_env(
    race, tmp_path, monkeypatch
):
    monkeypatch.setenv("CLASSROOM_MODE", "teach")
    monkeypatch.setenv("CLASSROOM_TEACHER", "someone")
    args = ["--KernelManager.transport=ipc", "--MappingKernelManager.cull_interval=300"]
    assert race.spawner_args(write_config(tmp_path, args)) == args
    assert os.environ["CLASSROOM_MODE"] == "teach"
    assert os.environ["CLASSROOM_TEACHER"] == "someone"


def test_spawner_args_of_the_hubs_config_are_the_spawners(race, monkeypatch):
    """The hub's own configuration is read as JupyterHub reads it (test_classroom.py)."""
    from test_classroom import LOADTEST_ENV, load_config

    c, _ = load_config(monkeypatch, LOADTEST_ENV)  # its folders: "/", on any machine
    assert race.spawner_args(CONFIG) == list(c.Spawner.args)


def test_spawner_args_checks_the_folders_the_environment_names(race, monkeypatch, tmp_path):
    """The hub's folders come from the environment, as for the hub itself: a folder that does
    not exist is refused, whatever the default path holds on this machine."""
    from test_classroom import LOADTEST_ENV, load_config

    load_config(monkeypatch, LOADTEST_ENV)
    monkeypatch.setenv("CLASSROOM_NOTEBOOKS", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="CLASSROOM_NOTEBOOKS: .*missing does not exist"):
        race.spawner_args(CONFIG)
    assert os.environ["CLASSROOM_NOTEBOOKS"] == str(tmp_path / "missing")  # restored


def test_round_plan_alternates(race):
    assert race.round_plan(2, None) == ["old", "new", "old", "new"]
    assert race.round_plan(3, "new") == ["new"] * 3


def test_judge(race):
    ok = {"ok": True, "transport": "ipc", "pid": 1, "error": ""}
    assert race.judge("new", "ipc", 3, 1, ok) is None
    assert "used tcp" in race.judge("new", "ipc", 3, 1, {**ok, "transport": "tcp"})
    failed = {**ok, "ok": False, "error": "ZMQError: Address already in use"}
    assert "Address already in use" in race.judge("old", "tcp", 3, 1, failed)


def test_error_lines_finds_the_kernels_error(race, tmp_path):
    log = tmp_path / "k.log"
    log.write_text(
        "Traceback (most recent call last):\n  File x\n"
        "zmq.error.ZMQError: Address already in use (addr='tcp://127.0.0.1:34851')\n"
    )
    assert race.error_lines(log).endswith("Address already in use (addr='tcp://127.0.0.1:34851')")
    assert race.error_lines(tmp_path / "missing.log") == ""


HEARTBEAT_BIND_ERROR = """Exception in thread Heartbeat:
Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/ipykernel/heartbeat.py", line 79, in _try_bind_socket
zmq.error.ZMQError: Address already in use (addr='tcp://127.0.0.1:49009')
"""
FOREIGN_MESSAGE = """Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/jupyter_client/session.py", line 1, in deserialize
    raise ValueError(msg)
ValueError: Invalid Signature: b'2cea5fe8'
"""
START_BIND_ERROR = """Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/ipykernel/kernelapp.py", line 389, in init_sockets
    self.init_iopub(context)
  File "/venv/lib/python3.11/site-packages/zmq/sugar/socket.py", line 322, in bind
zmq.error.ZMQError: Address already in use (addr='tcp://127.0.0.1:41129')
"""


def test_start_failed_spots_a_kernel_that_will_never_answer(race, tmp_path):
    log = tmp_path / "k.log"
    log.write_text("[IPKernelApp] WARNING | Kernel is running over TCP without encryption.\n")
    assert not race.start_failed(log)
    log.write_text(log.read_text() + HEARTBEAT_BIND_ERROR + FOREIGN_MESSAGE)
    assert not race.start_failed(log)  # it may still answer: the answer decides
    log.write_text(log.read_text() + START_BIND_ERROR)
    assert race.start_failed(log)
    assert not race.start_failed(tmp_path / "missing.log")
