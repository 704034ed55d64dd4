"""Property-based tests (Hypothesis) over the public API, as a new user would call it.

Every input is either accepted, giving finite results, or refused with a ValueError
whose message names the argument at fault. No other exception, no NaN, no inf.
"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnn_lesson as R

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Numbers a user might pass: ordinary ones, edge cases, and things that are not numbers.
ODD = st.sampled_from(
    [None, "1", "tanh", True, False, 1j, [], [1, 2], (), float("nan"), float("inf"), -float("inf")]
)
NUMBERS = st.one_of(
    st.integers(-(10**3), 10**3),
    st.integers(-(10**400), 10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=1e-3, max_value=10.0),
    ODD,
)
WHOLE = st.one_of(st.integers(-3, 40), st.integers(-(10**12), 10**12), ODD, st.floats(-3, 40))


def accepted_or_refused(call, names):
    """Run ``call``; return its result, or None if it raised a ValueError naming one of
    ``names``. Any other exception (or warning) fails the test."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return call()
    except ValueError as err:
        assert any(n in str(err) for n in names), f"{err} names none of {names}"
        return None


def all_finite(*arrays):
    return all(np.all(np.isfinite(np.asarray(a, dtype=float))) for a in arrays)


def weights(H, scale):
    """Parameters of hidden size H, every entry drawn from ``scale``."""
    return st.fixed_dictionaries(
        {
            "W_in": st.lists(scale, min_size=2 * H, max_size=2 * H).map(
                lambda v: np.reshape(v, (2, H))
            ),
            "W": st.lists(scale, min_size=H * H, max_size=H * H).map(
                lambda v: np.reshape(v, (H, H))
            ),
            "W_out": st.lists(scale, min_size=H, max_size=H).map(lambda v: np.reshape(v, (H, 1))),
            "b": st.lists(scale, min_size=H, max_size=H).map(np.array),
            "c": st.lists(scale, min_size=1, max_size=1).map(np.array),
        }
    )


ENTRIES = st.one_of(
    st.floats(-3, 3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e300, -1e300, 1e150, np.nan]),
)
PARAMS = st.integers(1, 3).flatmap(lambda H: weights(H, ENTRIES))
ACTIVATION = st.sampled_from(["tanh", "sigmoid", "relu", "Tanh", "softmax", None, 3])


@SETTINGS
@given(PARAMS, ACTIVATION, st.integers(1, 7), st.integers(1, 3))
def test_forward_backward_evaluate(params, activation, T, batch):
    a, b = R.random_pairs(np.random.default_rng(0), batch, T)
    X, D = R.make_batch(a, b, T)
    names = ["params", "activation", "weights are too large"]
    out = accepted_or_refused(lambda: R.forward(params, X, activation), names)
    if out is not None:
        Y, cache = out
        assert all_finite(Y, cache["u"], cache["z"])
        grads = accepted_or_refused(lambda: R.backward(params, cache, D), names)
        assert grads is None or all_finite(*grads.values())
        assert all_finite(R.loss(Y, D), R.accuracy(Y, D))
    result = accepted_or_refused(lambda: R.evaluate_all_pairs(params, activation, T), names)
    assert result is None or all_finite(*result)
    errors = accepted_or_refused(lambda: R.gradient_check(params, X, D, activation), names)
    assert errors is None or all_finite(*errors.values())


@SETTINGS
@given(WHOLE, st.sampled_from(["normal", "xavier", "he", "Xavier", None]), NUMBERS)
def test_init_params(hidden_size, init, std):
    names = ["hidden size", "initializer", "std"]
    params = accepted_or_refused(
        lambda: R.init_params(hidden_size, init, rng=np.random.default_rng(0), std=std), names
    )
    assert params is None or all_finite(*params.values())


