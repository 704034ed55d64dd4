"""Figures the notebooks share. Plotting only: the numbers come from the other modules."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path

from .checks import positive_int, real_array
from .experiments import Sweep
from .train import TrainResult

MAX_UNROLLED = 16  # time steps plot_unrolled draws: wider pictures no longer fit a page


def _box(ax: Axes, xy: tuple[float, float], text: str, color: str) -> None:
    x, y = xy
    ax.add_patch(
        FancyBboxPatch(
            (x - 0.32, y - 0.22),
            0.64,
            0.44,
            boxstyle="round,pad=0.02",
            facecolor=color,
            edgecolor="black",
            linewidth=1.2,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=13)


def _arrow(
    ax: Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    label: str = "",
    offset: tuple[float, float] = (0.0, 0.0),
    **kw: object,
) -> None:
    ax.add_patch(
        FancyArrowPatch(
            start, end, arrowstyle="-|>", mutation_scale=14, linewidth=1.3, color="black", **kw
        )
    )
    if label:
        mx, my = (start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1]
        ax.text(
            mx,
            my,
            label,
            ha="center",
            va="center",
            fontsize=11,
            color="darkblue",
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
        )


def _self_loop(ax: Axes, xy: tuple[float, float], label: str) -> None:
    """A loop from the right edge of the box at ``xy`` back into it, ``label`` inside the loop."""
    x, y = xy
    right = x + 0.32  # the box's right edge (see _box)
    path = Path(
        [(right, y + 0.13), (x + 1.15, y + 0.62), (x + 1.15, y - 0.62), (right + 0.01, y - 0.13)],
        [Path.MOVETO, Path.CURVE4, Path.CURVE4, Path.CURVE4],
    )
    ax.add_patch(
        FancyArrowPatch(
            path=path, arrowstyle="-|>", mutation_scale=14, linewidth=1.3, color="black"
        )
    )
    ax.text(x + 0.62, y, label, ha="center", va="center", fontsize=11, color="darkblue")


def plot_unrolled(T: int = 3, ax: Axes | None = None) -> Figure:
    """The RNN folded (its loop) and unrolled over T time steps, every weight labelled.

    Left: one cell whose hidden state z feeds back into itself through W.
    Right: the same cell copied once per time step, z[t-1] → z[t] through W.
    """
    T = positive_int(T, "T", MAX_UNROLLED)
    _check_axes(ax, 1)
    x0, step = 3.55, 1.5  # centre of the first unrolled cell, distance between cells
    xlim, ylim = (-0.95, x0 + step * (T - 1) + 0.75), (-0.95, 3.45)
    if ax is None:
        scale, title_room = 0.95, 0.4  # inches per data unit (equal aspect); inches for the title
        width, height = scale * (xlim[1] - xlim[0]), scale * (ylim[1] - ylim[0]) + title_room
        fig, ax = plt.subplots(figsize=(width, height))
        fig.subplots_adjust(left=0, right=1, bottom=0, top=1 - title_room / height)
    xin, hid, out = "#dbe9f6", "#fde2c4", "#d8f0d2"
    # Folded picture: one cell, its hidden state fed back into itself through W.
    _box(ax, (0, 0), "$x_t$", xin)
    _box(ax, (0, 1.4), "$z_t$", hid)
    _box(ax, (0, 2.8), "$y_t$", out)
    _arrow(ax, (0, 0.22), (0, 1.18), "$W_{in}$", (0.32, 0))
    _arrow(ax, (0, 1.62), (0, 2.58), "$W_{out}$", (0.36, 0))
    _self_loop(ax, (0, 1.4), "$W$")
    ax.text(-0.42, 1.4, "$+b$", fontsize=10, ha="right", va="center", color="dimgray")
    ax.text(-0.42, 2.8, "$+c$", fontsize=10, ha="right", va="center", color="dimgray")
    ax.text(1.4, 1.4, "=", fontsize=22, ha="center", va="center")
    # Unrolled picture: the same cell once per time step, z[t-1] → z[t] through W.
    for t in range(T):
        cx = x0 + step * t
        sub = "t" if T == 1 else f"{t}"
        _box(ax, (cx, 0), f"$x_{{{sub}}}$", xin)
        _box(ax, (cx, 1.4), f"$z_{{{sub}}}$", hid)
        _box(ax, (cx, 2.8), f"$y_{{{sub}}}$", out)
        _arrow(ax, (cx, 0.22), (cx, 1.18), "$W_{in}$", (0.32, 0))
        _arrow(ax, (cx, 1.62), (cx, 2.58), "$W_{out}$", (0.36, 0))
        ax.text(cx - 0.36, 1.72, "$+b$", fontsize=9, color="dimgray", ha="right")
        ax.text(cx - 0.36, 3.12, "$+c$", fontsize=9, color="dimgray", ha="right")
        if t:
            _arrow(ax, (cx - step + 0.32, 1.4), (cx - 0.32, 1.4), "$W$", (0, -0.2))
        else:  # the first step gets the initial state, z[-1] = 0
            _arrow(ax, (cx - 0.85, 1.4), (cx - 0.32, 1.4))
            ax.text(cx - 0.9, 1.4, "$z_{-1}=0$", fontsize=10, ha="right", va="center")
    ax.text(
        min(x0 + step * (T - 1) / 2, xlim[1] - 1.8),  # under the unrolled cells, inside the axes
        -0.65,
        "time $t$ →  (bit 0 = least significant first)",
        ha="center",
        fontsize=10,
    )
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("A simple RNN: folded (left) and unrolled over time (right)")
    return ax.figure


def plot_history(
    results: TrainResult | Mapping[str, TrainResult],
    title: str = "",
    axes: tuple[Axes, Axes] | None = None,
) -> Figure:
    """Loss and exhaustive accuracy over updates, one line per run (or per model of a stack).

    Diverged runs are drawn up to their last finite point and marked with an x and
    the update where they diverged; no NaN is plotted.
    """
    runs = {"": results} if isinstance(results, TrainResult) else results
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError(
            f"results must be a TrainResult or a non-empty dict of them, "
            f"got {type(results).__name__}"
        )
    for name, res in runs.items():
        if not isinstance(name, str) or not isinstance(res, TrainResult):
            raise ValueError(
                f"results must map names (str) to TrainResults, got {name!r}: {res!r:.60}"
            )
    _check_axes(axes, 2)
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    else:
        fig = axes[0].figure
    ax_loss, ax_acc = axes
    for name, res in runs.items():
        n_models = 1 if res.accuracy.ndim == 1 else res.accuracy.shape[1]
        div = res.diverged_at if isinstance(res.diverged_at, list) else [res.diverged_at]
        for k in range(n_models):
            updates, loss, acc = res.curve(None if res.accuracy.ndim == 1 else k)
            label = name if n_models == 1 else f"{name} #{k}".strip()
            (line,) = ax_loss.plot(updates, loss, label=label or None)
            ax_acc.plot(updates, 100 * acc, color=line.get_color(), label=label or None)
            if div[k] is not None:
                for ax, values in ((ax_loss, loss), (ax_acc, 100 * acc)):
                    ax.plot(updates[-1], values[-1], "x", color=line.get_color(), markersize=10)
                    ax.annotate(
                        f"diverged at update {div[k]}",
                        (updates[-1], values[-1]),
                        textcoords="offset points",
                        xytext=(6, 6),
                        fontsize=9,
                        color=line.get_color(),
                    )
    ax_loss.set_xlabel("update")
    ax_loss.set_ylabel("loss over all pairs")
    ax_loss.set_title("Loss")
    ax_acc.set_xlabel("update")
    ax_acc.set_ylabel("sums exactly right (%)")
    ax_acc.set_ylim(-3, 103)
    ax_acc.set_title("Accuracy on all pairs")
    for ax in axes:
        ax.grid(alpha=0.3)
        if any(line.get_label() and not line.get_label().startswith("_") for line in ax.lines):
            ax.legend(fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_bits(bits: Mapping[str, np.ndarray], ax: Axes | None = None, title: str = "") -> Figure:
    """Rows of bits as a table of coloured cells, MSB on the left as we write numbers.

    bits: {row label: (T,) bits, LSB first}; float rows (network outputs) are shown
    as their values, coloured by how close they are to 1.
    """
    if not isinstance(bits, Mapping) or not bits:
        raise ValueError(
            f"bits must be a non-empty dict {{label: bits}}, got {type(bits).__name__}"
        )
    labels = list(bits)
    rows = [real_array(bits[k], f"bits {k!r}") for k in labels]
    if any(r.ndim != 1 or r.shape != rows[0].shape or r.size == 0 for r in rows):
        raise ValueError("every row of bits must be 1-D, non-empty and of one length")
    rows = np.array(rows)
    _check_axes(ax, 1)
    T = rows.shape[1]
    if ax is None:
        _, ax = plt.subplots(figsize=(0.7 * T + 1.5, 0.55 * len(labels) + 0.9))
    shown = rows[:, ::-1]  # MSB first, as written on paper
    ax.imshow(shown, cmap="Blues", vmin=-0.3, vmax=1.3, aspect="auto")
    for i in range(shown.shape[0]):
        for j in range(T):
            v = shown[i, j]
            text = f"{v:.0f}" if v in (0.0, 1.0) else f"{v:.2f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=11)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xticks(range(T), [f"t={T - 1 - j}" for j in range(T)])
    ax.set_xlabel("bit (time step t; the network reads right to left)")
    if title:
        ax.set_title(title)
    return ax.figure


def plot_sweep(sweep, title: str = "") -> Figure:
    """Every model of a sweep (``experiments.run_sweep``'s ``Sweep``): one panel per
    configuration, one row of panels per activation, one line per seed through its
    accuracy on all pairs at the checkpoints. A seed that diverged ends in an x.
    """
    if not isinstance(sweep, Sweep):
        raise ValueError(f"sweep must be what run_sweep returns, got {type(sweep).__name__}")
    activations = list(dict.fromkeys(c.activation for c in sweep.configs))
    rows = [[c for c in sweep.configs if c.activation == a] for a in activations]
    n_cols = max(len(r) for r in rows)
    size = (2.6 * n_cols + 0.6, 2.1 * len(rows) + 0.9)
    fig, axes = plt.subplots(len(rows), n_cols, figsize=size, sharey=True, squeeze=False)
    for r, configs in enumerate(rows):
        for col in range(n_cols):
            ax = axes[r, col]
            if col >= len(configs):
                ax.axis("off")
                continue
            c = configs[col]
            updates = np.array(sweep.checkpoints[c])
            acc = 100 * sweep.accuracy[c]
            for j in range(acc.shape[1]):
                ax.plot(updates, acc[:, j], color="C0", lw=0.8, alpha=0.5, marker="o", ms=2.5)
                if sweep.diverged_at[c][j] is not None:
                    ax.plot(updates[-1], acc[-1, j], "x", color="C3", ms=8)
            ax.set_title(c.label(), fontsize=9)
            ax.set_ylim(-5, 105)
            ax.set_xlim(0, updates[-1] * 1.05)
            ax.grid(alpha=0.3)
            ax.set_xlabel("update", fontsize=8)
            ax.tick_params(labelsize=8)
            if col == 0:
                ax.set_ylabel("sums right (%)", fontsize=9)
    n = len(sweep.seeds)
    fig.suptitle(title or f"Accuracy on all pairs at each checkpoint, {n} seeds", x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return fig


def _check_axes(ax: object, n: int) -> None:
    """Raise unless ``ax`` is None or, as the figures need, one Axes (n = 1) or a pair (n = 2)."""
    ok = ax is None or (
        isinstance(ax, Axes)
        if n == 1
        else isinstance(ax, (tuple, list)) and len(ax) == 2 and all(isinstance(a, Axes) for a in ax)
    )
    if not ok:
        want = "a matplotlib Axes" if n == 1 else "a pair of matplotlib Axes"
        raise ValueError(f"the axes must be None or {want}, got {ax!r:.80}")
