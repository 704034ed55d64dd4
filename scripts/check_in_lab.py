"""Check the notebooks, and notebook 06's explorer, in a real JupyterLab 4 in a real browser.

nbval (``make test``) re-executes the notebooks in a bare kernel, and tests/test_widgets.py
drives the explorer's controls headless, in Python. This script checks what they cannot:
what a learner sees in JupyterLab in a browser (headless Chromium, driven by Playwright). It

1. starts JupyterLab from the project's venv (``.venv``) on 127.0.0.1, on a free port, with a
   temporary root dir and temporary Jupyter config, data, runtime, settings and workspace
   dirs (nothing of the user's, nothing in the repo is touched). The root holds COPIES of
   every notebook in notebooks/, a small notebook made of notebook 06's setup cell and its
   explorer cell (``W.explorer()``), and ``unrun/``, one more copy of notebook 06. Each
   browser below works in a JupyterLab workspace of its own, reset when it loads
   (``lab_url``): it never restores, and so never connects to, the other's notebooks;
2. checks the JupyterLab settings the project ships (jupyterlab-settings/overrides.json, which
   ``make lab`` installs into the venv): installed in the lab's venv, and served by
   JupyterLab as its defaults; the run writes no news setting of its own. Then, in one
   browser: loads JupyterLab as a new user does and fails if it asks "Would you like to get
   notified about official Jupyter news?" (a pop-up over the explorer's plot; screenshot
   ``lab_loaded_news.png``, not with ``--only notebooks``); opens
   ``unrun/06_explorer.ipynb`` WITHOUT running it: the explorer
   cell must show no widget error (an INFO line says what JupyterLab shows there instead of
   live widgets); then the explorer (the controls of rnn_lesson/widgets.py): opens the
   small notebook, runs it with Run > Run All Cells, and checks, one PASS or FAIL line each:
   - every control renders, found by its label: the sliders "learning rate", "normal's std",
     "hidden size", "updates", "seeds", "batch size"; the dropdowns "initial weights",
     "hidden activation", "clip gradient norm", "output derivative"; the box "first seed";
     the summary and a PNG plot; no widget error on the page;
   - the summary shows the default run (lr 0.1, "k of 5 seeds reached 100% of all pairs");
   - "updates" to 100 with the Home key retrains (and makes every later change quick);
   - the learning-rate slider (a SelectionSlider) retrains when moved with the keyboard
     (focus its handle, ArrowRight: 0.1 -> 0.2) and when dragged with the mouse (nothing
     happens while dragging: continuous_update=False; it retrains on release); quick key
     presses up to 0.5 end with the summary for lr 0.5 (the latest change wins);
   - a diverging setting chosen with the controls (relu, normal(std) with std 10, the
     course's output derivative, first seed 2, learning rate 4) says "diverged", in red,
     and the plot area shows curves or a "No curve to draw" message, never nothing; back
     at tanh, Xavier, y(1 - y), seed 0, lr 0.1 no seed diverges and the curves are drawn;
   - "seeds" (5 -> 3), "batch size" (1 -> 4) and "clip gradient norm" (off -> 1) each
     change the summary and the plot;
   INFO lines give the time from each change to the new plot, and the kernel's share;
3. at the same time, in a second browser (its own thread): every notebook. Opens each copy
   from the file browser, runs it with Run > Run All Cells (``--jobs`` notebooks at a time,
   default 2; the longest first, by the times docs/classroom.md gives), waits until every cell
   has finished, and fails if a cell shows an error output (a traceback), text on stderr,
   "Error displaying widget" or an ipywidgets error view, or did not run; the FAIL line
   names the notebook and the cell. INFO lines give each notebook's Run All time. Then the
   Japanese edition's notebook 01 (``ja/01_concept.ipynb``): Run All as above, every folded
   answer opened by a click on its summary, and every link within the notebook clicked, each
   to show its heading in view (a screenshot ``ja_answers_open.png`` is kept);
4. checks that the browser consoles show no widget or comm errors (for a "Comm not found"
   error it prints that comm's life as the page recorded it: every comm opened and closed,
   by notebook; the whole record is saved as comm_trace.txt beside the screenshots); saves
   screenshots (``--shots DIR``; else a temp dir, kept only when a check failed); stops the browsers
   and the server (its whole process group: kernels included) and removes its temp dirs;
   exits 0 if every check passed, 1 if one failed, 2 if it could not start (no Playwright,
   Chromium or .venv).

The whole run is bounded by ``--timeout`` (default 300 s, clean-up included). The explorer's
checks and the notebooks share the machine's cores, so the explorer's times are those of a
busy machine.

Run it from the repo root with ``make lab-check``, which installs what it needs first:
Chromium from the system's packages when it is missing (``chromium`` on PATH or
/usr/bin/chromium; else pass ``--chromium PATH`` or set ``$CHROMIUM``) and Playwright into a
SEPARATE venv, ``.venv-labcheck``, so that ``.venv`` stays exactly what pyproject.toml lists.
Playwright drives the system Chromium: do NOT run ``playwright install`` (it downloads
browsers of its own). By hand:

    .venv-labcheck/bin/python scripts/check_in_lab.py [--shots DIR] [--jobs N] [--headed]
        [--only explorer|notebooks] [notebooks/03_bptt.ipynb ...]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
NOTEBOOK_06 = NOTEBOOKS / "06_explorer.ipynb"
# The Japanese edition's notebook that is run and whose links and folded answers are clicked.
JAPANESE_NB = NOTEBOOKS / "ja" / "01_concept.ipynb"
JAPANESE = f"ja/{JAPANESE_NB.name}"
EXPLORER_NB = "explorer_check.ipynb"
UNRUN_06 = f"unrun/{NOTEBOOK_06.name}"
TOKEN = "labcheck"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Where each notebook's re-execution time is written (the teacher's guide, "Sessions"); a
# notebook whose time it does not give counts as a long one: it starts first.
TIMES_DOC = REPO / "docs" / "classroom.md"
NEW_NOTEBOOK_SECONDS = 100.0
# The explorer's selection sliders (rnn_lesson/widgets.py: LR_STOPS, STD_STOPS, BATCH_STOPS).
LR_STOPS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 4]
STD_STOPS = [0.01, 0.03, 0.1, 0.3, 1, 3, 10]
BATCH_STOPS = [1, 2, 4, 8, 16, 32, 64, 128]
# One change of the explorer must show within this (the goal is at most 1 s; this is the
# point where it is broken, not slow).
CHANGE_LIMIT_S = 20.0
CLEANUP_S = 20.0  # kept out of --timeout for stopping the browser and the server

failures: list[str] = []


def report(ok: bool, name: str, detail: str = "") -> bool:
    print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f": {detail}" if detail else ""), flush=True)
    if not ok:
        failures.append(name)
    return ok


T_START = time.monotonic()  # reset by main(); INFO lines and console errors give time from it


def info(text: str) -> None:
    print(f"INFO  [{time.monotonic() - T_START:5.0f} s] {text}", flush=True)


class Timeout(BaseException):  # not caught by the "except Exception" of a check
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def notebook_cells() -> list[str]:
    """The sources to run: notebook 06's setup cell (its first code cell) and the cell that
    shows the explorer; fallback ``from rnn_lesson import widgets as W`` / ``W.explorer()``."""
    setup, show = "from rnn_lesson import widgets as W", "W.explorer()"
    try:
        nb = json.loads(NOTEBOOK_06.read_text(encoding="utf-8"))
        code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
        shows = [src for src in code if "explorer(" in src and "import" not in src]
        if code and shows and "rnn_lesson import widgets as W" in code[0]:
            setup, show = code[0], shows[0]
    except (OSError, ValueError, KeyError):
        pass
    return [setup, show]


def write_notebook(path: Path, sources: list[str]) -> None:
    def code(src: str) -> dict:
        return {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": src,
        }

    nb = {
        "cells": [code(src) for src in sources],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")


def write_settings(settings: Path) -> None:
    """JupyterLab user settings for the run: every cell kept in the page (no windowing), so
    that every cell's output can be read; no autosave (the copies are thrown away). Nothing
    about the "news" pop-up: the run relies on the settings the project ships
    (jupyterlab-settings/overrides.json), as a learner's JupyterLab does, and checks them
    (``check_shipped_settings``, ``check_no_news_popup``)."""
    files = {
        "notebook-extension/tracker": {"windowingMode": "none"},
        "docmanager-extension/plugin": {"autosave": False},
    }
    for name, values in files.items():
        path = settings / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def start_lab(lab_python: Path, tmp: Path, port: int, log) -> subprocess.Popen:
    root = tmp / "root"
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_DATA_DIR=str(tmp / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
        JUPYTER_PREFER_ENV_PATH="1",
        PATH=f"{lab_python.parent}{os.pathsep}{env.get('PATH', '')}",
    )
    # Kernels run side by side: one BLAS thread each, so they do not fight for the cores.
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    write_settings(tmp / "settings")
    cmd = [
        str(lab_python), "-m", "jupyterlab", "--no-browser",
        "--ip", "127.0.0.1", "--port", str(port), "--port-retries", "0",
        f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp, to read the notebooks' state
        "--ServerApp.open_browser=False",
        "--LabApp.extension_manager=readonly",  # no PyPI queries from the extension manager
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI often run as root
    return subprocess.Popen(
        cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def wait_for_server(proc: subprocess.Popen, port: int, limit: float) -> None:
    url = f"http://127.0.0.1:{port}/api/status?token={TOKEN}"
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"JupyterLab did not answer on port {port} within {limit:.0f} s")


def stop_process_group(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        try:  # the server is gone; a kernel it left behind is still in its group
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and its kernels, started by us
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # whatever did not stop on SIGTERM
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


# --- JupyterLab, used as a learner does: file browser, tabs, the Run menu ----------------

# A notebook panel by its path, and its state, read from the page (window.jupyterapp).
JS_PANEL = """(path) => !(window.jupyterapp && window.jupyterapp.shell) ? undefined
    : Array.from(window.jupyterapp.shell.widgets('main'))
        .find(w => w.context && w.context.path === path && w.content && w.sessionContext)"""

JS_KERNEL_IDLE = f"""(path) => {{
    const panel = ({JS_PANEL})(path);
    const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
    return !!(panel && panel.context.isReady && kernel && kernel.status === 'idle'
              && kernel.connectionStatus === 'connected');
}}"""

# Cells still to run: JupyterLab shows "[*]:" in the prompt of a running or queued cell.
JS_STATE = f"""(path) => {{
    const panel = ({JS_PANEL})(path);
    if (!panel) return null;
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    const code = panel.content.widgets.filter(c => c.model.type === 'code');
    return {{
        kernel: kernel ? kernel.status : 'none',
        pending: code.filter(c => (c.node.querySelector('.jp-InputPrompt') || {{}})
            .textContent.includes('*')).length,
        executed: code.filter(c => c.model.executionCount !== null).length,
        code: code.length,
    }};
}}"""

# What each cell shows after the run: its outputs in the model, and the rendered page.
JS_CELL_PROBLEMS = f"""(path) => {{
    const panel = ({JS_PANEL})(path);
    const found = [];
    panel.content.widgets.forEach((cell, i) => {{
        if (cell.model.type !== 'code') return;
        const where = {{index: i + 1, source: cell.model.sharedModel.getSource()}};
        const outputs = cell.model.outputs.toJSON();
        for (const o of outputs) {{
            if (o.output_type === 'error') {{
                found.push({{...where, what: `error output ${{o.ename}}: ${{o.evalue}}`}});
            }} else if (o.output_type === 'stream' && o.name === 'stderr') {{
                const text = Array.isArray(o.text) ? o.text.join('') : o.text;
                found.push({{...where, what: `text on stderr: ${{text.trim().slice(0, 200)}}`}});
            }}
        }}
        if (cell.model.executionCount === null) {{
            found.push({{...where, what: 'did not run (no execution count)'}});
        }}
        const text = cell.node.innerText;
        for (const s of ['Error displaying widget', 'Loading widget...',
                         'Click to show javascript error']) {{
            if (text.includes(s)) found.push({{...where, what: `shows '${{s}}'`}});
        }}
        const n = cell.node.querySelectorAll('.jupyter-widgets-error-widget').length;
        if (n) found.push({{...where, what: `${{n}} ipywidgets error view(s)`}});
    }});
    return found;
}}"""


# A record of the comms' lives, to explain a comm error in the console: every comm_open and
# comm_close the page receives or sends, and the widgets' control messages, with the time
# (page clock, ms) and the kernel; and which notebook each kernel belongs to. Installed when
# the page has loaded, before any kernel connects: the first connection made patches the
# class that every kernel connection shares.
JS_TRACE_COMMS = """() => {
    const lc = window.labcheckComms = window.labcheckComms || {log: [], kernels: {}};
    const kernels = window.jupyterapp.serviceManager.kernels;
    if (kernels.labcheckTraced) return;
    kernels.labcheckTraced = true;
    const note = (k, dir, msg) => {
        const type = msg.header.msg_type, c = msg.content || {};
        const method = (c.data && c.data.method) || '';
        if (type === 'comm_open' || type === 'comm_close'
            || (type === 'comm_msg' && /_states$/.test(method))) {
            lc.log.push({t: Date.now(), kernel: k.id, dir, type, id: c.comm_id,
                         what: c.target_name || method});
        }
    };
    const patch = (proto) => {
        if (proto.labcheckTraced) return;
        proto.labcheckTraced = true;
        for (const name of ['_handleCommOpen', '_handleCommClose', '_handleCommMsg']) {
            const handle = proto[name];
            if (handle) proto[name] = function (msg) {
                note(this, 'in', msg); return handle.call(this, msg);
            };
        }
        const send = proto.sendShellMessage;
        proto.sendShellMessage = function (msg, ...rest) {
            note(this, 'out', msg); return send.call(this, msg, ...rest);
        };
    };
    const connectTo = kernels.connectTo;
    kernels.connectTo = function (...args) {
        const connection = connectTo.apply(this, args);
        patch(Object.getPrototypeOf(connection));
        return connection;
    };
}"""

JS_KERNEL_OF = f"""(path) => {{
    const panel = ({JS_PANEL})(path);
    const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
    if (kernel && window.labcheckComms) window.labcheckComms.kernels[kernel.id] = path;
}}"""


TRACES: dict[str, list[str]] = {}  # {page: comm_trace(page)}, the latest taken


def lab_url(base_url: str, workspace: str, path: str = "") -> str:
    """JupyterLab in a workspace of its own, reset (nothing restored), opening ``path``.

    Each browser page has its own workspace. A workspace is the layout JupyterLab saves on
    the server (the open notebooks among it) and restores when a page loads, so two pages
    in one workspace open each other's notebooks: the explorer's page then held notebooks
    04 and 05 too, with a second connection to their kernels, and the notebooks' page
    logged "Comm not found for comm id ..." when notebook 04's kernel, busy with Run All
    until then, answered the explorer page's widget handshake (a comm_close, which the
    kernel sends to every page connected to it).
    """
    tree = f"/tree/{path}" if path else ""
    return f"{base_url}/lab/workspaces/labcheck-{workspace}{tree}?reset&token={TOKEN}"


def wait_panel(page, path: str, limit: float = 60.0) -> None:
    """Wait until the notebook ``path`` is open and its kernel is idle and connected; from
    then the page's record of comms (JS_TRACE_COMMS) names its kernel by ``path``."""
    page.wait_for_function(JS_KERNEL_IDLE, arg=path, timeout=limit * 1000)
    page.evaluate(JS_KERNEL_OF, path)


