"""The students' system accounts, and the one rule that keeps the hub safe from them.

The hub runs as root; each student's server runs as the student's own account. A student
controls everything in their home, and can leave processes running that rename, replace or
symlink any path there at any moment. So **root never opens, copies, changes the owner of or
deletes a path inside a student's home** while the student may have a process running.
What root does here:

- ``ensure_account``: creates the account with ``useradd`` (home of mode 0700) and nothing
  else. The notebooks are copied by the student's own server at its start
  (``server_command``), running as the student, from a folder that students can read and
  only root can write.
- ``end_processes``: ends every process of the account (``kill -KILL -1`` run *as* the
  student, which signals exactly the processes the student owns), when a server stops and
  before one starts, so nothing a student started outlives their server.
- ``remove_account``: ends the processes, then ``userdel --remove`` deletes the account and
  its home, once nothing of the student runs any more.

Only the standard library, so the unit tests can check it without JupyterHub.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shlex
import stat
import subprocess
import time
from pathlib import Path

# A system account name: lowercase letter first, then lowercase letters, digits, - or _.
SYSTEM_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
MAX_NAME = 32
# A kernel's sockets: <runtime dir>/kernel-<36-character id>-ipc-<n>, and a Unix socket's
# path holds at most 107 bytes (108 with its final NUL).
RUNTIME_DIR = ".r"
SOCKET_TAIL = len("/kernel-") + 36 + len("-ipc-") + 2
MAX_SOCKET_PATH = 107


def socket_path_length(home: str) -> int:
    """The longest kernel socket path for a student whose home is ``home``."""
    return len(os.fsencode(home)) + 1 + len(RUNTIME_DIR) + SOCKET_TAIL


def check_home_base(home_base: Path) -> None:
    """Refuse a home base that a student could change, or under which the longest account
    name's kernel sockets do not fit."""
    longest = socket_path_length(str(home_base / ("x" * MAX_NAME)))
    if longest > MAX_SOCKET_PATH:
        raise ValueError(
            f"CLASSROOM_HOME_BASE={str(home_base)!r} is too long: a student's kernel sockets "
            f"would need paths of up to {longest} bytes, and a Unix socket allows "
            f"{MAX_SOCKET_PATH}; use a base of at most "
            f"{MAX_SOCKET_PATH - (longest - len(os.fsencode(str(home_base))))} bytes"
        )
    check_root_only(home_base, "CLASSROOM_HOME_BASE")


def check_root_only(path: Path, what: str) -> None:
    """Refuse ``path`` unless it and every folder above it belong to root and only root
    may write there: the students' servers read it, so no student may change it."""
    path = Path(path)
    if not path.is_absolute():
        raise ValueError(f"{what} must be an absolute path, not {str(path)!r}")
    for part in [path, *path.parents]:
        try:
            info = os.lstat(part)
        except FileNotFoundError:
            raise ValueError(f"{what}: {part} does not exist") from None
        if stat.S_ISLNK(info.st_mode):
            raise ValueError(f"{what}: {part} is a symbolic link; give the real path")
        sticky_tmp = stat.S_ISVTX & info.st_mode and part != path
        if info.st_uid != 0 or (info.st_mode & 0o022 and not sticky_tmp):
            raise ValueError(
                f"{what}: {part} must belong to root and be writable by root alone "
                f"(owner uid {info.st_uid}, mode {stat.S_IMODE(info.st_mode):o})"
            )


def server_command(singleuser: Path, notebooks: Path) -> list[str]:
    """The command a student's server runs as, as the student.

    umask 077: what the student's processes create (in /tmp too) is theirs alone. The
    kernels' sockets go into ~/.r, inside the 0700 home. The notebooks are copied into
    ~/notebooks by this process, as the student, when that folder is missing.
    """
    script = "\n".join(
        [
            "umask 077",
            f'export JUPYTER_RUNTIME_DIR="$HOME/{RUNTIME_DIR}"',
            'if [ ! -e "$HOME/notebooks" ] && [ ! -L "$HOME/notebooks" ]; then',
            f'  cp -R -- {shlex.quote(str(notebooks))} "$HOME/notebooks"',
            "fi",
            f'exec {shlex.quote(str(singleuser))} "$@"',
        ]
    )
    return ["/bin/sh", "-c", script, "rnn-lesson-server"]


