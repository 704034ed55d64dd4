"""Binary addition as data: encoding, batches, every pair, random pairs."""

import numpy as np
import pytest

import rnn_lesson as R


def lsb_first(n: int, T: int) -> list[int]:
    """Bits of n, LSB first, by an independent route: numpy's string form, reversed."""
    return [int(ch) for ch in reversed(np.binary_repr(n, width=T))]


@pytest.mark.parametrize("T", [1, 2, 3, 5, 8, 10, 12])
def test_round_trip_over_a_whole_bit_width(T):
    n = np.arange(2**T)
    bits = R.int_to_bits(n, T)
    assert bits.shape == (2**T, T)
    assert set(np.unique(bits)) <= {0, 1}
    np.testing.assert_array_equal(R.bits_to_int(bits), n)
    # Every number of the width gets its own code.
    assert len({tuple(row) for row in bits}) == 2**T


@pytest.mark.parametrize("T", [1, 4, 8])
def test_bits_are_lsb_first(T):
    for n in range(2**T):
        assert R.int_to_bits(n, T).tolist() == lsb_first(n, T)
    assert R.int_to_bits(1, 4).tolist() == [1, 0, 0, 0]
    assert R.int_to_bits(8, 4).tolist() == [0, 0, 0, 1]


def test_bits_to_int_scalar_and_rounding():
    assert R.bits_to_int([1, 0, 1]) == 5
    assert isinstance(R.bits_to_int([1, 0, 1]), int)
    # Network outputs in (0, 1) are rounded at 0.5.
    n = np.arange(256)
    soft = 0.05 + 0.9 * R.int_to_bits(n, 8)
    np.testing.assert_array_equal(R.bits_to_int(soft), n)
    np.testing.assert_array_equal(R.bits_to_int(R.int_to_bits(n, 8).astype(bool)), n)


def test_make_batch_shapes_and_order():
    rng = np.random.default_rng(0)
    T = 8
    a = rng.integers(0, 128, size=50)
    b = rng.integers(0, 128, size=50)
    X, D = R.make_batch(a, b, T)
    assert X.shape == (50, T, 2) and D.shape == (50, T, 1)
    assert X.dtype == float and D.dtype == float
    for i in range(50):
        assert X[i, :, 0].tolist() == lsb_first(int(a[i]), T)
        assert X[i, :, 1].tolist() == lsb_first(int(b[i]), T)
        assert D[i, :, 0].tolist() == lsb_first(int(a[i] + b[i]), T)
    np.testing.assert_array_equal(R.bits_to_int(D[..., 0]), a + b)


def test_make_batch_single_pair_and_other_width():
    X, D = R.make_batch(3, 1, T=3)  # 3 + 1 = 4 = 0b100
    assert X.shape == (1, 3, 2) and D.shape == (1, 3, 1)
    assert X[0].tolist() == [[1, 1], [1, 0], [0, 0]]
    assert D[0, :, 0].tolist() == [0, 0, 1]


def test_make_batch_accepts_whole_floats():
    X1, D1 = R.make_batch(np.array([5.0, 7.0]), np.array([1.0, 2.0]))
    X2, D2 = R.make_batch([5, 7], [1, 2])
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(D1, D2)


def test_all_pairs_covers_every_pair_once():
    a, b = R.all_pairs(8)
    assert a.shape == b.shape == (16_384,)
    assert a.min() == b.min() == 0 and a.max() == b.max() == 127
    assert len(set(zip(a.tolist(), b.tolist(), strict=True))) == 16_384


@pytest.mark.parametrize("T", [1, 2, 3, 5, 7])
def test_all_pairs_other_widths(T):
    a, b = R.all_pairs(T)
    n = 2 ** (T - 1)
    assert len(a) == 4 ** (T - 1)
    assert set(zip(a.tolist(), b.tolist(), strict=True)) == {
        (i, j) for i in range(n) for j in range(n)
    }
    X, D = R.make_batch(a, b, T)  # every pair fits
    assert X.shape == (4 ** (T - 1), T, 2)


def test_random_pairs_reproducible_for_a_seed():
    a1, b1 = R.random_pairs(np.random.default_rng(42), 1000)
    a2, b2 = R.random_pairs(np.random.default_rng(42), 1000)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(b1, b2)
    a3, _ = R.random_pairs(np.random.default_rng(43), 1000)
    assert not np.array_equal(a1, a3)
    assert a1.shape == b1.shape == (1000,)
    assert 0 <= min(a1.min(), b1.min()) and max(a1.max(), b1.max()) < 128
    # Both values of each bit position occur (not stuck in a corner of the range).
    assert set(np.unique(R.int_to_bits(a1, 7))) == {0, 1}


def test_random_pairs_is_the_documented_single_draw():
    # train() draws its pairs this way; random_pairs must match it.
    a, b = R.random_pairs(np.random.default_rng(5), 7, T=6)
    ref = np.random.default_rng(5).integers(0, 2**5, size=(2, 7))
    np.testing.assert_array_equal(np.stack([a, b]), ref)


@pytest.mark.parametrize(("batch", "T", "per_model"), [(1, 8, False), (3, 8, False), (2, 5, True)])
def test_pair_stream_draws_what_random_pairs_would_and_rewinds(monkeypatch, batch, T, per_model):
    # Blocks of updates drawn at once give the pairs of one random_pairs call per update, in
    # order; stopped inside a block, the generators are left where those calls leave them.
    monkeypatch.setattr(R.data.PairStream, "BLOCK_NUMBERS", 300)  # small blocks: several
    seeds = (3, 4, 5) if per_model else (3,)
    n_updates, stop = 1000, 203
    mine = [np.random.default_rng(s) for s in seeds]
    theirs = [np.random.default_rng(s) for s in seeds]
    with R.data.PairStream(mine, batch, T, n_updates, per_model=per_model) as pairs:
        for _ in range(stop):
            X, D = pairs.next()
            drawn = [R.make_batch(*R.random_pairs(r, batch, T), T) for r in theirs]
            if per_model:
                want_X, want_D = np.stack([x for x, _ in drawn]), np.stack([d for _, d in drawn])
            else:
                want_X, want_D = drawn[0]
            assert X.shape == want_X.shape and X.flags.c_contiguous
            np.testing.assert_array_equal(X, want_X)
            np.testing.assert_array_equal(D, want_D)
        assert 1 < pairs.size < stop and pairs.used < pairs.size  # stopped inside a block
    for r, s in zip(mine, theirs, strict=True):  # both generators go on with the same numbers
        np.testing.assert_array_equal(r.integers(0, 2**40, size=5), s.integers(0, 2**40, size=5))


def test_pair_stream_refuses_bad_input():
    rngs = [np.random.default_rng(0), np.random.default_rng(1)]
    with pytest.raises(ValueError, match="one generator, or per_model=True; got 2"):
        R.data.PairStream(rngs, 1, 8, 10)
    for bad, match in [
        (dict(rngs=[]), "rngs must be a list of numpy.random.Generator"),
        (dict(rngs=[np.random.RandomState(0)]), "rng must be a numpy.random.Generator"),
        (dict(batch=0), "batch size must be a whole number >= 1"),
        (dict(T=0), "number of bits T must be a whole number >= 1"),
        (dict(n_updates=0), "n_updates must be a whole number >= 1"),
        (dict(per_model="yes"), "per_model must be True or False"),
    ]:
        args = dict(rngs=[np.random.default_rng(0)], batch=1, T=8, n_updates=10) | bad
        with pytest.raises(ValueError, match=match):
            R.data.PairStream(**args)
