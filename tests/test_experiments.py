"""rnn_lesson.experiments: the sweep, the hidden deltas, the course's output derivative."""

import numpy as np
import pytest

import rnn_lesson as R
from rnn_lesson import experiments as E
from rnn_lesson.evaluate import evaluate_unchecked


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


def alone(init, seed, activation, lr, n_updates, eval_every):
    return R.train(
        R.init_params(16, init, rng=np.random.default_rng(seed)),
        rng=np.random.default_rng(2024),
        activation=activation,
        lr=lr,
        n_updates=n_updates,
        eval_every=eval_every,
    )


def test_small_sweep_matches_single_runs():
    C = E.Config
    configs = [
        C("tanh", "xavier", 0.5, 300),
        C("tanh", "normal", 0.1, 200),
        C("relu", "he", 0.1, 100),
    ]
    sweep = E.run_sweep(configs, seeds=(0, 1), checkpoints=(100, 200))
    assert sweep.checkpoints == {
        configs[0]: (100, 200, 300),
        configs[1]: (100, 200),
        configs[2]: (100,),
    }
    assert sweep.accuracy[configs[0]].shape == (3, 2)
    # Every model ends where a run on its own with the same start and pairs does, and the
    # stack leaves the shorter runs behind without disturbing the others.
    for c in configs:
        for seed in (0, 1):
            ref = alone(c.init, seed, c.activation, c.lr, c.n_updates, 100)
            np.testing.assert_allclose(sweep.model(c, seed)["W"], ref.params["W"], rtol=1e-10)
            np.testing.assert_allclose(sweep.accuracy[c][:, seed], ref.accuracy[1:])
            assert sweep.diverged_at[c][seed] is None
    np.testing.assert_array_equal(sweep.at(configs[0], 200), sweep.accuracy[configs[0]][1])
    with pytest.raises(ValueError, match="scored at updates"):
        sweep.at(configs[2], 200)


def test_sweep_stacks_by_activation_and_hidden_size():
    C = E.Config
    configs = [C("tanh", "xavier", 0.1, 100, hidden_size=4), C("tanh", "xavier", 0.1, 100)]
    sweep = E.run_sweep(configs, seeds=(3,), checkpoints=())
    assert sweep.model(configs[0], 3)["W"].shape == (4, 4)
    assert sweep.model(configs[1], 3)["W"].shape == (16, 16)
    small = R.train(
        R.init_params(4, "xavier", rng=np.random.default_rng(3)),
        rng=np.random.default_rng(2024),
        n_updates=100,
        eval_every=100,
    )
    np.testing.assert_allclose(sweep.model(configs[0], 3)["W"], small.params["W"], rtol=1e-10)
    assert sweep.accuracy[configs[0]][0, 0] == small.accuracy[-1]
    assert configs[0].label() == "tanh, Xavier, lr 0.1, 4 hidden units"
    assert (
        E.Config("tanh", "normal", 0.1, std=10**-0.5).label() == "tanh, normal(std=0.316), lr 0.1"
    )
    line = E.check_claims(sweep, [E.Claim(configs[0], 100, at_most=1)]).splitlines()[-1]
    assert line.split()[:5] == ["tanh", "Xavier", "0.1", "4", "100"]


def test_sweep_keeps_diverged_models_finite():
    # The course's output derivative overflows std-1 ReLU networks within a few updates
    # (test_relu_std1_diverges_with_the_course_derivative_only); He-initialized ones go on.
    C = E.Config
    configs = [C("relu", "normal", 0.1, 50), C("relu", "he", 0.1, 50)]
    seeds = (0, 1, 2, 3, 4)
    sweep = E.run_sweep(configs, seeds, (25,), backward_fn=E.backward_course_output)
    assert sum(d is not None for d in sweep.diverged_at[configs[0]]) >= 2
    assert all(d is None or d <= 10 for d in sweep.diverged_at[configs[0]])
    assert sweep.diverged_at[configs[1]] == [None] * 5
    for c in configs:
        assert np.all(np.isfinite(sweep.accuracy[c]))
        assert all(np.all(np.isfinite(v)) for v in sweep.params[c].values())
    # A diverged model stops where it diverged, as in R.train: its weights stay the last
    # finite ones, and its later checkpoints score those weights.
    for j, d in enumerate(sweep.diverged_at[configs[0]]):
        if d is not None:
            start = R.init_params(16, "normal", rng=np.random.default_rng(seeds[j]))
            kw = {"activation": "relu", "backward_fn": E.backward_course_output}
            alone = R.train(start, rng=np.random.default_rng(2024), n_updates=50, **kw,
                            eval_overflow_stops=False)  # fmt: skip
            assert alone.diverged_at == d
            for name, v in sweep.model(configs[0], seeds[j]).items():
                np.testing.assert_allclose(v, alone.params[name], rtol=1e-12, atol=1e-14)
            with np.errstate(over="ignore", invalid="ignore"):  # (its loss may overflow)
                accuracy = evaluate_unchecked(alone.params, "relu", 8)[1]
            assert sweep.at(configs[0], 25)[j] == sweep.at(configs[0], 50)[j] == accuracy


