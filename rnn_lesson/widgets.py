"""The explorer of notebook 06: controls for the settings, several seeds retrained on every change.

One run of SGD is chaotic (notebook 04): a single curve per setting would teach the wrong
lesson. So the explorer trains several seeds of each setting at once, as one stack, and
shows every seed's curves and their median.

The work is done by plain functions, so a notebook or a test can call them directly:

- ``run_experiment(lr, init, std, activation, hidden_size, n_updates, seed, n_seeds=5,
  batch_size=1, clip_norm=None)`` trains ``n_seeds`` networks (seeds seed, seed + 1, ...)
  and returns ``(result, summary_text)``. Network k trains as seed + k alone would, up to
  rounding: ``np.random.default_rng(seed + k)`` draws its initial weights, then its training
  pairs.
- ``curves_png(result, previous)`` draws the loss, accuracy and gradient-norm curves of every
  seed and their median, over the previous setting's curves in gray, as PNG bytes.
- ``history_png(result, title)`` draws ``plots.plot_history`` (loss and accuracy) as PNG bytes.

``explorer()`` builds the ipywidgets controls around them and returns the ``Explorer``
box. Its ``controls`` dict holds the control widgets by setting name, ``summary`` (an
HTML widget) shows the text, ``plot`` (an Output widget) the curves. A change of a control
retrains in a worker thread; a newer change cancels a run still going (the latest wins).
The explorer's evaluations run in two worker processes (``workers.evaluation_pool()``),
beside the training, on the other cores.

The figures are drawn on a ``matplotlib.figure.Figure`` of their own, not through
pyplot, so no figure is left open and none is shown twice by a notebook's inline backend.
"""

from __future__ import annotations

import base64
import html
import io
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from numbers import Real

import ipywidgets as widgets
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from .activations import ACTIVATIONS
from .checks import boolean, choice, number_in, positive_int
from .checks import seed as check_seed
from .data import bits_to_int, make_batch
from .experiments import backward_course_output, init_label
from .initializers import INITIALIZERS
from .model import forward, init_params, stack_params
from .plots import plot_history
from .train import TrainResult, train
from .workers import evaluation_pool

DEFAULTS = {
    "lr": 0.1,
    "init": "xavier",
    "std": 1.0,
    "activation": "tanh",
    "hidden_size": 16,
    "n_updates": 2000,
    "seed": 0,
    "n_seeds": 5,
    "batch_size": 1,
    "clip_norm": None,
    "course_output": False,
}
# The values the explorer's selection sliders and menus stop at: round numbers, in 1-2-5 steps.
LR_STOPS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 4.0)
STD_STOPS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
BATCH_STOPS = (1, 2, 4, 8, 16, 32, 64, 128)
CLIP_STOPS = (None, 0.5, 1.0, 2.0, 5.0)
# The ranges of the other controls: (lowest, highest, step).
RANGES = {
    "hidden_size": (1, 64, 1),
    "n_updates": (100, 10_000, 100),
    "seed": (0, 999_999, 1),
    "n_seeds": (1, 10, 1),
}
N_EVALS = 10  # evaluations over all pairs per run (besides update 0): the expensive part
MAX_DPI = 300
# 77 + 51 = 128: the carry ripples through all seven bits, the hardest kind of sum.
SAMPLE = (77, 51)


