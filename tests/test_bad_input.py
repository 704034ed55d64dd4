"""Every bad input raises ValueError saying what was wrong and what is allowed."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import rnn_lesson as R  # noqa: E402
from rnn_lesson import experiments as E  # noqa: E402
from rnn_lesson import plots  # noqa: E402
from rnn_lesson import widgets as W  # noqa: E402

RNG = np.random.default_rng(0)
P = R.init_params(4, rng=np.random.default_rng(0))
STACK = R.stack_params([P, P])
X, D = R.make_batch([1, 2], [3, 4])
ACTIVATIONS = "'sigmoid', 'tanh', 'relu'"
INITIALIZERS = "'normal', 'xavier', 'he'"


def without(key):
    return {k: v for k, v in P.items() if k != key}


def replaced(key, value):
    return {**P, key: value}


def train(params=P, **kwargs):
    kwargs = {"rng": np.random.default_rng(0), "n_updates": 1, **kwargs}
    return R.train(params, **kwargs)


def cache():
    return R.forward(P, X)[1]


def returns_none(params, cache, D):
    return None


def wrong_shapes(params, cache, D):
    return {k: np.zeros(3) for k in R.PARAM_NAMES}


CFG = E.Config("tanh", "xavier", 0.1, n_updates=2)
SWEEP = E.run_sweep([CFG], seeds=(0,))

# Finite weights too large for ReLU: the hidden state overflows to inf, and the output
# layer's inf - inf makes the outputs NaN.
HUGE = {**{k: 1e200 * np.ones_like(v) for k, v in P.items()}, "W_out": 1e200 * P["W_out"]}


CASES = {
    # unknown activation: the message lists the names
    "activation get_activation": (lambda: R.get_activation("softmax"), ACTIVATIONS),
    "activation forward": (lambda: R.forward(P, X, "Tanh"), ACTIVATIONS),
    "activation train": (lambda: train(activation="leaky"), ACTIVATIONS),
    "activation evaluate": (lambda: R.evaluate_all_pairs(P, "softmax"), ACTIVATIONS),
    "activation gradient_check": (lambda: R.gradient_check(P, X, D, "gelu"), ACTIVATIONS),
    "activation None": (lambda: R.get_activation(None), ACTIVATIONS),
    # unknown initializer
    "initializer init_params": (lambda: R.init_params(4, "glorot", rng=RNG), INITIALIZERS),
    "initializer init_weight": (lambda: R.init_weight((2, 3), "Xavier", RNG), INITIALIZERS),
    "init std 0": (lambda: R.init_params(4, "normal", rng=RNG, std=0), "std"),
    "init std nan": (lambda: R.init_params(4, "normal", rng=RNG, std=np.nan), "std"),
    "init std bool": (lambda: R.init_params(4, "normal", rng=RNG, std=True), "std"),
    "init_weight 1-D shape": (lambda: R.init_weight((3,), "xavier", RNG), "2 dimensions"),
    "init_weight zero dim": (lambda: R.init_weight((0, 3), "xavier", RNG), ">= 1"),
    # hidden size, batch size, n_updates, eval_every: whole numbers >= 1
    "hidden 0": (lambda: R.init_params(0, rng=RNG), "hidden size"),
    "hidden -3": (lambda: R.init_params(-3, rng=RNG), "hidden size"),
    "hidden 2.0": (lambda: R.init_params(2.0, rng=RNG), "hidden size"),
    "hidden True": (lambda: R.init_params(True, rng=RNG), "hidden size"),
    "hidden str": (lambda: R.init_params("16", rng=RNG), "hidden size"),
    "batch 0": (lambda: train(batch_size=0), "batch size"),
    "batch 1.5": (lambda: train(batch_size=1.5), "batch size"),
    "batch True": (lambda: train(batch_size=True), "batch size"),
    "random_pairs size 0": (lambda: R.random_pairs(RNG, 0), "batch size"),
    "n_updates 0": (lambda: train(n_updates=0), "n_updates"),
    "n_updates 1e3": (lambda: train(n_updates=1e3), "n_updates"),
    "n_updates False": (lambda: train(n_updates=False), "n_updates"),
    "eval_every 0": (lambda: train(eval_every=0), "eval_every"),
    "eval_every 2.5": (lambda: train(eval_every=2.5), "eval_every"),
    "eval_every True": (lambda: train(eval_every=True), "eval_every"),
    "stop_at_100 str": (lambda: train(stop_at_100="yes"), "stop_at_100"),
    # learning rate: a positive finite number, or one per model of a stack
    "lr 0": (lambda: train(lr=0), "learning rate must be a positive finite number"),
    "lr negative": (lambda: train(lr=-0.1), "positive finite"),
    "lr nan": (lambda: train(lr=float("nan")), "positive finite"),
    "lr inf": (lambda: train(lr=np.inf), "positive finite"),
    "lr str": (lambda: train(lr="0.1"), "positive finite"),
    "lr None": (lambda: train(lr=None), "positive finite"),
    "lr bool": (lambda: train(lr=True), "positive finite"),
    "lr array for one model": (lambda: train(lr=[0.1, 0.2]), "positive finite"),
    "lr wrong length": (lambda: train(STACK, lr=[0.1, 0.2, 0.3]), "2 of them, one per model"),
    "lr 2-D": (lambda: train(STACK, lr=[[0.1, 0.2]]), "one per model"),
    "lr one bad per model": (lambda: train(STACK, lr=[0.1, -1.0]), "one per model"),
    "lr nan per model": (lambda: train(STACK, lr=[np.nan, 0.1]), "one per model"),
    # X of the wrong rank or width; X and D that disagree
    "X (T, 2)": (lambda: R.forward(P, X[0]), r"X must have shape \(batch, T, 2\)"),
    "X (batch, T, 3)": (lambda: R.forward(P, np.zeros((2, 8, 3))), r"\(batch, T, 2\)"),
    "X 4-D for one model": (lambda: R.forward(P, X[None]), r"\(batch, T, 2\)"),
    "X 5-D for a stack": (lambda: R.forward(STACK, X[None, None]), r"\(batch, T, 2\)"),
    "X stack of 3 for 2 models": (lambda: R.forward(STACK, np.stack([X] * 3)), "match the stack"),
    "X empty batch": (lambda: R.forward(P, np.zeros((0, 8, 2))), "at least one sample"),
    "X no steps": (lambda: R.forward(P, np.zeros((2, 0, 2))), "one time step"),
    "X nan": (lambda: R.forward(P, np.full((1, 8, 2), np.nan)), "finite"),
    "X text": (lambda: R.forward(P, [["a", "b"]]), "array of numbers"),
    "D fewer samples": (lambda: R.backward(P, cache(), D[:1]), "D must have shape"),
    "D fewer steps": (lambda: R.backward(P, cache(), D[:, :5]), "D must have shape"),
    "D width 2": (lambda: R.backward(P, cache(), np.zeros((2, 8, 2))), "D must have shape"),
    "D inf": (lambda: R.backward(P, cache(), np.full_like(D, np.inf)), "finite"),
    "D in gradient_check": (lambda: R.gradient_check(P, X, D[:, :7]), "D must have shape"),
    "cache not from forward": (lambda: R.backward(P, {"y": 1}, D), "returned by forward"),
    "loss shapes": (lambda: R.loss(np.zeros((2, 8, 1)), np.zeros((2, 7, 1))), "Y must have"),
    "accuracy shapes": (lambda: R.accuracy(np.zeros((2, 8)), np.zeros((2, 8))), "Y must have"),
    # params missing a key, or with shapes that do not fit
    "params missing b": (lambda: R.forward(without("b"), X), r"missing \['b'\]"),
    "params missing W_out": (lambda: train(without("W_out")), r"missing \['W_out'\]"),
    "params missing c (evaluate)": (lambda: R.evaluate_all_pairs(without("c")), "missing"),
    "params not a dict": (lambda: R.forward([P], X), "must be a dict"),
    "W_in 3 rows": (lambda: R.forward(replaced("W_in", np.zeros((3, 4))), X), "W_in must"),
    "W wrong H": (lambda: R.forward(replaced("W", np.zeros((3, 3))), X), r"W has shape \(3, 3\)"),
    "W_out 2 cols": (lambda: R.forward(replaced("W_out", np.zeros((4, 2))), X), "W_out has"),
    "b wrong H": (lambda: R.forward(replaced("b", np.zeros(5)), X), "b has shape"),
    "c 2-D": (lambda: R.forward(replaced("c", np.zeros((1, 1))), X), "c has shape"),
    "params text": (lambda: R.forward(replaced("b", np.array(list("abcd"))), X), "numbers"),
    "params ragged": (lambda: R.forward(replaced("b", [[1.0, 2.0], [3.0]]), X), "numbers"),
    "stack of mixed sizes": (
        lambda: R.stack_params([P, R.init_params(5, rng=RNG)]),
        "one hidden size",
    ),
    "stack of nothing": (lambda: R.stack_params([]), "at least one model"),
    "unstack one model": (lambda: R.unstack_params(P), "leading model axis"),
    "train a 2-D stack": (
        lambda: train({k: np.stack([v, v]) for k, v in STACK.items()}),
        "one leading model axis",
    ),
    # bit widths the integers cannot hold
    "int_to_bits 256 in 8": (lambda: R.int_to_bits(256, 8), "does not fit in 8 bits"),
    "int_to_bits 2**8 in 8 (array)": (lambda: R.int_to_bits([3, 256], 8), "does not fit"),
    "int_to_bits huge float": (lambda: R.int_to_bits(1e30, 62), "whole numbers"),
    "int_to_bits huge int": (lambda: R.int_to_bits(2**70, 62), "whole numbers"),
    "int_to_bits uint64 2**63": (lambda: R.int_to_bits(np.uint64(2**63), 62), "below 2"),
    "make_batch 128 at T=8": (lambda: R.make_batch(128, 0, T=8), "below 2\\*\\*7 = 128"),
    "make_batch b 128": (lambda: R.make_batch(5, [128], T=8), "below"),
    "make_batch 4 at T=3": (lambda: R.make_batch(4, 0, T=3), "below"),
    "T 0": (lambda: R.int_to_bits(1, 0), "number of bits T"),
    "T 63": (lambda: R.int_to_bits(1, 63), "at most 62"),
    "T 8.0": (lambda: R.make_batch(1, 1, T=8.0), "number of bits T"),
    "all_pairs T 13": (lambda: R.all_pairs(13), "at most 12"),
    "evaluate T 13": (lambda: R.evaluate_all_pairs(P, "tanh", 13), "at most 12"),
    "train T 0": (lambda: train(T=0), "number of bits T"),
    # negative or non-integer numbers to encode
    "encode -1": (lambda: R.int_to_bits(-1, 8), "whole numbers >= 0"),
    "encode [3, -2]": (lambda: R.int_to_bits([3, -2], 8), "negative"),
    "encode 2.5": (lambda: R.int_to_bits(2.5, 8), "whole numbers"),
    "encode True": (lambda: R.int_to_bits(True, 8), "whole numbers"),
    "encode str": (lambda: R.int_to_bits("3", 8), "whole numbers"),
    "encode nan": (lambda: R.int_to_bits(np.nan, 8), "whole numbers"),
    "make_batch -1": (lambda: R.make_batch(-1, 0), "a must be whole numbers"),
    "make_batch b 0.5": (lambda: R.make_batch(1, 0.5), "b must be whole numbers"),
    "make_batch lengths": (lambda: R.make_batch([1, 2], [3]), "equal length"),
    "make_batch empty": (lambda: R.make_batch([], []), "non-empty"),
    "make_batch 2-D": (lambda: R.make_batch([[1]], [[2]]), "1-D"),
    "decode 2": (lambda: R.bits_to_int([1, 2]), "0 or 1"),
    "decode -1": (lambda: R.bits_to_int([0, -1]), "0 or 1"),
    "decode nan": (lambda: R.bits_to_int([0.0, np.nan]), "0 or 1"),
    "decode text": (lambda: R.bits_to_int(["1", "0"]), "0 or 1"),
    "decode scalar": (lambda: R.bits_to_int(1), "last axis"),
    "decode empty": (lambda: R.bits_to_int([]), "last axis"),
    # rng that is not a Generator
    "rng legacy RandomState": (lambda: train(rng=np.random.RandomState(0)), "Generator"),
    "rng seed int (train)": (lambda: train(rng=0), "Generator"),
    "rng None (init_params)": (lambda: R.init_params(4, rng=None), "Generator"),
    "rng int (init_weight)": (lambda: R.init_weight((2, 3), "he", 42), "Generator"),
    "rng module (random_pairs)": (lambda: R.random_pairs(np.random, 3), "Generator"),
    # gradient-check helpers
    "eps 0": (lambda: R.numerical_gradient(lambda p: 0.0, P, eps=0.0), "eps"),
    "eps int": (lambda: R.numerical_gradient(lambda p: 0.0, P, eps=1), "eps"),
    "relative_error shapes": (lambda: R.relative_error(np.zeros(2), np.zeros(3)), "one shape"),
    # --- issue 8 ---
    # NaN and inf weights are refused everywhere (they gave NaN, or "diverged at update 0")
    "W nan forward": (lambda: R.forward(replaced("W", np.full((4, 4), np.nan)), X), "W must hold"),
    "W inf evaluate": (lambda: R.evaluate_all_pairs(replaced("W", np.full((4, 4), np.inf))), "W"),
    "b nan gradient_check": (lambda: R.gradient_check(replaced("b", [np.nan] * 4), X, D), "b must"),
    "W_out nan train": (lambda: train(replaced("W_out", np.full((4, 1), np.nan))), "finite"),
    "params complex": (lambda: R.forward(replaced("c", np.array([1j])), X), "complex"),
    "params bool": (lambda: R.forward(replaced("c", np.array([True])), X), "c must be"),
    "params float128 inf": (
        lambda: (
            R.forward(replaced("c", np.array([1e4000], dtype=np.longdouble)), X)
            if np.finfo(np.longdouble).max > 1e4000
            else R.forward(replaced("c", np.array([np.inf])), X)
        ),
        "finite",
    ),
    # finite weights whose hidden state overflows (ReLU): refused, not NaN
    "huge weights forward": (lambda: R.forward(HUGE, X, "relu"), "weights are too large"),
    "huge weights evaluate": (lambda: R.evaluate_all_pairs(HUGE, "relu"), "too large"),
    "huge weights gradient_check": (lambda: R.gradient_check(HUGE, X, D, "relu"), "too large"),
    "huge weights hidden_deltas": (lambda: E.hidden_deltas(HUGE, X, D, "relu"), "too large"),
    # std and lr: finite, in range, never an OverflowError
    "std 1e308 (inf weights)": (
        lambda: R.init_params(16, "normal", rng=RNG, std=1e308),
        r"1e\+100",
    ),
    "std 10**400": (lambda: R.init_params(4, "normal", rng=RNG, std=10**400), "std must"),
    "std bad for xavier": (lambda: R.init_params(4, "xavier", rng=RNG, std=-1.0), "std must"),
    "lr 10**400": (lambda: train(lr=10**400), "learning rate must be a positive finite"),
    # TypeError, AttributeError, IndexError before
    "init_weight int shape": (
        lambda: R.init_weight(5, "he", RNG),
        "a weight shape must be a tuple",
    ),
    "backward_fn 5 (gradient_check)": (
        lambda: R.gradient_check(P, X, D, backward_fn=5),
        "backward_fn must be a function",
    ),
    "backward_fn returns None (gradient_check)": (
        lambda: R.gradient_check(P, X, D, backward_fn=returns_none),
        "must return a dict of gradients",
    ),
    "backward_fn returns None (train)": (
        lambda: train(backward_fn=returns_none),
        "must return a dict of gradients",
    ),
    "backward_fn wrong shapes (train)": (
        lambda: train(backward_fn=wrong_shapes),
        "shape of params",
    ),
    "backward_fn one argument": (lambda: train(backward_fn=lambda p: p), "3 arguments"),
    "curve(0) of one model": (lambda: train().curve(0), "one model"),
    "curve() of a stack": (lambda: train(STACK).curve(), r"0\.\.1"),
    "curve(2) of 2 models": (lambda: train(STACK).curve(2), r"0\.\.1"),
    # complex X, empty batches
    "X complex": (lambda: R.forward(P, X + 0j), "complex"),
    "loss empty batch": (lambda: R.loss(np.zeros((0, 8, 1)), np.zeros((0, 8, 1))), "one sample"),
    "accuracy empty batch": (lambda: R.accuracy(np.zeros((0, 8, 1)), np.zeros((0, 8, 1))), "one"),
    "loss text": (lambda: R.loss([[["a"]]], [[[1.0]]]), "Y must be an array"),
    "loss Y nan": (lambda: R.loss(np.full((1, 8, 1), np.nan), np.zeros((1, 8, 1))), "finite"),
    "loss Y above 1": (lambda: R.loss(np.full((1, 8, 1), 1e200), np.zeros((1, 8, 1))), r"\[0, 1\]"),
    "relative_error nan": (lambda: R.relative_error([np.nan], [1.0]), "finite"),
    # numerical gradients: the loss function must give one finite number
    "loss_fn nan": (lambda: R.numerical_gradient(lambda p: np.nan, P), "finite real number"),
    "loss_fn array": (lambda: R.numerical_gradient(lambda p: np.zeros(2), P), "one finite"),
    "loss_fn not callable": (lambda: R.numerical_gradient(3.0, P), "loss_fn must be a function"),
    # sizes that ended in MemoryError: refused with the limit in the message
    "init_params 10**5": (lambda: R.init_params(10**5, rng=RNG), "from 1 to 4,096"),
    "init_weight huge": (lambda: R.init_weight((10**5, 10**5), "he", RNG), "16,777,216"),
    "random_pairs 10**10": (lambda: R.random_pairs(RNG, 10**10), "limit of 16,777,216"),
    "train batch 10**9": (lambda: train(batch_size=10**9), "limit of 16,777,216"),
    "forward too many hidden states": (
        lambda: R.forward(R.init_params(1024, rng=RNG), R.make_batch(*R.all_pairs(8))[0]),
        "limit of 16,777,216",
    ),
    # train's options for the explorer
    "train eval_at 0": (lambda: train(n_updates=10, eval_at=[0, 5]), "from 1 to n_updates = 10"),
    "train eval_at 11": (lambda: train(n_updates=10, eval_at=[11]), "from 1 to n_updates"),
    "train eval_at 2.5": (lambda: train(n_updates=10, eval_at=[2.5]), "whole numbers"),
    "train eval_at int": (lambda: train(n_updates=10, eval_at=5), "list of updates"),
    "train should_stop 1": (lambda: train(should_stop=1), "should_stop must be a function"),
    "train should_stop arg": (lambda: train(should_stop=lambda n: 0), "should_stop must take"),
    "train eval_overflow_stops": (lambda: train(eval_overflow_stops=0), "True or False"),
    "train rng list, one model": (lambda: train(rng=[RNG]), "one per model of a stack"),
    "train rng list, too few": (lambda: train(STACK, rng=[RNG]), "2, one per model; got 1"),
    "train rng list of ints": (lambda: train(STACK, rng=[0, 1]), "Generator"),
    # stacks
    "stack_params of a dict": (lambda: R.stack_params(P), "list of at least one model"),
    # D = None was taken for "no D" (TypeError deep inside)
    "D None backward": (lambda: R.backward(P, cache(), None), "D must be an array"),
    "D None gradient_check": (lambda: R.gradient_check(P, X, None), "D must be an array"),
}

WIDGET_CASES = {
    # run_experiment and the explorer: TypeError, TraitError or silent changes before
    "seed str": (lambda: W.run_experiment(seed="0"), "seed must be a whole number >= 0"),
    "seed 1.5": (lambda: W.run_experiment(seed=1.5), "seed must"),
    "seed -1": (lambda: W.run_experiment(seed=-1), "seed must"),
    "course_output 'no'": (lambda: W.run_experiment(course_output="no"), "True or False"),
    "sample not a pair": (lambda: W.run_experiment(sample=5), "pair"),
    "explorer 'Xavier'": (lambda: W.explorer(init="Xavier"), INITIALIZERS),
    # the explorer's controls reach these values only: no silent move to the nearest one
    "explorer lr 10": (lambda: W.explorer(lr=10), r"lr .* one of 0.001, 0.002, .* 2, 4; got 10"),
    "explorer lr 0.3": (lambda: W.explorer(lr=0.3), r"lr .* one of .* 0.2, 0.5, .*got 0.3"),
    "explorer lr True": (lambda: W.explorer(lr=True), "lr .* one of"),
    "explorer hidden 1000": (lambda: W.explorer(hidden_size=1000), "from 1 to 64, got 1000"),
    "explorer std 0": (lambda: W.explorer(std=0.0), r"std .* one of 0.01, 0.03, 0.1, 0.3, 1"),
    "explorer std 0.316": (lambda: W.explorer(std=0.316), r"std .* got 0.316"),
    "explorer n_updates 50": (lambda: W.explorer(n_updates=50), "from 100 to 10,000"),
    "explorer n_updates 150": (lambda: W.explorer(n_updates=150), "multiple of 100"),
    "explorer seed 10**6": (lambda: W.explorer(seed=10**6), "from 0 to 999,999"),
    "explorer n_seeds 0": (lambda: W.explorer(n_seeds=0), "n_seeds .* from 1 to 10, got 0"),
    "explorer n_seeds 11": (lambda: W.explorer(n_seeds=11), "n_seeds .* from 1 to 10"),
    "explorer batch 3": (lambda: W.explorer(batch_size=3), r"batch_size .* 1, 2, 4, .* 128"),
    "explorer batch 256": (lambda: W.explorer(batch_size=256), "batch_size .* got 256"),
    "explorer clip 3": (lambda: W.explorer(clip_norm=3), r"clip_norm .* None \(off\), 0.5, 1"),
    "explorer clip 0": (lambda: W.explorer(clip_norm=0), "clip_norm"),
    "explorer course_output 1": (lambda: W.explorer(course_output=1), "True or False"),
    "explorer background 1": (lambda: W.explorer(background=1), "True or False"),
    "run_experiment n_seeds 0": (lambda: W.run_experiment(n_seeds=0), "n_seeds"),
    "curves_png of text": (lambda: W.curves_png("result"), "TrainResult"),
    "curves_png previous text": (lambda: W.curves_png(train(), "before"), "previous must"),
    "history_png of text": (lambda: W.history_png("result"), "TrainResult"),
    "summarize eval_every 0": (lambda: W.summarize(train(), "s", 0), "eval_every"),
    # run_sweep: one value given where a tuple is asked for, seeds that are not seeds
    "sweep configs str": (lambda: E.run_sweep("tanh"), "Config"),
    "sweep no configs": (lambda: E.run_sweep([]), "at least one"),
    "sweep seeds None": (lambda: E.run_sweep([CFG], seeds=(None,)), "seeds must"),
    "sweep seeds 1.7": (lambda: E.run_sweep([CFG], seeds=(1.7,)), "seeds must"),
    "sweep seeds repeated": (lambda: E.run_sweep([CFG], seeds=(0, 0)), "distinct"),
    "sweep lr text": (lambda: E.run_sweep([E.Config("tanh", "xavier", "0.1")]), "learning rate"),
    "sweep data_seed": (lambda: E.run_sweep([CFG], data_seed=-1), "data_seed"),
    "sweep backward_fn": (lambda: E.run_sweep([CFG], backward_fn=5), "backward_fn"),
    "init_label unknown": (lambda: E.init_label("glorot"), INITIALIZERS),
    "hidden_deltas from_step True": (lambda: E.hidden_deltas(P, X, D, from_step=True), "from_step"),
    "hidden_deltas D None": (lambda: E.hidden_deltas(P, X, None), "D must be an array"),
    "sweep at unknown config": (
        lambda: SWEEP.at(E.Config("relu", "he", 0.1), 2),
        "no configuration",
    ),
    "sweep at unknown update": (lambda: SWEEP.at(CFG, 1), "scored at updates"),
    "sweep model unknown seed": (lambda: SWEEP.model(CFG, 7), "trained seeds"),
    "backward_course_output params list": (
        lambda: E.backward_course_output([P], cache(), D),
        "params must be the dict",
    ),
    "backward_course_output D": (
        lambda: E.backward_course_output(P, cache(), D[:1]),
        "D must have the shape",
    ),
    # plots
    "plot_history of a list": (lambda: plots.plot_history([train()]), "TrainResult"),
    "plot_history bad axes": (lambda: plots.plot_history(train(), axes=1), "pair of matplotlib"),
    "plot_bits ragged": (lambda: plots.plot_bits({"a": [1, 0], "b": [1]}), "one length"),
    "plot_bits nan": (lambda: plots.plot_bits({"a": [np.nan]}), "finite"),
    "plot_unrolled T 1000": (lambda: plots.plot_unrolled(1000), "from 1 to 16"),
    "plot_sweep of text": (lambda: plots.plot_sweep("sweep"), "run_sweep"),
}


@pytest.mark.parametrize(("call", "match"), CASES.values(), ids=CASES.keys())
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(("call", "match"), WIDGET_CASES.values(), ids=WIDGET_CASES.keys())
def test_bad_input_to_widgets_experiments_plots_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_good_neighbours_of_the_bad_cases_pass():
    # The checks are not over-eager: the nearest good values are accepted.
    assert R.int_to_bits(255, 8).tolist() == [1] * 8
    assert R.int_to_bits(np.uint8(3), 2).tolist() == [1, 1]
    assert R.int_to_bits(2.0, 2).tolist() == [0, 1]
    assert R.make_batch(127, 127, T=8)[1].shape == (1, 8, 1)
    assert R.init_params(np.int64(1), rng=RNG)["W"].shape == (1, 1)
    assert R.init_params(3, "normal", rng=RNG, std=np.float32(0.5))["W"].shape == (3, 3)
    train(lr=np.float32(0.5), batch_size=np.int64(2), n_updates=np.int32(1), eval_every=1)
    train(STACK, lr=np.array([0.1, 0.2]))
    train(STACK, lr=0.1)
    train(stop_at_100=np.bool_(True))
    R.forward(P, [[[0, 1]]])  # nested lists of ints are fine