def test_claims_are_checked_and_printed_with_their_counts():
    c = E.Config("tanh", "xavier", 0.1, 200)
    sweep = E.run_sweep([c], seeds=(0, 1, 2, 3), checkpoints=())
    n100 = int(np.sum(sweep.at(c, 200) == 1.0))
    n_low = int(np.sum(sweep.at(c, 200) < 0.5))
    claims = [
        E.Claim(c, 200, at_least=n100),
        E.Claim(c, 200, at_most=n_low, below=0.5),
        E.Claim(c, 200, at_least=0, at_most=4),
        E.Claim(c, 200, at_least=4, below=1.01),
        E.Claim(c, 200, at_most=0, below=0.0),
    ]
    table = E.check_claims(sweep, claims).splitlines()
    assert len(table) == 2 + len(claims) and len({len(line) for line in table}) == 1
    assert table[0].startswith("activation") and set(table[1]) == {"-"}
    assert "every sum right" in table[2] and "below 50% right" in table[3]
    assert "at least 0 and at most 4 of 4" in table[4]
    assert "all 4" in table[5] and "none" in table[6]
    assert f"{n100} of 4 (" in table[2] and "4 of 4 (100%; 95% interval 40% to 100%)" in table[5]
    with pytest.raises(AssertionError, match=f"measured {n100} of 4"):
        E.check_claims(
            sweep, [E.Claim(c, 200, at_most=n100 - 1)] if n100 else [E.Claim(c, 200, at_least=1)]
        )
    with pytest.raises(ValueError, match="at_least or at_most"):
        E.check_claims(sweep, [E.Claim(c, 200)])


def test_plot_sweep_draws_a_panel_per_configuration():
    import matplotlib.pyplot as plt

    from rnn_lesson.plots import plot_sweep

    C = E.Config
    configs = [C("tanh", "xavier", 0.1, 40), C("tanh", "he", 0.1, 40), C("relu", "he", 0.1, 40)]
    fig = plot_sweep(E.run_sweep(configs, seeds=(0, 1), checkpoints=(20,)))
    try:
        visible = [ax for ax in fig.axes if ax.axison]
        assert len(visible) == 3 and all(ax.get_xlabel() == "update" for ax in visible)
        assert len(visible[0].lines) == 2
    finally:
        plt.close(fig)  # leave no pyplot figure behind for the other tests


def test_run_sweep_rejects_bad_input():
    C = E.Config
    with pytest.raises(ValueError, match="initializer"):
        E.run_sweep([C("tanh", "uniform", 0.1)])
    with pytest.raises(ValueError, match="at least one"):
        E.run_sweep([C("tanh", "xavier", 0.1)], seeds=())
    with pytest.raises(ValueError, match="learning rate"):
        E.run_sweep([C("tanh", "xavier", -1.0)])
    with pytest.raises(ValueError, match="hidden size"):
        E.run_sweep([C("tanh", "xavier", 0.1, hidden_size=0)])
    with pytest.raises(ValueError, match="distinct"):
        E.run_sweep([C("tanh", "xavier", 0.1)] * 2)
    with pytest.raises(ValueError, match="Config"):
        E.run_sweep([("tanh", "xavier", 0.1)])
    with pytest.raises(ValueError, match="backward_fn"):
        E.run_sweep([C("tanh", "xavier", 0.1)], backward_fn="course")


def test_hidden_deltas_take_a_numpy_integer_step():
    # A step from numpy (e.g. T - 1 with T an np.int64) was refused as "not a step".
    p = R.init_params(4, "xavier", rng=np.random.default_rng(0))
    X, D = R.make_batch(*R.random_pairs(np.random.default_rng(1), 3, 8), 8)
    plain, _ = E.hidden_deltas(p, X, D, from_step=7)
    np.testing.assert_array_equal(E.hidden_deltas(p, X, D, from_step=np.int64(7))[0], plain)


@pytest.mark.parametrize("backward_fn", [R.backward, E.backward_course_output])
def test_without_biases_zeroes_only_the_bias_gradients_and_training_keeps_them_at_zero(backward_fn):
    p = R.init_params(8, "normal", rng=np.random.default_rng(2))
    X, D = R.make_batch(*R.random_pairs(np.random.default_rng(3), 4))
    _, cache = R.forward(p, X)
    full, cut = backward_fn(p, cache, D), E.without_biases(backward_fn)(p, cache, D)
    for k in ("W_in", "W", "W_out"):
        np.testing.assert_array_equal(cut[k], full[k])
    assert np.any(full["b"] != 0) and np.any(full["c"] != 0)  # so zeroing them is a change
    assert not np.any(cut["b"]) and not np.any(cut["c"])
    run = R.train(
        p, rng=np.random.default_rng(4), n_updates=50, backward_fn=E.without_biases(backward_fn)
    )
    assert not np.any(run.params["b"]) and not np.any(run.params["c"])
    assert not np.array_equal(run.params["W"], p["W"])


@pytest.mark.parametrize("bad", [None, 3, "backward", lambda p, c: p])
def test_without_biases_refuses_what_is_not_a_backward_function(bad):
    with pytest.raises(ValueError, match="backward_fn"):
        E.without_biases(bad)
