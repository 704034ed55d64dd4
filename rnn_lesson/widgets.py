"""The explorer of notebook 05: sliders for the settings, a retrained RNN on every change.

The work is done by plain functions, so a notebook or a test can call them directly:

- ``run_experiment(lr, init, std, activation, hidden_size, n_updates, seed)`` trains one
  network and returns ``(result, summary_text)``;
- ``history_png(result, title)`` draws its loss and accuracy curves (``plots.plot_history``)
  as PNG bytes.

``explorer()`` builds the ipywidgets controls around them and returns the ``Explorer``
box. Its ``controls`` dict holds the control widgets by setting name, ``summary`` (an
HTML widget) shows the text, ``plot`` (an Output widget) the curves.

The figures are drawn on a ``matplotlib.figure.Figure`` of their own, not through
pyplot, so no figure is left open and none is shown twice by a notebook's inline backend.
"""

from __future__ import annotations

import base64
import html
import io
import time

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from .activations import ACTIVATIONS
from .checks import boolean, choice, number_in, positive_int
from .checks import seed as check_seed
from .data import bits_to_int, make_batch
from .experiments import backward_course_output, init_label
from .initializers import INITIALIZERS
from .model import forward, init_params
from .plots import plot_history
from .train import TrainResult, train

DEFAULTS = {
    "lr": 0.1,
    "init": "xavier",
    "std": 1.0,
    "activation": "tanh",
    "hidden_size": 16,
    "n_updates": 2000,
    "seed": 0,
    "course_output": False,
}
# The explorer's controls reach these values and no others: (lowest, highest, whole number?).
LIMITS = {
    "lr": (1e-3, 1.0, False),
    "std": (1e-2, 10.0, False),
    "hidden_size": (1, 64, True),
    "n_updates": (100, 10_000, True),
    "seed": (0, 999_999, True),
}
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
    course_output: bool = False,
    eval_every: int | None = None,
    sample: tuple[int, int] = SAMPLE,
) -> tuple[TrainResult, str]:
    """Train one network with per-sample SGD; return ``(result, summary_text)``.

    ``rng = np.random.default_rng(seed)`` draws the initial weights, then the training
    pairs (as in notebook 04). ``std`` is used by ``init="normal"`` only.
    course_output: train with the course code's output derivative σ'(y) instead of y(1 - y)
    eval_every: evaluate on all pairs every this many updates (default: 20 times in all)
    sample: the pair (a, b) whose sum the summary shows the trained network computing
    """
    n_updates = positive_int(n_updates, "n_updates")
    course_output = boolean(course_output, "course_output")
    sample = _check_sample(sample)
    if eval_every is None:
        eval_every = max(1, n_updates // 20)
    rng = np.random.default_rng(check_seed(seed))
    params = init_params(hidden_size, init, rng=rng, std=std)
    result = train(
        params,
        rng=rng,
        activation=activation,
        lr=lr,
        n_updates=n_updates,
        eval_every=eval_every,
        backward_fn=backward_course_output if course_output else None,
    )
    settings = (
        f"{activation}, {init_label(init, std)}, lr {lr:.3g}, hidden size {hidden_size}, "
        f"{n_updates:,} updates, seed {seed}"
        + (", the course's output derivative σ'(y)" if course_output else "")
    )
    return result, summarize(result, settings, eval_every, sample)


def _check_sample(sample: object) -> tuple[int, int]:
    """A pair (a, b) of whole numbers below 2**7, so that a + b fits the 8 bits trained on."""
    if not isinstance(sample, (tuple, list)) or len(sample) != 2:
        raise ValueError(f"sample must be a pair (a, b) of whole numbers below 128, got {sample!r}")
    make_batch(sample[0], sample[1], 8)  # raises for anything that is not a valid pair
    return int(sample[0]), int(sample[1])


def summarize(result: TrainResult, settings: str, eval_every: int, sample=SAMPLE) -> str:
    """The lines ``run_experiment`` returns: settings, result, first 100%, one sample sum.

    For a stack, the first-100% and sample lines come once per model, "model k: " first.
    """
    if not isinstance(result, TrainResult):
        raise ValueError(f"result must be a TrainResult, got {type(result).__name__}")
    if not isinstance(settings, str):
        raise ValueError(f"settings must be a str describing the run, got {settings!r}")
    eval_every = positive_int(eval_every, "eval_every")
    a, b = _check_sample(sample)
    message = result.message().replace("\n", "\n          ")  # a stack's lines, aligned
    lines = [f"settings: {settings}", f"result:   {message}"]
    if isinstance(result.diverged_at, list):  # a stack: one block per model
        firsts = result.first_perfect()
        for k, diverged_at in enumerate(result.diverged_at):
            params = {name: v[k] for name, v in result.params.items()}
            model = (params, diverged_at, firsts[k])
            lines += _model_lines(result, model, f"model {k}: ", eval_every, a, b)
    else:
        model = (result.params, result.diverged_at, result.first_perfect())
        lines += _model_lines(result, model, "", eval_every, a, b)
    return "\n".join(lines)


def _model_lines(
    result: TrainResult, model: tuple, who: str, eval_every: int, a: int, b: int
) -> list[str]:
    """First 100% and the sample sum of one model; ``model`` = (params, diverged_at, first)."""
    params, diverged_at, first = model
    if diverged_at is not None:
        return [f"sample:   {who}none, the run diverged"]
    lines = [
        f"          {who}first 100% at update {first:,} (checked every {eval_every:,} updates)"
        if first is not None
        else f"          {who}never 100% (checked every {eval_every:,} updates)"
    ]
    X, _ = make_batch(a, b, result.T)
    try:
        Y, _ = forward(params, X, result.activation)
    except ValueError:  # huge (finite) ReLU weights may overflow
        return lines + [f"sample:   {who}{a} + {b}: the network's outputs are not finite numbers"]
    bits = (Y[0, :, 0] > 0.5).astype(int)
    said = bits_to_int(bits)
    shown = "".join(str(v) for v in bits[::-1])  # MSB first, as written on paper
    verdict = "right" if said == a + b else f"wrong, the sum is {a + b}"
    return lines + [
        f"sample:   {who}{a} + {b}: the network says {said} ({shown} in bits): {verdict}"
    ]


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


class Explorer(widgets.VBox):
    """The controls, the summary and the curves, in one box. See ``explorer``.

    controls:     {setting name: control widget}, the names of ``run_experiment``'s arguments
    summary:      HTML widget with the summary text (and the time the last change took)
    plot:         Output widget with the loss and accuracy curves
    result:       the last ``TrainResult``;  text: the last summary text
    last_seconds: how long the last retrain and redraw took
    """

    def __init__(self, **settings: object) -> None:
        v = check_settings(settings)
        style = {"description_width": "initial"}
        slider = {"continuous_update": False, "style": style}
        self.controls = {
            "lr": widgets.FloatLogSlider(
                value=v["lr"], base=10, min=-3, max=0, step=0.05,
                description="learning rate", readout_format=".3g", **slider,
            ),
            "init": widgets.Dropdown(
                options=[("normal(std)", "normal"), ("Xavier", "xavier"), ("He", "he")],
                value=v["init"], description="initial weights", style=style,
            ),
            "std": widgets.FloatLogSlider(
                value=v["std"], base=10, min=-2, max=1, step=0.05,
                description="normal's std", readout_format=".3g", **slider,
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
                value=v["seed"], min=0, max=999_999, description="seed", style=style,
                layout=widgets.Layout(width="160px"),
            ),
            "course_output": widgets.Dropdown(
                options=[("y(1 - y), right", False), ("σ'(y), the course's", True)],
                value=v["course_output"], description="output derivative", style=style,
            ),
        }  # fmt: skip
        self.summary = widgets.HTML()
        self.plot = widgets.Output()
        self.result: TrainResult | None = None
        self.text = ""
        self.last_seconds = float("nan")
        c = self.controls
        rows = [
            widgets.HBox([c["lr"], c["n_updates"], c["seed"]]),
            widgets.HBox([c["init"], c["std"], c["hidden_size"]]),
            widgets.HBox([c["activation"], c["course_output"]]),
        ]
        super().__init__(rows + [self.summary, self.plot])
        for control in c.values():
            control.observe(self._changed, names="value")
        self.update()

    def __repr__(self) -> str:
        # The text/plain fallback: what a viewer without a live kernel (GitHub, nbviewer,
        # a static HTML export) shows in place of the controls, instead of the widget tree.
        return "<Explorer: sliders for notebook 05; run this cell in JupyterLab to use them>"

    def settings(self) -> dict:
        """The controls' current values, as ``run_experiment`` keywords."""
        return {name: control.value for name, control in self.controls.items()}

    def _changed(self, change: dict) -> None:
        self.update()

    def update(self) -> None:
        """Retrain with the controls' values and redraw the summary and the curves."""
        start = time.perf_counter()
        s = self.settings()
        self.controls["std"].disabled = s["init"] != "normal"
        self.summary.value = "<i>training…</i>"
        try:
            result, text = run_experiment(**s)
        except ValueError as err:  # not reachable from the controls, but say it if it happens
            self.result, self.text = None, f"cannot train: {err}"
            self.summary.value = f"<pre style='color:#b00'>{html.escape(self.text)}</pre>"
            self.plot.outputs = ()
            return
        self.result, self.text = result, text
        n_points = result.curve()[0].size
        if n_points >= 2:
            png = history_png(result, f"{s['activation']}, {init_label(s['init'], s['std'])}")
            self.plot.outputs = (
                {
                    "output_type": "display_data",
                    "data": {
                        "image/png": base64.b64encode(png).decode("ascii"),
                        "text/plain": "<loss and accuracy curves>",
                    },
                    "metadata": {},
                },
            )
        else:  # diverged before the first evaluation: a message, not a one-point plot
            self.plot.outputs = (
                {
                    "output_type": "stream",
                    "name": "stdout",
                    "text": f"No curve to draw: the run diverged at update {result.diverged_at}, "
                    "before its first evaluation.\n",
                },
            )
        self.last_seconds = time.perf_counter() - start
        colour = "#b00" if result.diverged_at is not None else "inherit"
        self.summary.value = (
            f"<pre style='color:{colour}; margin:4px 0'>{html.escape(text)}</pre>"
            f"<span style='color:gray'>retrained and redrawn in {self.last_seconds:.2f} s</span>"
        )


def check_settings(settings: dict) -> dict:
    """``DEFAULTS`` updated with ``settings``, each a value the explorer's controls can show.

    A value outside a control's range raises instead of being moved to its end.
    """
    unknown = set(settings) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; choose from {list(DEFAULTS)}")
    v = {**DEFAULTS, **settings}
    for name, (low, high, whole) in LIMITS.items():
        number_in(v[name], f"{name} (the explorer's control)", low, high, whole)
    choice(v["init"], "initializer", INITIALIZERS)
    choice(v["activation"], "activation", tuple(ACTIVATIONS))
    boolean(v["course_output"], "course_output")
    return v


def explorer(**settings: object) -> Explorer:
    """Build the explorer, train once with ``settings`` (defaults: ``DEFAULTS``), return it.

    Display it as a cell's last expression. Every change of a control retrains the
    network and redraws its curves; sliders act when released, not while dragged.
    """
    return Explorer(**settings)