def run_experiment(
    lr: float = 0.1,
    init: str = "xavier",
    std: float = 1.0,
    activation: str = "tanh",
    hidden_size: int = 16,
    n_updates: int = 2000,
    seed: int = 0,
    *,
    n_seeds: int = 5,
    batch_size: int = 1,
    clip_norm: float | None = None,
    course_output: bool = False,
    eval_every: int | None = None,
    sample: tuple[int, int] = SAMPLE,
    should_stop: Callable[[], bool] | None = None,
    eval_pool: Executor | None = None,
) -> tuple[TrainResult, str]:
    """Train ``n_seeds`` networks with SGD, as one stack; return ``(result, summary_text)``.

    Network k (k = 0 .. n_seeds - 1) has seed ``seed + k``: ``np.random.default_rng(seed + k)``
    draws its initial weights, then its training pairs (notebook 05's sweep instead draws every
    model's pairs from one ``data_seed``), so it ends where a run of that seed alone would, up to
    rounding (tests/test_stack.py: a relative 1e-12). ``n_seeds=1`` is one run, and ``result``
    then holds one model; otherwise a stack (see ``TrainResult``). ``std`` is used by
    ``init="normal"`` only.
    batch_size: pairs per update (1: the course's per-sample SGD)
    clip_norm: None, or clip every gradient to this global norm (notebook 07)
    course_output: train with the course code's output derivative σ'(y) instead of y(1 - y)
    eval_every: evaluate on all pairs every this many updates (default: 10 times in all)
    sample: the pair (a, b) whose sum the summary shows the trained networks computing
    should_stop: passed to ``train``: a function of no arguments; True cancels the run
    eval_pool: None, or an ``Executor`` to evaluate in (the explorer passes its worker
        processes, ``workers.evaluation_pool()``)

    The evaluations run beside the training (``train``'s ``eval_in_background``), in a
    second thread or in ``eval_pool``: the same numbers as one after the other, sooner.

    A network diverges at the first update whose outputs or new weights are not finite
    (``train``'s ``eval_overflow_stops=False``), so the update reported does not depend on
    ``n_updates`` or on how often the run is evaluated.
    """
    n_updates = positive_int(n_updates, "n_updates")
    n_seeds = positive_int(n_seeds, "n_seeds", 1000)
    course_output = boolean(course_output, "course_output")
    seed = check_seed(seed)
    sample = _check_sample(sample)
    if eval_pool is not None and not isinstance(eval_pool, Executor):
        raise ValueError(
            f"eval_pool must be None or a concurrent.futures.Executor, got {eval_pool!r:.80}"
        )
    if eval_every is None:
        eval_every = max(1, n_updates // N_EVALS)
    rngs = [np.random.default_rng(seed + k) for k in range(n_seeds)]
    starts = [init_params(hidden_size, init, rng=rng, std=std) for rng in rngs]
    result = train(
        starts[0] if n_seeds == 1 else stack_params(starts),
        rng=rngs[0] if n_seeds == 1 else rngs,
        activation=activation,
        lr=lr,
        n_updates=n_updates,
        batch_size=batch_size,
        clip_norm=clip_norm,
        eval_every=eval_every,
        backward_fn=backward_course_output if course_output else None,
        should_stop=should_stop,
        eval_overflow_stops=False,
        eval_in_background=True if eval_pool is None else eval_pool,
    )
    seeds = f"seed {seed}" if n_seeds == 1 else f"{n_seeds} seeds {seed}-{seed + n_seeds - 1}"
    settings = (
        f"{activation}, {init_label(init, std)}, lr {lr:.3g}, hidden size {hidden_size}, "
        f"batch {batch_size}, "
        + ("no clipping" if clip_norm is None else f"gradients clipped at norm {clip_norm:g}")
        + f", {n_updates:,} updates, {seeds}"
        + (", the course's output derivative σ'(y)" if course_output else "")
    )
    return result, summarize(result, settings, eval_every, sample, first_seed=seed)


def _check_sample(sample: object) -> tuple[int, int]:
    """A pair (a, b) of whole numbers below 2**7, so that a + b fits the 8 bits trained on."""
    if not isinstance(sample, (tuple, list)) or len(sample) != 2:
        raise ValueError(f"sample must be a pair (a, b) of whole numbers below 128, got {sample!r}")
    make_batch(sample[0], sample[1], 8)  # raises for anything that is not a valid pair
    return int(sample[0]), int(sample[1])


def _models(result: TrainResult) -> list[dict]:
    """Per model: its parameters, diverged_at, first update at 100%, and its curves
    (updates, loss, accuracy, gradient norm: only the finite points before any divergence)."""
    single = result.accuracy.ndim == 1
    div = [result.diverged_at] if single else result.diverged_at
    firsts = [result.first_perfect()] if single else result.first_perfect()
    models = []
    for k in range(len(div)):
        updates, loss, acc = result.curve(None if single else k)
        g = result.grad_norm if single else result.grad_norm[:, k]
        params = result.params if single else {n: v[k] for n, v in result.params.items()}
        models.append(
            {
                "params": params,
                "diverged_at": div[k],
                "first": firsts[k],
                "curve": (updates, loss, acc, g[: updates.size]),
            }
        )
    return models


def summarize(
    result: TrainResult,
    settings: str,
    eval_every: int,
    sample: tuple[int, int] = SAMPLE,
    first_seed: int = 0,
) -> str:
    """The lines ``run_experiment`` returns, for one model or a stack of seeds:

    settings: ...
    result:   k of n seeds reached 100% of all pairs, the median seed first at update m (...)
              at the end: every seed's share of all pairs right
    diverged: seed s at update d, ...            (only if some seed diverged)
    sample:   what the trained networks say a + b is

    Model k of a stack is named seed ``first_seed + k``.
    """
    if not isinstance(result, TrainResult):
        raise ValueError(f"result must be a TrainResult, got {type(result).__name__}")
    if not isinstance(settings, str):
        raise ValueError(f"settings must be a str describing the run, got {settings!r}")
    eval_every = positive_int(eval_every, "eval_every")
    first_seed = check_seed(first_seed, "first_seed")
    a, b = _check_sample(sample)
    models = _models(result)
    n = len(models)
    firsts = [m["first"] for m in models]
    reached = [f for f in firsts if f is not None]
    # the median seed: with an even count the lower of the two middle seeds, so that the line
    # names an update that was evaluated (np.median would average two seeds' updates)
    median = sorted(np.inf if f is None else f for f in firsts)[(n - 1) // 2]
    noun = "seed" if n == 1 else "seeds"
    if n == 1:
        first = f", first at update {reached[0]:,}" if reached else ""
    elif np.isfinite(median):
        first = f", the median seed first at update {median:,.0f}"
    else:
        first = ", the median seed never"
    lines = [
        f"settings: {settings}",
        f"result:   {len(reached)} of {n} {noun} reached 100% of all pairs{first} "
        f"(checked every {eval_every:,} updates)",
    ]
    ends = []
    for m in models:
        updates, _, acc, _ = m["curve"]
        ends.append("diverged" if m["diverged_at"] is not None else f"{100 * acc[-1]:.2f}%")
    last = int(result.updates[-1])
    lines.append(f"          at the end (update {last:,}): " + ", ".join(ends))
    diverged = [(first_seed + k, m["diverged_at"]) for k, m in enumerate(models)]
    diverged = [(s, d) for s, d in diverged if d is not None]
    if diverged:
        lines.append(
            "diverged: "
            + ", ".join(f"seed {s} at update {d:,}" for s, d in diverged)
            + " (the outputs, the loss or a weight became inf/NaN; that network stopped there)"
        )
    lines.append("sample:   " + _sample_text(models, result, a, b, first_seed))
    return "\n".join(lines)


def _sample_text(models: list[dict], result: TrainResult, a: int, b: int, first_seed: int) -> str:
    """What the trained networks say a + b is."""
    X, _ = make_batch(a, b, result.T)
    said = []
    for m in models:
        if m["diverged_at"] is not None:
            said.append(None)
            continue
        try:
            Y, _ = forward(m["params"], X, result.activation)
        except ValueError:  # huge (finite) ReLU weights may overflow
            said.append("not finite")
            continue
        bits = (Y[0, :, 0] > 0.5).astype(int)
        said.append((bits_to_int(bits), "".join(str(v) for v in bits[::-1])))  # MSB first
    if len(models) == 1:
        if said[0] is None:
            return "none, the run diverged"
        if said[0] == "not finite":
            return f"{a} + {b}: the network's outputs are not finite numbers"
        value, shown = said[0]
        verdict = "right" if value == a + b else f"wrong, the sum is {a + b}"
        return f"{a} + {b}: the network says {value} ({shown} in bits): {verdict}"
    right = sum(s is not None and s != "not finite" and s[0] == a + b for s in said)
    others = [
        f"seed {first_seed + k} says " + (s if s == "not finite" else f"{s[0]}")
        for k, s in enumerate(said)
        if s is not None and (s == "not finite" or s[0] != a + b)
    ]
    text = f"{a} + {b} = {a + b}: {right} of {len(models)} networks say so"
    return text + (f" ({'; '.join(others)})" if others else "")


def history_png(result: TrainResult, title: str = "", dpi: int = 72) -> bytes:
    """``plots.plot_history`` of ``result`` as PNG bytes, drawn without pyplot."""
    if not isinstance(result, TrainResult):
        raise ValueError(f"result must be a TrainResult, got {type(result).__name__}")
    if not isinstance(title, str):
        raise ValueError(f"title must be a str, got {title!r}")
    dpi = positive_int(dpi, "dpi", MAX_DPI)
    fig = Figure(figsize=(10, 3.3))
    axes = fig.subplots(1, 2)
    plot_history(result, title=title, axes=(axes[0], axes[1]))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _median_curve(models: list[dict], column: int) -> tuple[np.ndarray, np.ndarray]:
    """(updates, median over the seeds) of one curve column, at every evaluation where at
    least one seed has a finite point (a diverged seed drops out after its divergence)."""
    longest = max((m["curve"] for m in models), key=lambda c: c[0].size)
    values = np.full((longest[0].size, len(models)), np.nan)
    for k, m in enumerate(models):
        v = m["curve"][column]
        values[: v.size, k] = np.where(np.isfinite(v), v, np.nan)
    has = ~np.all(np.isnan(values), axis=1)
    return longest[0][has], np.nanmedian(values[has], axis=1)


def curves_png(
    result: TrainResult, previous: TrainResult | None = None, title: str = "", dpi: int = 72
) -> bytes:
    """Loss, accuracy and gradient norm over the updates, as PNG bytes (three panels).

    Every seed's curve is drawn thin, their median thick; ``previous`` (another result, or
    None) is drawn faded in gray behind, so a change is seen against what came before.
    A diverged seed's curve ends at its last finite point, marked with an x.
    """
    for name, res in (("result", result), ("previous", previous)):
        if not isinstance(res, TrainResult) and not (name == "previous" and res is None):
            raise ValueError(f"{name} must be a TrainResult, got {type(res).__name__}")
    if not isinstance(title, str):
        raise ValueError(f"title must be a str, got {title!r}")
    dpi = positive_int(dpi, "dpi", MAX_DPI)
    fig = Figure(figsize=(12, 3.4))
    # fixed margins: tight_layout would draw the figure twice more, half of the drawing time
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.15, top=0.84, wspace=0.3)
    axes = fig.subplots(1, 3)
    columns = (1, 2, 3)  # loss, accuracy, gradient norm in a model's curve
    scale = (1.0, 100.0, 1.0)
    for res, colour, faded in ((previous, "gray", True), (result, None, False)):
        if res is None:
            continue
        models = _models(res)
        for ax, column, factor in zip(axes, columns, scale, strict=True):
            # the seeds' curves as one LineCollection: one artist to draw, not one per seed
            curves, colours = [], []
            for k, m in enumerate(models):
                updates, values = m["curve"][0], m["curve"][column]
                ok = np.isfinite(values) & (values > 0 if column == 3 else True)
                if not ok.any():
                    continue
                curves.append(np.column_stack([updates[ok], factor * values[ok]]))
                colours.append(colour or f"C{k % 10}")
                if m["diverged_at"] is not None and not faded:
                    ax.plot(curves[-1][-1, 0], curves[-1][-1, 1], "x", color=colours[-1], ms=8)
            if curves:
                ax.add_collection(
                    LineCollection(curves, colors=colours, lw=0.8, alpha=0.3 if faded else 0.6,
                                   label="previous setting" if faded and len(models) == 1 else None)
                )  # fmt: skip
            if len(models) > 1:
                updates, median = _median_curve(models, column)
                ok = median > 0 if column == 3 else np.isfinite(median)
                label = "previous setting, median" if faded else "median of the seeds"
                ax.plot(updates[ok], factor * median[ok], color=colour or "black",
                        lw=2.5, alpha=0.45 if faded else 0.9, label=label)  # fmt: skip
    ax_loss, ax_acc, ax_g = axes
    ax_loss.set_ylabel("loss over all pairs")
    ax_loss.set_title("Loss")
    ax_acc.set_ylabel("sums exactly right (%)")
    ax_acc.set_ylim(-3, 103)
    ax_acc.set_title("Accuracy on all pairs")
    ax_g.set_ylabel("largest ||g|| since the last point")
    ax_g.set_title("Gradient norm")
    if ax_g.collections or any(line.get_ydata().size for line in ax_g.lines):  # norms drawn
        ax_g.set_yscale("log")
        ax_g.yaxis.set_minor_locator(NullLocator())  # (its minor ticks: a tenth of the drawing)
    for ax in axes:
        ax.set_xlabel("update")
        ax.grid(alpha=0.3)
    # One legend: the lines mean the same in every panel.
    if ax_loss.get_legend_handles_labels()[0]:
        ax_loss.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _png_output(png: bytes, what: str) -> dict:
    """An Output widget's display_data holding one PNG."""
    return {
        "output_type": "display_data",
        "data": {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": what},
        "metadata": {},
    }


# A Dropdown whose value is None shows an empty box (None means "nothing selected" to
# ipywidgets), so the clipping menu's "off" holds this string; ``settings`` turns it into None.
OFF = "off"


def _stops(values: tuple) -> list[tuple[str, object]]:
    """(label, value) options for a SelectionSlider or Dropdown: 0.5 -> '0.5', None -> 'off'."""
    return [(OFF, OFF) if v is None else (f"{v:g}", v) for v in values]


class Explorer(widgets.VBox):
    """The controls, the summary and the curves, in one box. See ``explorer``.

    controls:     {setting name: control widget}, the names of ``run_experiment``'s arguments
    summary:      HTML widget with the summary text and the time the last change took
    plot:         Output widget with the loss, accuracy and gradient-norm curves (one PNG)
    result:       the last ``TrainResult`` shown;  previous: the one before (drawn in gray)
    text:         the last summary text;  last_seconds: how long the last change took
    cancelled:    how many runs a newer change has cancelled
    background:   True: a change retrains in a worker thread, and a newer change cancels the
                  run still going; False: a change retrains before returning (for tests)
    """

    def __init__(self, *, background: bool = True, **settings: object) -> None:
        v = check_settings(settings)
        self.background = boolean(background, "background")
        style = {"description_width": "initial"}
        slider = {"continuous_update": False, "style": style}
        self.controls = {
            "lr": widgets.SelectionSlider(
                options=_stops(LR_STOPS), value=v["lr"], description="learning rate", **slider
            ),
            "init": widgets.Dropdown(
                options=[("normal(std)", "normal"), ("Xavier", "xavier"), ("He", "he")],
                value=v["init"], description="initial weights", style=style,
            ),
            "std": widgets.SelectionSlider(
                options=_stops(STD_STOPS), value=v["std"], description="normal's std", **slider
            ),
            "activation": widgets.Dropdown(
                options=["tanh", "sigmoid", "relu"], value=v["activation"],
                description="hidden activation", style=style,
            ),
            "hidden_size": widgets.IntSlider(
                value=v["hidden_size"], min=1, max=64, description="hidden size", **slider
            ),
            "n_updates": widgets.IntSlider(
                value=v["n_updates"], min=100, max=10_000, step=100,
                description="updates", **slider,
            ),
            "seed": widgets.BoundedIntText(
                value=v["seed"], min=0, max=999_999, description="first seed", style=style,
                layout=widgets.Layout(width="170px"),
            ),
            "n_seeds": widgets.IntSlider(
                value=v["n_seeds"], min=1, max=10, description="seeds", **slider
            ),
            "batch_size": widgets.SelectionSlider(
                options=_stops(BATCH_STOPS), value=v["batch_size"], description="batch size",
                **slider,
            ),
            "clip_norm": widgets.Dropdown(
                options=_stops(CLIP_STOPS), value=OFF if v["clip_norm"] is None else v["clip_norm"],
                description="clip gradient norm", style=style,
            ),
            "course_output": widgets.Dropdown(
                options=[("y(1 - y), right", False), ("σ'(y), the course's", True)],
                value=v["course_output"], description="output derivative", style=style,
            ),
        }  # fmt: skip
        self.summary = widgets.HTML()
        self.plot = widgets.Output()
        self.result: TrainResult | None = None
        self.previous: TrainResult | None = None
        self.text = ""
        self.last_seconds = float("nan")
        self.cancelled = 0
        self._generation = 0  # bumped by every change; only the newest run may show its result
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        c = self.controls
        rows = [
            widgets.HBox([c["lr"], c["n_updates"], c["seed"], c["n_seeds"]]),
            widgets.HBox([c["init"], c["std"], c["hidden_size"]]),
            widgets.HBox([c["activation"], c["batch_size"], c["clip_norm"], c["course_output"]]),
        ]
        super().__init__(rows + [self.summary, self.plot])
        for control in c.values():
            control.observe(self._changed, names="value")
        self.update()  # the first run, before returning: a notebook shows it when executed

    def __repr__(self) -> str:
        # The text/plain fallback: what a viewer without a live kernel (GitHub, nbviewer,
        # a static HTML export) shows in place of the controls, instead of the widget tree.
        return "<Explorer: sliders for notebook 06; run this cell in JupyterLab to use them>"

    def settings(self) -> dict:
        """The controls' current values, as ``run_experiment`` keywords."""
        values = {name: control.value for name, control in self.controls.items()}
        if values["clip_norm"] == OFF:
            values["clip_norm"] = None
        return values

    def _changed(self, change: dict) -> None:
        if self.background:
            self._start()
        else:
            self.update()

    def update(self) -> None:
        """Retrain with the controls' values and redraw, before returning (cancels any run
        still going in the worker thread)."""
        generation = self._next_generation()
        self._run(generation, self.settings(), time.perf_counter())

    def wait(self, timeout: float | None = None) -> None:
        """Wait until no run is going in a worker thread (for tests and scripts)."""
        for worker in list(self._workers):
            worker.join(timeout)
        self._workers = [w for w in self._workers if w.is_alive()]

    def _next_generation(self) -> int:
        with self._lock:
            self._generation += 1
            return self._generation

    def _start(self) -> None:
        """Retrain in a worker thread; the run still going sees the new generation and stops."""
        start = time.perf_counter()
        generation = self._next_generation()
        self.controls["std"].disabled = self.controls["init"].value != "normal"
        self.summary.value = "<i>training…</i>"
        worker = threading.Thread(
            target=self._run, args=(generation, self.settings(), start), daemon=True
        )
        self._workers = [w for w in self._workers if w.is_alive()] + [worker]
        worker.start()

    def _run(self, generation: int, s: dict, start: float) -> None:
        """Train and draw; show the result only if no newer change came meanwhile."""

        def stale() -> bool:
            return self._generation != generation

        self.controls["std"].disabled = s["init"] != "normal"
        try:
            try:
                result, text = run_experiment(**s, should_stop=stale, eval_pool=evaluation_pool())
            except BrokenProcessPool:  # a worker died (killed, out of memory): use a thread
                result, text = run_experiment(**s, should_stop=stale)
            png = None if stale() else curves_png(result, self.result, _title(s))
        except Exception as err:  # shown, not lost in a worker thread
            with self._lock:
                if stale():
                    return
                self.result, self.text = None, f"cannot train: {err}"
                self.summary.value = f"<pre style='color:#b00'>{html.escape(self.text)}</pre>"
                self.plot.outputs = ()
            return
        with self._lock:
            if stale():
                self.cancelled += 1
                return
            self.previous, self.result, self.text = self.result, result, text
            self.plot.outputs = (_png_output(png, "<loss, accuracy and gradient-norm curves>"),)
            self.last_seconds = time.perf_counter() - start
            self.summary.value = _summary_html(text, self.last_seconds)


def _title(s: dict) -> str:
    n = s["n_seeds"]
    return f"{s['activation']}, {init_label(s['init'], s['std'])}, lr {s['lr']:g}: " + (
        "one seed" if n == 1 else f"{n} seeds (thin) and their median (thick)"
    )


def _summary_html(text: str, seconds: float) -> str:
    """The summary as HTML: a <pre>, diverged runs in red, and the time in gray."""
    lines = []
    for line in text.splitlines():
        red = line.startswith("diverged:") or "diverged at update" in line
        escaped = html.escape(line)
        lines.append(f"<span style='color:#b00'>{escaped}</span>" if red else escaped)
    return (
        "<pre style='margin:4px 0'>" + "\n".join(lines) + "</pre>"
        f"<span style='color:gray'>answered in {seconds:.2f} s</span>"
    )


def check_settings(settings: dict) -> dict:
    """``DEFAULTS`` updated with ``settings``, each a value the explorer's controls can show.

    A value the controls cannot reach raises ValueError naming the allowed values,
    instead of being moved to the nearest one.
    """
    unknown = set(settings) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; choose from {list(DEFAULTS)}")
    v = {**DEFAULTS, **settings}
    for name, stops in (("lr", LR_STOPS), ("std", STD_STOPS), ("batch_size", BATCH_STOPS)):
        v[name] = _stop(v[name], name, stops)
    v["clip_norm"] = _stop(v["clip_norm"], "clip_norm", CLIP_STOPS)
    for name, (low, high, step) in RANGES.items():
        number_in(v[name], f"{name} (the explorer's control)", low, high, whole=True)
        if (v[name] - low) % step:
            raise ValueError(
                f"{name} (the explorer's control) must be a multiple of {step} "
                f"from {low:,} to {high:,}, got {v[name]!r}"
            )
        v[name] = int(v[name])
    choice(v["init"], "initializer", INITIALIZERS)
    choice(v["activation"], "activation", tuple(ACTIVATIONS))
    v["course_output"] = boolean(v["course_output"], "course_output")
    return v


def _stop(value: object, name: str, stops: tuple) -> object:
    """``value`` as the stop of ``stops`` it equals, or ValueError listing the stops."""
    for stop in stops:
        if stop is None and value is None:
            return None
        if stop is not None and isinstance(value, Real) and not isinstance(value, bool):
            if value == stop:
                return stop
    shown = ", ".join("None (off)" if s is None else f"{s:g}" for s in stops)
    raise ValueError(f"{name} (the explorer's control) must be one of {shown}; got {value!r}")


def explorer(**settings: object) -> Explorer:
    """Build the explorer, train once with ``settings`` (defaults: ``DEFAULTS``), return it.

    Display it as a cell's last expression. Every change of a control retrains the
    networks and redraws their curves, in a worker thread (a newer change cancels a run
    still going); sliders act when released, not while dragged. ``background=False``
    retrains before a change returns instead (for tests).
    """
    return Explorer(**settings)