def comm_trace(page) -> list[str]:
    """The page's record of comms, one line each, times in seconds from the script's start,
    each kernel named by its notebook."""
    lc, now_ms = page.evaluate("() => [window.labcheckComms || null, Date.now()]")
    if not lc:
        return []
    offset = time.monotonic() - T_START - now_ms / 1000  # page clock -> our clock
    return [
        f"{e['t'] / 1000 + offset:5.1f} s  {lc['kernels'].get(e['kernel'], e['kernel'][:8])}: "
        f"{e['dir']:3s} {e['type']} {e['id']} {e['what']}"
        for e in lc["log"]
    ]


def activate(page, path: str) -> None:
    """Click the notebook's tab in the main area (if it is not the current one already)."""
    current = "() => window.jupyterapp.shell.currentWidget?.context?.path"
    if page.evaluate(current) != path:
        name = path.rsplit("/", 1)[-1]
        page.locator(".jp-MainAreaWidget-ContainStrict, #jp-main-dock-panel").first.wait_for()
        page.locator("#jp-main-dock-panel .lm-TabBar-tab").filter(
            has=page.locator(f".lm-TabBar-tabLabel:text-is({json.dumps(name)})")
        ).first.click()
    page.wait_for_function(f"() => ({current})() === {json.dumps(path)}", timeout=10_000)


