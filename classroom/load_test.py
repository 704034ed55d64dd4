"""Load test of the classroom hub: N simulated students on one JupyterHub, on 127.0.0.1.

Run it with `make classroom-check` (as root: it creates one system account per student).
What it does, in order:

1. starts the hub of classroom/jupyterhub_config.py in its "loadtest" mode, listening on
   127.0.0.1 only, with the same spawner, pre-spawn hook and idle culler as a real class;
2. signs in N students through the hub's login form, all at once, and starts their servers
   (the hub's pre-spawn hook creates each student's system account and copies the notebooks);
3. each student runs notebook 01 top to bottom in their own kernel, through the hub's proxy
   (REST API and the kernel's websocket, as JupyterLab does), all students at the same time;
4. students run the explorer's default change of notebook 06 (``W.run_experiment()`` with its
   defaults), first 1 at a time, then more and more of them at the same moment, up to all N;
5. checks isolation: a student's request to another student's server and hub record is
   refused, and a student's kernel can neither read nor write in another student's home;
6. prints per-student memory, p50 and p95 times, every failure, and a markdown summary.

It stops within --time-limit seconds, and on any exit it stops the hub (and with it every
server and kernel), kills any process left from it, deletes the test accounts (userdel -r)
and removes its temporary folders. All traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import grp
import json
import math
import os
import platform
import pwd
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
HOST = "127.0.0.1"
NOTEBOOK = "notebooks/01_concept.ipynb"
JAPANESE_NOTEBOOK = "notebooks/ja/01_concept.ipynb"  # the Japanese edition's, copied too
# The explorer's default change: what moving a slider of notebook 06 runs, with its defaults.
# Timed inside the kernel (the printed marker) and end to end (request to reply).
EXPLORER_IMPORT = "import time\nfrom rnn_lesson import widgets as W\n"
EXPLORER_CHANGE = (
    "_t = time.perf_counter()\n"
    "_ = W.run_experiment()\n"
    "print(f'@@kernel_s={time.perf_counter() - _t:.4f}')\n"
)
ANSWER_WITHIN_S = 2.0
# The culler check: a server idle this long is stopped; the culler looks this often.
CULL_TIMEOUT, CULL_EVERY = 20, 5
MAX_STUDENTS = 100


# --- arguments ---------------------------------------------------------------------------------
def _int_in(low: int, high: int, what: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{what} must be a whole number, not {text!r}"
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what} must be in {low}..{high}, not {value}")
        return value

    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; a bad value exits with status 2 and says what is allowed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--students",
        type=_int_in(1, MAX_STUDENTS, "--students"),
        default=20,
        help=f"simulated students (1..{MAX_STUDENTS}, default 20)",
    )
    parser.add_argument(
        "--changes",
        type=_int_in(1, 20, "--changes"),
        default=3,
        help="explorer changes per student at each level of concurrency (1..20, default 3)",
    )
    parser.add_argument(
        "--time-limit",
        type=_int_in(60, 7200, "--time-limit"),
        default=1800,
        help="seconds after which the test stops and fails (60..7200, default 1800)",
    )
    parser.add_argument(
        "--student-venv",
        type=Path,
        default=Path(os.environ.get("CLASSROOM_STUDENT_VENV", "/srv/rnn-lesson/venv")),
        help="the project's environment the students' servers run in",
    )
    parser.add_argument(
        "--proxy",
        type=Path,
        default=HERE / "node_modules" / ".bin" / "configurable-http-proxy",
        help="the configurable-http-proxy executable",
    )
    return parser.parse_args(argv)


def concurrency_levels(n_students: int) -> list[int]:
    """How many students move a slider at the same moment, rising to all of them."""
    if n_students < 1:
        raise ValueError(f"n_students must be at least 1, not {n_students}")
    levels = {level for level in (1, 2, 5, 10, 15, 20, 30, 50) if level < n_students}
    return sorted(levels | {n_students})


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank p-th percentile (p in 0..100) of a non-empty list."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"p must be in 0..100, not {p}")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# --- processes and accounts ------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def pids_where(test) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if test(int(entry)):
                    pids.append(int(entry))
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                pass
    return pids


def uid_of(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    raise ProcessLookupError(pid)


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def start_time(pid: int) -> int:
    """When the process started (clock ticks since boot): a pid with it names one process."""
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def memory_of(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of a process in bytes; PSS shares each shared page among its users."""
    rss = pss = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("Pss:"):
                pss = int(line.split()[1]) * 1024
    return rss, pss


