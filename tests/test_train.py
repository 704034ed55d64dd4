"""Training: it learns, it is reproducible, and divergence is caught without NaN."""

import numpy as np
import pytest
from conftest import DIVERGES

import rnn_lesson as R

ALL_X, ALL_D = R.make_batch(*R.all_pairs(8), 8)


def accuracy_on_all_pairs(params, activation="tanh"):
    """Recomputed independently of train's own history: forward on all 16,384 pairs."""
    Y, _ = R.forward(params, ALL_X, activation)
    return R.accuracy(Y, ALL_D)


def copy(params):
    return {k: np.array(v, copy=True) for k, v in params.items()}


def assert_same_params(a, b):
    for k in R.PARAM_NAMES:
        np.testing.assert_array_equal(a[k], b[k])


def test_one_update_is_one_sgd_step():
    # train draws random_pairs(rng, batch_size) and steps θ ← θ - lr · dL/dθ.
    p = R.init_params(6, rng=np.random.default_rng(0))
    p["b"] = np.random.default_rng(1).normal(size=6)
    result = R.train(p, rng=np.random.default_rng(7), lr=0.3, n_updates=1, batch_size=5)
    X, D = R.make_batch(*R.random_pairs(np.random.default_rng(7), 5))
    _, cache = R.forward(p, X)
    grads = R.backward(p, cache, D)
    for k in R.PARAM_NAMES:
        np.testing.assert_allclose(result.params[k], p[k] - 0.3 * grads[k], rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(result.updates, [0, 1])


def test_a_run_that_stops_early_leaves_rng_just_after_the_pairs_it_used():
    # train draws its pairs a block of updates at a time; a run cancelled inside a block (here
    # after update 37 of 500) puts rng back after update 37's pairs, so a second run with the
    # same rng goes on with update 38's: 37 + 63 updates end where 100 in one run do.
    p = R.init_params(8, rng=np.random.default_rng(0))
    rng = np.random.default_rng(5)
    calls = iter(range(1, 501))
    first = R.train(
        p, rng=rng, n_updates=500, eval_every=500, should_stop=lambda: next(calls) == 37
    )
    rest = R.train(first.params, rng=rng, n_updates=63, eval_every=63)
    whole = R.train(p, rng=np.random.default_rng(5), n_updates=100, eval_every=100)
    assert_same_params(rest.params, whole.params)


def test_per_sample_sgd_reaches_100_percent():
    # The course's set-up with Xavier: tanh, 16 hidden units, lr 0.1, one sample per update.
    p = R.init_params(16, "xavier", rng=np.random.default_rng(0))
    result = R.train(
        p,
        rng=np.random.default_rng(100),
        activation="tanh",
        lr=0.1,
        n_updates=10_000,
        batch_size=1,
        eval_every=100,
        stop_at_100=True,
    )
    first = result.first_perfect()
    assert first is not None and first <= 10_000, result.message()
    assert result.updates[-1] == first  # stop_at_100 stopped right there
    assert result.accuracy[-1] == 1.0
    assert accuracy_on_all_pairs(result.params) == 1.0
    assert result.diverged_at is None
    assert "100.00% of all pairs right" in result.message()


def test_minibatch_sgd_reaches_100_percent_in_a_few_hundred_updates():
    p = R.init_params(16, "xavier", rng=np.random.default_rng(1))
    result = R.train(
        p,
        rng=np.random.default_rng(1),
        lr=2.0,
        n_updates=1000,
        batch_size=32,
        eval_every=10,
        stop_at_100=True,
    )
    first = result.first_perfect()
    assert first is not None and first <= 300, result.message()
    assert accuracy_on_all_pairs(result.params) == 1.0


def test_history_matches_evaluate_all_pairs():
    p = R.init_params(8, rng=np.random.default_rng(2))
    result = R.train(
        p, rng=np.random.default_rng(2), lr=1.0, n_updates=25, batch_size=8, eval_every=10
    )
    np.testing.assert_array_equal(result.updates, [0, 10, 20, 25])
    assert result.loss.shape == result.accuracy.shape == (4,)
    loss, acc = R.evaluate_all_pairs(result.params)
    assert result.loss[-1] == loss and result.accuracy[-1] == acc
    assert (result.loss[0], result.accuracy[0]) == R.evaluate_all_pairs(p)
    updates, losses, accs = result.curve()
    np.testing.assert_array_equal(updates, result.updates)
    assert result.first_perfect() is None
    assert f"after {result.updates[-1]} updates" in result.message()


@pytest.mark.parametrize("batch_size", [1, 16])
def test_bit_for_bit_reproducible(batch_size):
    p = R.init_params(12, rng=np.random.default_rng(3))

    def run():
        return R.train(
            p,
            rng=np.random.default_rng(4),
            lr=0.5,
            n_updates=300,
            batch_size=batch_size,
            eval_every=50,
        )

    a, b = run(), run()
    assert_same_params(a.params, b.params)
    np.testing.assert_array_equal(a.loss, b.loss)
    np.testing.assert_array_equal(a.accuracy, b.accuracy)
    np.testing.assert_array_equal(a.updates, b.updates)
    # ...and the seed matters.
    c = R.train(
        p, rng=np.random.default_rng(5), lr=0.5, n_updates=300, batch_size=batch_size, eval_every=50
    )
    assert not np.array_equal(a.params["W"], c.params["W"])


def test_given_params_are_not_changed():
    p = R.init_params(8, rng=np.random.default_rng(6))
    keep = copy(p)
    result = R.train(p, rng=np.random.default_rng(6), n_updates=20, batch_size=4)
    assert_same_params(p, keep)
    assert not np.array_equal(result.params["W"], p["W"])
    S = R.stack_params([p, keep])
    keep_S = copy(S)
    R.train(S, rng=np.random.default_rng(6), n_updates=20, batch_size=4)
    assert_same_params(S, keep_S)


# Divergence. This network rarely diverges: a saturated output sigmoid has a zero slope,
# so large weights stall rather than explode. An absurd learning rate does it: after one
# update the weights are ~1e45, and the next forward pass overflows (relu does not saturate).


def check_diverged_run(result, model=None):
    d = result.diverged_at if model is None else result.diverged_at[model]
    assert isinstance(d, int) and 0 <= d
    updates, losses, accs = result.curve(model)
    assert np.all(np.isfinite(losses)) and np.all(np.isfinite(accs))
    assert np.all(updates < d) if d > 0 else len(updates) == 0
    params = result.params if model is None else R.unstack_params(result.params)[model]
    for k in R.PARAM_NAMES:
        assert np.all(np.isfinite(params[k])), k
    return d


def test_divergence_stops_the_model_and_keeps_finite_params():
    p = R.init_params(16, "normal", rng=np.random.default_rng(0))
    result = R.train(p, rng=np.random.default_rng(0), n_updates=500, eval_every=100, **DIVERGES)
    d = check_diverged_run(result)
    assert 1 <= d < 500
    assert f"diverged at update {d}" in result.message()
    # The history ends at the last finite evaluation before d (stopped there, not at 500):
    # it is the whole curve, and holds no NaN row for the update where it diverged.
    np.testing.assert_array_equal(result.curve()[0], result.updates)
    assert result.updates[-1] < d and result.updates[-1] + 100 > d
    assert np.all(np.isfinite(result.loss)) and np.all(np.isfinite(result.accuracy))
    # The parameters kept are those after update d - 1: a run that stops there has them.
    # (That run may itself report divergence at d - 1: its final evaluation over all pairs
    # can already overflow. Either way its parameters are the last finite ones.)
    if d > 1:
        before = R.train(
            p, rng=np.random.default_rng(0), n_updates=d - 1, eval_every=100, **DIVERGES
        )
        assert_same_params(result.params, before.params)
    else:
        assert_same_params(result.params, p)


def test_weights_too_large_to_evaluate_are_refused():
    # Finite weights whose loss over all pairs overflows before any training: the input is at
    # fault, not the training, so it is a ValueError (it was "diverged at update 0", with an
    # empty history that crashed the plots).
    p = R.init_params(16, "normal", rng=np.random.default_rng(0), std=1e100)
    with pytest.raises(ValueError, match="weights are too large"):
        R.train(p, rng=np.random.default_rng(0), activation="relu", n_updates=50)
    stack = R.stack_params([R.init_params(16, rng=np.random.default_rng(0)), p])
    with pytest.raises(ValueError, match=r"too large .*models \[1\]"):
        R.train(stack, rng=np.random.default_rng(0), activation="relu", n_updates=50)


def test_in_a_stack_only_the_diverging_model_stops(diverging_stack):
    ms, result = diverging_stack
    assert result.diverged_at[0] is None
    d = check_diverged_run(result, model=1)
    assert result.updates[-1] == 300  # the healthy model trained on to the end
    assert len(result.curve(0)[0]) == len(result.updates) == 7
    assert np.all(np.isfinite(result.loss[:, 0]))
    lines = result.message().splitlines()
    assert lines[0].startswith("model 0: ") and "after 300 updates" in lines[0]
    assert lines[1].startswith(f"model 1: diverged at update {d}")
    # The healthy model ends exactly where it would have on its own.
    alone = R.train(
        ms[0],
        rng=np.random.default_rng(0),
        activation="relu",
        lr=0.01,
        n_updates=300,
        eval_every=50,
    )
    for k in R.PARAM_NAMES:
        np.testing.assert_allclose(result.params[k][0], alone.params[k], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(result.loss[:, 0], alone.loss, rtol=1e-12)


def test_first_perfect_and_stop_at_100_in_a_stack():
    ms = [R.init_params(16, "xavier", rng=np.random.default_rng(s)) for s in (1, 2)]
    result = R.train(
        R.stack_params(ms),
        rng=np.random.default_rng(1),
        lr=[2.0, 0.01],
        n_updates=120,
        batch_size=32,
        eval_every=10,
        stop_at_100=True,
    )
    firsts = result.first_perfect()
    assert isinstance(firsts, list) and len(firsts) == 2
    # lr 0.01 is far too slow to get there, so training does not stop early.
    assert firsts[1] is None and result.updates[-1] == 120
    # Model 0 is the set-up of the minibatch test above: it gets there.
    assert firsts[0] is not None
    k = list(result.updates).index(firsts[0])
    assert result.accuracy[k, 0] == 1.0 and np.all(result.accuracy[:k, 0] < 1.0)


def test_a_diverged_run_leaves_no_nan_in_its_history():
    # Issue 8's example: every diverged history used to end with a NaN row.
    p = R.init_params(16, "normal", rng=np.random.default_rng(0))
    result = R.train(
        p, rng=np.random.default_rng(1), activation="relu", lr=1e300, n_updates=50, eval_every=10
    )
    assert result.diverged_at is not None
    assert np.all(np.isfinite(result.loss)) and np.all(np.isfinite(result.accuracy))
    assert len(result.updates) == len(result.loss) == len(result.curve()[0]) >= 1


def test_in_a_stack_a_diverged_model_keeps_its_last_finite_point(diverging_stack):
    # Model 1 diverges early; model 0 trains to the end. Model 1's column holds no NaN: after
    # its last finite evaluation it repeats that point, and curve(1) stops there.
    ms, result = diverging_stack
    d = result.diverged_at[1]
    assert d is not None and result.diverged_at[0] is None
    assert np.all(np.isfinite(result.loss)) and np.all(np.isfinite(result.accuracy))
    updates, loss, acc = result.curve(1)
    n = len(updates)
    assert n >= 1 and updates[-1] < d
    np.testing.assert_array_equal(result.loss[n:, 1], loss[-1])
    np.testing.assert_array_equal(result.accuracy[n:, 1], acc[-1])
    assert result.updates[-1] == 300


def test_a_stack_where_every_model_diverges_ends_at_the_last_finite_evaluation():
    ms = [R.init_params(16, "normal", rng=np.random.default_rng(s)) for s in (0, 1)]
    result = R.train(
        R.stack_params(ms), rng=np.random.default_rng(0), n_updates=300, eval_every=50, **DIVERGES
    )
    assert all(d is not None for d in result.diverged_at)
    last = max(len(result.curve(k)[0]) for k in range(2))
    assert len(result.updates) == last  # no row after every model stopped
    assert np.all(np.isfinite(result.loss)) and np.all(np.isfinite(result.accuracy))
    assert all(line.startswith(f"model {k}: diverged") for k, line in
               enumerate(result.message().splitlines()))  # fmt: skip


def test_int_and_list_params_train_like_their_float_values():
    p = R.init_params(6, rng=np.random.default_rng(0))
    p_int = {k: np.round(3 * v).astype(int) for k, v in p.items()}
    p_list = {k: v.tolist() for k, v in p_int.items()}
    p_float = {k: v.astype(float) for k, v in p_int.items()}
    runs = [
        R.train(q, rng=np.random.default_rng(1), n_updates=20, eval_every=10)
        for q in (p_int, p_list, p_float)
    ]
    for run in runs[:2]:
        assert_same_params(run.params, runs[2].params)
        np.testing.assert_array_equal(run.loss, runs[2].loss)


def test_each_model_of_a_stack_may_have_its_own_last_update():
    # Model k stops after n_updates[k] and leaves the stack; it ends where a run of its own
    # ends, evaluated at its last update; the others go on undisturbed. With one generator
    # per model too.
    starts = [R.init_params(8, "xavier", rng=np.random.default_rng(s)) for s in range(3)]
    ends = [40, 100, 70]
    for shared in (True, False):
        rng = np.random.default_rng(9) if shared else [np.random.default_rng(s) for s in range(3)]
        result = R.train(R.stack_params(starts), rng=rng, n_updates=ends, eval_every=30)
        assert result.updates.tolist() == [0, 30, 40, 60, 70, 90, 100]
        for k, (p, end) in enumerate(zip(starts, ends, strict=True)):
            alone = R.train(p, rng=np.random.default_rng(9 if shared else k), n_updates=end,
                            eval_every=30)  # fmt: skip
            for name in R.PARAM_NAMES:
                np.testing.assert_allclose(result.params[name][k], alone.params[name],
                                           rtol=1e-12, atol=1e-14)  # fmt: skip
            updates, loss, acc = result.curve(k)
            assert updates[-1] == end and acc[-1] == alone.accuracy[-1]
            np.testing.assert_allclose(loss[-1], alone.loss[-1], rtol=1e-12)
            assert np.all(result.accuracy[updates.size :, k] == acc[-1])  # then repeated
    assert result.diverged_at == [None] * 3
    with pytest.raises(ValueError, match="one per model"):
        R.train(R.stack_params(starts), rng=np.random.default_rng(0), n_updates=[5, 6])
    with pytest.raises(ValueError, match="n_updates"):
        R.train(starts[0], rng=np.random.default_rng(0), n_updates=[5])