def open_from_file_browser(page, name: str) -> None:
    """Double-click the notebook ``name`` in the file browser's root folder."""
    if not page.locator("#filebrowser").is_visible():
        page.locator(".jp-SideBar [data-id='filebrowser']").first.click()
    item = page.locator("#filebrowser .jp-DirListing-item").filter(
        has=page.locator(".jp-DirListing-itemText").get_by_text(name, exact=True)
    )
    if not item.count():  # the browser shows another folder: back to the root
        page.locator("#filebrowser .jp-BreadCrumbs-home").first.click()
    item.first.dblclick()
    page.wait_for_function(f"path => !!({JS_PANEL})(path)", arg=name, timeout=30_000)


def run_all_from_menu(page, path: str) -> float:
    """Run > Run All Cells on the notebook ``path``; returns the page's clock (ms) at the click."""
    activate(page, path)
    page.locator("#jp-menu-panel .lm-MenuBar-item").filter(
        has=page.locator(".lm-MenuBar-itemLabel:text-is('Run')")
    ).first.click()
    entry = page.locator(".lm-Menu-content .lm-Menu-item").filter(
        has=page.locator(".lm-Menu-itemLabel:text-is('Run All Cells')")
    )
    entry.first.wait_for(state="visible")
    t_click = page.evaluate("() => Date.now()")
    entry.first.click()
    return t_click


def watch_run(page, path: str) -> None:
    """Start a watcher in the page that notes the time the notebook ``path`` has finished:
    it had cells queued, now has none, and the kernel is idle (stable for 0.4 s)."""
    page.evaluate(
        f"""(path) => {{
            window.labcheck = window.labcheck || {{}};
            const w = window.labcheck[path] = {{started: false, done: null, quiet: 0}};
            const state = {JS_STATE};
            w.timer = setInterval(() => {{
                const s = state(path);
                if (!s) return;
                if (s.pending > 0 || s.kernel === 'busy') w.started = true;
                const quiet = w.started && s.pending === 0 && s.kernel === 'idle';
                w.quiet = quiet ? w.quiet + 1 : 0;
                if (w.quiet === 1) w.candidate = Date.now();
                if (w.quiet >= 3) {{ w.done = w.candidate; clearInterval(w.timer); }}
            }}, 200);
        }}""",
        path,
    )


def run_done(page, path: str) -> float | None:
    return page.evaluate("(path) => window.labcheck[path].done", path)


def shut_down_kernel(page, path: str) -> None:
    """Close a notebook that has been checked, then stop its kernel (cores and memory for the
    rest). A closed notebook hears nothing more from its kernel as it stops."""
    page.evaluate(
        f"async (path) => {{ const p = ({JS_PANEL})(path); if (!p) return;"
        " const session = p.sessionContext.session; const id = session && session.id;"
        " p.dispose();"
        " if (id) await window.jupyterapp.serviceManager.sessions.shutdown(id); }",
        path,
    )


def shot(page, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / name), full_page=False)


# --- the settings the project ships: no "news" pop-up -------------------------------------

SHIPPED_SETTINGS = REPO / "jupyterlab-settings" / "overrides.json"
NOTIFICATION_PLUGIN = "@jupyterlab/apputils-extension:notification"
NEWS_POPUP = "Would you like to get notified about official Jupyter news?"


