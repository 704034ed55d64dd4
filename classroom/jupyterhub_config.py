# JupyterHub for a class: one login, one server and one kernel per student, on one machine.
#
# Start it with `make classroom` (real use) or let `make classroom-check` start it (load test
# and security check). Everything that differs between a classroom and the checks comes from
# the environment variables read below, so they all run the same hub, spawner, culler and hooks.
#
#   CLASSROOM_MODE          "teach" (default): the classroom authenticator (classroom_auth.py)
#                           "loadtest": DummyAuthenticator on 127.0.0.1 only, for the load test
#   CLASSROOM_TEACHER       teach mode: the hub name of the teacher (the one admin); required
#   CLASSROOM_CLASS_LIST    teach mode: a file with the students' hub names, one per line;
#                           only they can sign up and be approved; required
#   CLASSROOM_SIGNUP        teach mode: "open" (default) or "closed" once the class signed up
#   CLASSROOM_IP, _PORT     where the hub listens (default 127.0.0.1 and 8000; see
#                           docs/classroom.md for serving it to a class behind a reverse
#                           proxy or with TLS)
#   CLASSROOM_SSL_CERT, _KEY  serve https directly with this certificate and key
#   CLASSROOM_SUBDOMAIN_HOST  e.g. https://hub.example.edu: each student's server on its own
#                           origin (https://<name>.hub.example.edu), which needs wildcard DNS
#                           and a wildcard certificate (docs/classroom.md)
#   CLASSROOM_TRUSTED_PROXIES comma-separated addresses of reverse proxies in front of the hub,
#                           whose X-Forwarded-For the hub believes (for the sign-in limit)
#   CLASSROOM_STUDENT_VENV  the project's environment the students' servers run in
#                           (default: /srv/rnn-lesson/venv, built by `make classroom-venv`)
#   CLASSROOM_NOTEBOOKS     the folder a student's server copies into ~/notebooks when that is
#                           missing (default /srv/rnn-lesson/notebooks, from `make classroom-venv`);
#                           it and its parents must be root's and writable by root alone
#   CLASSROOM_GROUP         the system group of student accounts (default rnn-students)
#   CLASSROOM_HOME_BASE     where student homes are created (default /home; root's alone)
#   CLASSROOM_STATE_DIR     the hub's database, cookie secret and the teacher's password hash
#                           (default classroom/state)
#   CLASSROOM_CULL_TIMEOUT  seconds without activity before a server is stopped (default 3600)
#   CLASSROOM_CULL_EVERY    seconds between the culler's checks (default 300)
#   CLASSROOM_HUB_PORT, CLASSROOM_PROXY_API_PORT  internal ports on 127.0.0.1 (8081, 8001)
#   loadtest mode only:
#   CLASSROOM_TEST_PASSWORD the one password of the simulated students
#   CLASSROOM_USER_PREFIX   only names of this prefix followed by digits may sign in
#
# Each student's server is a local process (LocalProcessSpawner) running as that student's
# own system account, created on first start by the pre-spawn hook below, with a home of
# mode 0700: a student's kernel cannot read or write another student's (or the teacher's)
# files, and the hub refuses every /user/<someone else>/ route. Root never touches a path
# inside a student's home (accounts.py says how).
import asyncio
import importlib.util
import os
import re
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (JupyterHub defines get_config when it loads this file)

HERE = Path(__file__).resolve().parent


