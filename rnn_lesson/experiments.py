"""Numbers for notebook 05: a sweep over settings, and the inside of BPTT.

- ``run_sweep`` trains every (activation, initializer, learning rate, seed) model,
  one stacked ``train`` call per activation, and ``sweep_table`` sums it up.
- ``hidden_deltas`` returns the hidden deltas δ[t] of every step, which
  ``rnn_lesson.backward`` uses but does not return, so we can watch them shrink
  or grow back through time.
- ``backward_course_output`` is BPTT with the course code's output derivative,
  σ'(y) in place of y(1 - y), to train with it and see what it changes.

numpy only; the figures are in ``plots``.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np

from .activations import ACTIVATIONS, d_sigmoid, get_activation
from .checks import choice, positive_number, seed, values
from .initializers import INITIALIZERS, MAX_STD
from .model import (
    Params,
    _bptt,
    _forward,
    check_cache,
    check_inputs,
    init_params,
    stack_params,
    too_large,
)
from .train import TrainResult, train

# Notebook 05's grid: the course's three activations and initializers, three learning rates.
ACTIVATION_ORDER = ("sigmoid", "relu", "tanh")
INIT_ORDER = ("normal", "xavier", "he")
LR_ORDER = (0.01, 0.1, 0.5)


@dataclass
class Sweep:
    """Every model of a sweep. One stacked ``TrainResult`` per activation.

    results: {activation: TrainResult of a stack}
    models:  {activation: [(init, lr, seed) of model k of that stack, for k = 0, 1, ...]}
    """

    results: dict[str, TrainResult]
    models: dict[str, list[tuple[str, float, int]]]
    n_updates: int
    eval_every: int

    def indices(self, activation: str, init: str, lr: float) -> list[int]:
        """The stack positions of every seed of one configuration."""
        choice(activation, "activation", tuple(self.models))
        found = [k for k, (i, r, _) in enumerate(self.models[activation]) if i == init and r == lr]
        if not found:
            configs = sorted({(i, r) for i, r, _ in self.models[activation]})
            raise ValueError(
                f"the sweep has no models with init {init!r} and lr {lr!r}; "
                f"it has (init, lr) = {', '.join(map(repr, configs))}"
            )
        return found

    def runs(self, activation: str, init: str, lr: float) -> list[dict]:
        """One dict per seed: seed, first_perfect (update or None), diverged_at, final accuracy.

        ``final`` is the last recorded accuracy before any divergence.
        """
        indices = self.indices(activation, init, lr)  # checks the configuration exists
        res = self.results[activation]
        firsts, div = res.first_perfect(), res.diverged_at
        out = []
        for k in indices:
            _, _, acc = res.curve(k)
            out.append(
                {
                    "seed": self.models[activation][k][2],
                    "first_perfect": firsts[k],
                    "diverged_at": div[k],
                    "final": float(acc[-1]),
                }
            )
        return out


def run_sweep(
    activations: tuple[str, ...] = ACTIVATION_ORDER,
    inits: tuple[str, ...] = INIT_ORDER,
    lrs: tuple[float, ...] = LR_ORDER,
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4),
    *,
    hidden_size: int = 16,
    std: float = 1.0,
    n_updates: int = 10_000,
    eval_every: int = 1000,
    data_seed: int = 2024,
) -> Sweep:
    """Train every (init, lr, seed) for each activation, as one stack per activation.

    Model (init, lr, seed) starts from ``init_params(hidden_size, init,
    rng=np.random.default_rng(seed), std=std)``. All models of a stack see the same
    training pairs, drawn from ``np.random.default_rng(data_seed)``: the seeds vary
    the initial weights only.
    activations, inits, lrs, seeds: non-empty tuples (or lists) of distinct values
    """
    activations = values(
        activations, "activations", lambda v, _: choice(v, "activation", tuple(ACTIVATIONS))
    )
    inits = values(inits, "inits", lambda v, _: choice(v, "initializer", INITIALIZERS))
    lrs = values(lrs, "lrs", lambda v, _: positive_number(v, "each learning rate in lrs"))
    seeds = values(seeds, "seeds", lambda v, _: seed(v, "each seed in seeds"))
    seed(data_seed, "data_seed")
    results, models = {}, {}
    for activation in activations:
        keys = [(init, lr, s) for init in inits for lr in lrs for s in seeds]
        stack = stack_params(
            [init_params(hidden_size, i, rng=np.random.default_rng(s), std=std) for i, _, s in keys]
        )
        results[activation] = train(
            stack,
            rng=np.random.default_rng(data_seed),
            activation=activation,
            lr=np.array([lr for _, lr, _ in keys]),
            n_updates=n_updates,
            eval_every=eval_every,
        )
        models[activation] = keys
    return Sweep(results, models, n_updates, eval_every)


@dataclass
class SweepRow:
    """One configuration of a sweep, summed over its seeds."""

    activation: str
    init: str
    lr: float
    n_runs: int
    n_perfect: int  # runs that reached 100% of all pairs at some evaluation
    median_first: float | None  # median first update at 100%, over the runs that got there
    n_diverged: int
    median_final: float  # median final accuracy (share), over all runs


def sweep_rows(sweep: Sweep) -> list[SweepRow]:
    """One ``SweepRow`` per (activation, init, lr), in the sweep's order."""
    if not isinstance(sweep, Sweep):
        raise ValueError(f"sweep must be what run_sweep returns, got {type(sweep).__name__}")
    rows = []
    for activation, keys in sweep.models.items():
        configs = list(dict.fromkeys((i, lr) for i, lr, _ in keys))
        for init, lr in configs:
            runs = sweep.runs(activation, init, lr)
            firsts = [r["first_perfect"] for r in runs if r["first_perfect"] is not None]
            rows.append(
                SweepRow(
                    activation,
                    init,
                    lr,
                    len(runs),
                    len(firsts),
                    float(np.median(firsts)) if firsts else None,
                    sum(r["diverged_at"] is not None for r in runs),
                    float(np.median([r["final"] for r in runs])),
                )
            )
    return rows


