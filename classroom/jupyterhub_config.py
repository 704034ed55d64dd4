# JupyterHub for a class: one login, one server and one kernel per student, on one machine.
#
# Start it with `make classroom` (real use) or let `make classroom-check` start it (load test).
# Everything that differs between a classroom and the load test comes from the environment
# variables read below, so the two run the same hub, spawner, culler and pre-spawn hook.
#
#   CLASSROOM_MODE          "teach" (default): NativeAuthenticator, the teacher approves sign-ups
#                           "loadtest": DummyAuthenticator on 127.0.0.1 only, for the load test
#   CLASSROOM_TEACHER       teach mode: the hub name of the teacher (an admin); required
#   CLASSROOM_IP, _PORT     where the hub listens (default 127.0.0.1 and 8000; see the README
#                           for serving it to a class behind a reverse proxy or with TLS)
#   CLASSROOM_SSL_CERT, _KEY  serve https directly with this certificate and key
#   CLASSROOM_STUDENT_VENV  the project's environment the students' servers run in
#                           (default: /srv/rnn-lesson/venv, built by `make classroom-venv`)
#   CLASSROOM_NOTEBOOKS     the folder copied into a student's home on first start
#                           (default: this repository's notebooks/)
#   CLASSROOM_GROUP         the system group of student accounts (default rnn-students)
#   CLASSROOM_HOME_BASE     where student homes are created (default /home)
#   CLASSROOM_STATE_DIR     the hub's database and cookie secret (default classroom/state)
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
# files, and the hub refuses every /user/<someone else>/ route.
import grp
import os
import pwd
import re
import shutil
import subprocess
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (JupyterHub defines get_config when it loads this file)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

MODE = os.environ.get("CLASSROOM_MODE", "teach")
if MODE not in ("teach", "loadtest"):
    raise ValueError(f"CLASSROOM_MODE must be 'teach' or 'loadtest', not {MODE!r}")

STUDENT_VENV = Path(os.environ.get("CLASSROOM_STUDENT_VENV", "/srv/rnn-lesson/venv"))
NOTEBOOKS = Path(os.environ.get("CLASSROOM_NOTEBOOKS", str(REPO / "notebooks")))
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
# A system account name: lowercase letter first, then lowercase letters, digits, - or _.
SYSTEM_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")

# --- where the hub listens -----------------------------------------------------------------
if MODE == "loadtest" and IP != "127.0.0.1":
    raise ValueError(f"the load test listens on 127.0.0.1 only, not CLASSROOM_IP={IP!r}")
scheme = "https" if SSL_CERT else "http"
c.JupyterHub.bind_url = f"{scheme}://{IP}:{PORT}"
if SSL_CERT:
    c.JupyterHub.ssl_cert = SSL_CERT
    c.JupyterHub.ssl_key = SSL_KEY
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
    import nativeauthenticator

    # Students sign up at /hub/signup; nobody gets in until the teacher approves the sign-up
    # at /hub/authorize. The teacher signs up first under CLASSROOM_TEACHER and, being an
    # admin, is approved at once.
    c.JupyterHub.authenticator_class = "native"
    c.JupyterHub.template_paths = [str(Path(nativeauthenticator.__file__).parent / "templates")]
    c.NativeAuthenticator.open_signup = False
    c.NativeAuthenticator.minimum_password_length = 8
    c.NativeAuthenticator.check_common_password = True
    c.NativeAuthenticator.allowed_failed_logins = 5
    c.NativeAuthenticator.seconds_before_next_try = 60
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
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(STUDENT_VENV / "bin" / "jupyterhub-singleuser")]
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
# Inside a server, shut down kernels idle for an hour (their memory is the largest part).
c.Spawner.args = [
    "--MappingKernelManager.cull_idle_timeout=3600",
    "--MappingKernelManager.cull_interval=300",
]


def ensure_student_account(spawner) -> None:
    """Before a server starts: create the student's system account and copy the notebooks.

    The account is created once, in the group CLASSROOM_GROUP, with a home of mode 0700.
    An existing account is used only if it is in that group, so a hub name can never start a
    server as root or as any other account of the machine. The notebooks are copied into
    ~/notebooks on first start only; a student's later changes stay theirs.
    """
    name = spawner.user.name
    if not SYSTEM_NAME.match(name):
        raise ValueError(f"{name!r} is not usable as a system account name")
    try:
        grp.getgrnam(GROUP)
    except KeyError:
        subprocess.run(["groupadd", "--system", GROUP], check=True)
    try:
        account = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--create-home", "--base-dir", str(HOME_BASE), "--user-group"]
            + ["--groups", GROUP, "--shell", "/bin/bash", "--comment", "rnn-lesson student"]
            + [name],
            check=True,
        )
        account = pwd.getpwnam(name)
    if name not in grp.getgrnam(GROUP).gr_mem or account.pw_uid < 1000:
        raise PermissionError(
            f"the system account {name!r} exists outside the group {GROUP!r}; "
            "the hub starts servers only for the accounts it created"
        )
    home = Path(account.pw_dir)
    os.chmod(home, 0o700)
    target = home / "notebooks"
    if not target.exists():
        shutil.copytree(NOTEBOOKS, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        for path in [target, *target.rglob("*")]:
            os.chown(path, account.pw_uid, account.pw_gid, follow_symlinks=False)


c.Spawner.pre_spawn_hook = ensure_student_account

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