@SETTINGS
@given(NUMBERS, ACTIVATION, WHOLE, WHOLE, WHOLE, st.sampled_from(["normal", "xavier"]))
def test_train(lr, activation, batch_size, n_updates, eval_every, init):
    p = R.init_params(3, init, rng=np.random.default_rng(0))
    names = ["learning rate", "activation", "batch size", "n_updates", "eval_every", "limit"]
    small = all(isinstance(n, int) and n < 60 for n in (batch_size, n_updates))
    if not small:  # big but valid sizes would only be slow: check the refusals alone
        n_updates = n_updates if not isinstance(n_updates, int) or n_updates < 1 else 30
        batch_size = batch_size if not isinstance(batch_size, int) or batch_size < 1 else 2
    result = accepted_or_refused(
        lambda: R.train(
            p,
            rng=np.random.default_rng(1),
            activation=activation,
            lr=lr,
            n_updates=n_updates,
            batch_size=batch_size,
            eval_every=eval_every,
            T=5,
        ),
        names,
    )
    if result is not None:
        assert all_finite(result.loss, result.accuracy, *result.params.values())
        assert result.updates[0] == 0 and len(result.updates) == len(result.loss) >= 1
        assert isinstance(result.message(), str)


@SETTINGS
@given(st.lists(NUMBERS, min_size=2, max_size=2), st.integers(0, 9))
def test_train_stack_history_is_finite(lrs, seed):
    """A stack in which some models diverge (lr up to 1e300): the arrays hold no NaN,
    and every curve ends before its model's divergence."""
    stack = R.stack_params([R.init_params(4, "he", rng=np.random.default_rng(seed))] * 2)
    result = accepted_or_refused(
        lambda: R.train(
            stack,
            rng=np.random.default_rng(seed),
            activation="relu",
            lr=lrs,
            n_updates=20,
            eval_every=5,
            T=5,
        ),
        ["learning rate"],
    )
    if result is None:
        return
    assert all_finite(result.loss, result.accuracy)
    for k, d in enumerate(result.diverged_at):
        updates, loss, acc = result.curve(k)
        assert len(updates) >= 1 and all_finite(loss, acc)
        assert d is None or updates[-1] < d


@SETTINGS
@given(
    st.one_of(st.integers(-5, 300), st.integers(-(10**30), 10**30), ODD),
    st.one_of(st.integers(-5, 300), ODD),
    st.one_of(st.integers(-2, 70), ODD),
)
def test_bits(a, b, T):
    names = ["a must", "b must", "number of bits T", "below", "a and b"]
    out = accepted_or_refused(lambda: R.make_batch(a, b, T), names)
    if out is not None:
        X, D = out
        # (a and b may be lists of numbers: a batch; np.add, since + would join two lists)
        assert np.array_equal(R.bits_to_int(X[..., 0]), np.atleast_1d(a))
        assert np.array_equal(R.bits_to_int(D[..., 0]), np.atleast_1d(np.add(a, b)))


ARRAYS = st.one_of(
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=8).map(
        lambda v: np.reshape(v, (len(v), 1, 1))
    ),
    st.lists(st.floats(0, 1), min_size=1, max_size=8).map(lambda v: np.reshape(v, (1, len(v), 1))),
    ODD,
)


@SETTINGS
@given(ARRAYS, ARRAYS)
def test_loss_and_accuracy(Y, D):
    for fn in (R.loss, R.accuracy):
        value = accepted_or_refused(lambda fn=fn: fn(Y, D), ["Y", "D"])
        assert value is None or all_finite(value)


@pytest.mark.parametrize("name", ["W_in", "W", "W_out", "b", "c"])
@SETTINGS
@given(st.sampled_from([np.int64, np.int32, np.float32, np.float64]), st.integers(0, 5))
def test_numerical_gradient_any_number_type(name, dtype, seed):
    """Integer and float32 parameters give the float64 gradient of their values."""
    p = R.init_params(3, rng=np.random.default_rng(seed))
    p = {
        k: (np.round(v * 4) if np.dtype(dtype).kind == "i" else v).astype(dtype)
        for k, v in p.items()
    }
    X, D = R.make_batch([5, 9], [3, 1])
    exact = {k: v.astype(float) for k, v in p.items()}
    want = R.backward(exact, R.forward(exact, X)[1], D)[name]
    got = R.numerical_gradient(lambda q: R.loss(R.forward(q, X)[0], D), p)[name]
    assert R.relative_error(got, want) < 1e-6
