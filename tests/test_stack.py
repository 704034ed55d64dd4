"""K stacked models behave exactly like K separate ones.

On this machine the stacked and separate results are bit-for-bit equal; the tolerance
(relative 1e-12) only leaves room for a BLAS build that orders its sums differently.
"""

import numpy as np
import pytest

import rnn_lesson as R

NAMES = ["sigmoid", "tanh", "relu"]
K, H, BATCH = 4, 6, 5
TIGHT = {"rtol": 1e-12, "atol": 1e-14}


def models(seed, n=K):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        p = R.init_params(H, "xavier", rng=rng)
        p["b"] = rng.normal(0, 0.3, H)
        p["c"] = rng.normal(0, 0.3, 1)
        out.append(p)
    return out


def batch(rng, size=BATCH, T=8):
    return R.make_batch(*R.random_pairs(rng, size, T), T)


@pytest.mark.parametrize("name", NAMES)
def test_shared_data(name):
    ms = models(0)
    S = R.stack_params(ms)
    X, D = batch(np.random.default_rng(1))
    Y, cache = R.forward(S, X, name)
    grads = R.backward(S, cache, D)
    assert Y.shape == (K, BATCH, 8, 1)
    for k, p in enumerate(ms):
        y, c = R.forward(p, X, name)
        g = R.backward(p, c, D)
        np.testing.assert_allclose(Y[k], y, **TIGHT)
        for key in R.PARAM_NAMES:
            assert grads[key].shape == S[key].shape
            np.testing.assert_allclose(grads[key][k], g[key], **TIGHT)
    losses = R.loss(Y, D)
    assert losses.shape == (K,)
    np.testing.assert_allclose(losses, [R.loss(R.forward(p, X, name)[0], D) for p in ms], **TIGHT)


@pytest.mark.parametrize("name", NAMES)
def test_data_per_model(name):
    ms = models(2)
    S = R.stack_params(ms)
    rng = np.random.default_rng(3)
    pairs = [batch(rng) for _ in range(K)]
    X = np.stack([x for x, _ in pairs])  # (K, batch, T, 2)
    D = np.stack([d for _, d in pairs])
    Y, cache = R.forward(S, X, name)
    grads = R.backward(S, cache, D)
    for k, p in enumerate(ms):
        y, c = R.forward(p, X[k], name)
        g = R.backward(p, c, D[k])
        np.testing.assert_allclose(Y[k], y, **TIGHT)
        for key in R.PARAM_NAMES:
            np.testing.assert_allclose(grads[key][k], g[key], **TIGHT)
    # The models really differ, so the comparison above is not trivially true.
    assert not np.allclose(Y[0], Y[1])


@pytest.mark.parametrize(("batch_size", "lrs"), [(1, [0.05, 0.1, 0.3]), (16, [0.5, 1.0, 2.0])])
def test_train_a_stack_equals_separate_runs(batch_size, lrs):
    ms = models(4, n=3)
    stacked = R.train(
        R.stack_params(ms),
        rng=np.random.default_rng(9),
        lr=np.array(lrs),
        n_updates=200,
        batch_size=batch_size,
        eval_every=50,
    )
    assert stacked.diverged_at == [None, None, None]
    assert stacked.loss.shape == stacked.accuracy.shape == (5, 3)
    np.testing.assert_array_equal(stacked.updates, [0, 50, 100, 150, 200])
    for k, p in enumerate(ms):
        alone = R.train(
            p,
            rng=np.random.default_rng(9),
            lr=lrs[k],
            n_updates=200,
            batch_size=batch_size,
            eval_every=50,
        )
        np.testing.assert_array_equal(alone.updates, stacked.updates)
        for key in R.PARAM_NAMES:
            np.testing.assert_allclose(stacked.params[key][k], alone.params[key], **TIGHT)
        np.testing.assert_allclose(stacked.loss[:, k], alone.loss, **TIGHT)
        np.testing.assert_array_equal(stacked.accuracy[:, k], alone.accuracy)
        for a, b in zip(stacked.curve(k), alone.curve(), strict=True):
            np.testing.assert_allclose(a, b, **TIGHT)
    # Different learning rates lead to different models.
    assert not np.allclose(stacked.params["W"][0], stacked.params["W"][2])