def init_label(init: str, std: float = 1.0) -> str:
    """'normal(std=1)', 'Xavier', 'He': how the lessons name an initializer."""
    choice(init, "initializer", INITIALIZERS)
    positive_number(std, "std", MAX_STD)
    return {"normal": f"normal(std={std:g})", "xavier": "Xavier", "he": "He"}[init]


def sweep_table(rows: list[SweepRow], std: float = 1.0) -> str:
    """The rows as a fixed-width text table (the same text on every machine)."""
    if not isinstance(rows, list) or not all(isinstance(r, SweepRow) for r in rows):
        raise ValueError("rows must be the list that sweep_rows returns")
    head = (
        f"{'activation':<10} {'initializer':<14} {'lr':>5}  {'reached 100%':>12}  "
        f"{'median 1st update':>17}  {'diverged':>8}  {'median final acc':>16}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        first = f"{r.median_first:,.0f}" if r.median_first is not None else "-"
        lines.append(
            f"{r.activation:<10} {init_label(r.init, std):<14} {r.lr:>5.2f}  "
            f"{f'{r.n_perfect} of {r.n_runs}':>12}  {first:>17}  "
            f"{r.n_diverged:>8}  {100 * r.median_final:>15.1f}%"
        )
    return "\n".join(lines)


def hidden_deltas(
    params: Params,
    X: np.ndarray,
    D: np.ndarray,
    activation: str = "tanh",
    from_step: int | None = None,
) -> tuple[np.ndarray, dict]:
    """The hidden deltas δ[t] = ∂L/∂u[t] of every step: (batch, T, H), and the forward cache.

    from_step: None for the whole loss; t to keep only the error of output t
    (δout zero at every other step), to see how far that one error reaches back.
    """
    params, X, D = check_inputs(params, X, D)
    get_activation(activation)
    T = X.shape[-2]
    if from_step is not None and not (
        isinstance(from_step, Integral) and not isinstance(from_step, bool) and 0 <= from_step < T
    ):
        raise ValueError(f"from_step must be a step 0..{T - 1} or None, got {from_step!r}")
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is caught below, by value
        y, cache = _forward(params, X, activation)
        delta_out = (y - D) * y * (1.0 - y) / X.shape[-3]
        if from_step is not None:
            keep = np.zeros((T, 1))
            keep[from_step] = 1.0
            delta_out = delta_out * keep
        _, delta = _bptt(params, cache, delta_out)
    if not (np.all(np.isfinite(cache["u"])) and np.all(np.isfinite(delta))):
        raise ValueError(too_large(params, "the hidden state or its deltas"))
    return delta, cache


def backward_course_output(params: Params, cache: dict, D: np.ndarray) -> Params:
    """BPTT with the course code's output delta, δout = (y - d) σ'(y), instead of (y - d) y(1 - y).

    The same signature as ``rnn_lesson.backward``, for ``train(..., backward_fn=...)``.
    It runs inside the training loop, so it checks only what is cheap: the cache, and
    that D has the shape of the outputs.
    """
    if not isinstance(params, dict) or not {"W", "W_out"} <= params.keys():
        raise ValueError("params must be the dict of parameters the cache was computed with")
    y = check_cache(cache)["y"]
    if np.shape(D) not in (y.shape, y.shape[-3:]):
        raise ValueError(f"D must have the shape of the outputs y, {y.shape}; got {np.shape(D)}")
    delta_out = (y - D) * d_sigmoid(y) / y.shape[-3]
    return _bptt(params, cache, delta_out)[0]
