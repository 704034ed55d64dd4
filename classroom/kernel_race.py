"""Many kernels started at once by separate servers: over TCP (jupyter's default) and over the
transport the classroom hub's configuration sets (IPC, Unix sockets).

Why: with the Jupyter kernel protocol over TCP, a server picks free ports for a new kernel
(binds port 0, notes the port, closes it) and the kernel binds them a moment later. When
twenty students' servers start kernels at once on one machine, another process can take a
port in between, and that kernel dies ("zmq.error.ZMQError: Address already in use",
"AsyncIOLoopKernelRestarter: restart failed"; it happened once in `make classroom-check`).
Over IPC a kernel's sockets are files in its server's runtime dir: nothing to race for.

What it does, in order:

1. executes classroom/jupyterhub_config.py as JupyterHub does, in its "loadtest" mode, and
   takes the kernel managers' options from ``c.Spawner.args`` (``--KernelManager.*``,
   ``--MappingKernelManager.*``, ...): the NEW setting. The OLD setting is the same minus
   the transport option (jupyter's default, TCP). A config without a transport option is an
   error (exit 2): there would be nothing to compare;
2. starts --servers worker processes (default 20) with the students' venv, each a stand-in
   for one student's server: its own home, runtime dir ``<home>/.r`` (short, for the 108-byte
   limit of a Unix socket's path), umask 077, and in each round its own kernel manager of
   jupyter_server (AsyncMappingKernelManager, the class a server uses) built from the
   setting's options;
3. runs rounds, alternately old and new setting. In a round every worker prepares its kernel
   manager and waits at a barrier; then all start --kernels kernels each (default 2: 40 at
   once) at the same moment, so ports are picked in many processes at once. Each kernel must
   answer ``1+1`` with ``2`` (through a kernel client, as the server's websocket does) within
   --kernel-timeout seconds, and must not die or be restarted on the way; the worker also
   checks that the kernel used the setting's transport (and, over IPC, that its sockets are
   in the runtime dir). Anything else is a failure, with the kernel's own error lines
   (the ZMQError) in its message; a kernel whose start raised (its output shows the
   traceback) fails at once, since it never answers. A kernel that answers although its
   output shows errors (its heartbeat lost its port, or another kernel's client reached it
   by mistake) is not a failure; those are counted apart. Then every kernel is shut down;
4. prints per setting: rounds, kernels started, failures, the first failure messages, time;
   exits 1 if the new setting had any failure (or ran no round), 0 otherwise, and says so
   plainly when the old setting never failed (then this run did not show the race).
   --port-churn N adds N processes that keep binding and closing ephemeral ports on
   127.0.0.1 during the rounds, as a busy machine's other servers and clients do.

It stops within --time-limit seconds (it starts no round it cannot finish), and on any exit
stops the workers, kills every kernel they started (found by its connection file, in this
run's temp dir) and removes the temp dir. It uses only 127.0.0.1 and Unix sockets.

    make classroom-kernel-race                       # what `make classroom-check` runs first
    /srv/rnn-lesson/venv/bin/python classroom/kernel_race.py --rounds 10 --time-limit 900
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import os
import queue
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from accounts import MAX_SOCKET_PATH
from load_test import _int_in

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "jupyterhub_config.py"
HOST = "127.0.0.1"
# Options of these classes configure how a server starts and talks to its kernels.
KERNEL_OPTION = re.compile(r"^--(\w*KernelManager|KernelRestarter|\w*Provisioner)\.(\w+)=(.*)$")
TRANSPORT = "transport"
CLEANUP_S = 30  # kept out of --time-limit for stopping everything
SHOW_FAILURES = 5


# --- arguments ---------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; a bad value exits with status 2 and says what is allowed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--servers",
        type=_int_in(1, 100, "--servers"),
        default=20,
        help="worker processes, each standing for one student's server (1..100, default 20)",
    )
    parser.add_argument(
        "--kernels",
        type=_int_in(1, 10, "--kernels"),
        default=2,
        help="kernels each server starts per round, all at once (1..10, default 2)",
    )
    parser.add_argument(
        "--rounds",
        type=_int_in(1, 1000, "--rounds"),
        default=3,
        help="rounds per setting, old and new alternately (1..1000, default 3)",
    )
    parser.add_argument(
        "--only",
        choices=["old", "new"],
        help="run one setting only (default: both, alternately)",
    )
    parser.add_argument(
        "--kernel-timeout",
        type=_int_in(5, 600, "--kernel-timeout"),
        default=120,
        help="seconds for a kernel to answer 1+1 after its start (5..600, default 120)",
    )
    parser.add_argument(
        "--time-limit",
        type=_int_in(60, 7200, "--time-limit"),
        default=600,
        help="seconds after which no round starts and the test stops (60..7200, default 600)",
    )
    parser.add_argument(
        "--port-churn",
        type=_int_in(0, 20, "--port-churn"),
        default=0,
        help="processes binding and closing ephemeral ports during the rounds (0..20, default 0)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=CONFIG,
        help="the hub's configuration to read the kernels' options from (default: the hub's)",
    )
    parser.add_argument(
        "--student-venv",
        type=Path,
        default=Path(os.environ.get("CLASSROOM_STUDENT_VENV", "/srv/rnn-lesson/venv")),
        help="the project's environment the students' servers run in",
    )
    # A worker, started by this script: one student's server.
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)  # its home
    parser.add_argument("--churn", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is None and not args.config.is_file():
        parser.error(f"no hub configuration at {args.config}")
    return args


# --- the settings, from the hub's configuration --------------------------------------------------
FOLDER_SETTINGS = ("CLASSROOM_NOTEBOOKS", "CLASSROOM_HOME_BASE", "CLASSROOM_STUDENT_VENV")


def spawner_args(config: Path, env: dict[str, str] | None = None) -> list[str]:
    """``c.Spawner.args`` of the hub's configuration, executed as JupyterHub does, in loadtest
    mode (its test sign-in settings are made up here; nothing is started). The folders the
    configuration checks (CLASSROOM_NOTEBOOKS, CLASSROOM_HOME_BASE, CLASSROOM_STUDENT_VENV) are
    taken from the environment, as the hub takes them; every other CLASSROOM_ setting is not."""
    from traitlets.config import Config

    loadtest = {
        "CLASSROOM_MODE": "loadtest",
        "CLASSROOM_USER_PREFIX": "rnnkrace",
        "CLASSROOM_TEST_PASSWORD": secrets.token_urlsafe(24),
    }
    saved = dict(os.environ)
    try:
        for key in [k for k in os.environ if k.startswith("CLASSROOM_")]:
            if key not in FOLDER_SETTINGS:
                del os.environ[key]
        os.environ.update({**loadtest, **(env or {})})
        c = Config()
        namespace = {"get_config": lambda: c, "__file__": str(config)}
        exec(compile(config.read_text(), str(config), "exec"), namespace)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    args = c.Spawner.args if "args" in c.Spawner else []
    return [str(a) for a in args]


def kernel_settings(args: list[str]) -> dict[str, list[str]]:
    """{"old": options, "new": options}: the kernel managers' options among a server's
    command-line ``args`` (new), and the same without the transport option (old: TCP).

    Raises ValueError when they set no transport, set it twice, or give a kernel
    manager's option in a form this test does not read (``--Class.trait value``)."""
    options, transports = [], []
    for i, arg in enumerate(args):
        match = KERNEL_OPTION.match(arg)
        if match:
            options.append(arg)
            if match.group(2) == TRANSPORT:
                transports.append(arg)
        elif re.match(r"^--\w*(KernelManager|KernelRestarter|Provisioner)\.\w+$", arg):
            raise ValueError(
                f"Spawner.args[{i}] {arg!r}: give kernel managers' options as --Class.trait=value"
            )
    if not transports:
        raise ValueError(
            "the hub's configuration sets no --KernelManager.transport in c.Spawner.args: its "
            "kernels use jupyter's default, TCP, the setting this test shows failing; there is "
            'no new setting to compare (add "--KernelManager.transport=ipc" to c.Spawner.args)'
        )
    if len(transports) > 1:
        raise ValueError(f"c.Spawner.args sets the transport more than once: {transports}")
    return {"old": [o for o in options if o not in transports], "new": options}


