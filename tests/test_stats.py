"""rnn_lesson.stats against the textbook definitions, computed here another way."""

from math import comb

import numpy as np
import pytest
from scipy.stats import beta

from rnn_lesson import stats


@pytest.mark.parametrize("k, n", [(0, 20), (7, 20), (20, 20), (3, 5), (41, 90)])
def test_rate_is_the_clopper_pearson_interval(k, n):
    # The exact interval's ends are quantiles of beta distributions (Clopper and Pearson 1934).
    low = 0.0 if k == 0 else beta.ppf(0.025, k, n - k + 1)
    high = 1.0 if k == n else beta.ppf(0.975, k + 1, n - k)
    r = stats.rate(k, n)
    assert (r.k, r.n) == (k, n) and r.share == k / n
    assert r.low == pytest.approx(low, abs=1e-9) and r.high == pytest.approx(high, abs=1e-9)


def test_rate_prints_count_share_and_interval():
    assert str(stats.rate(7, 20)) == "7 of 20 (35%; 95% interval 15% to 59%)"


def fisher_by_hand(k1, n1, k2, n2):
    """Two-sided Fisher p: the probability, with the margins fixed, of every table no more
    likely than the one seen (hypergeometric)."""
    total, ones = n1 + n2, k1 + k2

    def prob(a):
        return comb(n1, a) * comb(n2, ones - a) / comb(total, ones)

    seen = prob(k1)
    return sum(
        prob(a) for a in range(max(0, ones - n2), min(n1, ones) + 1) if prob(a) <= seen * (1 + 1e-7)
    )


@pytest.mark.parametrize(
    "counts", [(8, 20, 3, 20), (13, 20, 11, 20), (20, 20, 5, 20), (0, 9, 0, 9)]
)
def test_compare_is_fishers_exact_test(counts):
    c = stats.compare(*counts)
    assert c.p == pytest.approx(fisher_by_hand(*counts), rel=1e-9)
    assert c.detected == (c.p < 0.05)


def test_compare_says_when_no_difference_was_detected():
    assert "no difference detected" in str(stats.compare(8, 20, 3, 20))  # p about 0.16
    assert "a difference" in str(stats.compare(20, 20, 5, 20))


@pytest.mark.parametrize(
    "only_first, only_second, both", [(6, 2, 1), (0, 0, 5), (7, 0, 3), (3, 3, 0)]
)
def test_paired_is_the_exact_mcnemar_test(only_first, only_second, both):
    # Under "no difference", each discordant run is a fair coin: p = twice the smaller tail.
    first = np.array([True] * (only_first + both) + [False] * only_second + [False, True])
    second = np.array([False] * only_first + [True] * both + [True] * only_second + [False, False])
    first[-1] = second[-1] = True  # one more run where both succeed, one where both fail
    m, k = only_first + only_second, min(only_first, only_second)
    by_hand = min(1.0, 2 * sum(comb(m, i) for i in range(k + 1)) / 2**m)
    r = stats.paired(first, second)
    assert (r.only_first, r.only_second) == (only_first, only_second)
    assert (r.first.k, r.second.k, r.first.n) == (
        only_first + both + 1,
        only_second + both + 1,
        m + both + 2,
    )
    assert r.p == pytest.approx(by_hand, rel=1e-9)
    assert r.detected == (r.p < 0.05)


def test_paired_prints_both_counts_the_disagreements_and_the_verdict():
    r = stats.paired(
        np.array([True] * 7 + [False] * 13), np.array([True, False] * 2 + [False] * 16)
    )
    assert str(r) == (
        "7 of 20 against 2 of 20; 5 only with the first, 0 only with the second: "
        "exact McNemar test p = 0.062 (no difference detected at the 5% level)"
    )
    with pytest.raises(ValueError):
        stats.paired(np.array([True, False]), np.array([True]))


def test_spread_gives_median_and_quartiles():
    s = stats.spread(np.arange(1.0, 10.0))  # 1 .. 9
    assert (s.median, s.q1, s.q3, s.n) == (5.0, 3.0, 7.0, 9)
    assert str(s) == "median 5 (quartiles 3 to 7; n = 9)"


def test_rate_of_counts_true_entries():
    assert stats.rate_of(np.array([True, False, True, True])) == stats.rate(3, 4)


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: stats.rate(5, 4), "0 <= k <= n"),
        (lambda: stats.rate(0, 0), "n >= 1"),
        (lambda: stats.rate(-1, 4), "k must be a whole number"),
        (lambda: stats.rate(2.5, 4), "k must be a whole number"),
        (lambda: stats.rate(True, 4), "k must be a whole number"),
        (lambda: stats.rate_of(np.array([1, 0])), "boolean array"),
        (lambda: stats.rate_of(np.zeros(0, dtype=bool)), "non-empty"),
        (lambda: stats.spread([1.0, np.nan]), "NaN or inf"),
        (lambda: stats.spread([]), "non-empty"),
        (lambda: stats.spread(np.ones((2, 2))), "1-D"),
        (lambda: stats.compare(3, 2, 1, 2), "0 <= k <= n"),
    ],
)
def test_bad_input_says_what_is_allowed(call, words):
    with pytest.raises(ValueError, match=words):
        call()


def signed_rank_by_hand(d):
    """Exact two-sided signed-rank p for differences d (no zeros, no ties): under "no
    difference" each |d| gets its sign by a fair coin; p is the share of the 2**n sign
    patterns whose sum of positive ranks is at least as far from its mean as the one seen."""
    ranks = np.argsort(np.argsort(np.abs(d))) + 1
    seen = ranks[d > 0].sum()
    signs = (np.arange(2**d.size)[:, None] >> np.arange(d.size)) & 1  # every sign pattern
    sums = signs @ ranks
    mean = ranks.sum() / 2
    return np.mean(np.abs(sums - mean) >= abs(seen - mean) - 1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_signed_rank_is_the_exact_wilcoxon_test(seed):
    rng = np.random.default_rng(seed)
    first = rng.normal(size=10)
    second = first + rng.normal(0.5, 1.0, size=10)  # same runs, shifted: paired
    r = stats.signed_rank(first, second)
    assert r.p == pytest.approx(signed_rank_by_hand(first - second), rel=1e-9)
    assert (r.first_lower, r.second_lower) == (np.sum(first < second), np.sum(second < first))
    assert r.first.median == pytest.approx(np.median(first), rel=1e-12) and r.first.n == 10
    assert r.second.median == pytest.approx(np.median(second), rel=1e-12)
    assert r.detected == (r.p < 0.05)


def test_signed_rank_prints_medians_counts_and_verdict():
    r = stats.signed_rank(np.arange(1.0, 9.0), np.arange(1.0, 9.0) + 1)  # 8 of 8 lower: p = 2/256
    assert str(r) == (
        "median 4.5 against 5.5; lower with the first in 8, with the second in 0 of 8 runs: "
        "Wilcoxon signed-rank test p = 0.0078 (a difference at the 5% level)"
    )
    assert stats.signed_rank([1.0, 2.0], [1.0, 2.0]).p == 1.0  # no run differs: nothing to test
    with pytest.raises(ValueError, match="same runs"):
        stats.signed_rank([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="NaN or inf"):
        stats.signed_rank([1.0, np.inf], [1.0, 2.0])
