"""rnn_add, the hand-made adder, and long sums."""

import random

import numpy as np
import pytest

import rnn_lesson as R
from rnn_lesson import adder as A

ACTIVATIONS = ("tanh", "sigmoid", "relu")


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_handmade_adder_is_small_and_exact_on_all_pairs(activation):
    params = R.handmade_adder(activation)
    lead, H = R.check_params(params)
    assert lead == () and H == 3  # threshold units at 1, 2, 3 (relu: s - 0, s - 1, s - 2)
    for T in (2, 8, 10):  # every pair a, b < 2**(T - 1)
        assert R.evaluate_all_pairs(params, activation, T)[1] == 1.0


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_handmade_adder_is_exact_on_thousands_of_bits(activation):
    params = R.handmade_adder(activation)
    rng = random.Random(0)
    pairs = [(rng.getrandbits(n), rng.getrandbits(n)) for n in (1, 7, 62, 63, 64, 100, 2000, 5000)]
    pairs += [
        pair
        for k in (1, 2, 63, 2000, 5000)
        for pair in R.carry_chain_pairs(k, np.random.default_rng(k))
    ]
    pairs += [(0, 0), (0, 1), (1, 0), (2**5000, 0), (0, 2**4999 + 1)]
    for a, b in pairs:
        assert R.rnn_add(params, a, b, activation) == a + b


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_handmade_adder_on_many_long_random_sums(activation):
    X, D, _ = R.random_sequences(np.random.default_rng(0), 50, 3000)
    assert R.exact_share(R.handmade_adder(activation), X, D, activation) == 1.0


def test_rnn_add_matches_forward_on_an_untrained_network():
    params = R.init_params(8, rng=np.random.default_rng(3))
    rng = np.random.default_rng(4)
    for _ in range(50):
        a, b = (int(v) for v in rng.integers(0, 2**40, size=2))
        T = max(a.bit_length(), b.bit_length()) + 1
        X, _ = R.make_batch([a], [b], T) if T <= 62 else (None, None)
        Y, _ = R.forward(params, X, "tanh")
        assert R.rnn_add(params, a, b) == R.bits_to_int(Y[0, :, 0])


def test_rnn_add_reads_bits_of_any_size():
    # an "adder" that copies input a: output logit 20 * (z - 1/2) with z = a[t] (relu unit)
    copy_a = {
        "W_in": np.array([[1.0], [0.0]]),
        "W": np.zeros((1, 1)),
        "W_out": np.array([[20.0]]),
        "b": np.zeros(1),
        "c": np.array([-10.0]),
    }
    for a in (0, 1, 5, 2**63 + 1, 3**2000):
        assert R.rnn_add(copy_a, a, 0, "relu") == a
        assert R.rnn_add(copy_a, a, 2 ** (a.bit_length() + 3), "relu") == a  # T follows b


def test_rnn_add_accepts_numpy_integers():
    params = R.handmade_adder()
    assert R.rnn_add(params, np.int64(100), np.uint8(27)) == 127


@pytest.mark.parametrize(
    "a, b, words",
    [
        (-1, 2, ">= 0"),
        (3, -(2**70), ">= 0"),
        (1.0, 2, "whole number"),
        (1, 2.5, "whole number"),
        (True, 1, "whole number"),
        (1, np.bool_(False), "whole number"),
        ("12", 3, "whole number"),
        (None, 3, "whole number"),
        (np.array([1, 2]), 3, "whole number"),
    ],
)
def test_rnn_add_rejects_bad_numbers(a, b, words):
    with pytest.raises(ValueError, match=words):
        R.rnn_add(R.handmade_adder(), a, b)


def test_rnn_add_rejects_bad_params_and_activation():
    params = R.handmade_adder()
    with pytest.raises(ValueError, match="one model"):
        R.rnn_add(R.stack_params([params, params]), 1, 2)
    with pytest.raises(ValueError, match="missing"):
        R.rnn_add({"W": params["W"]}, 1, 2)
    with pytest.raises(ValueError, match="activation"):
        R.rnn_add(params, 1, 2, "softmax")