def transport_of(options: list[str]) -> str:
    """The transport the options set ("tcp", jupyter's default, if none)."""
    for option in options:
        match = KERNEL_OPTION.match(option)
        if match and match.group(2) == TRANSPORT:
            return match.group(3).strip("'\"")
    return "tcp"


def round_plan(rounds: int, only: str | None) -> list[str]:
    """The order of the rounds: old and new alternately (the machine's load changes with
    time; alternating shares it fairly), or one setting only."""
    names = [only] if only else ["old", "new"]
    return [name for _ in range(rounds) for name in names]


# --- a worker: one student's server --------------------------------------------------------------
def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def error_lines(log: Path, limit: int = 2) -> str:
    """The last lines of a kernel's output that name an error (its ZMQError, a traceback's
    last line)."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    found = [s.strip() for s in lines if re.search(r"Error|Exception|error:", s)]
    return " | ".join(found[-limit:])


def start_failed(log: Path) -> bool:
    """Whether a kernel's own output shows that its start raised in its main thread (a
    traceback through ipykernel's kernelapp.py, e.g. its ZMQError at bind): such a kernel
    never answers. Other tracebacks there do not count by themselves: the heartbeat thread's
    bind error, or a kernel that another kernel's client reached by mistake ("Invalid
    Signature") still answers; whether it does is what decides."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return False
    blocks = re.findall(
        r"^Traceback \(most recent call last\):\n(?:[ \t].*\n)+^\w[\w.]*(?:Error|Exception)\b",
        text,
        re.M,
    )
    return any("kernelapp.py" in block for block in blocks)


