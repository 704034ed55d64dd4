"""Figures the notebooks share. Plotting only: the numbers come from the other modules."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .checks import positive_int
from .train import TrainResult


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


def plot_unrolled(T: int = 3, ax: Axes | None = None) -> Figure:
    """The RNN folded (its loop) and unrolled over T time steps, every weight labelled.

    Left: one cell whose hidden state z feeds back into itself through W.
    Right: the same cell copied once per time step, z[t-1] → z[t] through W.
    """
    T = positive_int(T, "T")
    if ax is None:
        _, ax = plt.subplots(figsize=(2.6 * (T + 1.6), 4.2))
    xin, hid, out = "#dbe9f6", "#fde2c4", "#d8f0d2"
    # Folded picture.
    _box(ax, (0, 0), "$x_t$", xin)
    _box(ax, (0, 1.4), "$z_t$", hid)
    _box(ax, (0, 2.8), "$y_t$", out)
    _arrow(ax, (0, 0.22), (0, 1.18), "$W_{in}$", (0.32, 0))
    _arrow(ax, (0, 1.62), (0, 2.58), "$W_{out}$", (0.34, 0))
    _arrow(ax, (0.3, 1.5), (0.3, 1.3), "", connectionstyle="arc3,rad=-2.6")
    ax.text(0.78, 1.4, "$W$", fontsize=11, color="darkblue", va="center")
    ax.text(-0.42, 1.4, "$+b$", fontsize=10, ha="right", va="center", color="dimgray")
    ax.text(-0.42, 2.8, "$+c$", fontsize=10, ha="right", va="center", color="dimgray")
    ax.text(1.25, 1.4, "=", fontsize=22, ha="center", va="center")
    # Unrolled picture.
    x0 = 2.1
    for t in range(T):
        cx = x0 + 1.5 * t
        sub = "t" if T == 1 else f"{t}"
        _box(ax, (cx, 0), f"$x_{{{sub}}}$", xin)
        _box(ax, (cx, 1.4), f"$z_{{{sub}}}$", hid)
        _box(ax, (cx, 2.8), f"$y_{{{sub}}}$", out)
        _arrow(ax, (cx, 0.22), (cx, 1.18), "$W_{in}$", (0.3, 0))
        _arrow(ax, (cx, 1.62), (cx, 2.58), "$W_{out}$", (0.32, 0))
        ax.text(cx - 0.36, 1.78, "$+b$", fontsize=9, color="dimgray", ha="center")
        ax.text(cx - 0.36, 3.18, "$+c$", fontsize=9, color="dimgray", ha="center")
        start = (cx - 1.5 + 0.32, 1.4) if t else (cx - 0.95, 1.4)
        label = "$W$" if t else ""
        _arrow(ax, start, (cx - 0.32, 1.4), label, (0, 0.2))
        if t == 0:
            ax.text(cx - 1.05, 1.4, "$z_{-1}=0$", fontsize=9, ha="right", va="center")
    ax.text(
        x0 + 1.5 * (T - 1) / 2,
        -0.65,
        "time $t$ →  (bit 0 = least significant first)",
        ha="center",
        fontsize=10,
    )
    ax.set_xlim(-0.9, x0 + 1.5 * (T - 1) + 0.6)
    ax.set_ylim(-0.9, 3.3)
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
    runs = {"": results} if isinstance(results, TrainResult) else dict(results)
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
    labels = list(bits)
    rows = np.array([np.asarray(bits[k], dtype=float) for k in labels])
    if rows.ndim != 2:
        raise ValueError("every row of bits must be 1-D and of one length")
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
