"""Security check of the classroom hub: each attack a student could try, tried for real.

Run it with `make classroom-check` (after the load test) or `make classroom-security-check`,
as root. Everything runs on 127.0.0.1, with test accounts (``rnnsc<random>NN``) that it
deletes on any exit. ``--config FILE`` runs the same attacks against another
jupyterhub_config.py (an older one, say), to see which of them it lets through.

A hub in the load test's mode, two students a and b:
1. the symlink race on the pre-spawn hook: a process of a's swaps ~/notebooks for a link to
   a folder of root's while a's server starts, round after round; that folder must stay as
   it was (nothing written or given to a);
2. nothing of a's outlives a's server: a process a started with setsid is gone once the
   server stopped;
3. b subscribes to every socket of a's kernel it can reach (TCP ports on 127.0.0.1, Unix
   sockets) while a's kernel prints a secret; b must receive nothing;
4. a file a's kernel writes in /tmp cannot be read by b (umask 077);
5. a server configuration in a's home (~/.jupyter) is ignored;
6. b's token cannot make a token for a.
A hub in the teaching mode (the classroom authenticator), a teacher and a class list:
7. a sign-up under the teacher's name, as the first request the hub gets, does not give the
   teacher's account (or any) to whoever sent it;
8. a sign-up under a name that is not on the class list is refused;
9. GET /hub/authorize/<name> and /hub/discard/<name> change nothing; POST without the XSRF
   token is refused; the teacher's POST form works;
10. failed sign-ins close one (address, name) after the limit, and the same name from
    another address still signs in;
11. a page on another origin cannot make a token with the teacher's session (no XSRF token);
12. deleting a student at the hub removes their system account and home.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pwd
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from load_test import (
    HOST,
    Cleanup,
    Hub,
    Student,
    check_hub_env,
    free_port,
    make_homes,
    run_as,
    wait_for_hub,
)

HERE = Path(__file__).resolve().parent
Check = tuple[str, bool, str]

RACER = r"""
import os, sys, time
home, victim, stop_file = sys.argv[1], sys.argv[2], sys.argv[3]
nb = os.path.join(home, "notebooks")
n = 0
while not os.path.exists(stop_file):
    try:
        if os.path.isdir(nb) and not os.path.islink(nb):
            os.rename(nb, os.path.join(home, f"old{n}"))
            os.symlink(victim, nb)
            n += 1
            time.sleep(0.5)
            os.unlink(nb)  # missing again, so the next start copies again
    except OSError:
        pass
"""

LISTENER = r"""
import sys, time, zmq
endpoints = sys.argv[1:]
ctx = zmq.Context()
sub = ctx.socket(zmq.SUB)
sub.setsockopt(zmq.SUBSCRIBE, b"")
for e in endpoints:
    try:
        sub.connect(e)
    except zmq.ZMQError as exc:
        print("connect refused", e, exc, flush=True)
print("@@listening", flush=True)
seen = b""
end = time.time() + 20
while time.time() < end:
    if sub.poll(200):
        seen += b"".join(sub.recv_multipart())