async def one_kernel(mkm, home: Path, tag: str, timeout: float) -> dict:
    """Start a kernel with the server's kernel manager, have it answer 1+1; a dict of what
    happened (ok, seconds, error, transport, pid)."""
    import zmq

    runtime = home / ".r"
    log_path = home / f"{tag}.log"
    events: list[str] = []
    out = {"ok": False, "seconds": None, "error": "", "transport": None, "pid": None, "warning": ""}
    t0 = time.monotonic()

    died = asyncio.Event()

    def note(what: str):
        def callback() -> None:
            events.append(what)
            died.set()

        return callback

    async def start_and_ask(log) -> None:
        kid = await mkm.start_kernel(kernel_name="python3", stdout=log, stderr=log)
        km = mkm.get_kernel(kid)
        km.add_restart_callback(note("restarted"), "restart")
        km.add_restart_callback(note("died"), "dead")
        out["transport"] = km.transport
        process = getattr(km.provisioner, "process", None)
        out["pid"] = getattr(process, "pid", None)
        if km.transport == "ipc":
            paths = [f"{km.ip}-{port}" for port in km.ports]
            outside = [p for p in paths if not p.startswith(f"{runtime}/")]
            longest = max(len(p.encode()) for p in paths)
            if outside or longest > MAX_SOCKET_PATH:
                raise RuntimeError(f"IPC sockets outside {runtime}/ or too long: {paths}")
        kc = km.client()
        # A kernel that lost a port leaves its client connected to another process's socket,
        # or to none: queued messages then fill up and a send blocks the worker's whole event
        # loop (seen here: the round never ended). A send times out instead, and raises.
        kc.context.setsockopt(zmq.SNDTIMEO, 2000)
        kc.context.setsockopt(zmq.LINGER, 0)
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=timeout)
            shown: list[str] = []

            def hook(msg) -> None:
                if msg["msg_type"] == "execute_result":
                    shown.append(msg["content"]["data"].get("text/plain", ""))

            reply = await kc.execute_interactive("1+1", timeout=timeout, output_hook=hook)
        finally:
            kc.stop_channels()
        if reply["content"]["status"] != "ok" or shown != ["2"]:
            raise RuntimeError(f"1+1 gave status {reply['content']['status']!r}, shown {shown}")
        if not await km.is_alive():
            raise RuntimeError("the kernel died after answering")

    async def watch_log() -> None:
        """A kernel whose start raised (its traceback in its output) is broken even while
        its process lives on: ipykernel's ZMQError at bind leaves a process that never
        answers, and that the restarter does not see (its process is alive)."""
        while True:
            await asyncio.sleep(0.5)
            if start_failed(log_path):
                note("raised at its start")()
                return

    async def unless_it_dies(log) -> None:
        """start_and_ask, given up as soon as the kernel is found broken: dead (its
        restarter says so) or raised at its start (its output says so). Its client would
        wait on the broken kernel until the timeout."""
        asking = asyncio.ensure_future(start_and_ask(log))
        dying = asyncio.ensure_future(died.wait())
        watching = asyncio.ensure_future(watch_log())
        try:
            await asyncio.wait([asking, dying], return_when=asyncio.FIRST_COMPLETED)
        finally:
            dying.cancel()
            watching.cancel()
            if not asking.done():
                asking.cancel()
                await asyncio.gather(asking, return_exceptions=True)  # its channels closed
        if not asking.cancelled():
            asking.result()  # its exception, if it raised

    with open(log_path, "w") as log:
        try:
            await asyncio.wait_for(unless_it_dies(log), timeout)
            out["ok"] = not events
        except asyncio.TimeoutError:
            out["error"] = f"no answer to 1+1 within {timeout:.0f} s"
        except Exception as err:  # noqa: BLE001 - any error of a kernel's start is a failure
            out["error"] = f"{type(err).__name__}: {err}"[:300]
    out["seconds"] = round(time.monotonic() - t0, 2)
    if events:
        out["error"] = "; ".join(filter(None, [out["error"], "the kernel " + ", ".join(events)]))
    found = error_lines(log_path)
    if found and not out["ok"]:
        out["error"] += f"; the kernel said: {found[:400]}"
    elif found:
        out["warning"] = f"answered, but its output shows errors: {found[:400]}"
    return out


