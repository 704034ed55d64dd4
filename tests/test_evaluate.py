"""evaluate_all_pairs (a prefix tree) against forward on every pair (the plain way)."""

import tracemalloc

import numpy as np
import pytest

import rnn_lesson as R
from rnn_lesson import evaluate

NAMES = ["sigmoid", "tanh", "relu"]


def plain(params, name, T):
    X, D = R.make_batch(*R.all_pairs(T), T)
    Y, _ = R.forward(params, X, name)
    return R.loss(Y, D), R.accuracy(Y, D)


def somewhat_trained(name, T, seed):
    """A model part of the way to 100%, so accuracy is neither 0 nor 1 and the test has teeth.

    (A sigmoid hidden layer learns slowly: at T >= 6 its accuracy here is still about 0.)
    """
    p = R.init_params(8, "xavier", rng=np.random.default_rng(seed))
    lr = {"sigmoid": 8.0, "tanh": 1.0, "relu": 0.5}[name]
    result = R.train(
        p,
        rng=np.random.default_rng(seed),
        activation=name,
        lr=lr,
        n_updates=100,
        batch_size=16,
        T=T,
        eval_every=100,
    )
    return result.params


@pytest.mark.parametrize("T", [3, 4, 5, 6, 7, 8])
@pytest.mark.parametrize("name", NAMES)
def test_single_model(name, T):
    params = [
        R.init_params(8, "normal", rng=np.random.default_rng(T)),
        somewhat_trained(name, T, T),
    ]
    for p in params:
        loss, acc = R.evaluate_all_pairs(p, name, T)
        ref_loss, ref_acc = plain(p, name, T)
        assert isinstance(loss, float) and isinstance(acc, float)
        assert loss == pytest.approx(ref_loss, rel=1e-12)
        assert acc == ref_acc


@pytest.mark.parametrize("T", [3, 4, 5, 6, 7, 8])
@pytest.mark.parametrize("name", NAMES)
def test_stack(name, T):
    ms = [somewhat_trained(name, T, seed) for seed in (20, 30, 40)]
    S = R.stack_params(ms)
    loss, acc = R.evaluate_all_pairs(S, name, T)
    assert loss.shape == acc.shape == (3,)
    ref_loss, ref_acc = plain(S, name, T)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-12)
    np.testing.assert_array_equal(acc, ref_acc)


@pytest.mark.parametrize("name", ["tanh", "relu"])
def test_the_models_used_are_not_trivial(name):
    # Guard for the tests above: accuracies strictly between 0 and 1, so a wrong
    # accuracy cannot hide behind an all-wrong or all-right model.
    for T, seed in [(4, 4), (6, 6), (8, 20), (8, 30)]:
        acc = R.evaluate_all_pairs(somewhat_trained(name, T, seed), name, T)[1]
        assert 0 < acc < 1, (name, T, seed, acc)


def test_default_is_tanh_at_eight_bits():
    p = somewhat_trained("tanh", 8, 0)
    assert R.evaluate_all_pairs(p) == R.evaluate_all_pairs(p, "tanh", 8)


@pytest.mark.parametrize("chunk", [2**6, 2**9, 2**12])
def test_chunked_walk_gives_the_same_numbers(monkeypatch, chunk):
    # Chunks of prefixes, walked one after another, give the numbers of the whole tree at once.
    stack = R.stack_params([somewhat_trained(name, 6, 0) for name in ["tanh"] * 2])
    whole = R.evaluate_all_pairs(stack, "tanh", 6)
    monkeypatch.setattr(evaluate, "CHUNK_ELEMENTS", chunk)
    chunked = R.evaluate_all_pairs(stack, "tanh", 6)
    np.testing.assert_array_equal(chunked[1], whole[1])
    np.testing.assert_allclose(chunked[0], whole[0], rtol=1e-13)
    np.testing.assert_allclose(
        chunked[0], [plain(m, "tanh", 6)[0] for m in R.unstack_params(stack)]
    )


def test_memory_stays_bounded_for_long_sequences():
    # T = 10, H = 32: the last level holds 4**9 x 32 = 8.4 million hidden numbers, 67 MB per
    # array, and the tree walked level by level held several such arrays at once (266 MB).
    # In chunks of at most CHUNK_ELEMENTS = 2**16 numbers (512 KB) per array it peaks near
    # 2.2 MB (with 2**22, 32 MB per array, it peaked near 135 MB).
    p = R.init_params(32, rng=np.random.default_rng(0))
    tracemalloc.start()
    try:
        loss, acc = R.evaluate_all_pairs(p, "tanh", 10)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.isfinite(loss) and 0 <= acc <= 1
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.0f} MB"
