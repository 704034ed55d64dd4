"""The classroom hub's rules that need no hub: accounts.py and policy.py.

The attacks on a running hub (the symlink race, a sign-up under the teacher's name, GET
requests that change state, kernel output read by another student) are tried by
`make classroom-check` (classroom/security_check.py).
"""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load(name: str):
    """A module of classroom/ by its file (it imports its neighbours by name)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "classroom" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


accounts = load("accounts")
policy = load("policy")


def test_the_server_command_runs_as_the_student_with_umask_077_and_copies_the_notebooks():
    cmd = accounts.server_command(Path("/srv/v/bin/jupyterhub-singleuser"), Path("/srv/nb s"))
    assert cmd[:2] == ["/bin/sh", "-c"]
    script = cmd[2]
    assert script.splitlines()[0] == "umask 077"
    assert "cp -R -- '/srv/nb s' \"$HOME/notebooks\"" in script  # quoted for the shell
    assert 'export JUPYTER_RUNTIME_DIR="$HOME/.r"' in script
    assert script.splitlines()[-1] == 'exec /srv/v/bin/jupyterhub-singleuser "$@"'


def test_the_server_command_copies_only_when_the_notebooks_are_missing(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    (source / "01.ipynb").write_text("{}")
    home = tmp_path / "home"
    home.mkdir()
    fake = tmp_path / "singleuser"
    fake.write_text('#!/bin/sh\necho started "$@"\n')
    fake.chmod(0o755)
    cmd = accounts.server_command(fake, source) + ["--arg"]
    import subprocess

    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "started --arg"
    copied = home / "notebooks" / "01.ipynb"
    assert copied.read_text() == "{}"
    assert copied.stat().st_mode & 0o077 == 0  # umask 077
    copied.write_text("the student's work")
    subprocess.run(cmd, env=env, capture_output=True, check=True)
    assert copied.read_text() == "the student's work"


def test_only_folders_of_root_alone_are_accepted(tmp_path):
    accounts.check_root_only(Path("/"), "X")  # root's, mode 755, on every Linux machine
    writable = tmp_path / "open"
    writable.mkdir()
    writable.chmod(0o777)
    with pytest.raises(ValueError, match="writable by root alone"):
        accounts.check_root_only(writable, "CLASSROOM_NOTEBOOKS")
    link = tmp_path / "link"
    link.symlink_to("/")
    with pytest.raises(ValueError, match="symbolic link"):
        accounts.check_root_only(link, "CLASSROOM_NOTEBOOKS")
    with pytest.raises(ValueError, match="does not exist"):
        accounts.check_root_only(Path("/no/such/folder"), "CLASSROOM_NOTEBOOKS")
    with pytest.raises(ValueError, match="absolute"):
        accounts.check_root_only(Path("srv"), "CLASSROOM_NOTEBOOKS")


@pytest.mark.skipif(os.geteuid() != 0, reason="changes a folder's owner")
def test_a_folder_a_student_owns_is_refused(tmp_path):
    owned = tmp_path / "owned"
    owned.mkdir(mode=0o755)
    os.chown(owned, 65534, 65534)
    with pytest.raises(ValueError, match="owner uid 65534"):
        accounts.check_root_only(owned, "CLASSROOM_NOTEBOOKS")


def test_kernel_sockets_must_fit_the_unix_limit():
    longest_home = "/home/" + "x" * accounts.MAX_NAME
    assert accounts.socket_path_length(longest_home) <= accounts.MAX_SOCKET_PATH
    # The socket path as jupyter_client builds it for ipc: <connection file>-ipc-<n>.
    example = f"{longest_home}/.r/kernel-{'0' * 8}-{'0' * 4}-{'0' * 4}-{'0' * 4}-{'0' * 12}-ipc-5"
    assert len(example) <= accounts.socket_path_length(longest_home)
    with pytest.raises(ValueError, match="too long"):
        accounts.check_home_base(Path("/" + "h" * 60))


def test_no_processes_of_a_system_account_are_ended():
    import pwd

    with pytest.raises(PermissionError, match="system account"):
        accounts.end_processes(pwd.getpwuid(0))


def test_the_class_list_is_read_strictly(tmp_path):
    path = tmp_path / "class.txt"
    path.write_text("# 2026 class\ntanaka\n\nsuzuki  # late\n")
    assert policy.read_class_list(path) == {"tanaka", "suzuki"}
    for text, message in [
        ("tanaka\ntanaka\n", "line 2: 'tanaka' is listed twice"),
        ("Tanaka\n", "line 1: 'Tanaka' is not a usable name"),
        ("# nobody\n", "lists no student"),
    ]:
        path.write_text(text)
        with pytest.raises(ValueError, match=message):
            policy.read_class_list(path)
    with pytest.raises(ValueError, match="cannot read"):
        policy.read_class_list(tmp_path / "missing.txt")


def test_the_teacher_hash_must_be_a_bcrypt_hash_in_a_root_only_file(tmp_path):
    path = tmp_path / "teacher.bcrypt"
    with pytest.raises(ValueError, match="make classroom-teacher"):
        policy.read_teacher_hash(path)
    good = b"$2b$12$" + b"a" * 53
    path.write_bytes(good + b"\n")
    path.chmod(0o644)
    with pytest.raises(ValueError, match="mode 0600"):
        policy.read_teacher_hash(path)
    path.chmod(0o600)
    if os.geteuid() == 0:
        assert policy.read_teacher_hash(path) == good
        path.write_bytes(b"plain text password")
        with pytest.raises(ValueError, match="bcrypt"):
            policy.read_teacher_hash(path)


def test_failed_sign_ins_close_one_address_and_name_for_a_fixed_window():
    now = [0.0]
    limiter = policy.SignInLimiter(3, 600, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.wait_s("10.0.0.5", "teacher") == 0
        limiter.failed("10.0.0.5", "teacher")
    assert limiter.wait_s("10.0.0.5", "teacher") == 600
    # The teacher's own address and the attacker's other names stay open.
    assert limiter.wait_s("10.0.0.9", "teacher") == 0
    assert limiter.wait_s("10.0.0.5", "tanaka") == 0
    # Failing on while closed does not extend the window.
    now[0] = 599.0
    limiter.failed("10.0.0.5", "teacher")
    assert limiter.wait_s("10.0.0.5", "teacher") == pytest.approx(1.0)
    now[0] = 600.0
    assert limiter.wait_s("10.0.0.5", "teacher") == 0
    limiter.failed("10.0.0.5", "teacher")
    assert limiter.wait_s("10.0.0.5", "teacher") == 0  # a new window, one failure in it
    limiter.succeeded("10.0.0.5", "teacher")
    with pytest.raises(ValueError, match="limit"):
        policy.SignInLimiter(0, 600)


@pytest.mark.skipif(os.geteuid() != 0, reason="creates a system account")
def test_every_process_of_a_student_ends_and_nothing_else(tmp_path):
    import pwd
    import secrets
    import subprocess
    import time

    name = "rnnut" + secrets.token_hex(3)
    subprocess.run(["useradd", "--no-create-home", name], check=True, capture_output=True)
    try:
        account = pwd.getpwnam(name)
        survivor = subprocess.Popen(["sleep", "60"], start_new_session=True)  # root's
        started = [
            subprocess.Popen(
                ["runuser", "-u", name, "--", "setsid", "sh", "-c", "sleep 60 & sleep 60"],
                cwd="/",
            )
            for _ in range(2)
        ]
        deadline = time.monotonic() + 10
        while len(accounts.processes_of(account.pw_uid)) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(accounts.processes_of(account.pw_uid)) >= 4
        assert accounts.end_processes(account) >= 4
        assert accounts.processes_of(account.pw_uid) == []  # zombies are not counted
        assert survivor.poll() is None
        survivor.kill()
        survivor.wait()
        for p in started:
            p.wait(10)
    finally:
        subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
        subprocess.run(["userdel", name], capture_output=True)


def test_a_home_left_without_its_account_is_not_handed_to_a_new_account(tmp_path):
    import grp

    (tmp_path / "rnnutleft").mkdir()
    with pytest.raises(PermissionError, match="will not hand a new account an old home"):
        accounts.ensure_account("rnnutleft", grp.getgrgid(0).gr_name, tmp_path)