async def worker_main(home: Path, kernels: int, timeout: float) -> None:
    """Stand for a student's server: prepare a kernel manager when told, wait at the
    barrier ("go"), start the kernels, report a JSON line, shut them down; until "quit"."""
    os.umask(0o077)
    runtime = home / ".r"
    runtime.mkdir(parents=True, exist_ok=True)
    from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
    from traitlets.config.loader import KVArgParseConfigLoader

    loop = asyncio.get_running_loop()

    async def readline() -> str:
        return (await loop.run_in_executor(None, sys.stdin.readline)).strip()

    say("hello")
    while True:
        line = await readline()
        command, _, rest = line.partition(" ")
        if command != "prepare":  # "quit", or the end of stdin: the parent is gone
            break
        spec = json.loads(rest)
        config = KVArgParseConfigLoader(spec["options"]).load_config()
        mkm = AsyncMappingKernelManager(
            config=config, root_dir=str(home), connection_dir=str(runtime)
        )
        say("ready")
        if await readline() != "go":
            break
        tags = [f"r{spec['round']:03d}-k{i}" for i in range(kernels)]
        # Should the round hang all the same, its stacks go to the worker's log, which the
        # parent prints when the worker does not report in time.
        watchdog = loop.call_later(timeout + 40, dump_tasks)
        faulthandler.dump_traceback_later(timeout + 50)
        note = ""
        try:
            results = await asyncio.gather(*(one_kernel(mkm, home, t, timeout) for t in tags))
            try:
                await asyncio.wait_for(mkm.shutdown_all(now=True), 30)
            except Exception as err:  # noqa: BLE001 - noted; what is left is killed below
                note = f"shutting the kernels down: {type(err).__name__}: {err}"
            left = processes_mentioning(f"{runtime}/")  # a kernel's connection file is there
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if left:
                note = "; ".join(filter(None, [note, f"killed {len(left)} kernel(s) left"]))
        finally:
            watchdog.cancel()
            faulthandler.cancel_dump_traceback_later()
            culler = getattr(mkm, "_culler_callback", None)
            if culler is not None:
                culler.stop()
        say(json.dumps({"results": results, "note": note}))