def run_as(user: str, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["runuser", "-u", user, "--", *args], capture_output=True, text=True, timeout=120
    )


def make_homes(prefix: str) -> Path:
    """A folder for the test accounts' homes: root's, mode 0755 (each home inside is 0700),
    and short, so kernel socket paths in the homes fit (accounts.check_home_base)."""
    homes = Path("/tmp") / prefix
    homes.mkdir(mode=0o755)
    homes.chmod(0o755)
    return homes


def check_hub_env(
    state: Path, port: int, homes: Path, group: str, student_venv: Path, **more: str
) -> dict[str, str]:
    """The environment of a hub of jupyterhub_config.py on 127.0.0.1 for a check."""
    return {
        **os.environ,
        "CLASSROOM_IP": HOST,
        "CLASSROOM_PORT": str(port),
        "CLASSROOM_HUB_PORT": str(free_port()),
        "CLASSROOM_PROXY_API_PORT": str(free_port()),
        "CLASSROOM_STATE_DIR": str(state),
        "CLASSROOM_HOME_BASE": str(homes),
        "CLASSROOM_GROUP": group,
        "CLASSROOM_STUDENT_VENV": str(student_venv),
        "CLASSROOM_NOTEBOOKS": os.environ.get(
            "CLASSROOM_NOTEBOOKS", str(student_venv.parent / "notebooks")
        ),
        **more,
    }


class Cleanup:
    """Everything the test created, undone: hubs, leftover processes, accounts, folders."""

    def __init__(self, prefix: str, group: str) -> None:
        self.prefix, self.group = prefix, group
        self.hubs: list[tuple[subprocess.Popen, Path]] = []
        self.dirs: list[Path] = []
        self.killed: list[int] = []
        self.stopped: set[int] = set()
        self.log: list[str] = []

    def test_accounts(self) -> list[pwd.struct_passwd]:
        return [a for a in pwd.getpwall() if re.fullmatch(rf"{self.prefix}[0-9]+", a.pw_name)]

    def start_hub(
        self, env: dict[str, str], state: Path, config: Path = HERE / "jupyterhub_config.py"
    ) -> subprocess.Popen:
        """Start a hub with its state (database, log, proxy's pid file) in `state`."""
        with open(state / "hub.log", "w") as log:
            hub = subprocess.Popen(
                [sys.executable, "-m", "jupyterhub", "-f", str(config)],
                cwd=state,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.hubs.append((hub, state))
        return hub

    @staticmethod
    def descendants(root: int) -> dict[int, int]:
        """The processes `root` started (proxy, culler, servers) and theirs: pid -> start time."""
        children: dict[int, list[int]] = {}
        for pid in pids_where(lambda p: True):
            try:
                children.setdefault(parent_of(pid), []).append(pid)
            except (FileNotFoundError, ProcessLookupError):
                pass
        found, todo = {}, [root]
        while todo:
            for child in children.get(todo.pop(), []):
                try:
                    found[child] = start_time(child)
                    todo.append(child)
                except (FileNotFoundError, ProcessLookupError):
                    pass
        return found

    def kill(self, test) -> None:
        for pid in pids_where(test):
            try:
                os.kill(pid, signal.SIGKILL)
                self.killed.append(pid)
            except ProcessLookupError:
                pass

    def stop_hub(self, hub: subprocess.Popen, state: Path) -> None:
        """Stop a hub (it stops its servers and proxy), then kill whatever it left running."""
        if hub.pid in self.stopped:
            return
        self.stopped.add(hub.pid)
        started = self.descendants(hub.pid) if hub.poll() is None else {}
        pid_file = state / "proxy.pid"
        if pid_file.exists():  # the proxy, even if the hub died early
            try:
                proxy = int(pid_file.read_text().strip())
                started[proxy] = start_time(proxy)
            except (ValueError, FileNotFoundError, ProcessLookupError):
                pass
        if hub.poll() is None:
            hub.send_signal(signal.SIGTERM)
            try:
                hub.wait(60)
            except subprocess.TimeoutExpired:
                hub.kill()
                hub.wait(10)
        self.kill(
            lambda p: started.get(p, -1) == start_time(p) or hub.pid in (os.getsid(p), parent_of(p))
        )

    def run(self) -> None:
        for hub, state in self.hubs:
            self.stop_hub(hub, state)
        uids = {a.pw_uid for a in self.test_accounts()}
        self.kill(lambda p: uid_of(p) in uids)
        if self.killed:
            self.log.append(f"killed {len(self.killed)} leftover process(es): {self.killed}")
            time.sleep(1)
        for account in self.test_accounts():
            done = subprocess.run(["userdel", "-r", account.pw_name], capture_output=True)
            if done.returncode not in (0, 12):  # 12: home could not be removed (reported below)
                self.log.append(f"userdel {account.pw_name}: {done.stderr.decode().strip()}")
        try:
            grp.getgrnam(self.group)
            subprocess.run(["groupdel", self.group], check=False, capture_output=True)
        except KeyError:
            pass
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)
        remaining = [a.pw_name for a in self.test_accounts()]
        if remaining:
            self.log.append(f"accounts left behind: {remaining}")
        self.log.append(
            f"cleanup: {len(self.hubs)} hub(s) stopped, {len(self.killed)} process(es) killed "
            f"after them, test accounts removed: {'yes' if not remaining else 'NO'}"
        )


