"""The step-level functions, each gradient-checked alone (as in CS231n's RNN assignment):
random inputs and a random upstream gradient dz[t], so the loss of one step is
L = Σ z[t] ⊙ dz[t], and every entry of every gradient is compared with a central difference
by its own relative error (a wrong entry is located, not just detected). Then the sequence
forward pass and BPTT are shown to be these steps chained."""

import numpy as np
import pytest

import rnn_lesson as R
from rnn_lesson.model import _bptt, _forward

NAMES = ["sigmoid", "tanh", "relu"]
BATCH, H = 3, 4
EPS = 1e-6


def rel_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise relative error |a - b| / max(|a| + |b|, 1e-8)."""
    return np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-8)


def numeric(fn, array: np.ndarray) -> np.ndarray:
    """Central differences of the scalar fn() over every entry of ``array`` (moved in place)."""
    grad = np.zeros_like(array)
    for idx in np.ndindex(array.shape):
        keep = array[idx]
        array[idx] = keep + EPS
        plus = fn()
        array[idx] = keep - EPS
        minus = fn()
        array[idx] = keep
        grad[idx] = (plus - minus) / (2 * EPS)
    return grad


def one_step(seed: int, name: str):
    """Random x[t] (real numbers, not only bits), z[t-1], parameters with nonzero b, and dz[t]."""
    rng = np.random.default_rng(seed)
    p = R.init_params(H, "normal", rng=rng, std=0.7)
    p["b"] = rng.normal(0, 0.5, H)
    x, z_prev, dz = (
        rng.normal(size=(BATCH, 2)),
        rng.normal(size=(BATCH, H)),
        rng.normal(size=(BATCH, H)),
    )
    if name == "sigmoid":
        z_prev = 1 / (1 + np.exp(-z_prev))  # a hidden state sigmoid could have made
    return p, x, z_prev, dz


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_step_backward_matches_central_differences_entry_by_entry(name, seed):
    p, x, z_prev, dz = one_step(seed, name)
    z, cache = R.rnn_step_forward(x, z_prev, p, name)
    if name == "relu":  # no pre-activation near the kink, where the slope jumps
        assert np.abs(cache["u"]).min() > 1e-3
    dz_prev, delta = R.rnn_step_backward(dz, cache, p)
    grads = R.step_grads(x, z_prev, delta)

    def L():
        return float(np.sum(R.rnn_step_forward(x, z_prev, p, name)[0] * dz))

    for what, analytic, array in [
        ("dz_prev", dz_prev, z_prev),
        ("W_in", grads["W_in"], p["W_in"]),
        ("W", grads["W"], p["W"]),
        ("b", grads["b"], p["b"]),
    ]:
        assert analytic.shape == array.shape
        err = rel_error(analytic, numeric(L, array))
        worst = np.unravel_index(np.argmax(err), err.shape)
        assert err.max() < 1e-7, f"{name} {what}{list(worst)}: relative error {err.max():.1e}"
    assert np.mean(np.abs(dz_prev) > 1e-6) > 0.5, "zero gradients would check nothing"


def test_step_backward_of_a_stack_is_each_model_alone():
    models = [one_step(s, "tanh") for s in range(3)]
    S = R.stack_params([m[0] for m in models])
    x, z_prev, dz = (np.stack([m[i] for m in models]) for i in (1, 2, 3))
    z, cache = R.rnn_step_forward(x, z_prev, S, "tanh")
    dz_prev, delta = R.rnn_step_backward(dz, cache, S)
    grads = R.step_grads(x, z_prev, delta)
    for k, (p, x1, z1, dz1) in enumerate(models):
        z_k, cache_k = R.rnn_step_forward(x1, z1, p, "tanh")
        dz_prev_k, delta_k = R.rnn_step_backward(dz1, cache_k, p)
        np.testing.assert_allclose(z[k], z_k, rtol=1e-14)
        np.testing.assert_allclose(dz_prev[k], dz_prev_k, rtol=1e-12, atol=1e-15)
        for name, g in R.step_grads(x1, z1, delta_k).items():
            np.testing.assert_allclose(grads[name][k], g, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_forward_and_bptt_are_the_steps_chained(name):
    rng = np.random.default_rng(5)
    T = 6
    p = R.init_params(H, "normal", rng=rng, std=0.8)
    p["b"], p["c"] = rng.normal(0, 0.5, H), rng.normal(0, 0.5, 1)
    X, D = R.make_batch(*R.random_pairs(rng, BATCH, T), T)
    # forward: the steps, one after another, from z[-1] = 0
    z_prev, caches = np.zeros((BATCH, H)), []
    for t in range(T):
        z_prev, cache = R.rnn_step_forward(X[:, t], z_prev, p, name)
        caches.append(cache)
    Y, seq = _forward(p, X, name)
    np.testing.assert_array_equal(seq["z"], np.stack([c["z"] for c in caches], axis=1))
    np.testing.assert_array_equal(seq["u"], np.stack([c["u"] for c in caches], axis=1))
    # BPTT: the steps backwards, each getting δout[t] W_outᵀ plus what step t + 1 sends back
    delta_out = (Y - D) * Y * (1 - Y) / BATCH
    want, dz_next = {k: 0.0 for k in ("W_in", "W", "b")}, np.zeros((BATCH, H))
    for t in reversed(range(T)):
        dz = dz_next + delta_out[:, t] @ p["W_out"].T
        dz_next, delta = R.rnn_step_backward(dz, caches[t], p)
        for k, g in R.step_grads(X[:, t], caches[t]["z_prev"], delta).items():
            want[k] = want[k] + g
    grads, _ = _bptt(p, seq, delta_out)
    for k, g in want.items():
        np.testing.assert_allclose(grads[k], g, rtol=1e-12, atol=1e-15)