def test_handmade_adder_rejects_bad_arguments():
    with pytest.raises(ValueError, match="activation"):
        R.handmade_adder("gelu")
    for gain in (0, -1.0, True, "20", float("nan")):
        with pytest.raises(ValueError, match="gain"):
            R.handmade_adder("tanh", gain=gain)


def test_sequences_targets_and_carries():
    rng = np.random.default_rng(1)
    a_bits, b_bits = rng.integers(0, 2, size=(2, 30, 70))
    X, D, carry = R.sequences(a_bits, b_bits)
    assert X.shape == (30, 71, 2) and D.shape == (30, 71, 1) and carry.shape == (30, 71)
    for i in range(30):
        a, b = A.bit_array_to_int(a_bits[i]), A.bit_array_to_int(b_bits[i])
        assert A.bit_array_to_int(D[i, :, 0].astype(np.uint8)) == a + b
        # the carry out of step t is bit t + 1 of the sum of the lowest t + 1 bits
        for t in (0, 5, 69, 70):
            low = (a % 2 ** (t + 1)) + (b % 2 ** (t + 1))
            assert carry[i, t] == low >> (t + 1)
    assert carry[:, -1].sum() == 0  # nothing carries out of the extra step


def test_sequences_rejects_bad_bits():
    with pytest.raises(ValueError, match="bits"):
        R.sequences(np.array([[0, 2]]), np.array([[0, 1]]))
    with pytest.raises(ValueError, match="batch, n"):
        R.sequences(np.array([0, 1]), np.array([0, 1]))
    with pytest.raises(ValueError, match="extra_steps"):
        R.sequences(np.array([[0, 1]]), np.array([[0, 1]]), extra_steps=-1)


def test_exact_share_matches_accuracy_of_forward():
    stack = R.stack_params([R.init_params(6, rng=np.random.default_rng(s)) for s in range(3)])
    X, D = R.make_batch(*R.all_pairs(5), 5)
    Y, _ = R.forward(stack, X, "tanh")
    assert np.array_equal(R.exact_share(stack, X, D, "tanh"), R.accuracy(Y, D))
    one = R.unstack_params(stack)[1]
    assert R.exact_share(one, X, D, "tanh") == R.accuracy(R.forward(one, X, "tanh")[0], D)


def test_carry_chain_pairs():
    assert R.carry_chain_pairs(3) == [(7, 1), (7, 0)]
    assert R.carry_chain_pairs(1) == [(1, 1), (1, 0)]
    rng = np.random.default_rng(0)
    for k in (1, 2, 3, 10, 300):
        pairs = R.carry_chain_pairs(k, rng)
        assert len(pairs) == 4 and all(max(a, b) < 2**k for a, b in pairs)
        (a1, b1), (a0, b0) = pairs[2:]
        assert a1 + b1 == 2**k and a0 + b0 == 2**k - 2  # the carry (or none) goes all the way
        assert a1 & 1 and b1 & 1 and not (a0 & 1 or b0 & 1)  # made (or not) at bit 0
        assert (a1 >> 1) ^ (b1 >> 1) == 2 ** (k - 1) - 1  # then only (1, 0) and (0, 1)
        assert (a0 >> 1) ^ (b0 >> 1) == 2 ** (k - 1) - 1
    mixed = R.carry_chain_pairs(300, np.random.default_rng(1))[2]
    assert 0 < bin(mixed[0] >> 1).count("1") < 299  # a mix, not a run of one kind
    with pytest.raises(ValueError):
        R.carry_chain_pairs(0)
    with pytest.raises(ValueError, match="Generator"):
        R.carry_chain_pairs(3, 1)


def test_bit_arrays_round_trip():
    for n in (0, 1, 255, 256, 2**1000 - 1, 7**900):
        T = n.bit_length() + 5
        bits = A.int_to_bit_array(n, T)
        assert bits.shape == (T,) and A.bit_array_to_int(bits) == n
    with pytest.raises(ValueError, match="does not fit"):
        A.int_to_bit_array(8, 3)
