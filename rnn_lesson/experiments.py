"""Numbers for notebook 05: a sweep over settings, and the inside of BPTT.

- ``run_sweep`` trains 20 (or more) seeds of every configuration (activation,
  initializer, learning rate, number of updates), one stack of models per activation,
  and scores each model on all pairs at a few checkpoints only (the scoring is the
  expensive part). ``Claim`` and ``check_claims`` turn it into statements of the kind
  "every sum right at update 2,000 in at least 18 of 20 seeds", checked against the data.
  Long SGD runs are chaotic (a difference in the last bit of one weight can change
  which seeds succeed), so a sweep is reported as such rates with margins, never as
  one seed's fate.
- ``hidden_deltas`` returns the hidden deltas δ[t] of every step, which
  ``rnn_lesson.backward`` uses but does not return, so we can watch them shrink
  or grow back through time.
- ``backward_course_output`` is BPTT with the course code's output derivative,
  σ'(y) in place of y(1 - y), to train with it and see what it changes.

numpy only; the figures are in ``plots``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Integral

import numpy as np

from . import stats
from .activations import d_sigmoid, get_activation
from .checks import choice, function, learning_rate, positive_int, positive_number, seed, values
from .evaluate import evaluate_unchecked
from .initializers import INITIALIZERS, MAX_STD
from .model import (
    PARAM_NAMES,
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

T_SWEEP = 8  # bits: the sweep trains and scores on 8-bit addition, as the course does


@dataclass(frozen=True)
class Config:
    """One setting of the sweep: hidden activation, initializer, learning rate, updates.

    std is used by ``init="normal"`` only (the course's default is 1); hidden_size is the
    number of hidden units (the course's is 16).
    """

    activation: str
    init: str
    lr: float
    n_updates: int = 10_000
    std: float = 1.0
    hidden_size: int = 16

    def label(self) -> str:
        size = "" if self.hidden_size == 16 else f", {self.hidden_size} hidden units"
        return f"{self.activation}, {init_label(self.init, self.std)}, lr {self.lr:g}{size}"


@dataclass
class Sweep:
    """Every model of a sweep: seed s of configuration c is model (c, s).

    accuracy[c]:    (len(checkpoints[c]), n_seeds) share of all pairs summed exactly right
    checkpoints[c]: the updates at which configuration c was scored (its last is n_updates)
    diverged_at[c]: per seed, None or the update where it diverged (its weights stopped
                    being finite; they stay at their last finite values from then on)
    params[c]:      the trained parameters, a stack with one model per seed
    """

    configs: list[Config]
    seeds: tuple[int, ...]
    checkpoints: dict[Config, tuple[int, ...]]
    accuracy: dict[Config, np.ndarray]
    diverged_at: dict[Config, list[int | None]]
    params: dict[Config, Params]

    def at(self, config: Config, update: int) -> np.ndarray:
        """(n_seeds,) accuracy of every seed of ``config`` at the checkpoint ``update``."""
        self._check(config)
        if update not in self.checkpoints[config]:
            raise ValueError(
                f"{config.label()} was scored at updates {self.checkpoints[config]}, not {update}"
            )
        return self.accuracy[config][self.checkpoints[config].index(update)]

    def model(self, config: Config, seed: int) -> Params:
        """The trained parameters of one seed of ``config``."""
        self._check(config)
        if seed not in self.seeds:
            raise ValueError(f"the sweep trained seeds {self.seeds}, not {seed!r}")
        k = self.seeds.index(seed)
        return {name: self.params[config][name][k] for name in PARAM_NAMES}

    def _check(self, config: object) -> None:
        if config not in self.configs:
            labels = "; ".join(c.label() for c in self.configs)
            raise ValueError(f"the sweep has no configuration {config!r}; it has: {labels}")


def run_sweep(
    configs: Sequence[Config],
    seeds: Sequence[int] = tuple(range(20)),
    checkpoints: Sequence[int] = (),
    *,
    data_seed: int = 2024,
    backward_fn: Callable | None = None,
) -> Sweep:
    """Train every (configuration, seed) with per-sample SGD; score at the checkpoints.

    Model (c, s) starts from ``init_params(c.hidden_size, c.init, rng=default_rng(s), std=c.std)``.
    All models of one activation and hidden size train as one stack and see the same training pairs,
    drawn from ``default_rng(data_seed)`` (one pair per update, as ``R.train`` draws them):
    the seeds vary the initial weights only. Configuration c is scored on all pairs at
    every update of ``checkpoints`` up to ``c.n_updates``, and at ``c.n_updates``; once
    past its last update a model leaves the stack, so it costs nothing more.
    backward_fn: as in ``R.train``, BPTT replaced (e.g. by ``backward_course_output``)
    """
    configs = list(values(list(configs), "configs", lambda c, _: c))
    seeds = values(list(seeds), "seeds", seed)
    seed(data_seed, "data_seed")
    for c in configs:
        if not isinstance(c, Config):
            raise ValueError(f"configurations must be Config(...), got {c!r}")
        get_activation(c.activation)
        choice(c.init, "initializer", INITIALIZERS)
        learning_rate(c.lr)
        positive_int(c.n_updates, "n_updates")
        positive_int(c.hidden_size, "hidden size")
    if backward_fn is not None:
        function(backward_fn, "backward_fn", "(params, cache, D) -> grads", 3)
    checkpoints = sorted({positive_int(u, "a checkpoint") for u in checkpoints})
    sweep = Sweep(configs, seeds, {}, {}, {}, {})
    for c in configs:
        sweep.checkpoints[c] = tuple(u for u in checkpoints if u < c.n_updates) + (c.n_updates,)
        sweep.accuracy[c] = np.zeros((len(sweep.checkpoints[c]), len(seeds)))
        sweep.diverged_at[c] = [None] * len(seeds)
    for activation, hidden_size in dict.fromkeys((c.activation, c.hidden_size) for c in configs):
        mine = [c for c in configs if (c.activation, c.hidden_size) == (activation, hidden_size)]
        models = [(c, j) for c in mine for j in range(len(seeds))]
        starts = [init_params(c.hidden_size, c.init, rng=np.random.default_rng(seeds[j]), std=c.std)
                  for c, j in models]  # fmt: skip
        result = train(
            stack_params(starts),
            rng=np.random.default_rng(data_seed),
            activation=activation,
            lr=np.array([c.lr for c, _ in models]),
            n_updates=[c.n_updates for c, _ in models],  # a model leaves after its last
            T=T_SWEEP,
            eval_at=sorted({u for c in mine for u in sweep.checkpoints[c]}),
            backward_fn=backward_fn,
            eval_overflow_stops=False,  # diverged: its outputs or weights are not finite
        )
        _score(sweep, models, result)
    return sweep


def _score(sweep: Sweep, models: list[tuple[Config, int]], result: TrainResult) -> None:
    """Copy the accuracy at every checkpoint, the divergence and the trained parameters of
    the stack's models (seed j of configuration c is model i) into ``sweep``."""
    rows = {int(u): r for r, u in enumerate(result.updates)}
    for c in dict.fromkeys(c for c, _ in models):
        sweep.params[c] = {k: np.empty((len(sweep.seeds),) + v.shape[1:])
                           for k, v in result.params.items()}  # fmt: skip
    for i, (c, j) in enumerate(models):
        trained = {k: v[i] for k, v in result.params.items()}
        d = sweep.diverged_at[c][j] = result.diverged_at[i]
        for k in PARAM_NAMES:
            sweep.params[c][k][j] = trained[k]
        for r, u in enumerate(sweep.checkpoints[c]):
            if d is not None and u >= d:  # the weights it stopped at, as they stay
                with np.errstate(over="ignore", invalid="ignore"):
                    sweep.accuracy[c][r, j] = evaluate_unchecked(trained, c.activation, T_SWEEP)[1]
            else:
                sweep.accuracy[c][r, j] = result.accuracy[rows.get(u, -1), i]


@dataclass(frozen=True)
class Claim:
    """A statement about one configuration of a sweep, checked against every seed.

    "At update ``update``, ``config`` has ``what`` in at least ``at_least`` (and/or at most
    ``at_most``) of its seeds", where ``what`` is every sum right (``below=None``: the
    accuracy on all pairs is 100%) or an accuracy below ``below``.
    """

    config: Config
    update: int
    at_least: int | None = None
    at_most: int | None = None
    below: float | None = None

    def outcome(self) -> str:
        return "every sum right" if self.below is None else f"below {100 * self.below:g}% right"

    def count(self, sweep: Sweep) -> int:
        acc = sweep.at(self.config, self.update)
        hits = acc == 1.0 if self.below is None else acc < self.below
        return int(np.sum(hits))

    def seeds_text(self, n_seeds: int) -> str:
        if self.at_least == n_seeds:
            return f"all {n_seeds}"
        if self.at_most == 0:
            return "none"
        parts = []
        if self.at_least is not None:
            parts.append(f"at least {self.at_least}")
        if self.at_most is not None:
            parts.append(f"at most {self.at_most}")
        return f"{' and '.join(parts)} of {n_seeds}"


def check_claims(sweep: Sweep, claims: Sequence[Claim]) -> str:
    """Check every claim against the sweep; return them as a fixed-width table.

    Each row prints what was measured, the count of seeds with its exact 95% interval
    (``stats.rate``), beside the claim: the count may differ in the last seed from one
    machine to the next, the claim (with its margin) holds on every one. Raises
    AssertionError, with the measured count, for the first claim that does not hold.
    """
    n = len(sweep.seeds)
    head = (
        f"{'activation':<10} {'initializer':<17} {'lr':>5} {'hidden':>6} {'updates':>8}  "
        f"{'outcome':<18}  {'measured: seeds (95% interval)':<42}  {'claim':<31}"
    )
    lines = [head, "-" * len(head)]
    for claim in claims:
        if claim.at_least is None and claim.at_most is None:
            raise ValueError("a claim needs at_least or at_most")
        got = claim.count(sweep)
        c = claim.config
        text = (
            f"{c.activation:<10} {init_label(c.init, c.std):<17} {c.lr:>5g} {c.hidden_size:>6} "
            f"{claim.update:>8,}  {claim.outcome():<18}  {str(stats.rate(got, n)):<42}  "
            f"{claim.seeds_text(n):<31}"
        )
        low_ok = claim.at_least is None or got >= claim.at_least
        high_ok = claim.at_most is None or got <= claim.at_most
        if not (low_ok and high_ok):
            raise AssertionError(
                f"this claim does not hold: {text.strip()} (measured {got} of {n})"
            )
        lines.append(text)
    return "\n".join(lines)


def init_label(init: str, std: float = 1.0) -> str:
    """'normal(std=1)', 'Xavier', 'He': how the lessons name an initializer."""
    choice(init, "initializer", INITIALIZERS)
    positive_number(std, "std", MAX_STD)
    return {"normal": f"normal(std={std:.3g})", "xavier": "Xavier", "he": "He"}[init]


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


def without_biases(backward_fn: Callable) -> Callable:
    """``backward_fn`` (signature ``(params, cache, D) -> grads``) with the gradients of b and c
    set to zero, so the biases stay where they start, at 0, as in the course's code."""
    backward_fn = function(backward_fn, "backward_fn", "(params, cache, D) -> grads", 3)

    def backward_no_biases(params: Params, cache: dict, D: np.ndarray) -> Params:
        grads = backward_fn(params, cache, D)
        return {k: (np.zeros_like(g) if k in ("b", "c") else g) for k, g in grads.items()}

    return backward_no_biases
