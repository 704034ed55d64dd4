"""BPTT against central differences, and proof that the check catches a wrong backward."""

import numpy as np
import pytest

import rnn_lesson as R

NAMES = ["sigmoid", "tanh", "relu"]
H, T, BATCH = 5, 5, 4


def small_problem(seed: int):
    """A small model with nonzero biases and a batch of BATCH pairs."""
    rng = np.random.default_rng(seed)
    p = R.init_params(H, "normal", rng=rng, std=0.8)
    p["b"] = rng.normal(0, 0.5, H)
    p["c"] = rng.normal(0, 0.5, 1)
    X, D = R.make_batch(*R.random_pairs(rng, BATCH, T), T)
    return p, X, D


def bptt(params, cache, D, output_slope):
    """BPTT written out, with the output layer's derivative passed in as a function of y.

    output_slope(y) = y * (1 - y) is right; the course's d_sigmoid(y) is not.
    Reuses only the activation derivative and the cache of rnn_lesson's forward.
    """
    _, df = R.get_activation(cache["activation"])
    X, u, z, y = cache["X"], cache["u"], cache["z"], cache["y"]
    W, W_out = params["W"], params["W_out"]
    batch, steps, _ = u.shape
    delta_out = (y - D) * output_slope(y) / batch  # (batch, T, 1)
    delta = np.zeros_like(u)
    after = np.zeros((batch, u.shape[2]))  # δ[T] = 0
    for t in reversed(range(steps)):
        after = (after @ W.T + delta_out[:, t] @ W_out.T) * df(u[:, t])
        delta[:, t] = after
    z_prev = np.concatenate([np.zeros_like(z[:, :1]), z[:, :-1]], axis=1)
    return {
        "W_in": np.einsum("bti,btj->ij", X, delta),
        "W": np.einsum("bti,btj->ij", z_prev, delta),
        "W_out": np.einsum("bti,btj->ij", z, delta_out),
        "b": delta.sum(axis=(0, 1)),
        "c": delta_out.sum(axis=(0, 1)),
    }


def right_backward(params, cache, D):
    return bptt(params, cache, D, lambda y: y * (1 - y))


def course_backward(params, cache, D):
    """The course's mistake: the sigmoid derivative taken AT the output y, σ'(y)."""
    return bptt(params, cache, D, R.d_sigmoid)


@pytest.mark.parametrize("name", NAMES)
def test_bptt_matches_central_differences(name):
    p, X, D = small_problem(seed=0)
    _, cache = R.forward(p, X, name)
    # Precondition for relu: no pre-activation near its kink, where the slope jumps.
    assert np.abs(cache["u"]).min() > 1e-3
    grads = R.backward(p, cache, D)
    for k in R.PARAM_NAMES:
        assert np.abs(grads[k]).max() > 1e-4, f"{k}: a zero gradient would check nothing"
    errors = R.gradient_check(p, X, D, name)
    assert set(errors) == set(R.PARAM_NAMES)
    for k, err in errors.items():
        assert err < 1e-6, f"{name} {k}: relative error {err:.1e}"


@pytest.mark.parametrize("name", NAMES)
def test_written_out_bptt_equals_the_package(name):
    # The helper above is a faithful BPTT: with y(1 - y) it reproduces rnn_lesson.backward,
    # so the failure below comes from σ'(y) alone.
    p, X, D = small_problem(seed=1)
    _, cache = R.forward(p, X, name)
    ours, theirs = right_backward(p, cache, D), R.backward(p, cache, D)
    for k in R.PARAM_NAMES:
        np.testing.assert_allclose(ours[k], theirs[k], rtol=1e-10, atol=1e-15)
    errors = R.gradient_check(p, X, D, name, backward_fn=right_backward)
    assert max(errors.values()) < 1e-6


@pytest.mark.parametrize("name", NAMES)
def test_the_check_catches_the_course_output_derivative(name):
    p, X, D = small_problem(seed=0)
    errors = R.gradient_check(p, X, D, name, backward_fn=course_backward)
    for k, err in errors.items():
        assert err > 1e-3, f"{name} {k}: the wrong backward slipped through ({err:.1e})"


def test_numerical_gradient_of_a_known_function():
    rng = np.random.default_rng(2)
    p = R.init_params(3, rng=rng)
    p["b"] = rng.normal(size=3)

    def loss_fn(q):  # a function with a known gradient: 2 * value for every entry
        return float(sum(np.sum(q[k] ** 2) for k in R.PARAM_NAMES))

    keep = {k: v.copy() for k, v in p.items()}
    g = R.numerical_gradient(loss_fn, p)
    for k in R.PARAM_NAMES:
        np.testing.assert_allclose(g[k], 2 * p[k], rtol=1e-6, atol=1e-8)
        np.testing.assert_array_equal(p[k], keep[k])  # restored


def test_relative_error():
    a = np.array([1.0, -2.0, 4.0])
    assert R.relative_error(a, a) == 0.0
    assert R.relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert R.relative_error(a, a + np.array([0, 0, 0.04])) == pytest.approx(0.04 / 4.04)
    assert R.relative_error(a, -a) == pytest.approx(2.0)


def test_gradient_check_of_a_stack():
    problems = [small_problem(seed) for seed in (3, 4)]
    S = R.stack_params([p for p, _, _ in problems])
    X = np.stack([X for _, X, _ in problems])
    D = np.stack([D for _, _, D in problems])
    errors = R.gradient_check(S, X, D, "tanh")
    assert max(errors.values()) < 1e-6


def test_numerical_gradient_never_changes_the_callers_params():
    # Even when loss_fn raises partway: the caller's arrays used to keep the +eps step.
    p, X, D = small_problem(0)
    keep = {k: v.copy() for k, v in p.items()}
    calls = []

    def failing_loss(q):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the loss failed")
        return R.loss(R.forward(q, X)[0], D)

    with pytest.raises(RuntimeError):
        R.numerical_gradient(failing_loss, p)
    R.numerical_gradient(lambda q: R.loss(R.forward(q, X)[0], D), p)
    for k in R.PARAM_NAMES:
        np.testing.assert_array_equal(p[k], keep[k])


@pytest.mark.parametrize("dtype", [np.int64, np.float32])
def test_numerical_gradient_of_int_and_float32_params(dtype):
    # A step of 1e-6 was lost on ints (-3.5e6 for a true -8) and rounded on float32 (4.6% off).
    p, X, D = small_problem(1)
    p = {k: (np.round(4 * v) if dtype is np.int64 else v).astype(dtype) for k, v in p.items()}
    as_float = {k: v.astype(float) for k, v in p.items()}
    exact = R.backward(as_float, R.forward(as_float, X)[1], D)
    numeric = R.numerical_gradient(lambda q: R.loss(R.forward(q, X)[0], D), p)
    for k in R.PARAM_NAMES:
        assert R.relative_error(numeric[k], exact[k]) < 1e-6, k
        assert p[k].dtype == dtype  # and the caller's params keep their type
