"""The probe, PCA, clustering and the automaton read from hidden states."""

import numpy as np
import pytest

import rnn_lesson as R
from rnn_lesson import probe as P


def handmade_states(n=200, n_bits=12):
    X, D, carry = R.random_sequences(np.random.default_rng(0), n, n_bits)
    params = R.handmade_adder("tanh")
    Y, cache = R.forward(params, X, "tanh")
    return X, Y, cache["z"], carry


def test_probe_and_unit_signs_on_the_handmade_adder():
    X, Y, Z, carry = handmade_states()
    w, bias = R.fit_probe(Z.reshape(-1, 3), carry.ravel())
    assert np.array_equal(R.probe_predict(w, bias, Z.reshape(-1, 3)), carry.ravel())
    agreement, polarity = R.unit_signs(Z.reshape(-1, 3), carry.ravel())
    assert agreement[1] == 1.0 and polarity[1] == 1  # unit 2 is the carry
    assert agreement[0] < 1 and agreement[2] < 1


def test_fit_probe_is_the_least_squares_fit():
    rng = np.random.default_rng(5)
    Z = rng.standard_normal((3000, 16))
    carry = (Z[:, 3] - Z[:, 7] + 0.3 * rng.standard_normal(3000) > 0).astype(int)
    w, bias = R.fit_probe(Z, carry)
    A = np.hstack([Z, np.ones((3000, 1))])
    coef = np.linalg.lstsq(A, 2.0 * carry - 1.0, rcond=None)[0]
    assert np.allclose(w, coef[:-1], atol=1e-12) and np.isclose(bias, coef[-1], atol=1e-12)


def test_unit_signs_polarity():
    Z = np.array([[1.0, -1.0], [-1.0, 1.0], [2.0, -3.0]])
    agreement, polarity = R.unit_signs(Z, np.array([1, 0, 1]))
    assert np.array_equal(agreement, [1.0, 1.0]) and np.array_equal(polarity, [1, -1])


def test_unit_thresholds_find_the_best_cut_either_way_round():
    Z = np.array([[0.3, 5.0], [0.7, 1.0], [0.9, 3.0], [0.1, 2.0]])
    carry = np.array([0, 1, 1, 0])
    agreement, theta = R.unit_thresholds(Z, carry)
    assert np.allclose(agreement, [1.0, 0.75]) and np.isclose(theta[0], 0.5)
    assert np.array_equal(Z[:, 0] > theta[0], carry == 1)  # unit 1: a cut at 0.5, not at 0
    signs, _ = R.unit_signs(Z, carry)
    assert signs[0] == 0.5  # every z > 0: the sign alone says nothing
    flipped, _ = R.unit_thresholds(-Z, carry)  # the opposite way round is as good
    assert np.allclose(flipped, agreement)
    tied, _ = R.unit_thresholds(np.zeros((4, 1)), carry)  # one value: no cut between equal z
    assert tied[0] == 0.5
    X, Y, Zh, carry_h = handmade_states()
    best, _ = R.unit_thresholds(Zh.reshape(-1, 3), carry_h.ravel())
    assert best[1] == 1.0 and np.all(best >= R.unit_signs(Zh.reshape(-1, 3), carry_h.ravel())[0])


def test_input_reader_approaches_its_formula_and_cannot_see_far():
    X, _, carry = R.random_sequences(np.random.default_rng(2), 2000, 200)
    fit, test = slice(0, 1000), slice(1000, 2000)
    for m in (1, 2, 3):
        assert abs(R.input_reader(X, carry, m, fit, test) - (1 - 2.0 ** -(m + 1))) < 0.01
    a_bits = np.ones((2, 40), dtype=int)
    b_bits = np.zeros((2, 40), dtype=int)
    b_bits[0, 0] = 1  # (2**40 - 1) + 1 and (2**40 - 1) + 0: the same last inputs from bit 1 on
    X2, _, carry2 = R.sequences(a_bits, b_bits)
    right = R.input_reader(X2, carry2, 3, [0, 1], [0, 1])
    assert 0.5 <= right < 0.6  # on the long run of (1, 0) it can answer only one way
    with pytest.raises(ValueError, match="carry"):
        R.input_reader(X2, carry2[:, :3], 1, [0], [1])