def _load(name: str):
    """One of this folder's modules (accounts, policy, classroom_auth), by its file."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


accounts = _load("accounts")

MODE = os.environ.get("CLASSROOM_MODE", "teach")
if MODE not in ("teach", "loadtest"):
    raise ValueError(f"CLASSROOM_MODE must be 'teach' or 'loadtest', not {MODE!r}")

STUDENT_VENV = Path(os.environ.get("CLASSROOM_STUDENT_VENV", "/srv/rnn-lesson/venv"))
NOTEBOOKS = Path(os.environ.get("CLASSROOM_NOTEBOOKS", "/srv/rnn-lesson/notebooks"))
GROUP = os.environ.get("CLASSROOM_GROUP", "rnn-students")
HOME_BASE = Path(os.environ.get("CLASSROOM_HOME_BASE", "/home"))
STATE_DIR = Path(os.environ.get("CLASSROOM_STATE_DIR", str(HERE / "state")))
CULL_TIMEOUT = int(os.environ.get("CLASSROOM_CULL_TIMEOUT", "3600"))
CULL_EVERY = int(os.environ.get("CLASSROOM_CULL_EVERY", "300"))
IP = os.environ.get("CLASSROOM_IP", "127.0.0.1")
PORT = int(os.environ.get("CLASSROOM_PORT", "8000"))
HUB_PORT = int(os.environ.get("CLASSROOM_HUB_PORT", "8081"))
PROXY_API_PORT = int(os.environ.get("CLASSROOM_PROXY_API_PORT", "8001"))
SSL_CERT = os.environ.get("CLASSROOM_SSL_CERT", "")
SSL_KEY = os.environ.get("CLASSROOM_SSL_KEY", "")
SUBDOMAIN_HOST = os.environ.get("CLASSROOM_SUBDOMAIN_HOST", "")
TRUSTED_PROXIES = [a for a in os.environ.get("CLASSROOM_TRUSTED_PROXIES", "").split(",") if a]
SIGNUP = os.environ.get("CLASSROOM_SIGNUP", "open")
SYSTEM_NAME = accounts.SYSTEM_NAME

# --- where the hub listens -----------------------------------------------------------------
if MODE == "loadtest" and IP != "127.0.0.1":
    raise ValueError(f"the load test listens on 127.0.0.1 only, not CLASSROOM_IP={IP!r}")
scheme = "https" if SSL_CERT else "http"
c.JupyterHub.bind_url = f"{scheme}://{IP}:{PORT}"
if SSL_CERT:
    c.JupyterHub.ssl_cert = SSL_CERT
    c.JupyterHub.ssl_key = SSL_KEY
if SUBDOMAIN_HOST:
    # Each student's server on an origin of its own: a page a student serves cannot act as
    # the teacher at the hub (JupyterHub's security overview, "Mitigate security issues").
    if not re.match(r"^https?://[a-z0-9.-]+(:[0-9]+)?$", SUBDOMAIN_HOST):
        raise ValueError(
            f"CLASSROOM_SUBDOMAIN_HOST must be like https://hub.example.edu, not {SUBDOMAIN_HOST!r}"
        )
    c.JupyterHub.subdomain_host = SUBDOMAIN_HOST
    # Cookies locked to the hub's own host (__Host- prefix), so a student's subdomain cannot
    # set the hub's cookies (GHSA-7r3h-4ph8-w38g); browsers allow the prefix over https only.
    c.JupyterHub.cookie_host_prefix_enabled = SUBDOMAIN_HOST.startswith("https://")
c.JupyterHub.trusted_downstream_ips = TRUSTED_PROXIES
# The hub itself and the proxy's API stay on the loopback interface in every mode.
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = HUB_PORT
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PROXY_API_PORT}"
c.ConfigurableHTTPProxy.command = [str(HERE / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(STATE_DIR / "proxy.pid")

c.JupyterHub.db_url = f"sqlite:///{STATE_DIR / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE_DIR / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE_DIR / "jupyterhub.pid")
# Stopping the hub stops every student's server and the proxy with it.
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

# --- who gets in ------------------------------------------------------------------------------
if MODE == "teach":
    teacher = os.environ.get("CLASSROOM_TEACHER", "")
    if not SYSTEM_NAME.match(teacher):
        raise ValueError(
            "set CLASSROOM_TEACHER to the teacher's hub name (lowercase letters, digits, - or _,"
            f" starting with a letter), not {teacher!r}"
        )
    class_list = os.environ.get("CLASSROOM_CLASS_LIST", "")
    if not class_list:
        raise ValueError(
            "set CLASSROOM_CLASS_LIST to a file with the students' hub names, one per line"
        )
    if SIGNUP not in ("open", "closed"):
        raise ValueError(f"CLASSROOM_SIGNUP must be 'open' or 'closed', not {SIGNUP!r}")
    import nativeauthenticator

    _load("policy")
    # Students on the class list sign up at /hub/signup; nobody gets in until the teacher
    # approves the sign-up at /hub/authorize. The teacher's account is written at start-up
    # from the hash `make classroom-teacher` stored (classroom_auth.py).
    c.JupyterHub.authenticator_class = _load("classroom_auth").ClassroomAuthenticator
    c.JupyterHub.template_paths = [
        str(HERE / "templates"),
        str(Path(nativeauthenticator.__file__).parent / "templates"),
    ]
    c.ClassroomAuthenticator.teacher_hash_file = str(STATE_DIR / "teacher.bcrypt")
    c.ClassroomAuthenticator.class_list_file = class_list
    c.ClassroomAuthenticator.student_group = GROUP
    c.NativeAuthenticator.enable_signup = SIGNUP == "open"
    c.NativeAuthenticator.open_signup = False
    c.NativeAuthenticator.minimum_password_length = 8
    c.NativeAuthenticator.check_common_password = True
    # No lockout per name (anyone could keep the teacher's name locked): the classroom
    # authenticator limits failed sign-ins per address and name instead.
    c.NativeAuthenticator.allowed_failed_logins = 0
    c.Authenticator.admin_users = {teacher}
    # NativeAuthenticator lets in only the sign-ups the teacher approved.
    c.Authenticator.allow_all = True
    c.Authenticator.username_pattern = SYSTEM_NAME.pattern
else:
    prefix = os.environ.get("CLASSROOM_USER_PREFIX", "")
    password = os.environ.get("CLASSROOM_TEST_PASSWORD", "")
    if not re.match(r"^[a-z][a-z0-9]{3,15}$", prefix) or len(password) < 16:
        raise ValueError(
            "loadtest mode needs CLASSROOM_USER_PREFIX (4-16 lowercase letters and digits) and "
            "CLASSROOM_TEST_PASSWORD (16 characters or more)"
        )
    c.JupyterHub.authenticator_class = "dummy"
    c.DummyAuthenticator.password = password
    c.Authenticator.allow_all = True
    # Only the simulated students, prefix + digits, can sign in (and so get an account).
    c.Authenticator.username_pattern = rf"^{prefix}[0-9]+$"

# --- each student's server ----------------------------------------------------------------
accounts.check_root_only(NOTEBOOKS, "CLASSROOM_NOTEBOOKS")
accounts.check_home_base(HOME_BASE)
c.JupyterHub.spawner_class = "localprocess"
# Runs as the student: umask 077, kernel sockets in ~/.r, the notebooks copied in when
# ~/notebooks is missing, then jupyterhub-singleuser (accounts.server_command).
c.Spawner.cmd = accounts.server_command(STUDENT_VENV / "bin" / "jupyterhub-singleuser", NOTEBOOKS)
# Config files in the student's home (~/.jupyter, ~/.local/share/jupyter) are ignored.
c.Spawner.disable_user_config = True
c.Spawner.notebook_dir = "~"
c.Spawner.default_url = "/lab/tree/notebooks/01_concept.ipynb"
c.Spawner.environment = {
    "PATH": f"{STUDENT_VENV / 'bin'}:/usr/local/bin:/usr/bin:/bin",
    # One BLAS thread per kernel: a class shares the cores, and the lesson's matrices are
    # small, so more threads per kernel only fight each other.
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    # The explorer evaluates in a thread, not in two worker processes per student
    # (rnn_lesson/workers.py): the class shares the cores, and the workers' memory adds up.
    "RNN_LESSON_EVAL_WORKERS": "0",
}
# Twenty servers starting at once on two cores take a while.
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
c.Spawner.args = [
    # Inside a server, shut down kernels idle for an hour (their memory is the largest part).
    "--MappingKernelManager.cull_idle_timeout=3600",
    "--MappingKernelManager.cull_interval=300",
    # Kernels talk over Unix sockets in the student's 0700 home, not TCP ports on 127.0.0.1:
    # no port another server can take between choosing and binding it, and no other
    # account can subscribe to a kernel's output.
    "--KernelManager.transport=ipc",
]


async def before_start(spawner) -> None:
    """Before a server starts: the student's account (created on first use), and nothing
    left running of theirs. The server itself copies the notebooks, as the student."""
    account = accounts.ensure_account(spawner.user.name, GROUP, HOME_BASE)
    await asyncio.to_thread(accounts.end_processes, account)


async def after_stop(spawner) -> None:
    """When a server stops, everything the student started ends with it."""
    try:
        account = accounts.student_account(spawner.user.name, GROUP)
    except KeyError:
        return
    await asyncio.to_thread(accounts.end_processes, account)


c.Spawner.pre_spawn_hook = before_start
c.Spawner.post_stop_hook = after_stop

# --- idle servers are culled ----------------------------------------------------------------
c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [
            sys.executable,
            "-m",
            "jupyterhub_idle_culler",
            f"--timeout={CULL_TIMEOUT}",
            f"--cull-every={CULL_EVERY}",
        ],
    }
]
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    }
]
