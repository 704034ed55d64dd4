"""Gradient clipping (clip_norm) and the recorded global gradient norm (grad_norm) of train."""

import math

import numpy as np
import pytest
from conftest import DIVERGES

import rnn_lesson as R
from rnn_lesson.through_time import global_grad_norm


def start(seed=0, init="xavier", H=8):
    return R.init_params(H, init, rng=np.random.default_rng(seed))


def manual_sgd(p, data_seed, lr, n_updates, batch_size=1, clip=None):
    """SGD written out: the same pairs as train draws, the step θ ← θ - lr · g (clipped)."""
    rng = np.random.default_rng(data_seed)
    p = {k: v.copy() for k, v in p.items()}
    norms = []
    for _ in range(n_updates):
        X, D = R.make_batch(*R.random_pairs(rng, batch_size))
        _, cache = R.forward(p, X)
        g = R.backward(p, cache, D)
        norm = math.sqrt(sum(float(np.sum(g[k] ** 2)) for k in R.PARAM_NAMES))
        norms.append(norm)
        if clip is not None and norm > clip:
            g = {k: g[k] * (clip / norm) for k in R.PARAM_NAMES}
        p = {k: p[k] - lr * g[k] for k in R.PARAM_NAMES}
    return p, np.array(norms)


@pytest.mark.parametrize("batch_size", [1, 4])
def test_without_clipping_train_is_plain_sgd_bit_for_bit(batch_size):
    # clip_norm=None (the default) changes nothing: the same numbers as before clipping existed.
    p = start()
    mine, _ = manual_sgd(p, 3, 0.5, 150, batch_size)
    for kw in ({}, {"clip_norm": None}, {"clip_norm": np.inf}):
        result = R.train(
            p,
            rng=np.random.default_rng(3),
            lr=0.5,
            n_updates=150,
            batch_size=batch_size,
            eval_every=50,
            **kw,
        )
        for k in R.PARAM_NAMES:
            np.testing.assert_array_equal(result.params[k], mine[k])


def test_grad_norm_is_the_largest_norm_since_the_last_evaluation():
    p = start(1)
    _, norms = manual_sgd(p, 5, 0.5, 120)
    result = R.train(p, rng=np.random.default_rng(5), lr=0.5, n_updates=120, eval_every=50)
    np.testing.assert_array_equal(result.updates, [0, 50, 100, 120])
    assert result.grad_norm.shape == result.loss.shape == (4,)
    # update 0: the first gradient, at the initial weights
    X, D = R.make_batch(*R.random_pairs(np.random.default_rng(5), 1))
    first = global_grad_norm(R.backward(p, R.forward(p, X)[1], D))
    np.testing.assert_allclose(result.grad_norm[0], first, rtol=1e-13)
    expected = [norms[0], norms[:50].max(), norms[50:100].max(), norms[100:].max()]
    np.testing.assert_allclose(result.grad_norm, expected, rtol=1e-12)


@pytest.mark.parametrize("clip", [0.05, 0.3, 0.6])
def test_clipping_is_the_course_formula(clip):
    p = start(2)
    mine, norms = manual_sgd(p, 4, 0.5, 100, batch_size=2, clip=clip)
    assert np.any(norms > clip)  # clipped at some updates (and at 0.3 and 0.6 not at others)
    result = R.train(
        p,
        rng=np.random.default_rng(4),
        lr=0.5,
        n_updates=100,
        batch_size=2,
        eval_every=25,
        clip_norm=clip,
    )
    for k in R.PARAM_NAMES:
        np.testing.assert_allclose(result.params[k], mine[k], rtol=1e-11, atol=1e-13)
    # grad_norm is recorded before clipping
    np.testing.assert_allclose(result.grad_norm[1:], norms.reshape(4, 25).max(axis=1), rtol=1e-11)
    assert result.grad_norm.max() > clip


def test_one_clipped_step_moves_the_parameters_by_lr_times_clip():
    p = start(3, "normal")  # std 1: a large first gradient
    result = R.train(p, rng=np.random.default_rng(0), lr=0.1, n_updates=1, clip_norm=0.01)
    assert result.grad_norm[0] > 0.01
    step = math.sqrt(sum(float(np.sum((result.params[k] - p[k]) ** 2)) for k in R.PARAM_NAMES))
    assert step == pytest.approx(0.1 * 0.01, rel=1e-12)