def check_shipped_settings(lab_python: Path, base_url: str) -> None:
    """The project's JupyterLab settings are installed in the lab's environment
    (``make lab`` puts them there) and JupyterLab serves them as its defaults."""
    try:
        prefix = subprocess.run(
            [str(lab_python), "-c", "import sys; print(sys.prefix)"],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout.strip()  # fmt: skip
        installed = Path(prefix, "share", "jupyter", "lab", "settings", "overrides.json")
        shipped = json.loads(SHIPPED_SETTINGS.read_text(encoding="utf-8"))
        found = json.loads(installed.read_text(encoding="utf-8")) if installed.exists() else None
    except (OSError, ValueError, subprocess.SubprocessError) as err:
        report(False, "the project's JupyterLab settings are installed", f"{err}")
        return
    report(
        found == shipped,
        "the project's JupyterLab settings are installed",
        f"{installed}"
        + ("" if found == shipped else f" {'differs from' if found else 'is missing; copy'}"
           f" {SHIPPED_SETTINGS.relative_to(REPO)} (make lab installs it)"),
    )  # fmt: skip
    url = f"{base_url}/lab/api/settings/{NOTIFICATION_PLUGIN}?token={TOKEN}"
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            properties = json.load(r)["schema"]["properties"]
        served = {name: properties[name]["default"] for name in ("fetchNews", "checkForUpdates")}
    except (OSError, ValueError, KeyError) as err:
        report(False, "JupyterLab serves the news settings as the project's", f"{err}")
        return
    report(
        served == {"fetchNews": "false", "checkForUpdates": False},
        "JupyterLab serves the news settings as the project's",
        f"defaults {served}",
    )


def check_no_news_popup(page, base_url: str, shots: Path) -> None:
    """Load JupyterLab as a new user does (no user settings about news) and fail if it asks
    "Would you like to get notified about official Jupyter news?" (a pop-up that covers the
    explorer's plot). JupyterLab asks once its layout is restored and the notification
    settings are loaded; the page is watched a few seconds beyond that."""
    page.goto(lab_url(base_url, "news"), timeout=60_000)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell")
    page.evaluate("async () => { await window.jupyterapp.restored; }")
    popup = page.get_by_text(NEWS_POPUP)
    end = time.monotonic() + 5
    while time.monotonic() < end and not popup.count():
        page.wait_for_timeout(250)
    shot(page, shots, "lab_loaded_news.png")
    report(
        popup.count() == 0,
        "no pop-up about official Jupyter news when JupyterLab loads",
        f"it shows: {NEWS_POPUP!r} (screenshot lab_loaded_news.png)" if popup.count() else "",
    )


# --- the explorer ----------------------------------------------------------------------

SUMMARY = ".jp-OutputArea .widget-html:has-text('settings:')"
PLOT = ".jp-OutputArea .widget-output"
PLOT_IMG = f"{PLOT} img"
FINISHED = re.compile(r"answered in ([0-9.]+) s")


def slider(page, label: str):
    return page.locator(".jp-OutputArea .widget-slider").filter(
        has=page.locator(f"label:text-is({json.dumps(label)})")
    )


def dropdown(page, label: str):
    return page.locator(".jp-OutputArea .widget-dropdown").filter(
        has=page.locator(f"label:text-is({json.dumps(label)})")
    )


def text_box(page, label: str):
    return page.locator(".jp-OutputArea .widget-text").filter(
        has=page.locator(f"label:text-is({json.dumps(label)})")
    )


def summary_text(page) -> str:
    loc = page.locator(SUMMARY)
    return loc.first.inner_text() if loc.count() else ""


def line(text: str, start: str) -> str:
    """The summary's line that starts with ``start`` ("settings:", "result:"), or ''."""
    return next((s for s in text.splitlines() if s.startswith(start)), "")


def plot_src(page) -> str:
    loc = page.locator(PLOT_IMG)
    return (loc.first.get_attribute("src") or "") if loc.count() else ""


def readout(page, label: str) -> str:
    return slider(page, label).locator(".widget-readout").first.inner_text().strip()


def summary_lr(text: str) -> float | None:
    m = re.search(r"\blr ([0-9.e+-]+)", line(text, "settings:"))
    return float(m.group(1)) if m else None


def wait_change(
    page, old_summary: str, old_src: str | None, limit: float = CHANGE_LIMIT_S, want=None
) -> tuple[float, str]:
    """Wait until the summary is a finished one ("answered in ... s") different from
    ``old_summary`` (and, if ``old_src`` is given, the plot differs; if ``want`` is given,
    ``want(summary)`` holds). Returns (seconds, summary); seconds is nan if it did not come."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        text = summary_text(page)
        done = text != old_summary and FINISHED.search(text) is not None
        if done and (want is None or want(text)) and (old_src is None or plot_src(page) != old_src):
            return time.monotonic() - start, text
        page.wait_for_timeout(50)
    return float("nan"), summary_text(page)


def info_time(what: str, seconds: float, text: str) -> None:
    """Print (not check: it depends on the machine's load) how long a change took to show,
    and how much of that the kernel spent (the summary's "answered in ... s")."""
    m = FINISHED.search(text)
    kernel = f"{m.group(1)} s of it in the kernel" if m else "kernel time not shown"
    info(
        f"{what}: {seconds:.2f} s from the change to the new summary and plot in the browser,"
        f" {kernel} (the goal is at most 1 s with the default settings)"
    )


def page_errors(page, scope: str = "body") -> list[str]:
    """What shows a widget that failed: the text of JupyterLab's widget renderer when a
    model is missing or its view raised ("Error displaying widget..."), a placeholder never
    replaced ("Loading widget..."), or ipywidgets 8's error view (a red box saying "Click to
    show javascript error.", e.g. for an unknown widget module)."""
    where = page.locator(scope).first
    text = where.inner_text()
    found = [s for s in ("Error displaying widget", "Loading widget...") if s in text]
    n = where.locator(".jupyter-widgets-error-widget").count()
    if n or "Click to show javascript error" in text:
        found.append(f"{n} ipywidgets error view(s) ('Click to show javascript error.')")
    return found


def press_to(page, label: str, stops: list[float], target: float) -> None:
    """Move the selection slider ``label`` to ``target`` with the arrow keys, one stop a press,
    as quickly as a user taps (each press is a change; the explorer keeps the latest)."""
    now = float(readout(page, label))
    steps = stops.index(target) - min(range(len(stops)), key=lambda i: abs(stops[i] - now))
    slider(page, label).locator(".noUi-handle").first.focus()
    for _ in range(abs(steps)):
        page.keyboard.press("ArrowRight" if steps > 0 else "ArrowLeft")
        page.wait_for_timeout(60)


def check_explorer(page, base_url: str, shots: Path) -> None:
    page.goto(lab_url(base_url, "explorer", EXPLORER_NB), timeout=60_000)
    wait_panel(page, EXPLORER_NB)
    t0 = time.monotonic()
    run_all_from_menu(page, EXPLORER_NB)
    try:
        page.wait_for_selector(PLOT_IMG, timeout=60_000)
        page.wait_for_function(
            "re => Array.from(document.querySelectorAll('.jp-OutputArea .widget-html'))"
            ".some(e => new RegExp(re).test(e.innerText))",
            arg=FINISHED.pattern,
            timeout=60_000,
        )
    except Exception:  # noqa: BLE001 - report what the page shows instead
        pass
    first_render = time.monotonic() - t0
    page.wait_for_timeout(500)
    shot(page, shots, "explorer_1_rendered.png")

    # --- rendered ---
    out = page.locator(".jp-OutputArea")
    n_widgets = out.locator(".jupyter-widgets").count()
    report(n_widgets > 0, "explorer: widgets rendered", f"{n_widgets} .jupyter-widgets elements")
    for label in ("learning rate", "normal's std", "hidden size", "updates", "seeds", "batch size"):
        report(slider(page, label).count() == 1, f"explorer: slider '{label}' shown")
    # Each dropdown shows its default by name (a value missing from the options, e.g. None
    # without an option for it, shows an empty box).
    defaults = {
        "initial weights": "Xavier",
        "hidden activation": "tanh",
        "clip gradient norm": "off",
        "output derivative": "y(1 - y), right",
    }
    for label, shown in defaults.items():
        select = dropdown(page, label).locator("select")
        text = (
            select.first.evaluate("s => s.selectedIndex < 0 ? '' : s.options[s.selectedIndex].text")
            if select.count() == 1
            else None
        )
        text = None if text is None else text.replace("\xa0", " ")  # ipywidgets: no-break spaces
        report(
            text == shown,
            f"explorer: dropdown '{label}' shown, showing '{shown}'",
            "not found" if text is None else f"it shows {text!r}",
        )
    report(text_box(page, "first seed").count() == 1, "explorer: box 'first seed' shown")
    errors = page_errors(page)
    report(
        not errors,
        "explorer: no widget error view, 'Error displaying widget', 'Loading widget...'",
        ", ".join(errors),
    )
    report(
        out.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
        ).count()
        == 0,
        "explorer: no error output in the notebook",
    )
    text0, src0 = summary_text(page), plot_src(page)
    report(
        summary_lr(text0) == 0.1
        and re.search(r"\d+ of 5 seeds reached 100% of all pairs", text0) is not None
        and FINISHED.search(text0) is not None,
        "explorer: summary shows the default run (lr 0.1, 5 seeds)",
        " / ".join(text0.splitlines()[:2]) or "(no summary)",
    )
    report(
        src0.startswith("data:image/png"),
        "explorer: plot shown as a PNG image",
        f"{first_render:.1f} s from Run All to the first finished summary and plot",
    )
    if not (text0 and src0):
        return
    m = FINISHED.search(text0)
    info(
        f"explorer, the default settings (5 seeds, 2,000 updates): {m.group(1) if m else '?'} s"
        " in the kernel (the goal is at most 1 s)"
    )

    def changed(what: str, act, want, shot_name: str) -> None:
        before, src = summary_text(page), plot_src(page)
        act()
        seconds, after = wait_change(page, before, src, want=want)
        report(
            math.isfinite(seconds),
            f"explorer: {what} changes the summary and the plot",
            f"{seconds:.2f} s; " + line(after, "settings:") + " / " + line(after, "result:"),
        )
        info_time(f"explorer, {what}", seconds, after)
        shot(page, shots, shot_name)

    # --- "updates" down to 100 with the Home key: every later change retrains in a moment ---
    def to_home():
        slider(page, "updates").locator(".noUi-handle").first.focus()
        page.keyboard.press("Home")

    changed(
        "'updates' 2,000 -> 100 (Home key, with the default settings)",
        to_home,
        lambda t: re.search(r"\b100 updates", line(t, "settings:")) is not None,
        "explorer_2_updates.png",
    )
    # --- learning-rate slider, keyboard: one stop up, 0.1 -> 0.2 ---
    text_before, src_before = summary_text(page), plot_src(page)
    slider(page, "learning rate").locator(".noUi-handle").first.focus()
    page.keyboard.press("ArrowRight")
    seconds, text1 = wait_change(page, text_before, src_before)
    report(
        math.isfinite(seconds)
        and summary_lr(text1) == 0.2
        and readout(page, "learning rate") == "0.2",
        "explorer: lr slider (keyboard, 0.1 -> 0.2) retrains: summary and plot change",
        f"readout {readout(page, 'learning rate')}, summary lr {summary_lr(text1)}, "
        f"{seconds:.2f} s from key to new summary and plot",
    )
    info_time("explorer, lr arrow key", seconds, text1)
    shot(page, shots, "explorer_3_lr_arrow.png")

    # --- learning-rate slider, dragged with the mouse (acts on release) ---
    src1 = plot_src(page)
    handle = slider(page, "learning rate").locator(".noUi-handle").first
    hb = handle.bounding_box()
    x, y = hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for dx in range(-5, -41, -5):  # 40 px to the left, in steps, as a hand drags
        page.mouse.move(x + dx, y)
        page.wait_for_timeout(30)
    page.wait_for_timeout(300)
    dragging = summary_text(page)  # continuous_update=False: nothing happens while dragging
    page.mouse.up()
    seconds, text_drag = wait_change(page, text1, src1)
    lr_drag = summary_lr(text_drag)
    report(
        dragging == text1 and math.isfinite(seconds) and lr_drag is not None and lr_drag < 0.2,
        "explorer: lr slider dragged left retrains on release",
        f"readout {readout(page, 'learning rate')}, summary lr {lr_drag}, "
        f"{seconds:.2f} s from release to new summary and plot",
    )
    info_time("explorer, lr drag", seconds, text_drag)
    shot(page, shots, "explorer_4_lr_drag.png")

    # --- several quick presses up to 0.5: the last one wins ---
    src2 = plot_src(page)
    press_to(page, "learning rate", LR_STOPS, 0.5)
    seconds, text2 = wait_change(page, text_drag, src2, want=lambda t: summary_lr(t) == 0.5)
    page.wait_for_timeout(1000)  # nothing older may overwrite it afterwards
    text2b = summary_text(page)
    report(
        math.isfinite(seconds) and readout(page, "learning rate") == "0.5" and text2b == text2,
        "explorer: lr moved to 0.5 by quick key presses: the summary ends at lr 0.5",
        f"{seconds:.2f} s; " + line(text2b, "result:"),
    )
    shot(page, shots, "explorer_5_lr_0.5.png")

    # --- a diverging setting: relu, normal(std) with std 10, σ'(y), first seed 2, lr 4 ---
    def settle(before: str) -> str:
        return wait_change(page, before, None)[1]

    def choose(label: str, value_label: str) -> str:
        before = summary_text(page)
        dropdown(page, label).locator("select").select_option(label=value_label)
        return settle(before)

    choose("hidden activation", "relu")
    choose("initial weights", "normal(std)")
    choose("output derivative", "σ'(y), the course's")
    before = summary_text(page)
    press_to(page, "normal's std", STD_STOPS, 10)
    settle(before)
    before = summary_text(page)
    box = text_box(page, "first seed").locator("input")
    box.fill("2")
    box.press("Enter")
    settle(before)
    before = summary_text(page)
    press_to(page, "learning rate", LR_STOPS, 4)
    _, text3 = wait_change(page, before, None, want=lambda t: summary_lr(t) == 4)
    page.wait_for_timeout(300)
    shot(page, shots, "explorer_6_diverged.png")
    # The colours of the summary's parts that say "diverged" (the whole text, or a line of it).
    colours = page.locator(SUMMARY).first.evaluate(
        """e => [e, ...e.querySelectorAll('*')]
            .filter(x => x.innerText && x.innerText.includes('diverged'))
            .map(x => getComputedStyle(x).color)"""
    )

    def red(colour: str) -> bool:
        r, g, b = ([int(v) for v in re.findall(r"\d+", colour)] + [0, 0, 0])[:3]
        return r >= 150 and g <= 80 and b <= 80

    plot_text = page.locator(PLOT).first.inner_text()
    settings3 = line(text3, "settings:")
    report(
        "diverged" in text3 and "relu" in settings3 and summary_lr(text3) == 4,
        "explorer: diverging setting (relu, normal std 10, σ'(y), seed 2, lr 4) says 'diverged'",
        next((s for s in text3.splitlines() if "diverged" in s), repr(text3[:200]))[:160],
    )
    report(
        any(red(c) for c in colours),
        "explorer: divergence in red",
        ", ".join(sorted(set(colours))),
    )
    report(
        page.locator(PLOT_IMG).count() > 0 or "No curve to draw" in plot_text,
        "explorer: plot area shows curves or a 'No curve to draw' message, never blank",
        plot_text.strip()[:100] or "(an image)",
    )
    report(not page_errors(page), "explorer: still no widget error after the changes")

    # --- back to a working setting: the curves come back ---
    choose("hidden activation", "tanh")
    choose("initial weights", "Xavier")
    choose("output derivative", "y(1 - y), right")
    before = summary_text(page)
    box.fill("0")
    box.press("Enter")
    settle(before)
    before = summary_text(page)
    press_to(page, "learning rate", LR_STOPS, 0.1)
    _, text4 = wait_change(page, before, None, want=lambda t: summary_lr(t) == 0.1)
    page.wait_for_timeout(300)
    report(
        page.locator(PLOT_IMG).count() > 0 and "diverged" not in text4 and summary_lr(text4) == 0.1,
        "explorer: back to tanh, Xavier, y(1 - y), seed 0, lr 0.1: curves drawn again",
        line(text4, "result:") or repr(text4[:200]),
    )
    shot(page, shots, "explorer_7_back.png")

    # --- the new controls: seeds, batch size, clip gradient norm ---
    def seeds_to_3():
        slider(page, "seeds").locator(".noUi-handle").first.focus()
        for _ in range(int(readout(page, "seeds")) - 3):
            page.keyboard.press("ArrowLeft")
            page.wait_for_timeout(60)

    changed(
        "'seeds' 5 -> 3",
        seeds_to_3,
        lambda t: re.search(r"\d+ of 3 seeds", t) is not None,
        "explorer_8_seeds.png",
    )
    changed(
        "'batch size' 1 -> 4",
        lambda: press_to(page, "batch size", BATCH_STOPS, 4),
        lambda t: re.search(r"batch\D{0,12}\b4\b", line(t, "settings:")) is not None,
        "explorer_9_batch.png",
    )
    changed(
        "'clip gradient norm' off -> 1",
        lambda: dropdown(page, "clip gradient norm").locator("select").select_option(label="1"),
        lambda t: re.search(r"clip\w*\D{0,12}\b1\b", line(t, "settings:")) is not None,
        "explorer_10_clip.png",
    )
    report(not page_errors(page), "explorer: no widget error at the end")
    shut_down_kernel(page, EXPLORER_NB)


def check_unrun_06(page, base_url: str, shots: Path) -> None:
    """Open (a copy of) the committed notebook 06 WITHOUT running it: its explorer cell must
    not show "Error displaying widget"; print what it shows instead of the live widgets."""
    page.goto(lab_url(base_url, "explorer", UNRUN_06), timeout=60_000)
    page.wait_for_function(
        f"() => ({JS_PANEL})({json.dumps(UNRUN_06)})?.context.isReady", timeout=60_000
    )
    # Make the explorer cell active and scroll to it.
    index = page.evaluate(
        f"""async () => {{
            const nb = ({JS_PANEL})({json.dumps(UNRUN_06)}).content;
            const i = nb.widgets.findIndex(c => c.model.type === 'code'
                && /explorer\\(/.test(c.model.sharedModel.getSource())
                && !/import/.test(c.model.sharedModel.getSource()));
            if (i >= 0) {{ nb.activeCellIndex = i; await nb.scrollToItem(i); }}
            return i;
        }}"""
    )
    if not report(index >= 0, "unrun 06: the explorer cell found", f"cell {index + 1}"):
        return
    scope = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell.jp-mod-active"
    cell = page.locator(scope)
    cell.first.scroll_into_view_if_needed()
    page.wait_for_timeout(3000)  # let the widget manager restore (or fail to)
    cell.first.scroll_into_view_if_needed()
    cell.first.screenshot(path=str(shots / "unrun_06_explorer_cell.png"))
    text = cell.first.inner_text()
    n_sliders = cell.locator(".widget-slider").count()
    errors = page_errors(page, scope)
    report(
        not errors,
        "unrun 06: no widget error at the explorer cell",
        ", ".join(errors) or (text.strip().splitlines()[-1][:120] if text.strip() else ""),
    )
    # JupyterLab 4 with ipywidgets 8 does not draw saved widget state by default: before the
    # cell runs, it shows the output's text/plain, the explorer's repr. Say which one it is.
    shown = "the saved widgets" if n_sliders else "the text/plain fallback (the widget's repr)"
    info(f"unrun 06: JupyterLab shows {shown}")
    shut_down_kernel(page, UNRUN_06)


# --- every notebook: Run All ------------------------------------------------------------


def documented_seconds(text: str) -> dict[str, float]:
    """Each notebook's re-execution time as TIMES_DOC gives it ("Sessions": "... (measured
    on ...: 01 7 s, 02 9 s, ...)"), by number: {"01": 7.0, "02": 9.0, ...}."""
    m = re.search(r"\(measured on [^:)]*:([^)]*)\)", text)
    pairs = re.findall(r"\b(\d\d) (\d+(?:\.\d+)?) s\b", m.group(1)) if m else []
    return {number: float(seconds) for number, seconds in pairs}


def run_order(names: list[str], seconds: dict[str, float]) -> list[str]:
    """The longest first, so that the last to finish is a short one (``seconds`` by the
    notebook's number, e.g. "05"; one it does not know counts as long)."""
    return sorted(names, key=lambda n: -seconds.get(n[:2], NEW_NOTEBOOK_SECONDS))


def check_notebook_result(page, name: str, seconds: float, shots: Path) -> None:
    problems = page.evaluate(JS_CELL_PROBLEMS, name)
    state = page.evaluate(JS_STATE, name)
    stem = name.removesuffix(".ipynb").replace("/", "_")
    if problems:
        first = problems[0]
        activate(page, name)
        page.evaluate(
            f"""async ([path, i]) => {{
                const nb = ({JS_PANEL})(path).content;
                nb.activeCellIndex = i; await nb.scrollToItem(i, 'center');
            }}""",
            [name, first["index"] - 1],
        )
        page.wait_for_timeout(300)
        shot(page, shots, f"{stem}_problem.png")
    not_run = [p["index"] for p in problems if p["what"].startswith("did not run")]
    for p in problems:
        if p["index"] in not_run:
            continue
        head = p["source"].strip().splitlines()[0][:60] if p["source"].strip() else ""
        report(False, f"{name} cell {p['index']} ({head!r})", p["what"])
    if not_run:  # Run All stops at a cell that raised: one line for the cells after it
        cells = ", ".join(map(str, not_run[:10])) + (" ..." if len(not_run) > 10 else "")
        report(False, f"{name}: {len(not_run)} code cell(s) did not run", f"cells {cells}")
    report(
        not problems,
        f"{name}: Run All ran every cell without an error",
        f"{state['executed']} of {state['code']} code cells ran, {seconds:.1f} s",
    )


def check_notebooks(
    page, base_url: str, names: list[str], jobs: int, shots: Path, stop: threading.Event
) -> dict:
    """Run All on every notebook in ``names``, ``jobs`` at a time, longest first; check each
    when it has finished. The next notebook waiting is opened ahead, so that its kernel is
    ready when its turn comes. Returns {name: Run All seconds}; raises Timeout when
    ``stop`` is set (the time is out), naming the notebooks not finished."""
    if not page.evaluate("() => !!(window.jupyterapp && window.jupyterapp.shell)"):
        page.goto(lab_url(base_url, "notebooks"), timeout=60_000)
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell")
    page.locator("#filebrowser .jp-DirListing-item").first.wait_for(timeout=30_000)
    try:
        seconds = documented_seconds(TIMES_DOC.read_text(encoding="utf-8"))
    except OSError:
        seconds = {}
    queue = run_order(names, seconds)
    opened: set[str] = set()
    running: dict[str, tuple[float, float]] = {}  # name: (page clock at the click, monotonic)
    times: dict[str, float] = {}
    while queue or running:
        if stop.is_set():
            now = time.monotonic()
            late = [f"{n} (running for {now - t:.0f} s)" for n, (_, t) in running.items()]
            for name in running:  # what it was doing (best effort: the time is out)
                try:
                    activate(page, name)
                    shot(page, shots, f"{name.removesuffix('.ipynb')}_unfinished.png")
                except Exception:  # noqa: BLE001
                    pass
            raise Timeout(
                "not finished: " + ", ".join(late + [f"{n} (not started)" for n in queue])
            )
        while queue and len(running) < jobs:
            name = queue.pop(0)
            if name not in opened:
                open_from_file_browser(page, name)
                opened.add(name)
            wait_panel(page, name)
            t_click = run_all_from_menu(page, name)
            watch_run(page, name)
            running[name] = (t_click, time.monotonic())
            info(f"{name}: Run All started ({len(running)} running, {len(queue)} waiting)")
        ahead = [name for name in queue[:1] if name not in opened]
        for name in ahead:
            open_from_file_browser(page, name)
            opened.add(name)
        for name, (t_click, _) in list(running.items()):
            done = run_done(page, name)
            if done is None:
                continue
            del running[name]
            times[name] = (done - t_click) / 1000
            info(f"{name}: Run All took {times[name]:.1f} s")
            page.wait_for_timeout(500)  # let the last outputs render
            check_notebook_result(page, name, times[name], shots)
            shut_down_kernel(page, name)
            info(f"{name}: closed, its kernel shut down")
            TRACES["notebooks' page"] = comm_trace(page)  # kept even if the time runs out
        page.wait_for_timeout(250)
    return times


# --- the Japanese edition: a notebook run, its contents links and folded answers clicked ----

# Whether the heading a link (href "#...") points to is in the notebook's view.
JS_HEADING_SHOWN = f"""([path, href]) => {{
    const notebook = ({JS_PANEL})(path).content.node;
    const id = decodeURIComponent(href.slice(1));
    // the heading itself, or the anchor the Japanese edition puts in it (<a id="Setup">,
    // which JupyterLab's sanitizer turns into data-jupyter-id)
    const target = Array.from(notebook.querySelectorAll('[id], [data-jupyter-id]'))
        .find(e => (e.id || e.dataset.jupyterId) === id);
    if (!target) return 'no heading with that id on the page';
    const h = target.closest('h1, h2, h3, h4, h5, h6') || target;
    const r = h.getBoundingClientRect(), view = notebook.getBoundingClientRect();
    return r.top >= view.top - 2 && r.bottom <= view.bottom ? 'shown'
        : `heading at y ${{Math.round(r.top)}}, notebook shows ${{Math.round(view.top)}}`
          + `-${{Math.round(view.bottom)}}`;
}}"""


def check_japanese(page, shots: Path) -> None:
    """The Japanese notebook JAPANESE: opened, Run All without an error; every contents link
    scrolls its heading into view; every folded answer opens when its summary is clicked."""
    page.evaluate(
        "async (p) => { await window.jupyterapp.commands.execute('docmanager:open', {path: p}); }",
        JAPANESE,
    )
    wait_panel(page, JAPANESE)
    t_click = run_all_from_menu(page, JAPANESE)
    watch_run(page, JAPANESE)
    page.wait_for_function("(p) => window.labcheck[p].done", arg=JAPANESE, timeout=180_000)
    check_notebook_result(page, JAPANESE, (run_done(page, JAPANESE) - t_click) / 1000, shots)
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    folds = panel.locator(".jp-MarkdownOutput details")
    n, opened = folds.count(), 0
    for i in range(n):
        fold = folds.nth(i)
        fold.locator("summary").first.scroll_into_view_if_needed()
        fold.locator("summary").first.click()
        opened += fold.evaluate(
            "d => d.open && d.innerText.length > d.querySelector('summary').innerText.length"
        )
    shot(page, shots, "ja_answers_open.png")
    report(
        n > 0 and opened == n,
        f"{JAPANESE}: every folded answer opens",
        f"{opened} of {n} opened, with text beyond the summary",
    )
    # after the answers are open: a link inside one is visible, and can be clicked
    links = panel.locator('.jp-MarkdownOutput a[href^="#"]:not(.jp-InternalAnchorLink)')
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    wrong = []
    for i, href in enumerate(hrefs):
        try:
            links.nth(i).scroll_into_view_if_needed(timeout=5_000)
            links.nth(i).click(timeout=5_000)
        except Exception as err:  # noqa: BLE001 - reported as a wrong link, with its reason
            box = links.nth(i).evaluate("a => JSON.stringify(a.getBoundingClientRect())")
            wrong.append(f"{href}: could not be clicked ({type(err).__name__}; box {box})")
            continue
        where = ""
        for _ in range(15):  # the notebook may scroll smoothly: up to 3 s
            page.wait_for_timeout(200)
            where = page.evaluate(JS_HEADING_SHOWN, [JAPANESE, href])
            if where == "shown":
                break
        if where != "shown":
            wrong.append(f"{href}: {where}")
    if wrong:
        shot(page, shots, "ja_link_problem.png")
    report(
        bool(hrefs) and not wrong,
        f"{JAPANESE}: every contents link scrolls to its Japanese heading",
        f"{len(hrefs) - len(wrong)} of {len(hrefs)}" + (f"; {wrong[0]}" if wrong else ""),
    )
    shut_down_kernel(page, JAPANESE)


def load_average() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "notebooks", nargs="*", help="notebooks to Run All (default: every notebooks/*.ipynb)"
    )
    ap.add_argument(
        "--lab-python",
        default=str(REPO / ".venv" / "bin" / "python"),
        help="python of the venv with jupyterlab and rnn_lesson (default .venv)",
    )
    ap.add_argument(
        "--chromium",
        default=os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium",
    )
    ap.add_argument("--shots", default=None, help="screenshot dir (default: a new temp dir)")
    ap.add_argument("--jobs", type=int, default=2, help="notebooks run at a time (default 2)")
    ap.add_argument("--only", choices=["explorer", "notebooks"], help="run one part only")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds for the whole run")
    ap.add_argument("--headed", action="store_true", help="show the browser window")
    args = ap.parse_args()

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("FAIL  playwright is not installed in this python (see this script's docstring)")
        return 2
    lab_python = Path(args.lab_python).absolute()  # not resolve(): keep the venv symlink
    if not lab_python.exists():
        print(f"FAIL  no {lab_python}: create the project's venv first (make lab)")
        return 2
    if not Path(args.chromium).exists():
        print(f"FAIL  no Chromium at {args.chromium} (apt-get install -y chromium)")
        return 2
    paths = [Path(p) for p in args.notebooks] or sorted(NOTEBOOKS.glob("*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing or not paths or args.jobs < 1:
        print(f"FAIL  no such notebook(s): {missing}" if missing else "FAIL  nothing to run")
        return 2

    global T_START
    t_start = T_START = time.monotonic()
    info(f"{os.cpu_count()} CPUs, load average {load_average()} at the start")
    tmp = Path(tempfile.mkdtemp(prefix="labcheck-"))
    shots = Path(args.shots) if args.shots else tmp / "shots"
    shots.mkdir(parents=True, exist_ok=True)
    root = tmp / "root"
    (root / "unrun").mkdir(parents=True)
    for p in paths:
        shutil.copy(p, root / p.name)
    write_notebook(root / EXPLORER_NB, notebook_cells())
    shutil.copy(NOTEBOOK_06, root / UNRUN_06)
    (root / "ja").mkdir()
    shutil.copy(JAPANESE_NB, root / JAPANESE)
    port = free_port()
    log_path = tmp / "jupyterlab.log"
    proc: subprocess.Popen | None = None
    console: list[str] = []
    console_warnings: list[str] = []  # printed when a check failed, to help read what happened
    times: dict[str, float] = {}
    stop = threading.Event()  # tells the notebooks' thread to give up (time is out)

    def new_page(pw, where: str):
        browser = pw.chromium.launch(
            executable_path=args.chromium, args=CHROMIUM_ARGS, headless=not args.headed
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1500})
        page.set_default_timeout(20_000)
        page.add_init_script(  # the comms' record, from the moment the app exists
            "const labcheckWait = setInterval(() => { const app = window.jupyterapp;"
            " if (app && app.serviceManager) { clearInterval(labcheckWait);"
            f" ({JS_TRACE_COMMS})(); }}}}, 5);"
        )

        def when() -> str:
            return f"{where} at {time.monotonic() - t_start:.0f} s"

        def on_console(m) -> None:
            if m.type == "error":
                console.append(f"{when()}: {m.text}")
            elif m.type == "warning":
                console_warnings.append(f"{when()}: {m.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda e: console.append(f"{when()}: page error: {e}"))
        return browser, page

    def keep_trace(page, where: str) -> None:
        try:
            TRACES[where] = comm_trace(page)
        except Exception:  # noqa: BLE001 - a diagnosis only; the page may be gone
            pass

    def notebooks_part(base: str) -> None:
        """Every notebook's Run All, in a thread of its own with its own Playwright and
        browser (Playwright is not thread-safe), beside the explorer's checks."""
        t = time.monotonic()
        names = [p.name for p in paths]
        try:
            with sync_playwright() as pw:
                browser, page = new_page(pw, "notebooks' page")
                try:
                    times.update(check_notebooks(page, base, names, args.jobs, shots, stop))
                    check_japanese(page, shots)
                finally:
                    keep_trace(page, "notebooks' page")
                    browser.close()
            seconds = time.monotonic() - t
            info(f"Run All of {len(names)} notebooks, {args.jobs} at a time: {seconds:.1f} s")
        except Timeout as err:
            report(False, "notebooks: finished in time", str(err))
        except Exception as err:  # noqa: BLE001 - any crash is a failed check, with its reason
            report(False, "notebooks: the check ran to the end", f"{type(err).__name__}: {err}")

    def on_alarm(signum, frame):
        raise Timeout(f"the check took more than {args.timeout - CLEANUP_S:.0f} s")

    def last_resort() -> None:  # clean-up itself hung: stop the server's group and leave
        print(f"FAIL  clean-up did not end within --timeout {args.timeout:.0f} s", flush=True)
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(root, ignore_errors=True)
        os._exit(1)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, max(1.0, args.timeout - CLEANUP_S))
    watchdog = threading.Timer(args.timeout, last_resort)
    watchdog.daemon = True
    watchdog.start()
    worker = None
    try:
        with open(log_path, "w") as log:
            proc = start_lab(lab_python, tmp, port, log)
            wait_for_server(proc, port, 60)
            base = f"http://127.0.0.1:{port}"
            print(f"JupyterLab on {base}/lab (root {root})", flush=True)
            if args.only != "explorer":
                worker = threading.Thread(target=notebooks_part, args=(base,), daemon=True)
                worker.start()
            check_shipped_settings(lab_python, base)
            if args.only != "notebooks":
                t = time.monotonic()
                with sync_playwright() as pw:
                    browser, page = new_page(pw, "explorer's page")
                    try:
                        check_no_news_popup(page, base, shots)
                        check_unrun_06(page, base, shots)
                        check_explorer(page, base, shots)
                    finally:
                        keep_trace(page, "explorer's page")
                        browser.close()
                info(f"the explorer's checks took {time.monotonic() - t:.1f} s")
            if worker is not None:
                worker.join()
    except Timeout as err:
        report(False, "finished in time", str(err))
    except Exception as err:  # noqa: BLE001 - any crash is a failed check, with its reason
        report(False, "the check ran to the end", f"{type(err).__name__}: {err}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        stop.set()
        if worker is not None:  # it sees `stop` within a moment, then closes its browser
            worker.join(CLEANUP_S / 4)
        if proc is not None:
            stop_process_group(proc)
        if worker is not None:
            worker.join(CLEANUP_S / 4)
    with open(shots / "comm_trace.txt", "w") as out:  # the whole record, kept with the shots
        for where, trace in TRACES.items():
            out.write("".join(f"{where}: {entry}\n" for entry in trace))
    widget_errors = [m for m in console if re.search(r"widget|comm|Error displaying", m, re.I)]
    for m in console:
        print(f"      browser console error: {m[:200]}")
        for comm_id in re.findall(r"comm id ([0-9a-f-]+)", m):  # that comm's life, as recorded
            where, at = re.match(r"(.*?) at (\d+) s", m).groups()
            trace = TRACES.get(where, [])
            found = [e for e in trace if comm_id in e]
            if not found:  # not recorded: what the page's comms did in the 10 s before
                found = [e for e in trace if 0 <= int(at) - float(e.split()[0]) <= 10]
                print(f"        (comm {comm_id} not recorded; the page's comms before it:)")
            for entry in found[-12:]:
                print(f"        {entry}")
    report(
        not widget_errors,
        "no widget or comm errors in the browser console",
        f"{len(widget_errors)} of {len(console)} console errors",
    )
    for name, seconds in sorted(times.items()):
        print(f"      {name:40s} Run All {seconds:6.1f} s")
    for name in ("root", "config", "data", "runtime", "settings", "workspaces"):
        shutil.rmtree(tmp / name, ignore_errors=True)
    if failures:  # keep the screenshots and the server's log to look at
        for m in console_warnings[-20:]:
            print(f"      browser console warning: {m[:200]}")
        try:  # the server's own warnings and errors ([W ...] and [E ...] lines)
            lines = log_path.read_text(errors="replace").splitlines()
        except OSError:
            lines = []
        for entry in [x for x in lines if x.startswith(("[W ", "[E "))][-20:]:
            print(f"      JupyterLab log: {entry[:200]}")
        print(f"screenshots: {shots}")
        print(f"JupyterLab log: {log_path}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
        if args.shots:
            print(f"screenshots: {shots}")
    watchdog.cancel()
    info(f"load average {load_average()} at the end")
    print(f"{time.monotonic() - t_start:.1f} s in all")
    if failures:
        print(f"FAILED: {len(failures)} check(s): {'; '.join(failures)}")
        return 1
    print("ALL PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