def test_pca():
    rng = np.random.default_rng(0)
    line = rng.standard_normal((500, 1)) * np.array([[3.0, 4.0, 0.0]])
    Z = line + 0.01 * rng.standard_normal((500, 3))
    proj, comps, share = R.pca(Z, 2)
    assert proj.shape == (500, 2) and comps.shape == (2, 3)
    assert np.allclose(comps @ comps.T, np.eye(2))
    assert np.allclose(comps[0], [0.6, 0.8, 0.0], atol=1e-3) and share[0] > 0.999
    assert np.allclose(proj, (Z - Z.mean(axis=0)) @ comps.T)
    with pytest.raises(ValueError, match="n_components"):
        R.pca(Z, 4)


def test_kmeans_finds_separated_clusters_and_numbers_them_by_position():
    rng = np.random.default_rng(1)
    centres = np.array([[5.0, 0.0], [-5.0, 0.0], [0.0, 5.0]])
    truth = rng.integers(0, 3, 300)
    Z = centres[truth] + 0.1 * rng.standard_normal((300, 2))
    labels, found = R.kmeans(Z, 3, np.random.default_rng(0))
    assert np.allclose(found, centres[[1, 2, 0]], atol=0.05)  # sorted by the first coordinate
    assert np.array_equal(labels, np.array([2, 0, 1])[truth])
    with pytest.raises(ValueError, match="at most"):
        R.kmeans(Z[:2], 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="Generator"):
        R.kmeans(Z, 3, 0)


def test_automaton_of_the_handmade_adder_is_the_full_adder():
    X, Y, Z, carry = handmade_states()
    k = 8
    labels, _ = R.kmeans(Z.reshape(-1, 3), k, np.random.default_rng(0))
    labels = labels.reshape(Z.shape[:2])
    next_state, agreement = R.read_automaton(labels, X, k)
    assert agreement == 1.0
    output = np.array([round((Y[..., 0] > 0.5)[labels == j].mean()) for j in range(k)])
    carry_of = np.array([round(carry[labels == j].mean()) for j in range(k)])
    groups = R.minimize(next_state, output)
    assert len(set(groups.tolist())) == 4  # (sum bit, carry): the full adder as a Moore machine
    for i in range(k):
        for q, (a, b) in enumerate(P.INPUTS):
            j = next_state[i, q]
            assert j < 0 or (output[j], carry_of[j]) == R.full_adder(carry_of[i], a, b)


def test_minimize_merges_equivalent_states():
    # states 0 and 2 behave alike (output 0, both go to 1 on every input); 1 outputs 1
    next_state = np.array([[1, 1], [0, 2], [1, 1]])
    groups = R.minimize(next_state, np.array([0, 1, 0]))
    assert groups.tolist() == [0, 1, 0]
    # with different outputs nothing merges
    assert len(set(R.minimize(next_state, np.array([0, 1, 1])).tolist())) == 3


def test_full_adder_table():
    table = {(c, a, b): R.full_adder(c, a, b) for c in (0, 1) for a in (0, 1) for b in (0, 1)}
    assert table[0, 0, 0] == (0, 0) and table[1, 1, 1] == (1, 1) and table[0, 1, 1] == (0, 1)
    assert all(s + 2 * c_out == sum(key) for key, (s, c_out) in table.items())


def test_bad_states_and_labels():
    with pytest.raises(ValueError, match="Z must"):
        R.fit_probe(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="carry must"):
        R.fit_probe(np.zeros((3, 2)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="Z must"):
        R.pca(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="labels"):
        R.read_automaton(np.zeros(4, dtype=int), np.zeros((4, 2)), 2)