def test_clipping_in_a_stack_is_per_model_and_equals_separate_runs():
    ms = [start(s) for s in range(3)]
    clips = [0.2, np.inf, 1.0]
    stacked = R.train(
        R.stack_params(ms),
        rng=np.random.default_rng(6),
        lr=np.array([0.5, 0.5, 1.0]),
        n_updates=120,
        batch_size=3,
        eval_every=40,
        clip_norm=np.array(clips),
    )
    assert stacked.grad_norm.shape == stacked.loss.shape == (4, 3)
    for k, (p, lr, clip) in enumerate(zip(ms, [0.5, 0.5, 1.0], clips, strict=True)):
        alone = R.train(
            p,
            rng=np.random.default_rng(6),
            lr=lr,
            n_updates=120,
            batch_size=3,
            eval_every=40,
            clip_norm=None if clip == np.inf else clip,
        )
        for key in R.PARAM_NAMES:
            np.testing.assert_allclose(
                stacked.params[key][k], alone.params[key], rtol=1e-10, atol=1e-12
            )
        np.testing.assert_allclose(stacked.grad_norm[:, k], alone.grad_norm, rtol=1e-10)
    # one clip_norm for the whole stack: each model is clipped by its own norm
    settings = {"lr": 0.5, "n_updates": 40, "batch_size": 3, "eval_every": 40, "clip_norm": 0.2}
    same = R.train(R.stack_params(ms), rng=np.random.default_rng(6), **settings)
    alone = R.train(ms[2], rng=np.random.default_rng(6), **settings)
    np.testing.assert_allclose(same.params["W"][2], alone.params["W"], rtol=1e-10, atol=1e-12)


def test_grad_norm_of_a_diverging_run_ends_where_its_loss_ends(diverging_stack):
    ms, result = diverging_stack
    d = result.diverged_at[1]
    assert result.diverged_at[0] is None and d is not None
    assert np.all(np.isfinite(result.grad_norm)) and result.grad_norm.shape == result.loss.shape
    n = len(result.curve(1)[0])
    assert n < len(result.updates)
    # after it diverged, model 1 repeats its last finite norm, as it does its loss
    assert np.all(result.grad_norm[n:, 1] == result.grad_norm[n - 1, 1])
    assert np.all(result.loss[n:, 1] == result.loss[n - 1, 1])
    # one model alone: the same, and its history ends before the divergence
    alone = R.train(ms[1], rng=np.random.default_rng(0), n_updates=300, eval_every=50, **DIVERGES)
    assert alone.diverged_at == d
    assert np.all(np.isfinite(alone.grad_norm)) and alone.grad_norm.shape == alone.loss.shape
    assert alone.updates[-1] < d
    np.testing.assert_allclose(alone.grad_norm, result.grad_norm[:n, 1], rtol=1e-9)


def test_clipping_keeps_the_diverging_run_finite():
    p = R.init_params(16, "normal", rng=np.random.default_rng(1))
    free = R.train(p, rng=np.random.default_rng(0), n_updates=300, eval_every=50, **DIVERGES)
    # lr 1e45 with clip_norm 1e-46: no step is longer than lr · clip_norm = 0.1
    clipped = R.train(
        p, rng=np.random.default_rng(0), n_updates=300, eval_every=50, clip_norm=1e-46, **DIVERGES
    )
    assert free.diverged_at is not None and clipped.diverged_at is None
    assert np.all(np.isfinite(clipped.grad_norm)) and clipped.grad_norm.shape == (7,)
    # every step moved the parameters by at most lr · clip_norm
    moved = math.sqrt(sum(float(np.sum((clipped.params[k] - p[k]) ** 2)) for k in R.PARAM_NAMES))
    assert moved <= 300 * 0.1 * (1 + 1e-12)


def test_weights_that_overflow_at_the_start_are_refused_with_or_without_clipping():
    p = R.init_params(16, "normal", rng=np.random.default_rng(0), std=1e100)
    for clip_norm in (None, 1.0):
        with pytest.raises(ValueError, match="too large"):
            R.train(
                p, rng=np.random.default_rng(0), activation="relu", n_updates=5, clip_norm=clip_norm
            )


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), "1", True, [1.0, 2.0], np.array([[1.0]])])
def test_bad_clip_norm_is_refused(bad):
    with pytest.raises(ValueError, match="clip_norm"):
        R.train(start(), rng=np.random.default_rng(0), n_updates=1, clip_norm=bad)


def test_bad_clip_norm_for_a_stack_is_refused():
    S = R.stack_params([start(0), start(1)])
    for bad in ([1.0], [1.0, 0.0], [1.0, float("nan")], [1.0, 2.0, 3.0]):
        with pytest.raises(ValueError, match="clip_norm"):
            R.train(S, rng=np.random.default_rng(0), n_updates=1, clip_norm=bad)
    R.train(S, rng=np.random.default_rng(0), n_updates=1, clip_norm=[1.0, np.inf])  # fine
