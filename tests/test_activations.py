"""Activations: derivatives right, and safe for every finite input."""

import warnings

import numpy as np
import pytest

import rnn_lesson as R

NAMES = ["sigmoid", "tanh", "relu"]
HUGE = np.array(
    [-np.finfo(float).max, -1e308, -1e5, -1000.0, -800.0, -710.0, -40.0, 0.0]
    + [40.0, 710.0, 800.0, 1000.0, 1e5, 1e308, np.finfo(float).max]
)


def test_get_activation_returns_the_module_functions():
    assert R.get_activation("sigmoid") == (R.sigmoid, R.d_sigmoid)
    assert R.get_activation("tanh") == (R.tanh, R.d_tanh)
    assert R.get_activation("relu") == (R.relu, R.d_relu)
    assert set(R.ACTIVATIONS) == set(NAMES)


def test_values_against_the_textbook_formulas():
    x = np.linspace(-6, 6, 121)
    np.testing.assert_allclose(R.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-14)
    np.testing.assert_allclose(R.tanh(x), np.tanh(x), rtol=1e-14)
    np.testing.assert_array_equal(R.relu(x), np.where(x > 0, x, 0.0))
    np.testing.assert_allclose(R.d_tanh(x), 1 / np.cosh(x) ** 2, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_derivative_matches_central_differences(name):
    f, df = R.get_activation(name)
    u = np.linspace(-5, 5, 201)
    u = u[np.abs(u) > 1e-3]  # relu has a kink at 0
    h = 1e-6
    numeric = (f(u + h) - f(u - h)) / (2 * h)
    np.testing.assert_allclose(df(u), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_huge_finite_inputs_give_no_warning_and_no_nan(name):
    f, df = R.get_activation(name)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        values, slopes = f(HUGE), df(HUGE)
    assert np.all(np.isfinite(values)) and np.all(np.isfinite(slopes))
    assert np.all(slopes >= 0)
    big = np.abs(HUGE) >= 40
    if name == "sigmoid":
        np.testing.assert_allclose(values[big], (HUGE[big] > 0).astype(float), rtol=0, atol=1e-15)
        assert np.all(slopes[big] < 1e-15)
        assert values[HUGE == 0] == 0.5
    elif name == "tanh":
        np.testing.assert_allclose(values[big], np.sign(HUGE[big]), rtol=0, atol=1e-15)
        assert np.all(slopes[big] < 1e-15)


def test_the_course_formula_for_d_tanh_does_warn():
    # The reason d_tanh is not 1/cosh(u)**2: that form overflows. (The check above has teeth.)
    with pytest.warns(RuntimeWarning, match="overflow"):
        slope = 1 / np.cosh(np.array([1000.0])) ** 2
    assert slope[0] == 0.0


def test_sigmoid_is_symmetric_and_precise_far_out():
    x = np.linspace(0, 700, 701)
    np.testing.assert_allclose(R.sigmoid(x) + R.sigmoid(-x), 1.0, rtol=1e-15)
    # For x << 0, sigmoid(x) ~ exp(x): kept to full relative precision, not rounded to 0.
    np.testing.assert_allclose(R.sigmoid(-700.0), np.exp(-700.0), rtol=1e-12)


def test_sigmoid_keeps_shape_and_scalars():
    assert R.sigmoid(0.0) == 0.5
    assert R.sigmoid(np.zeros((2, 3, 4))).shape == (2, 3, 4)


@pytest.mark.parametrize("name", sorted(R.ACTIVATIONS))
def test_the_derivative_from_z_is_the_derivative_at_u_bit_for_bit(name):
    # BPTT takes f'(u) from the forward pass's z = f(u); it must be the very same numbers
    from rnn_lesson.activations import DERIVATIVES_FROM_Z

    f, df = R.get_activation(name)
    u = np.random.default_rng(0).normal(scale=5.0, size=(3, 7, 16))
    u[0, 0, :4] = [0.0, -0.0, 800.0, -800.0]
    np.testing.assert_array_equal(DERIVATIVES_FROM_Z[name](f(u)), df(u))
    np.testing.assert_array_equal(DERIVATIVES_FROM_Z[name](f(HUGE)), df(HUGE))