print("@@SECRET-SEEN" if b"SECRET-" in seen else "@@nothing", flush=True)
"""


def tcp_ports_of(uid: int) -> list[int]:
    """Listening TCP ports on loopback that belong to processes of ``uid``."""
    done = subprocess.run(["ss", "-Hltnpe"], capture_output=True, text=True, check=True)
    ports = []
    for line in done.stdout.splitlines():
        if f"uid:{uid} " in line + " ":
            ports.append(int(line.split()[3].rsplit(":", 1)[1]))
    return ports


def ipc_sockets_in(home: str) -> list[str]:
    found = []
    for folder, _, files in os.walk(home):
        found += [os.path.join(folder, f) for f in files if re.search(r"-ipc-\d+$", f)]
    return found


async def server(hub: Hub, s: Student, start: bool, deadline: float) -> None:
    if start:
        await hub.start_server(s, deadline)
        return
    resp = await hub.request(s, "DELETE", f"/hub/api/users/{s.name}/server")
    if resp.code not in (202, 204):
        raise RuntimeError(f"stop server: HTTP {resp.code}")
    while time.monotonic() < deadline:
        resp = await hub.request(s, "GET", f"/hub/api/users/{s.name}")
        if not json.loads(resp.body).get("servers"):
            return
        await asyncio.sleep(0.3)


STUDENT_PYTHON = ["python3"]  # main() sets the students' venv's python


async def wait_ready(hub: Hub, s: Student, deadline: float) -> None:
    while time.monotonic() < deadline:
        model = json.loads((await hub.request(s, "GET", f"/hub/api/users/{s.name}")).body)
        if model.get("servers", {}).get("", {}).get("ready"):
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"{s.name}'s server did not come up")


def background_as(user: str, code: str, *args: str) -> subprocess.Popen:
    """A student's own process that outlives the request that started it (setsid)."""
    return subprocess.Popen(
        ["runuser", "-u", user, "--", "setsid", *STUDENT_PYTHON, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd="/",
    )


async def student_checks(
    hub: Hub, a: Student, b: Student, rounds: int, deadline: float, checks: list[Check]
) -> None:
    home_a = pwd.getpwnam(a.name).pw_dir
    uid_a = pwd.getpwnam(a.name).pw_uid
    victim = Path(tempfile.mkdtemp(prefix="rnnsc-victim-"))
    victim.chmod(0o755)
    (victim / "precious.txt").write_text("root's\n")
    before = sorted(p.name for p in victim.iterdir())
    stop_file = Path(home_a) / ".stop-racing"
    racer = None
    survived = failed_starts = 0
    try:
        for _ in range(rounds):
            racer = background_as(a.name, RACER, home_a, str(victim), str(stop_file))
            await asyncio.sleep(0.3)
            await server(hub, a, False, deadline)
            await asyncio.sleep(0.5)
            survived += racer.poll() is None
            try:  # a start the race broke is the attacker's business; the folder decides
                await server(hub, a, True, deadline)
            except RuntimeError:
                failed_starts += 1
            await asyncio.sleep(1.0)
        run_as(a.name, ["touch", str(stop_file)])
        await asyncio.sleep(1.0)
    finally:
        entries = sorted(p.name for p in victim.iterdir())
        owners = {p.name: p.lstat().st_uid for p in [victim, *victim.iterdir()]}
        subprocess.run(["rm", "-rf", "--", str(victim)], check=False)
    untouched = entries == before and set(owners.values()) == {0}
    checks.append(
        (
            f"symlink race on ~/notebooks, {rounds} server restarts",
            untouched,
            f"root's folder holds {entries}, owners {sorted(set(owners.values()))}; "
            f"{failed_starts} starts failed",
        )
    )
    checks.append(
        (
            "a's setsid process ended when a's server stopped",
            survived == 0,
            f"still running after {survived} of {rounds} stops",
        )
    )
    if failed_starts:  # bring a's server up again for the checks below
        model = json.loads((await hub.request(a, "GET", f"/hub/api/users/{a.name}")).body)
        if not model.get("servers", {}).get("", {}).get("ready"):
            if model.get("pending") is None:
                await hub.request(a, "POST", f"/hub/api/users/{a.name}/server")
            await wait_ready(hub, a, deadline)
    # 3. b listens on every socket of a's kernel it can find.
    await hub.open_kernel(a)
    endpoints = [f"tcp://127.0.0.1:{p}" for p in tcp_ports_of(uid_a)]
    endpoints += [f"ipc://{p}" for p in ipc_sockets_in(home_a)]
    listener = background_as(b.name, LISTENER, *endpoints)
    line = await asyncio.to_thread(listener.stdout.readline)
    for _ in range(30):
        await hub.execute(a, "print('SECRET-' + 'x' * 8)", timeout=60)
        await asyncio.sleep(0.2)
    out = line + (await asyncio.to_thread(listener.communicate))[0]
    checks.append(
        (
            f"{b.name} subscribes to {len(endpoints)} sockets of a's kernel",
            "@@nothing" in out and "@@listening" in out,
            f"tcp ports {tcp_ports_of(uid_a)}; " + out.strip().replace("\n", " | ")[-200:],
        )
    )
    # 4. a file in /tmp.
    path = f"/tmp/rnnsc-{a.name}.txt"
    await hub.execute(a, f"open({path!r}, 'w').write('private')", timeout=60)
    read = run_as(b.name, ["cat", path])
    mode = oct(os.stat(path).st_mode & 0o777)
    os.unlink(path)
    checks.append((f"{b.name} reads a's file in /tmp", read.returncode != 0, f"mode {mode}"))
    # 5. a server configuration in a's home.
    marker = "rnnsc-" + secrets.token_hex(4)
    config = f"c.ServerApp.tornado_settings = {{'headers': {{'X-Student-Config': '{marker}'}}}}\n"
    run_as(a.name, ["mkdir", "-p", f"{home_a}/.jupyter"])
    subprocess.run(
        [
            "runuser",
            "-u",
            a.name,
            "--",
            "sh",
            "-c",
            f"cat > {home_a}/.jupyter/jupyter_server_config.py",
        ],
        input=config,
        text=True,
        check=True,
    )
    await server(hub, a, False, deadline)
    await server(hub, a, True, deadline)
    resp = await hub.request(a, "GET", f"/user/{a.name}/api/status")
    header = resp.headers.get("X-Student-Config", "")
    checks.append(
        (
            "a server configuration in a's ~/.jupyter is ignored",
            resp.code == 200 and header != marker,
            f"HTTP {resp.code}, header {header!r}",
        )
    )
    # 6. a token for a, made with b's token.
    resp = await hub.request(b, "POST", f"/hub/api/users/{a.name}/tokens", body={"note": "x"})
    checks.append((f"{b.name}'s token makes a token for a", resp.code == 403, f"HTTP {resp.code}"))


async def form(hub: Hub, s: Student, path: str, fields: dict, **headers: str):
    """A browser's form POST, with the _xsrf the page would hold (or without it)."""
    if "_xsrf" not in s.cookies:  # before sign-in, the token is bound to the client address
        await hub.request(s, "GET", "/hub/login", auth="cookie", headers=headers)
    body = dict(fields)
    if body.pop("with_xsrf", True):
        body["_xsrf"] = s.cookies.get("_xsrf", "")
    return await hub.request(
        s,
        "POST",
        path,
        auth="cookie" if body.get("_xsrf") else "cookies-no-xsrf",
        body=urlencode(body),
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
    )


LAST_BODY = [""]


async def sign_in(hub: Hub, name: str, password: str, address: str = "") -> tuple[Student, int]:
    s = Student(name)
    extra = {"X-Forwarded-For": address} if address else {}
    resp = await form(hub, s, "/hub/login", {"username": name, "password": password}, **extra)
    LAST_BODY[0] = resp.body.decode(errors="replace")
    return s, resp.code


async def teacher_checks(
    hub: Hub, teacher: str, password: str, listed: list[str], checks: list[Check]
) -> None:
    attacker = "attacker-password-" + secrets.token_hex(4)
    # 7. the very first request: a sign-up under the teacher's name.
    fields = {
        "username": teacher,
        "signup_password": attacker,
        "signup_password_confirmation": attacker,
    }
    await form(hub, Student("someone"), "/hub/signup", fields)
    _, code_attacker = await sign_in(hub, teacher, attacker, "10.1.1.1")
    t, code_teacher = await sign_in(hub, teacher, password, "10.1.1.2")
    checks.append(
        (
            "a sign-up under the teacher's name, before anyone else",
            code_attacker != 302 and code_teacher == 302,
            f"attacker's sign-in HTTP {code_attacker}, teacher's HTTP {code_teacher}",
        )
    )
    # 8. names off the class list.
    outsider = listed[0] + "x"
    fields = {
        "username": outsider,
        "signup_password": attacker,
        "signup_password_confirmation": attacker,
    }
    await form(hub, Student("someone"), "/hub/signup", fields)
    for name in listed:
        fields = {
            "username": name,
            "signup_password": attacker,
            "signup_password_confirmation": attacker,
        }
        await form(hub, Student("someone"), "/hub/signup", fields)
    page = await hub.request(t, "GET", "/hub/authorize", auth="cookie")
    text = page.body.decode()
    checks.append(
        (
            "a sign-up under a name off the class list",
            page.code == 200 and outsider not in text and all(n in text for n in listed),
            f"/hub/authorize HTTP {page.code} lists the outsider: {outsider in text}",
        )
    )
    # 9. state changes on GET, and POST without the XSRF token.
    target = listed[0]
    get = await hub.request(t, "GET", f"/hub/authorize/{target}", auth="cookie")
    discard = await hub.request(t, "GET", f"/hub/discard/{target}", auth="cookie")
    no_xsrf = await form(hub, t, f"/hub/authorize/{target}", {"with_xsrf": False})
    _, still_out = await sign_in(hub, target, attacker, "10.1.1.3")
    post = await form(hub, t, f"/hub/authorize/{target}", {})
    _, now_in = await sign_in(hub, target, attacker, "10.1.1.3")
    checks.append(
        (
            "GET /hub/authorize and /hub/discard, and POST without XSRF, change nothing",
            get.code == 405 and discard.code == 405 and no_xsrf.code == 403 and still_out != 302,
            f"GET {get.code}, {discard.code}; POST without XSRF {no_xsrf.code}; "
            f"student's sign-in then {still_out}",
        )
    )
    checks.append(
        (
            "the teacher's approval form works",
            post.code == 302 and now_in == 302,
            f"POST {post.code}; student's sign-in then {now_in}",
        )
    )
    # 10. failed sign-ins.
    codes = [(await sign_in(hub, teacher, attacker, "10.2.2.2"))[1] for _ in range(6)]
    _, other_address = await sign_in(hub, teacher, password, "10.3.3.3")
    _, same_address = await sign_in(hub, teacher, password, "10.2.2.2")
    told = "Too many failed sign-ins" in LAST_BODY[0] and 'name="password"' in LAST_BODY[0]
    checks.append(
        (
            "failed sign-ins close one address and name, not the name",
            codes[-1] == 429 and other_address == 302 and same_address == 429 and told,
            f"6 failures from one address: {codes}; teacher from another address "
            f"{other_address}, from that address {same_address}; the login form says why: {told}",
        )
    )
    # 12. a deleted student's account and home go with them.
    student, _ = await sign_in(hub, target, attacker, "10.1.1.4")
    await hub.request(student, "GET", "/hub/home", auth="cookie")
    start = await hub.request(
        student, "POST", f"/hub/api/users/{target}/server", auth="cookie", body={}
    )
    for _ in range(240):
        model = await hub.request(t, "GET", f"/hub/api/users/{target}", auth="cookie")
        if json.loads(model.body).get("servers", {}).get("", {}).get("ready"):
            break
        await asyncio.sleep(0.5)
    home = pwd.getpwnam(target).pw_dir
    deleted = await hub.request(t, "DELETE", f"/hub/api/users/{target}", auth="cookie")
    for _ in range(60):
        if not os.path.exists(home):
            break
        await asyncio.sleep(0.5)
    try:
        pwd.getpwnam(target)
        account_left = True
    except KeyError:
        account_left = False
    checks.append(
        (
            "a deleted student's account and home are removed",
            start.code in (201, 202)
            and deleted.code == 204
            and not account_left
            and not os.path.exists(home),
            f"start {start.code}, delete {deleted.code}; account left: {account_left}, "
            f"home left: {os.path.exists(home)}",
        )
    )
    # 11. a page on another origin, with the teacher's session but no XSRF token.
    resp = await hub.request(
        t,
        "POST",
        f"/hub/api/users/{teacher}/tokens",
        auth="cookies-no-xsrf",
        body={"note": "stolen"},
        headers={"Origin": f"http://{listed[0]}.hub.localhost"},
    )
    checks.append(
        (
            "another origin makes a token with the teacher's session",
            resp.code == 403,
            f"HTTP {resp.code}",
        )
    )


def report(checks: list[Check]) -> bool:
    print("\n=== classroom security check ===")
    for what, ok, detail in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {what}: {detail}")
    passed = bool(checks) and all(ok for _, ok, _ in checks)
    refused = sum(ok for _, ok, _ in checks)
    print(
        f"\nsecurity-check: {'PASSED' if passed else 'FAILED'} ({refused} of {len(checks)} "
        "attacks refused)"
    )
    return passed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path, default=HERE / "jupyterhub_config.py")
    ap.add_argument("--rounds", type=int, default=15, help="server restarts of the race (1..200)")
    ap.add_argument(
        "--student-venv",
        type=Path,
        default=Path(os.environ.get("CLASSROOM_STUDENT_VENV", "/srv/rnn-lesson/venv")),
    )
    args = ap.parse_args(argv)
    args.config = args.config.resolve()  # the hubs run in their state folders
    if not 1 <= args.rounds <= 200:
        ap.error(f"--rounds must be in 1..200, not {args.rounds}")
    if os.geteuid() != 0:
        raise SystemExit("run as root: the check creates system accounts")
    prefix = "rnnsc" + secrets.token_hex(2)
    group = f"{prefix}grp"
    cleanup = Cleanup(prefix, group)
    STUDENT_PYTHON[:] = [str(args.student_venv / "bin" / "python")]

    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    checks: list[Check] = []
    deadline = time.monotonic() + 900
    try:
        homes = make_homes(prefix)
        cleanup.dirs.append(homes)

        def start(state: Path, port: int, **more: str):
            state.mkdir(mode=0o700, exist_ok=True)
            env = check_hub_env(state, port, homes, group, args.student_venv, **more)
            return cleanup.start_hub(env, state, args.config)

        base = Path(tempfile.mkdtemp(prefix=f"{prefix}-state-"))
        cleanup.dirs.append(base)
        password = secrets.token_urlsafe(24)
        port = free_port()
        proc = start(
            base / "students",
            port,
            CLASSROOM_MODE="loadtest",
            CLASSROOM_USER_PREFIX=prefix,
            CLASSROOM_TEST_PASSWORD=password,
        )
        hub = Hub(port, password)

        async def students_part():
            await wait_for_hub(hub, proc, deadline)
            a, b = Student(f"{prefix}01"), Student(f"{prefix}02")
            for s in (a, b):
                await hub.login(s)
                await hub.start_server(s, deadline)
            await hub.open_kernel(b)
            await student_checks(hub, a, b, args.rounds, deadline, checks)

        asyncio.run(students_part())
        cleanup.stop_hub(proc, base / "students")

        teacher, listed = f"{prefix}t", [f"{prefix}01", f"{prefix}02"]
        teacher_password = secrets.token_urlsafe(18)
        state = base / "teach"
        state.mkdir(mode=0o700)
        subprocess.run(
            [sys.executable, str(HERE / "set_teacher_password.py"), str(state), "--stdin"],
            input=teacher_password + "\n",
            text=True,
            check=True,
            capture_output=True,
        )
        class_list = base / "class.txt"
        class_list.write_text("\n".join(listed) + "\n")
        port = free_port()
        proc = start(
            state,
            port,
            CLASSROOM_MODE="teach",
            CLASSROOM_TEACHER=teacher,
            CLASSROOM_CLASS_LIST=str(class_list),
            CLASSROOM_TRUSTED_PROXIES=HOST,
        )
        hub = Hub(port, password)

        async def teacher_part():
            await wait_for_hub(hub, proc, deadline)
            await teacher_checks(hub, teacher, teacher_password, listed, checks)

        asyncio.run(teacher_part())
    except (Exception, KeyboardInterrupt) as exc:
        checks.append(("the check itself", False, f"{type(exc).__name__}: {exc}"))
        for _, state in cleanup.hubs:
            log = state / "hub.log"
            if log.exists():
                print(f"last lines of {log}:\n  " + "\n  ".join(log.read_text().splitlines()[-30:]))
    finally:
        cleanup.run()
        for line in cleanup.log:
            print(line)
    return 0 if report(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
