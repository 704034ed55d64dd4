"""Set the classroom teacher's password: `make classroom-teacher` runs this, as root.

It asks for the password twice and stores only its bcrypt hash, in a file of mode 0600 in
the hub's state folder. The hub writes the teacher's account from it at every start, before
it answers any request, so nobody can sign up under the teacher's name first. Run it again
and restart the hub to change the password.

    python set_teacher_password.py STATE_DIR            # asks on the terminal
    python set_teacher_password.py STATE_DIR --stdin    # reads one line (for scripts)
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

import bcrypt

MIN_LENGTH = 12
HASH_FILE = "teacher.bcrypt"


def ask(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("The teacher's hub password: ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("the two passwords differ; nothing was changed")
    return first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("state_dir", type=Path, help="the hub's state folder (mode 0700)")
    parser.add_argument("--stdin", action="store_true", help="read the password from stdin")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("run as root: the hub that reads this file runs as root")
    password = ask(args.stdin)
    if len(password) < MIN_LENGTH:
        raise SystemExit(f"use at least {MIN_LENGTH} characters; nothing was changed")
    args.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(args.state_dir, 0o700)
    target = args.state_dir / HASH_FILE
    partial = target.with_suffix(".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(bcrypt.hashpw(password.encode(), bcrypt.gensalt()) + b"\n")
    os.replace(partial, target)
    print(f"the teacher's password hash is in {target}; (re)start the hub to use it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
