"""rnn_lesson.experiments: the sweep, the hidden deltas, the course's output derivative."""

import numpy as np
import pytest

import rnn_lesson as R
from rnn_lesson import experiments as E


def small_batch(seed=0, n=40):
    a, b = R.random_pairs(np.random.default_rng(seed), n)
    return R.make_batch(a, b)


def params_with_biases(init="xavier", H=5, seed=1):
    rng = np.random.default_rng(seed)
    p = R.init_params(H, init, rng=rng)
    p["b"] = rng.normal(0, 0.5, size=H)
    p["c"] = rng.normal(0, 0.5, size=1)
    return p


def test_hidden_deltas_add_up_to_the_bias_gradient():
    X, D = small_batch()
    p = params_with_biases()
    delta, cache = E.hidden_deltas(p, X, D, "tanh")
    assert delta.shape == (X.shape[0], X.shape[1], 5)
    grads = R.backward(p, cache, D)
    np.testing.assert_allclose(delta.sum(axis=(0, 1)), grads["b"], rtol=1e-10)  # dL/db = Σ δ[t]


def test_hidden_deltas_from_one_step_reach_only_back():
    X, D = small_batch()
    p = params_with_biases()
    delta, _ = E.hidden_deltas(p, X, D, "tanh", from_step=5)
    assert np.all(delta[:, 6:] == 0)  # an error at step 5 does not reach later steps
    assert np.all(np.abs(delta[:, :6]).sum(axis=(0, 2)) > 0)
    # The six per-step parts add up to the whole.
    parts = sum(E.hidden_deltas(p, X, D, "tanh", from_step=t)[0] for t in range(8))
    np.testing.assert_allclose(parts, E.hidden_deltas(p, X, D, "tanh")[0], rtol=1e-10, atol=1e-18)
    with pytest.raises(ValueError, match="from_step"):
        E.hidden_deltas(p, X, D, "tanh", from_step=8)


def test_course_output_derivative_is_wrong_but_same_signed():
    X, D = small_batch()
    p = params_with_biases()
    errors = R.gradient_check(p, X, D, "tanh", backward_fn=E.backward_course_output)
    assert min(errors.values()) > 1e-3  # the gradient check catches it
    Y, cache = R.forward(p, X, "tanh")
    right, course = R.backward(p, cache, D), E.backward_course_output(p, cache, D)
    assert np.all(np.sign(course["c"]) == np.sign(right["c"]))  # rescaled, not reversed


def test_train_with_backward_fn_and_its_check():
    p = R.init_params(16, "normal", rng=np.random.default_rng(3))
    kw = {"rng": np.random.default_rng(0), "activation": "relu", "n_updates": 50}
    ours = R.train(p, **kw, eval_every=50)
    assert ours.diverged_at is None
    kw["rng"] = np.random.default_rng(0)
    same = R.train(p, **kw, eval_every=50, backward_fn=R.model._backward)
    np.testing.assert_array_equal(same.params["W"], ours.params["W"])
    with pytest.raises(ValueError, match="backward_fn"):
        R.train(p, **kw, backward_fn="course")


def test_relu_std1_diverges_with_the_course_derivative_only():
    models = [R.init_params(16, "normal", rng=np.random.default_rng(s)) for s in range(5)]
    kw = {"activation": "relu", "lr": 0.1, "n_updates": 100, "eval_every": 50}
    right = R.train(R.stack_params(models), rng=np.random.default_rng(2024), **kw)
    course = R.train(
        R.stack_params(models),
        rng=np.random.default_rng(2024),
        backward_fn=E.backward_course_output,
        **kw,
    )
    assert right.diverged_at == [None] * 5
    assert sum(d is not None for d in course.diverged_at) >= 2
    assert all(d is None or d <= 10 for d in course.diverged_at)


def test_small_sweep_matches_single_runs_and_tabulates():
    sweep = E.run_sweep(
        ("tanh", "relu"), ("xavier", "normal"), (0.1, 0.5), (0, 1), n_updates=300, eval_every=100
    )
    assert set(sweep.results) == {"tanh", "relu"}
    assert len(sweep.models["tanh"]) == 2 * 2 * 2
    # Model (xavier, 0.5, seed 1) of the tanh stack ends where a run on its own does.
    k = sweep.models["tanh"].index(("xavier", 0.5, 1))
    alone = R.train(
        R.init_params(16, "xavier", rng=np.random.default_rng(1)),
        rng=np.random.default_rng(2024),
        activation="tanh",
        lr=0.5,
        n_updates=300,
        eval_every=100,
    )
    np.testing.assert_allclose(sweep.results["tanh"].params["W"][k], alone.params["W"], rtol=1e-12)
    np.testing.assert_allclose(sweep.results["tanh"].accuracy[:, k], alone.accuracy)
    assert sweep.indices("tanh", "xavier", 0.5) == [2, 3]
    runs = sweep.runs("tanh", "xavier", 0.5)
    assert [r["seed"] for r in runs] == [0, 1]
    rows = E.sweep_rows(sweep)
    assert len(rows) == 8
    assert (rows[0].activation, rows[0].init, rows[0].lr, rows[0].n_runs) == (
        "tanh",
        "xavier",
        0.1,
        2,
    )
    table = E.sweep_table(rows).splitlines()
    assert len(table) == 2 + 8
    assert table[0].startswith("activation") and set(table[1]) == {"-"}
    assert "normal(std=1)" in table[-1] and "of 2" in table[-1]
    assert len({len(line) for line in table}) == 1  # fixed width


def test_sweep_rows_count_firsts_and_divergence():
    sweep = E.run_sweep(
        ("relu",), ("normal",), (0.1,), (0, 1, 2, 3, 4), n_updates=20, eval_every=10
    )
    (row,) = E.sweep_rows(sweep)
    assert row.n_runs == 5 and row.n_perfect == 0 and row.median_first is None
    assert row.n_diverged == 0
    assert "-" in E.sweep_table([row]).splitlines()[-1]


def test_run_sweep_rejects_bad_input():
    with pytest.raises(ValueError, match="initializer"):
        E.run_sweep(inits=("uniform",))
    with pytest.raises(ValueError, match="at least one"):
        E.run_sweep(seeds=())


def test_hidden_deltas_take_a_numpy_integer_step():
    # A step from numpy (e.g. T - 1 with T an np.int64) was refused as "not a step".
    X, D = small_batch()
    p = params_with_biases()
    plain, _ = E.hidden_deltas(p, X, D, from_step=7)
    np.testing.assert_array_equal(E.hidden_deltas(p, X, D, from_step=np.int64(7))[0], plain)
