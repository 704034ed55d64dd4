"""init_mixed: each matrix is exactly the same seed's std-1 or Xavier matrix, as asked."""

import numpy as np
import pytest

import rnn_lesson as R
from rnn_lesson.interventions import WEIGHTS, init_mixed


def start(init, seed, H=16):
    return R.init_params(H, init, rng=np.random.default_rng(seed), std=1.0)


@pytest.mark.parametrize("std_one", [(), ("W",), ("W_in", "W_out"), WEIGHTS, ("W_out",)])
@pytest.mark.parametrize("seed", [0, 7])
def test_each_matrix_is_that_seeds_std1_or_xavier_matrix(std_one, seed):
    mixed = init_mixed(16, std_one, rng=np.random.default_rng(seed))
    normal, xavier = start("normal", seed), start("xavier", seed)
    for k in R.PARAM_NAMES:
        expected = normal[k] if k in std_one else xavier[k]
        np.testing.assert_array_equal(mixed[k], expected)


def test_the_scales_are_1_and_1_over_sqrt_fan_in():
    # measured on a large hidden layer: std 1 for W, 1/sqrt(2) for W_in, 1/sqrt(400) for W_out
    p = init_mixed(400, ("W",), rng=np.random.default_rng(1))
    assert abs(p["W"].std() - 1) < 0.01
    assert abs(p["W_in"].std() * np.sqrt(2) - 1) < 0.05
    assert abs(p["W_out"].std() * 20 - 1) < 0.1
    assert not p["b"].any() and not p["c"].any()


@pytest.mark.parametrize("bad", [("V",), "W", ("W", "b")])
def test_unknown_names_are_refused(bad):
    with pytest.raises(ValueError, match="std_one"):
        init_mixed(16, bad, rng=np.random.default_rng(0))
