"""The model: parameters, forward pass against a plain loop, loss and accuracy."""

import math

import numpy as np
import pytest

import rnn_lesson as R

NAMES = ["sigmoid", "tanh", "relu"]


def random_model(rng, H=6, std=0.7):
    p = R.init_params(H, "normal", rng=rng, std=std)
    p["b"] = rng.normal(0, 0.5, H)
    p["c"] = rng.normal(0, 0.5, 1)
    return p


def plain_forward(p, X, f):
    """The course's equations, one sample and one step at a time (the reference)."""
    batch, T, _ = X.shape
    H = p["W"].shape[0]
    Y = np.zeros((batch, T, 1))
    for i in range(batch):
        z = np.zeros(H)  # z[-1] = 0
        for t in range(T):
            u = X[i, t] @ p["W_in"] + z @ p["W"] + p["b"]
            z = f(u)
            v = z @ p["W_out"] + p["c"]
            Y[i, t] = 1 / (1 + math.exp(-v[0]))
    return Y


def test_init_params_shapes_zero_biases_and_seed():
    p = R.init_params(7, rng=np.random.default_rng(0))
    assert {k: v.shape for k, v in p.items()} == {
        "W_in": (2, 7),
        "W": (7, 7),
        "W_out": (7, 1),
        "b": (7,),
        "c": (1,),
    }
    assert tuple(p) == R.PARAM_NAMES
    assert not p["b"].any() and not p["c"].any()
    q = R.init_params(7, rng=np.random.default_rng(0))
    for k in R.PARAM_NAMES:
        np.testing.assert_array_equal(p[k], q[k])
    r = R.init_params(7, rng=np.random.default_rng(1))
    assert not np.array_equal(p["W"], r["W"])


@pytest.mark.parametrize(
    ("init", "std", "expected"),
    [("normal", 1.0, 1.0), ("normal", 0.3, 0.3), ("xavier", 1.0, 1 / 20), ("he", 1.0, 0.07071)],
)
def test_initializer_scales(init, std, expected):
    w = R.init_weight((400, 300), init, np.random.default_rng(0), std=std)
    assert w.shape == (400, 300)
    # 120,000 draws: the sample std is within 1% of the target.
    assert abs(w.std() / expected - 1) < 0.01
    assert abs(w.mean()) < 0.01 * expected


def test_init_weight_ignores_std_except_for_normal():
    a = R.init_weight((5, 4), "xavier", np.random.default_rng(3), std=9.0)
    b = R.init_weight((5, 4), "xavier", np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_forward_equals_a_plain_loop(name):
    rng = np.random.default_rng(1)
    p = random_model(rng)
    X, _ = R.make_batch(*R.random_pairs(rng, 9, T=6), T=6)
    Y, cache = R.forward(p, X, name)
    assert Y.shape == (9, 6, 1)
    f, _ = R.get_activation(name)
    np.testing.assert_allclose(Y, plain_forward(p, X, f), rtol=1e-12, atol=1e-14)
    assert cache["activation"] == name
    assert cache["u"].shape == cache["z"].shape == (9, 6, 6)
    np.testing.assert_array_equal(cache["z"], f(cache["u"]))
    np.testing.assert_array_equal(cache["y"], Y)


def test_forward_is_causal():
    # y[t] depends on inputs up to t only: changing a later bit leaves earlier outputs alone.
    rng = np.random.default_rng(2)
    p = random_model(rng)
    X, _ = R.make_batch([37], [90])
    X2 = X.copy()
    X2[0, 5] = 1 - X2[0, 5]
    Y, _ = R.forward(p, X)
    Y2, _ = R.forward(p, X2)
    np.testing.assert_array_equal(Y[0, :5], Y2[0, :5])
    assert not np.array_equal(Y[0, 5:], Y2[0, 5:])


def test_forward_does_not_change_params_or_input():
    rng = np.random.default_rng(3)
    p = random_model(rng)
    keep = {k: v.copy() for k, v in p.items()}
    X, D = R.make_batch([1, 2], [3, 4])
    X0 = X.copy()
    _, cache = R.forward(p, X)
    R.backward(p, cache, D)
    for k in p:
        np.testing.assert_array_equal(p[k], keep[k])
    np.testing.assert_array_equal(X, X0)


def test_loss_and_accuracy_definitions():
    rng = np.random.default_rng(4)
    Y = rng.uniform(size=(5, 8, 1))
    D = (rng.uniform(size=(5, 8, 1)) > 0.5).astype(float)
    per_sample = [sum(0.5 * (Y[i, t, 0] - D[i, t, 0]) ** 2 for t in range(8)) for i in range(5)]
    assert R.loss(Y, D) == pytest.approx(np.mean(per_sample), rel=1e-14)
    # accuracy: a sample counts when its rounded outputs give exactly the target's number.
    right = R.bits_to_int(Y[..., 0]) == R.bits_to_int(D[..., 0])
    D2 = D.copy()
    D2[:2] = (Y[:2] > 0.5).astype(float)  # make two samples exactly right
    right2 = R.bits_to_int(Y[..., 0]) == R.bits_to_int(D2[..., 0])
    assert R.accuracy(Y, D) == right.mean()
    assert R.accuracy(Y, D2) == right2.mean() >= 0.4
    assert isinstance(R.loss(Y, D), float) and isinstance(R.accuracy(Y, D), float)


def test_loss_and_accuracy_per_model_of_a_stack():
    rng = np.random.default_rng(5)
    Y = rng.uniform(size=(3, 4, 8, 1))
    D = (rng.uniform(size=(4, 8, 1)) > 0.5).astype(float)
    np.testing.assert_array_equal(R.loss(Y, D), [R.loss(Y[k], D) for k in range(3)])
    np.testing.assert_array_equal(R.accuracy(Y, D), [R.accuracy(Y[k], D) for k in range(3)])


def test_stack_and_unstack_round_trip():
    rng = np.random.default_rng(6)
    models = [random_model(rng, H=4) for _ in range(3)]
    S = R.stack_params(models)
    assert S["W"].shape == (3, 4, 4) and S["c"].shape == (3, 1)
    assert R.check_params(S) == ((3,), 4)
    back = R.unstack_params(S)
    for m, b in zip(models, back, strict=True):
        for k in R.PARAM_NAMES:
            np.testing.assert_array_equal(m[k], b[k])
    back[0]["W"][0, 0] += 1.0  # copies, not views
    assert S["W"][0, 0, 0] == models[0]["W"][0, 0]