# --- talking to the hub as a browser would ----------------------------------------------------
@dataclass
class Student:
    name: str
    cookies: dict[str, str] = field(default_factory=dict)
    token: str = ""
    kernel_ws: object = None
    spawn_s: float = math.nan
    notebook_s: float = math.nan
    notebook_cells: int = 0
    explorer: list[tuple[int, float, float]] = field(default_factory=list)  # (level, e2e, kernel)
    failures: list[str] = field(default_factory=list)


class Hub:
    def __init__(self, port: int, password: str) -> None:
        self.base = f"http://{HOST}:{port}"
        self.password = password
        self._http = None

    @property
    def http(self):
        """The HTTP client, made inside the running event loop on first use."""
        if self._http is None:
            from tornado.httpclient import AsyncHTTPClient

            AsyncHTTPClient.configure(None, max_clients=4 * MAX_STUDENTS + 10)
            self._http = AsyncHTTPClient()
        return self._http

    def url(self, path: str) -> str:
        url = urljoin(self.base, path)
        if urlsplit(url).hostname != HOST:
            raise RuntimeError(f"refusing to send traffic anywhere but {HOST}: {url}")
        return url

    async def request(self, student: Student, method: str, path: str, *, auth="token", **kw):
        from tornado.httpclient import HTTPRequest

        headers = dict(kw.pop("headers", {}))
        if auth == "token":
            headers["Authorization"] = f"token {student.token}"
        elif auth in ("cookie", "cookies-no-xsrf") and student.cookies:
            # "cookies-no-xsrf": what a page on another origin can send, without the token
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in student.cookies.items())
            if auth == "cookie" and "_xsrf" in student.cookies:
                headers["X-XSRFToken"] = student.cookies["_xsrf"]
        body = kw.pop("body", None)
        if isinstance(body, dict):
            body = json.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = ""
        req = HTTPRequest(
            self.url(path),
            method=method,
            headers=headers,
            body=body,
            follow_redirects=False,
            request_timeout=kw.pop("timeout", 300),
        )
        resp = await self.http.fetch(req, raise_error=False)
        for header in resp.headers.get_list("Set-Cookie"):
            jar = SimpleCookie()
            jar.load(header)
            for key, morsel in jar.items():
                student.cookies[key] = morsel.value
        return resp

    async def login(self, student: Student) -> None:
        """Sign in through the login form, then take an API token as the student's session."""
        resp = await self.request(student, "GET", "/hub/login", auth="cookie")
        if resp.code != 200 or "_xsrf" not in student.cookies:
            raise RuntimeError(f"login page: HTTP {resp.code}")
        form = {
            "username": student.name,
            "password": self.password,
            "_xsrf": student.cookies["_xsrf"],
        }
        resp = await self.request(
            student,
            "POST",
            "/hub/login",
            auth="cookie",
            body=urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if resp.code != 302:
            raise RuntimeError(f"sign-in refused: HTTP {resp.code}")
        resp = await self.request(
            student,
            "POST",
            f"/hub/api/users/{student.name}/tokens",
            auth="cookie",
            body={"note": "classroom load test", "expires_in": 7200},
        )
        if resp.code != 201:
            raise RuntimeError(f"token: HTTP {resp.code} {resp.body[:200]!r}")
        student.token = json.loads(resp.body)["token"]

    async def start_server(self, student: Student, deadline: float) -> None:
        resp = await self.request(student, "POST", f"/hub/api/users/{student.name}/server")
        if resp.code not in (201, 202):
            raise RuntimeError(f"start server: HTTP {resp.code} {resp.body[:300]!r}")
        while time.monotonic() < deadline:
            resp = await self.request(student, "GET", f"/hub/api/users/{student.name}")
            model = json.loads(resp.body) if resp.code == 200 else {}
            server = model.get("servers", {}).get("", {})
            if server.get("ready"):
                return
            if resp.code != 200 or (not server and model.get("pending") is None):
                raise RuntimeError(f"server did not start: HTTP {resp.code} {model}")
            await asyncio.sleep(0.5)
        raise TimeoutError("server did not start in time")

    async def open_kernel(self, student: Student) -> list[str]:
        """Open notebook 01 from the student's home, start its kernel, connect its websocket."""
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        base = f"/user/{student.name}/api"
        resp = await self.request(student, "GET", f"{base}/contents/{NOTEBOOK}")
        if resp.code != 200:
            raise RuntimeError(f"notebook 01 not in the student's home: HTTP {resp.code}")
        cells = json.loads(resp.body)["content"]["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        body = {"path": NOTEBOOK, "type": "notebook", "kernel": {"name": "python3"}}
        resp = await self.request(student, "POST", f"{base}/sessions", body=body)
        if resp.code != 201:
            raise RuntimeError(f"start kernel: HTTP {resp.code} {resp.body[:300]!r}")
        kernel_id = json.loads(resp.body)["kernel"]["id"]
        ws_url = self.url(f"{base}/kernels/{kernel_id}/channels?session_id={uuid.uuid4().hex}")
        request = HTTPRequest(
            ws_url.replace("http://", "ws://"),
            headers={"Authorization": f"token {student.token}"},
            request_timeout=120,
        )
        student.kernel_ws = await websocket_connect(request, max_message_size=64 * 2**20)
        return code

    async def execute(self, student: Student, code: str, timeout: float) -> tuple[str, float]:
        """Run code in the student's kernel; return (stdout, seconds from request to reply)."""
        msg_id = uuid.uuid4().hex
        message = {
            "header": {
                "msg_id": msg_id,
                "msg_type": "execute_request",
                "username": student.name,
                "session": msg_id,
                "date": "",
                "version": "5.3",
            },
            "parent_header": {},
            "metadata": {},
            "content": {
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
            "channel": "shell",
            "buffers": [],
        }
        start = time.perf_counter()
        await student.kernel_ws.write_message(json.dumps(message))
        stdout, error, replied, idle = [], None, False, False
        while not (replied and idle):
            text = await asyncio.wait_for(student.kernel_ws.read_message(), timeout)
            if text is None:
                raise RuntimeError("kernel websocket closed")
            if not isinstance(text, str):  # binary frames carry widget buffers; not ours
                continue
            msg = json.loads(text)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["header"]["msg_type"]
            if kind == "stream" and msg["content"]["name"] == "stdout":
                stdout.append(msg["content"]["text"])
            elif kind == "error":
                error = f"{msg['content']['ename']}: {msg['content']['evalue']}"
            elif kind == "execute_reply":
                replied = True
                if msg["content"]["status"] != "ok" and error is None:
                    error = f"execute_reply status {msg['content']['status']}"
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                idle = True
        elapsed = time.perf_counter() - start
        if error is not None:
            raise CellError(error, "".join(stdout))
        return "".join(stdout), elapsed


class CellError(RuntimeError):
    def __init__(self, error: str, stdout: str) -> None:
        super().__init__(error)
        self.stdout = stdout


# --- the test --------------------------------------------------------------------------------
class MemorySampler:
    """The largest memory (RSS and PSS) each student's processes held at any sample."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.peak: dict[str, tuple[int, int]] = {}

    def sample(self) -> None:
        uids = {}
        for name in self.names:
            try:
                uids[pwd.getpwnam(name).pw_uid] = name
            except KeyError:  # not created yet
                pass
        totals: dict[int, list[int]] = {uid: [0, 0] for uid in uids}
        for pid in pids_where(lambda p: uid_of(p) in uids):
            try:
                rss, pss = memory_of(pid)
                uid = uid_of(pid)
            except (FileNotFoundError, ProcessLookupError):
                continue
            totals[uid][0] += rss
            totals[uid][1] += pss
        for uid, (rss, pss) in totals.items():
            old = self.peak.get(uids[uid], (0, 0))
            self.peak[uids[uid]] = (max(old[0], rss), max(old[1], pss))

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.to_thread(self.sample)
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except asyncio.TimeoutError:
                pass


async def student_session(hub: Hub, s: Student, deadline: float) -> None:
    try:
        t0 = time.perf_counter()
        await hub.login(s)
        await hub.start_server(s, deadline)
        s.spawn_s = time.perf_counter() - t0
        cells = await hub.open_kernel(s)
        t0 = time.perf_counter()
        for source in cells:
            await hub.execute(s, source, timeout=max(1.0, deadline - time.monotonic()))
            s.notebook_cells += 1
        s.notebook_s = time.perf_counter() - t0
        await hub.execute(s, EXPLORER_IMPORT, timeout=max(1.0, deadline - time.monotonic()))
    except Exception as exc:  # noqa: BLE001 (every failure is reported, none stops the class)
        s.failures.append(f"{type(exc).__name__}: {exc}")


async def explorer_round(hub: Hub, students: list[Student], level: int, deadline: float) -> None:
    """The first `level` students change a setting at the same moment."""
    go = asyncio.Event()

    async def one(s: Student) -> None:
        await go.wait()
        try:
            out, e2e = await hub.execute(s, EXPLORER_CHANGE, max(1.0, deadline - time.monotonic()))
            kernel = float(re.search(r"@@kernel_s=([0-9.]+)", out).group(1))
            s.explorer.append((level, e2e, kernel))
        except Exception as exc:  # noqa: BLE001
            s.failures.append(f"explorer change ({level} at once): {type(exc).__name__}: {exc}")

    tasks = [asyncio.create_task(one(s)) for s in students[:level]]
    await asyncio.sleep(0)
    go.set()
    await asyncio.gather(*tasks)


async def browse(hub: Hub, a: Student, path: str) -> tuple[int, str]:
    """GET ``path`` as a's browser would, with a's login cookie, following redirects (the
    hub's OAuth, user-redirect): the last HTTP status and the URL it came from."""
    url = hub.url(path)
    for _ in range(10):
        resp = await hub.request(a, "GET", url, auth="cookie")
        if resp.code not in (301, 302, 303, 307):
            break
        url = urljoin(url, resp.headers["Location"])
    return resp.code, url


async def isolation_checks(hub: Hub, a: Student, b: Student) -> list[tuple[str, bool, str]]:
    """Can student a reach student b's server or files? Each check passes when refused."""
    checks = []
    resp = await hub.request(a, "GET", f"/user/{b.name}/api/contents/{NOTEBOOK}")
    checks.append(
        (
            f"{a.name}'s token -> GET /user/{b.name}/api/contents/... (b's notebook)",
            resp.code in (401, 403, 404),
            f"HTTP {resp.code}",
        )
    )
    resp = await hub.request(
        a,
        "PUT",
        f"/user/{b.name}/api/contents/notebooks/written_by_{a.name}.txt",
        body={"type": "file", "format": "text", "content": "x"},
    )
    checks.append(
        (
            f"{a.name}'s token -> PUT a file into /user/{b.name}/",
            resp.code in (401, 403, 404),
            f"HTTP {resp.code}",
        )
    )
    resp = await hub.request(a, "GET", f"/hub/api/users/{b.name}")
    checks.append(
        (
            f"{a.name}'s token -> GET /hub/api/users/{b.name}",
            resp.code in (401, 403, 404),
            f"HTTP {resp.code}",
        )
    )
    # A browser: a's login cookie, following the redirects through the hub's OAuth.
    final, _ = await browse(hub, a, f"/user/{b.name}/lab")
    checks.append(
        (
            f"{a.name}'s browser session -> /user/{b.name}/lab (following redirects)",
            final in (401, 403, 404),
            f"ends with HTTP {final}",
        )
    )
    other = Path(pwd.getpwnam(b.name).pw_dir)
    probe = (
        "import os\n"
        "results = []\n"
        f"for what, action in [('read', lambda: open({str(other / NOTEBOOK)!r}).read()),\n"
        f"                     ('list', lambda: os.listdir({str(other)!r})),\n"
        f"                     ('write', lambda: open({str(other / 'x.txt')!r}, 'w'))]:\n"
        "    try:\n"
        "        action()\n"
        "        results.append(what + ':ALLOWED')\n"
        "    except PermissionError:\n"
        "        results.append(what + ':refused')\n"
        "print('@@' + ' '.join(results))\n"
    )
    out, _ = await hub.execute(a, probe, timeout=60)
    verdict = re.search(r"@@(.*)", out).group(1).strip()
    checks.append(
        (
            f"{a.name}'s kernel -> read, list, write in {other}",
            "ALLOWED" not in verdict,
            verdict,
        )
    )
    return checks


async def link_checks(hub: Hub, a: Student) -> list[tuple[str, bool, str]]:
    """The links a teacher hands out: the hub's user-redirect link to the Japanese notebook
    01 lands a signed-in student on their own copy of it."""
    target = f"lab/tree/{JAPANESE_NOTEBOOK}"
    final, path = await browse(hub, a, f"/hub/user-redirect/{target}")
    landed = urlsplit(path).path.endswith(f"/user/{a.name}/{target}")
    copy = await hub.request(a, "GET", f"/user/{a.name}/api/contents/{JAPANESE_NOTEBOOK}")
    return [
        (
            f"{a.name}'s browser session -> /hub/user-redirect/{target}",
            final == 200 and landed,
            f"ends with HTTP {final} at {urlsplit(path).path}",
        ),
        (f"{a.name}'s copy has {JAPANESE_NOTEBOOK}", copy.code == 200, f"HTTP {copy.code}"),
    ]


def culler_running(hub_pid: int) -> bool:
    """Is jupyterhub_idle_culler running as a service the hub started?"""

    def is_culler(pid: int) -> bool:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read()
        return parent_of(pid) == hub_pid and b"jupyterhub_idle_culler" in cmd

    return bool(pids_where(is_culler))


def report(
    args, students, checks, hub_mem, load_before, load_after, culler, culled, elapsed
) -> bool:
    mib = 2**20
    n = len(students)
    failures = [(s.name, f) for s in students for f in s.failures]
    print("\n=== classroom-check results ===")
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs; python {platform.python_version()}"
    )
    print(f"load average before: {load_before}; after: {load_after}; wall time {elapsed:.0f} s")

    def row(label: str, values: list[float]) -> str:
        if not values:
            return f"| {label} | - | - | - | 0 |"
        return (
            f"| {label} | {percentile(values, 50):.2f} | {percentile(values, 95):.2f} "
            f"| {max(values):.2f} | {len(values)} |"
        )

    peaks = list(hub_mem["students"].values())
    pss = [p / mib for _, p in peaks]
    rss = [r / mib for r, _ in peaks]
    lines = [
        f"### {n} students, {os.cpu_count()} cores (load average before {load_before})",
        "",
        "| seconds | p50 | p95 | max | n |",
        "| --- | ---: | ---: | ---: | ---: |",
        row("sign in and server start, all at once", [s.spawn_s for s in students]),
        row("notebook 01 top to bottom, all at once", [s.notebook_s for s in students]),
    ]
    levels = concurrency_levels(n)
    within = {}
    for level in levels:
        e2e = [e for s in students for (lv, e, _) in s.explorer if lv == level]
        kern = [k for s in students for (lv, _, k) in s.explorer if lv == level]
        within[level] = (sum(e <= ANSWER_WITHIN_S for e in e2e), len(e2e))
        lines.append(row(f"explorer change, {level} at once, request to reply", e2e))
        lines.append(row(f"explorer change, {level} at once, inside the kernel", kern))
    lines += [
        "",
        f"| students moving a slider at once | answers within {ANSWER_WITHIN_S:g} s |",
        "| ---: | ---: |",
    ]
    lines += [f"| {lv} | {ok} of {total} |" for lv, (ok, total) in within.items()]
    if pss:
        lines += [
            "",
            f"memory per student (server + kernel, peak): PSS median {statistics.median(pss):.0f}"
            f" MiB, max {max(pss):.0f} MiB; RSS median {statistics.median(rss):.0f} MiB, "
            f"max {max(rss):.0f} MiB",
            f"hub + proxy + culler: RSS {hub_mem['hub'] / mib:.0f} MiB",
        ]
    print("\nper student (peak memory, server start, notebook 01, explorer changes):")
    for s in students:
        r, p = hub_mem["students"].get(s.name, (0, 0))
        times = ", ".join(f"{e:.2f}" for _, e, _ in s.explorer)
        print(
            f"  {s.name}: PSS {p / mib:.0f} MiB, RSS {r / mib:.0f} MiB; start {s.spawn_s:.1f} s; "
            f"notebook 01 {s.notebook_s:.1f} s ({s.notebook_cells} cells); changes [{times}] s"
        )
    print("\nisolation (each must be refused):")
    for what, ok, detail in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {what}: {detail}")
    changes = sum(len(s.explorer) for s in students)
    wanted = sum(min(level, n) * args.changes for level in levels)
    print(f"explorer changes answered: {changes} of {wanted}")
    print(f"idle culler running as a hub service: {'yes' if culler else 'NO'}")
    cull_text = (
        f"idle server culled {culled:.0f} s after it started (culler timeout {CULL_TIMEOUT} s, "
        f"checks every {CULL_EVERY} s)"
        if culled is not None
        else "idle server NOT culled"
    )
    print(cull_text)
    print(f"\nfailures: {len(failures)}")
    for name, f in failures:
        print(f"  {name}: {f}")
    refused = sum(ok for _, ok, _ in checks)
    lines += [
        f"isolation: {refused} of {len(checks)} attempts on another student's server or files "
        f"refused; failures: {len(failures)}; explorer changes answered: {changes} of {wanted}",
        cull_text,
    ]
    print("\n" + "\n".join(lines))
    expected = len(levels) * args.changes
    complete = changes == wanted
    isolated = len(checks) > 0 and all(ok for _, ok, _ in checks) if n >= 2 else True
    passed = not failures and complete and isolated and culler and culled is not None
    print(
        f"\nclassroom-check: {'PASSED' if passed else 'FAILED'} ({n} students, "
        f"{expected} rounds of explorer changes, {len(checks)} isolation checks)"
    )
    return passed


async def wait_for_hub(hub: Hub, hub_proc: subprocess.Popen, deadline: float) -> None:
    probe = Student("probe")
    while True:
        if hub_proc.poll() is not None:
            raise RuntimeError(f"the hub exited with status {hub_proc.returncode}")
        try:
            resp = await hub.request(probe, "GET", "/hub/api/", auth=None, timeout=5)
            if resp.code == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("the hub did not come up")
        await asyncio.sleep(0.5)


async def cull_check(hub: Hub, hub_proc: subprocess.Popen, name: str, deadline: float) -> float:
    """Sign in, start a server, leave it idle: seconds until the culler stopped it."""
    await wait_for_hub(hub, hub_proc, deadline)
    student = Student(name)
    await hub.login(student)
    await hub.start_server(student, deadline)
    started = time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(2)
        resp = await hub.request(student, "GET", f"/hub/api/users/{name}")
        if resp.code != 200:
            raise RuntimeError(f"user model: HTTP {resp.code}")
        if not json.loads(resp.body).get("servers"):
            return time.monotonic() - started
    raise TimeoutError("the idle server was not culled in time")


async def run(args, hub_proc: subprocess.Popen, hub: Hub, names: list[str], t_end: float):
    students = [Student(name) for name in names]
    deadline = t_end - 30  # leave time to report and clean up
    await wait_for_hub(hub, hub_proc, deadline)
    print(f"hub up at {hub.base}; {len(students)} students sign in and start their servers")
    stop = asyncio.Event()
    sampler = MemorySampler(names)
    sampling = asyncio.create_task(sampler.run(stop))
    await asyncio.gather(*(student_session(hub, s, deadline) for s in students))
    ok = [s for s in students if not s.failures]
    print(f"notebook 01 done by {len(ok)} of {len(students)}; explorer changes start")
    for level in concurrency_levels(len(students)):
        for _ in range(args.changes):
            await explorer_round(hub, ok, level, deadline)
    stop.set()
    await sampling
    checks = []
    if len(ok) >= 2:
        checks = await isolation_checks(hub, ok[0], ok[1])
    elif len(students) < 2:
        print("isolation checks need at least 2 students")
    for what, fine, detail in await link_checks(hub, ok[0]) if ok else []:
        print(f"{'ok  ' if fine else 'FAIL'} {what}: {detail}")
        if not fine:  # a failure of that student's, so that the check fails
            ok[0].failures.append(f"{what}: {detail}")
    hub_rss = 0
    for pid in pids_where(lambda p: hub_proc.pid in (p, parent_of(p)) and uid_of(p) == 0):
        hub_rss += memory_of(pid)[0]
    return students, checks, {"students": sampler.peak, "hub": hub_rss}


def print_log_tail(state: Path, lines: int = 40) -> None:
    log = state / "hub.log"
    if log.exists():
        tail = log.read_text().splitlines()[-lines:]
        print(f"last lines of {log}:\n  " + "\n  ".join(tail))


def preflight(args) -> None:
    problems = []
    if os.geteuid() != 0:
        problems.append("run as root: the test creates one system account per student")
    for tool in ("useradd", "userdel", "groupdel", "runuser"):
        if shutil.which(tool) is None:
            problems.append(f"{tool} is missing")
    if not os.access(args.proxy, os.X_OK):
        problems.append(f"no configurable-http-proxy at {args.proxy} (run `make classroom-deps`)")
    if not (args.student_venv / "bin" / "jupyterhub-singleuser").exists():
        problems.append(f"no student environment at {args.student_venv} (`make classroom-venv`)")
    else:
        # A student account must be able to run it: a venv under /root, say, is unreadable.
        check = "import rnn_lesson.widgets, jupyterhub, ipykernel"
        done = run_as("nobody", [str(args.student_venv / "bin" / "python"), "-c", check])
        if done.returncode != 0:
            problems.append(
                f"{args.student_venv} is not usable by other accounts (tried as nobody): "
                f"{done.stderr.strip().splitlines()[-1:]}; put it where every account can read "
                "it, e.g. CLASSROOM_STUDENT_VENV=/srv/rnn-lesson/venv"
            )
    if problems:
        raise SystemExit("classroom-check cannot start:\n  " + "\n  ".join(problems))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    preflight(args)
    t_start = time.monotonic()
    t_end = t_start + args.time_limit
    load_before = load_average()
    prefix = "rnnlt" + secrets.token_hex(2)
    group = f"{prefix}grp"
    names = [f"{prefix}{i:02d}" for i in range(1, args.students + 1)]
    cleanup = Cleanup(prefix, group)
    if cleanup.test_accounts():
        raise SystemExit(f"accounts with the prefix {prefix} exist already; run again")

    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    passed = False
    try:
        state = Path(tempfile.mkdtemp(prefix=f"{prefix}-state-"))  # mode 0700, root only
        # Short, so kernel socket paths in the homes fit (accounts.check_home_base).
        homes = make_homes(prefix)
        cleanup.dirs += [state, homes]
        password = secrets.token_urlsafe(24)

        def hub_env(state: Path, port: int, **more: str) -> dict[str, str]:
            return check_hub_env(
                state,
                port,
                homes,
                group,
                args.student_venv,
                CLASSROOM_MODE="loadtest",
                CLASSROOM_USER_PREFIX=prefix,
                CLASSROOM_TEST_PASSWORD=password,
                **more,
            )

        port = free_port()
        hub_proc = cleanup.start_hub(hub_env(state, port), state)
        students, checks, memory = asyncio.run(
            asyncio.wait_for(
                run(args, hub_proc, Hub(port, password), names, t_end), t_end - time.monotonic()
            )
        )
        culler = culler_running(hub_proc.pid)
        if any(s.failures for s in students):
            print_log_tail(state)
        load_after = load_average()
        cleanup.stop_hub(hub_proc, state)
        # The culler at work: a second hub whose culler stops servers idle for CULL_TIMEOUT s.
        cull_state = state / "cull"
        cull_state.mkdir(mode=0o700)
        port = free_port()
        cull_hub = cleanup.start_hub(
            hub_env(
                cull_state,
                port,
                CLASSROOM_CULL_TIMEOUT=str(CULL_TIMEOUT),
                CLASSROOM_CULL_EVERY=str(CULL_EVERY),
            ),
            cull_state,
        )
        print(f"idle culler check: one server left idle, culler timeout {CULL_TIMEOUT} s")
        try:
            culled = asyncio.run(
                cull_check(
                    Hub(port, password),
                    cull_hub,
                    f"{prefix}00",
                    min(t_end, time.monotonic() + 180),
                )
            )
        except Exception as exc:  # noqa: BLE001 (reported as a failure of the check)
            print(f"idle culler check failed: {type(exc).__name__}: {exc}")
            print_log_tail(cull_state)
            culled = None
        passed = report(
            args,
            students,
            checks,
            memory,
            load_before,
            load_after,
            culler,
            culled,
            time.monotonic() - t_start,
        )
    except (Exception, KeyboardInterrupt) as exc:
        print(f"classroom-check: FAILED: {type(exc).__name__}: {exc}")
        for _, state in cleanup.hubs:
            print_log_tail(state)
    finally:
        cleanup.run()
        for line in cleanup.log:
            print(line)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
