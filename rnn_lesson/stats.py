"""Rates over seeds with their 95% intervals, medians with their spread, and exact tests.

Training a network is chaotic: which seeds learn changes from one machine to another. So the
notebooks report how often something happens over many seeds, never what one seed did, and
these few functions say how sure such a count is. They wrap ``scipy.stats``:

- ``rate(k, n)``: k successes in n runs, with the exact (Clopper-Pearson) 95% interval:
  every rate inside it is compatible with what was seen. 7 of 20 gives about 15-59%.
- ``compare(k1, n1, k2, n2)``: Fisher's exact test, two-sided. A small p (below 0.05, by the
  usual convention) says a difference this large would be rare if both settings had the
  same rate; a large p says no difference was detected at this number of runs, which is
  not the same as "no difference".
- ``spread(values)``: the median and the quartiles (half of the runs lie between them).
- ``paired(first, second)``: the same runs (same seeds) under two settings, success or not
  in each: the exact McNemar test, a two-sided binomial test on the runs where the two
  settings disagree (the runs where they agree say nothing about which is better).
- ``signed_rank(first, second)``: the same runs under two settings, a number per run (a
  loss, say): the Wilcoxon signed-rank test on the per-run differences. It uses how far
  and which way each run moved, so it can detect what a success count is too blunt to see.

Each returns a small record whose ``str`` is the sentence a notebook prints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Rate:
    """k of n runs, and the exact 95% interval [low, high] of the rate behind them."""

    k: int
    n: int
    low: float
    high: float

    @property
    def share(self) -> float:
        return self.k / self.n

    def __str__(self) -> str:
        return (
            f"{self.k} of {self.n} ({self.share:.0%}; 95% interval "
            f"{self.low:.0%} to {self.high:.0%})"
        )


class _Test:
    """What the three tests below share: a two-sided p, and the verdict at the 5% level."""

    p: float

    @property
    def detected(self) -> bool:
        """A difference at the 5% level: p < 0.05."""
        return self.p < 1 - CONFIDENCE

    @property
    def verdict(self) -> str:
        return "a difference" if self.detected else "no difference detected"


@dataclass(frozen=True)
class Comparison(_Test):
    """Two rates and Fisher's exact test between them (two-sided p)."""

    first: Rate
    second: Rate
    p: float

    def __str__(self) -> str:
        return (
            f"{self.first.k} of {self.first.n} against {self.second.k} of {self.second.n}: "
            f"Fisher's exact test p = {self.p:.2g} ({self.verdict} at the 5% level)"
        )


@dataclass(frozen=True)
class Spread:
    """The median of n values and their quartiles (the 25th and 75th percentiles)."""

    median: float
    q1: float
    q3: float
    n: int

    def __str__(self) -> str:
        return f"median {self.median:.3g} (quartiles {self.q1:.3g} to {self.q3:.3g}; n = {self.n})"


@dataclass(frozen=True)
class Paired(_Test):
    """The same n runs under two settings, and the exact McNemar test (two-sided p)."""

    first: Rate
    second: Rate
    only_first: int  # runs that succeed with the first setting and fail with the second
    only_second: int  # the reverse
    p: float

    def __str__(self) -> str:
        return (
            f"{self.first.k} of {self.first.n} against {self.second.k} of {self.second.n}; "
            f"{self.only_first} only with the first, {self.only_second} only with the second: "
            f"exact McNemar test p = {self.p:.2g} ({self.verdict} at the 5% level)"
        )


@dataclass(frozen=True)
class SignedRank(_Test):
    """The same n runs under two settings, a number per run, and the Wilcoxon signed-rank
    test (two-sided p) on the differences; runs with equal numbers are left out of it."""

    first: Spread
    second: Spread
    first_lower: int  # runs whose number is lower with the first setting
    second_lower: int  # the reverse
    p: float

    def __str__(self) -> str:
        return (
            f"median {self.first.median:.3g} against {self.second.median:.3g}; lower with the "
            f"first in {self.first_lower}, with the second in {self.second_lower} of "
            f"{self.first.n} runs: Wilcoxon signed-rank test p = {self.p:.2g} "
            f"({self.verdict} at the 5% level)"
        )


def rate(k: int, n: int) -> Rate:
    """k successes in n runs with the exact (Clopper-Pearson) 95% interval of the rate."""
    k, n = _count(k, "k"), _count(n, "n")
    if n == 0 or k > n:
        raise ValueError(f"need 0 <= k <= n and n >= 1 runs, got k = {k}, n = {n}")
    from scipy.stats import binomtest  # imported here: `import rnn_lesson` stays light

    interval = binomtest(k, n).proportion_ci(CONFIDENCE, method="exact")
    return Rate(k, n, float(interval.low), float(interval.high))


def rate_of(flags) -> Rate:
    """``rate`` of a boolean array: how many of its entries are True, out of all of them."""
    flags = np.asarray(flags)
    if flags.dtype != bool or flags.size == 0:
        raise ValueError(
            f"need a non-empty boolean array, got dtype {flags.dtype}, size {flags.size}"
        )
    return rate(int(flags.sum()), flags.size)


def compare(k1: int, n1: int, k2: int, n2: int) -> Comparison:
    """Fisher's exact test (two-sided) between k1 of n1 and k2 of n2."""
    first, second = rate(k1, n1), rate(k2, n2)
    from scipy.stats import fisher_exact

    table = [[first.k, first.n - first.k], [second.k, second.n - second.k]]
    return Comparison(first, second, float(fisher_exact(table)[1]))


def paired(first, second) -> Paired:
    """Exact McNemar test between two boolean arrays over the same runs (success per run):
    a two-sided binomial test, p = 1/2, on the runs where exactly one setting succeeds."""
    first, second = np.asarray(first), np.asarray(second)
    if first.shape != second.shape:
        raise ValueError(
            f"need two arrays over the same runs, got {first.shape} and {second.shape}"
        )
    a, b = rate_of(first), rate_of(second)  # (checks: non-empty boolean arrays)
    only_first, only_second = int(np.sum(first & ~second)), int(np.sum(~first & second))
    p = 1.0
    if only_first + only_second:
        from scipy.stats import binomtest

        p = float(binomtest(only_first, only_first + only_second, 0.5).pvalue)
    return Paired(a, b, only_first, only_second, p)


def signed_rank(first, second) -> SignedRank:
    """Wilcoxon signed-rank test (two-sided) between two 1-D arrays of finite numbers over
    the same runs, one number per run; runs where the two are equal are left out."""
    a, b = spread(first), spread(second)  # (checks: non-empty 1-D arrays of finite numbers)
    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if first.shape != second.shape:
        raise ValueError(
            f"need two arrays over the same runs, got {first.shape} and {second.shape}"
        )
    first_lower, second_lower = int(np.sum(first < second)), int(np.sum(second < first))
    p = 1.0
    if first_lower + second_lower:
        from scipy.stats import wilcoxon

        p = float(wilcoxon(first, second, zero_method="wilcox").pvalue)
    return SignedRank(a, b, first_lower, second_lower, p)


def spread(values) -> Spread:
    """The median and quartiles of a 1-D array of finite numbers."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError(
            f"need a non-empty 1-D array of finite numbers, got shape {values.shape}"
            + ("" if values.size == 0 or np.all(np.isfinite(values)) else " with NaN or inf")
        )
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return Spread(float(median), float(q1), float(q3), values.size)


def _count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a whole number of runs, 0 or more, got {value!r}")
    return int(value)