def dump_tasks() -> None:
    print(f"--- the worker's tasks after {time.monotonic():.0f} s:", file=sys.stderr)
    for task in asyncio.all_tasks():
        task.print_stack(file=sys.stderr)
    sys.stderr.flush()


def churn_main() -> None:
    """Bind and close ephemeral ports on 127.0.0.1 without end, as other servers picking
    ports for their kernels do (and hold each for a moment, as a short connection does)."""
    held: list[socket.socket] = []
    while True:
        s = socket.socket()
        s.bind((HOST, 0))
        held.append(s)
        if len(held) > 20:
            held.pop(0).close()
        time.sleep(0.002)


# --- the parent ------------------------------------------------------------------------------
class TimeUp(BaseException):
    pass


@dataclass
class Tally:
    rounds: int = 0
    kernels: int = 0
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # answered, with errors in their output
    seconds: float = 0.0
    slowest: float = 0.0


class Workers:
    """The worker processes, talking over their stdin and stdout (one line a message)."""

    def __init__(self, tmp: Path, args: argparse.Namespace) -> None:
        self.tmp = tmp
        self.python = args.student_venv / "bin" / "python"
        self.procs: list[subprocess.Popen] = []
        self.churners: list[subprocess.Popen] = []
        self.lines: queue.Queue = queue.Queue()
        self.env = dict(os.environ)
        self.env.update(
            PATH=f"{args.student_venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            OPENBLAS_NUM_THREADS="1",
            OMP_NUM_THREADS="1",
            MKL_NUM_THREADS="1",
            PYTHONUNBUFFERED="1",
        )
        for key in [k for k in self.env if k.startswith(("JUPYTER", "IPYTHON"))]:
            del self.env[key]

    def start(self, n: int, kernels: int, timeout: int) -> None:
        for i in range(n):
            home = self.tmp / f"s{i:02d}"
            (home / ".r").mkdir(parents=True)
            env = dict(self.env)
            env.update(
                HOME=str(home),
                JUPYTER_RUNTIME_DIR=str(home / ".r"),
                JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
                JUPYTER_DATA_DIR=str(home / ".local/share/jupyter"),
                IPYTHONDIR=str(home / ".ipython"),
            )
            cmd = [str(self.python), __file__, "--worker", str(home)]
            cmd += ["--kernels", str(kernels), "--kernel-timeout", str(timeout)]
            with open(home / "server.log", "w") as log:
                proc = subprocess.Popen(
                    cmd,
                    env=env,
                    cwd=home,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    text=True,
                    start_new_session=True,
                )
            self.procs.append(proc)
            threading.Thread(target=self._read, args=(i, proc), daemon=True).start()

    def start_churn(self, n: int) -> None:
        for _ in range(n):
            self.churners.append(
                subprocess.Popen(
                    [sys.executable, __file__, "--churn"],
                    stdout=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )

    def stop_churn(self) -> None:
        for proc in self.churners:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
        self.churners.clear()

    def _read(self, i: int, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            self.lines.put((i, line.rstrip("\n")))
        self.lines.put((i, None))  # the worker's stdout ended: it exited

    def send_all(self, text: str) -> None:
        for proc in self.procs:
            proc.stdin.write(text + "\n")
        for proc in self.procs:
            proc.stdin.flush()

    def collect(self, what: str, deadline: float) -> dict[int, str]:
        """One line from every worker before ``deadline`` (monotonic), {worker: line}; a worker
        that exits or stays silent is an error, with the end of its log."""
        got: dict[int, str] = {}
        while len(got) < len(self.procs):
            try:
                i, line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                silent = [i for i in range(len(self.procs)) if i not in got]
                for i in silent[:2]:
                    log = (self.tmp / f"s{i:02d}" / "server.log").read_text(errors="replace")
                    print(f"--- the end of worker s{i:02d}'s log:", flush=True)
                    print("\n".join(log.splitlines()[-60:]), flush=True)
                late = ", ".join(f"s{i:02d}" for i in silent)
                raise RuntimeError(f"no {what} from worker(s) {late} in time") from None
            if line is None:
                log = (self.tmp / f"s{i:02d}" / "server.log").read_text(errors="replace")
                tail = " | ".join(log.strip().splitlines()[-3:])
                raise RuntimeError(f"worker s{i:02d} exited (waiting for {what}): {tail}")
            got[i] = line
        return got

    def stop(self) -> list[str]:
        """Stop the workers, then kill any process still running from this run: the kernels
        (their own sessions, found by their connection files in the temp dir)."""
        notes = []
        self.stop_churn()
        for proc in self.procs:
            try:
                if proc.poll() is None:
                    proc.stdin.write("quit\n")
                    proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
        end = time.monotonic() + 15
        for proc in self.procs:
            try:
                proc.wait(max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait(10)
        left = processes_mentioning(str(self.tmp))
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if left:
            notes.append(f"killed {len(left)} process(es) left running: {left}")
        return notes


def processes_mentioning(text: str) -> list[int]:
    """Processes whose command line contains ``text`` (a kernel's: its connection file)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if text.encode() in f.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


def run_round(workers: Workers, name: str, options: list[str], number: int, timeout: int):
    """One round: every worker prepares a kernel manager with ``options``; at the barrier all
    start their kernels at once. Returns (seconds, [(worker, result), ...], notes): notes
    say what a worker had to kill after its kernel manager's shutdown."""
    spec = json.dumps({"options": options, "round": number})
    workers.send_all(f"prepare {spec}")
    workers.collect("'ready'", time.monotonic() + 60)
    t0 = time.monotonic()
    workers.send_all("go")  # the barrier: all at once
    lines = workers.collect("results of the round", t0 + timeout + 90)
    seconds = time.monotonic() - t0
    results = []
    notes = []
    for i, line in sorted(lines.items()):
        report = json.loads(line)
        results += [(i, r) for r in report["results"]]
        if report.get("note"):
            notes.append(f"s{i:02d}: {report['note']}")
    return seconds, results, notes


def judge(name: str, transport: str, worker: int, number: int, result: dict) -> str | None:
    """A failure's message, or None: the kernel answered, and over the setting's transport."""
    where = f"round {number}, s{worker:02d}, kernel pid {result['pid']}"
    if not result["ok"]:
        return f"{where}: {result['error']}"
    if result["transport"] != transport:
        return f"{where}: used {result['transport']}, the {name} setting is {transport}"
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.churn:
        churn_main()
        return 0
    if args.worker is not None:
        asyncio.run(worker_main(args.worker, args.kernels, args.kernel_timeout))
        return 0

    t_start = time.monotonic()
    try:
        settings = kernel_settings(spawner_args(args.config))
    except ValueError as err:
        print(f"ERROR  {args.config}: {err}")
        return 2
    transports = {name: transport_of(options) for name, options in settings.items()}
    if transports["new"] == "tcp":
        print(f"ERROR  {args.config}: the new setting's transport is tcp, as the old one's")
        return 2
    python = args.student_venv / "bin" / "python"
    if not python.exists():
        print(f"ERROR  no {python}: build the students' venv first (make classroom-venv)")
        return 2
    for name, options in settings.items():
        print(f"{name} setting ({transports[name]}): {' '.join(options) or '(no options)'}")
    per_round = args.servers * args.kernels
    print(
        f"{args.servers} servers x {args.kernels} kernels = {per_round} kernels at once per round,"
        f" up to {args.rounds} round(s) per setting; {os.cpu_count()} CPUs, load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg()),
        flush=True,
    )

    tally = {name: Tally() for name in settings}
    tmp = Path(tempfile.mkdtemp(prefix="kr-"))  # short: the IPC sockets' paths live under it
    workers = Workers(tmp, args)
    budget = ""  # why fewer rounds ran than asked for: the time limit (not a failure)
    aborted = ""  # why a round did not end: an error or a signal (a failure)

    def time_up(signum, frame):
        what = "--time-limit" if signum == signal.SIGALRM else signal.Signals(signum).name
        raise TimeUp(what)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):
        signal.signal(signum, time_up)
    signal.setitimer(signal.ITIMER_REAL, max(1.0, args.time_limit - CLEANUP_S))
    try:
        workers.start(args.servers, args.kernels, args.kernel_timeout)
        workers.collect("'hello'", time.monotonic() + 120)
        workers.start_churn(args.port_churn)
        longest = 0.0
        for number, name in enumerate(round_plan(args.rounds, args.only), start=1):
            left = args.time_limit - CLEANUP_S - (time.monotonic() - t_start)
            if left < max(longest * 1.5, 20):
                budget = f"stopped before round {number}: {left:.0f} s left of --time-limit"
                break
            seconds, results, notes = run_round(
                workers, name, settings[name], number, args.kernel_timeout
            )
            longest = max(longest, seconds)
            t = tally[name]
            t.rounds += 1
            t.kernels += len(results)
            t.seconds += seconds
            t.slowest = max([t.slowest] + [r["seconds"] or 0 for _, r in results])
            failed = [judge(name, transports[name], i, number, r) for i, r in results]
            failed = [f for f in failed if f]
            t.failures += failed
            warned = [
                f"round {number}, s{i:02d}, kernel pid {r['pid']}: {r['warning']}"
                for i, r in results
                if r["ok"] and r.get("warning")
            ]
            t.warnings += warned
            print(
                f"round {number:3d} {name} ({transports[name]}): {len(results)} kernels, "
                f"{len(failed)} failed"
                + (f" ({len(warned)} more answered, with errors in their output)" if warned else "")
                + f", {seconds:.1f} s, load average {os.getloadavg()[0]:.2f}",
                flush=True,
            )
            for message in failed[:2] + warned[:1] + notes:
                print(f"          {message}", flush=True)
    except TimeUp as why:
        aborted = f"stopped by {why} (a round it interrupted is not counted)"
    except (RuntimeError, OSError, ValueError) as err:
        aborted = f"stopped: {type(err).__name__}: {err}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        notes = workers.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        notes.append(f"temp dir {tmp} removed: {'yes' if not tmp.exists() else 'NO'}")

    print()
    for name, t in tally.items():
        rate = f"{len(t.failures) / t.kernels:.1%}" if t.kernels else "-"
        print(
            f"{name} ({transports[name]}): {t.rounds} round(s), {t.kernels} kernels started, "
            f"{len(t.failures)} failed ({rate}), {t.seconds:.0f} s in rounds, "
            f"slowest kernel {t.slowest:.1f} s"
        )
        for message in t.failures[:SHOW_FAILURES]:
            print(f"    {message}")
        if len(t.failures) > SHOW_FAILURES:
            print(f"    ... and {len(t.failures) - SHOW_FAILURES} more")
        if t.warnings:
            print(f"  and {len(t.warnings)} kernel(s) answered with errors in their output "
                  "(not counted as failed), e.g.")  # fmt: skip
            for message in t.warnings[:2]:
                print(f"    {message}")
    for note in notes + [text for text in (budget, aborted) if text]:
        print(note)
    print(f"{time.monotonic() - t_start:.0f} s in all")
    old, new = tally.get("old"), tally.get("new")
    if old is not None and old.rounds and not old.failures:
        print(
            f"NOTE  the old setting ({transports['old']}) had no failure in {old.kernels} kernels:"
            " this run did not show the race (more --rounds, --kernels or --port-churn)"
        )
    if new is None:
        print("(the new setting did not run: --only old)")
        return 1 if aborted else 0
    if new.failures or not new.rounds or aborted:
        print(f"FAILED  the new setting ({transports['new']}): {len(new.failures)} failure(s) in"
              f" {new.kernels} kernels, {new.rounds} round(s)"
              + (f"; {aborted}" if aborted else ""))  # fmt: skip
        return 1
    print(f"PASSED  the new setting ({transports['new']}): no failure in {new.kernels} kernels")
    return 0


if __name__ == "__main__":
    sys.exit(main())
