"""Who may sign up, and how often a sign-in may fail: the classroom hub's rules as plain data.

Only the standard library, so the unit tests can check them without JupyterHub.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from accounts import SYSTEM_NAME


def read_class_list(path: Path) -> frozenset[str]:
    """The hub names of the class: one per line; blank lines and ``# comments`` are skipped.

    Only these names may sign up and be approved. A name that is not usable as a system
    account name, or that stands twice, is refused with its line number.
    """
    names: set[str] = set()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"CLASSROOM_CLASS_LIST: cannot read {path}: {exc.strerror}") from None
    for number, line in enumerate(text.splitlines(), start=1):
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        if not SYSTEM_NAME.match(name):
            raise ValueError(
                f"{path}, line {number}: {name!r} is not a usable name (lowercase letter first, "
                "then up to 31 lowercase letters, digits, - or _)"
            )
        if name in names:
            raise ValueError(f"{path}, line {number}: {name!r} is listed twice")
        names.add(name)
    if not names:
        raise ValueError(f"CLASSROOM_CLASS_LIST: {path} lists no student")
    return frozenset(names)


def read_teacher_hash(path: Path) -> bytes:
    """The teacher's bcrypt password hash, from a file only root may read."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise ValueError(
            f"the teacher's password is not set ({path} is missing): run "
            "`make classroom-teacher CLASSROOM_TEACHER=<name>` first"
        ) from None
    if not stat.S_ISREG(info.st_mode) or info.st_uid != 0 or stat.S_IMODE(info.st_mode) & 0o077:
        raise ValueError(f"{path} must be a file of root's with mode 0600")
    value = Path(path).read_bytes().strip()
    if not (value.startswith((b"$2a$", b"$2b$", b"$2y$")) and len(value) == 60):
        raise ValueError(f"{path} does not hold a bcrypt hash")
    return value


class SignInLimiter:
    """At most ``limit`` failed sign-ins per (client address, name) in a fixed window.

    The window starts at the first failure and is not extended by attempts made while it
    is closed, so failing on purpose keeps a name closed for at most ``window_s`` seconds
    at a time from one address, and never from another address.
    """

    def __init__(self, limit: int, window_s: float, clock=time.monotonic) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError(f"limit must be >= 1 and window_s > 0, not {limit}, {window_s}")
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._failures: dict[tuple[str, str], tuple[float, int]] = {}

    def wait_s(self, address: str, name: str) -> float:
        """Seconds until (address, name) may try again; 0 if it may try now."""
        started, count = self._failures.get((address, name), (0.0, 0))
        left = started + self.window_s - self.clock()
        if left <= 0:
            self._failures.pop((address, name), None)
            return 0.0
        return left if count >= self.limit else 0.0

    def failed(self, address: str, name: str) -> None:
        now = self.clock()
        started, count = self._failures.get((address, name), (now, 0))
        if started + self.window_s <= now:
            started, count = now, 0
        self._failures[(address, name)] = (started, count + 1)
        if len(self._failures) > 100_000:  # a flood of names: forget the oldest windows
            for key in sorted(self._failures, key=lambda k: self._failures[k][0])[:50_000]:
                del self._failures[key]

    def succeeded(self, address: str, name: str) -> None:
        self._failures.pop((address, name), None)