def in_group(name: str, group: str) -> bool:
    try:
        return name in grp.getgrnam(group).gr_mem
    except KeyError:
        return False


def student_account(name: str, group: str) -> pwd.struct_passwd:
    """The account of a student the hub created; PermissionError for any other account."""
    if not SYSTEM_NAME.match(name):
        raise ValueError(f"{name!r} is not usable as a system account name")
    account = pwd.getpwnam(name)
    if not in_group(name, group) or account.pw_uid < 1000:
        raise PermissionError(
            f"the system account {name!r} exists outside the group {group!r}; "
            "the hub starts servers only for the accounts it created"
        )
    return account


def ensure_account(name: str, group: str, home_base: Path) -> pwd.struct_passwd:
    """Create the student's account (home mode 0700) on first use; return it.

    An existing account is used only if it is in ``group``, so a hub name never starts a
    server as root or as another account of the machine. A home folder left without its
    account is refused, not adopted.
    """
    if not SYSTEM_NAME.match(name):
        raise ValueError(f"{name!r} is not usable as a system account name")
    try:
        grp.getgrnam(group)
    except KeyError:
        subprocess.run(["groupadd", "--system", group], check=True)
    try:
        pwd.getpwnam(name)
    except KeyError:
        home = home_base / name
        if os.path.lexists(home):
            raise PermissionError(
                f"{home} exists but the account {name!r} does not; the hub will not hand "
                "a new account an old home (remove it first)"
            ) from None
        subprocess.run(
            ["useradd", "--create-home", "--base-dir", str(home_base), "--user-group"]
            + ["--key", "HOME_MODE=0700", "--key", "UMASK=077"]
            + ["--groups", group, "--shell", "/bin/bash", "--comment", "rnn-lesson student"]
            + [name],
            check=True,
        )
    account = student_account(name, group)
    length = socket_path_length(account.pw_dir)
    if length > MAX_SOCKET_PATH:
        raise ValueError(
            f"{name}'s home {account.pw_dir} is too long for kernel sockets "
            f"({length} > {MAX_SOCKET_PATH} bytes)"
        )
    # The home itself sits in a folder only root may change (check_home_base), so the
    # student cannot have swapped it for a link; its contents are never touched here.
    if not stat.S_ISDIR(os.lstat(account.pw_dir).st_mode):
        raise PermissionError(f"{account.pw_dir} is not a folder")
    os.chmod(account.pw_dir, 0o700)
    return account


def processes_of(uid: int) -> list[int]:
    """The live processes of ``uid``. A zombie (ended, not yet collected by its parent)
    runs nothing and cannot be killed, so it is not counted."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid != uid:
                    continue
                with open(f"/proc/{entry}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except (FileNotFoundError, ProcessLookupError):
                continue
            if state != "Z":
                pids.append(int(entry))
    return pids


def end_processes(account: pwd.struct_passwd, wait_s: float = 10.0) -> int:
    """Kill every process of the account; return how many there were at the start.

    ``kill -KILL -1`` runs as the student, so it reaches exactly the processes the student
    may signal (their own) and nothing of anyone else; repeated until none is left (a
    process may fork while the first signal goes out).
    """
    if account.pw_uid < 1000:
        raise PermissionError(f"refusing to end the processes of system account {account.pw_uid}")
    found = len(processes_of(account.pw_uid))
    deadline = time.monotonic() + wait_s
    while processes_of(account.pw_uid):
        subprocess.run(
            ["/bin/kill", "-KILL", "-1"],  # procps kill: -1 is every process it may signal
            user=account.pw_uid,
            group=account.pw_gid,
            extra_groups=[],
            cwd="/",
            env={"PATH": "/usr/bin:/bin"},
            capture_output=True,
            check=False,
        )
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes of {account.pw_name} are still running")
        time.sleep(0.05)
    return found


def remove_account(name: str, group: str) -> bool:
    """End the student's processes, then delete the account and its home. False if there
    was no such account; PermissionError for an account the hub did not create."""
    try:
        account = student_account(name, group)
    except KeyError:
        return False
    end_processes(account)
    subprocess.run(["userdel", "--remove", name], check=True, capture_output=True)
    return True
