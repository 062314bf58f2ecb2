"""Entropy and mutual-information estimators for binary spike trains, in bits.

Conventions
-----------
* Spike trains are 0/1 arrays with time on the first axis: ``(T, n)`` for one
  recording, or ``(R, T, n)`` for ``R`` independent repeats of the same stimulus,
  which are *pooled*: time steps of all repeats are concatenated, but every
  (input, output) pair is formed within one repeat (a lag never crosses the end of
  a repeat), and the permutation null permutes within each repeat.  A 1-D array
  ``(T,)`` is one neuron.
* Every information quantity is in **bits** (``log2``).  The paper's sklearn values
  are in nats: multiply bits by ``ln 2`` to compare.
* ``0 log 0 = 0``.

Estimators
----------
For an input train ``x`` and an output train ``y`` at lag ``L`` the ``N`` pairs are
``(x[t], y[t + L])`` for ``t = 0 .. T-1-L`` (``N = R (T - L)`` when pooling ``R``
repeats).  With the joint counts ``n11 = #{x=1, y=1}``, the input count
``a = #{x=1}`` and the output count ``b = #{y=1}`` (all over those ``N`` pairs):

* plug-in (maximum-likelihood) MI::

      I = sum_{u,v in {0,1}} p(u,v) log2( p(u,v) / (p(u) p(v)) ),  p = count / N

  computed from the integer counts as ``sum_cells n_uv [(ln n_uv - ln n_u.) +
  (ln N - ln n_.v)] / (N ln 2)``, which is exactly 0 when either train is constant.
  This is what ``sklearn.feature_selection.mutual_info_classif`` with
  ``discrete_features=True`` returns, in nats (the paper's score at lag 0).
* Miller-Madow corrected MI: the plug-in minus its first-order bias::

      I_MM = I - (m_xy - m_x - m_y + 1) / (2 N ln 2)

  where ``m_xy``, ``m_x``, ``m_y`` are the numbers of non-empty cells of the joint and
  marginal histograms.  It is reported unclipped (it can be negative); reports may
  clip at 0.  For sparse trains (expected counts of a cell below ~1, e.g. a neuron that
  spikes a few times in 250 steps) it over-corrects: the bias it subtracts assumes every
  cell is well sampled.
* shuffle-corrected MI: the plug-in minus the mean plug-in MI of the permutation null
  (see :func:`permutation_test`), also unclipped.

The output neuron's *summed score* is ``S_j = sum_i I(x_i; y_j)``, the paper's
per-neuron quantity.  Its permutation p-value is ``(1 + #{null S >= observed S}) /
(1 + P)`` over ``P`` permutations, and :func:`benjamini_hochberg` controls the false
discovery rate across output neurons.

Vectorisation
-------------
Joint counts of all pairs come from one matrix product ``X.T @ Y`` of 0/1 matrices in
float32, exact for ``N < 2**24``.  For the permutation null the permuted output trains
of many permutations are stacked column-wise so that one matrix product yields the
joint counts of all pairs for all of them.  Because a permutation of the output train
leaves ``a`` and ``b`` unchanged, the MI of a pair is a function of ``n11`` alone; it is
read from a table of exact float64 values indexed by ``(output neuron, input count, n11)``
built once per call, so equal counts always give bit-identical MI values (ties in the
permutation test are exact) and no logarithm is evaluated per pair and permutation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import xlogy

LN2 = float(np.log(2.0))
NULL_METHODS = ("circular_shift", "shuffle")
TIE_TOLERANCE = 1e-10
"""Null scores within this many bits below the observed score count as ties (>=)."""

_FLOAT32_EXACT = 2**24  # 0/1 matrix products in float32 are exact below this many steps
_TABLE_LIMIT = 2**22  # entries of the MI lookup table (32 MiB); larger: direct evaluation
_CHUNK_ELEMENTS = 2**20  # (input, output, permutation) MI values held per chunk

SeedLike = int | Sequence[int] | np.random.SeedSequence | np.random.Generator | None


# --------------------------------------------------------------------------- entropy


def binary_entropy(p: ArrayLike) -> NDArray[np.float64]:
    """Entropy in bits of a Bernoulli variable with success probability ``p``.

    ``H(p) = -p log2 p - (1 - p) log2 (1 - p)``, with ``H(0) = H(1) = 0``.
    Raises ``ValueError`` if any ``p`` lies outside [0, 1].
    """
    p = np.asarray(p, dtype=np.float64)
    if np.any((p < 0) | (p > 1)) or np.any(np.isnan(p)):
        raise ValueError("binary_entropy: probabilities must lie in [0, 1]")
    return (0.0 - (xlogy(p, p) + xlogy(1.0 - p, 1.0 - p))) / LN2


def spike_entropy(trains: ArrayLike, axis: int = 0) -> NDArray[np.float64]:
    """Per-neuron entropy in bits of the per-step spike probability.

    ``p = mean over `axis` (time) of the 0/1 train``; returns ``binary_entropy(p)``
    with ``axis`` removed.  This is the paper's neuron entropy (p = spikes / T).
    """
    arr = np.asarray(trains)
    _check_binary(arr, "trains")
    return binary_entropy(arr.mean(axis=axis, dtype=np.float64))


# ------------------------------------------------------------ counts and plug-in MI


@dataclass(frozen=True)
class JointCounts:
    """Counts over the ``n`` (input, output) pairs of :func:`joint_counts`.

    ``n11[i, j]`` = #{x_i = 1 and y_j = 1}, ``n_x[i]`` = #{x_i = 1},
    ``n_y[j]`` = #{y_j = 1}; all int64.
    """

    n11: NDArray[np.int64]
    n_x: NDArray[np.int64]
    n_y: NDArray[np.int64]
    n: int


def joint_counts(x: ArrayLike, y: ArrayLike, lag: int = 0) -> JointCounts:
    """Joint and marginal spike counts of every (input, output) pair at ``lag``.

    ``x``: (T, n_in) or (R, T, n_in); ``y``: (T, n_out) or (R, T, n_out), 0/1.
    Pairs are ``(x[t], y[t + lag])``, ``t = 0 .. T-1-lag``, within each repeat.
    """
    xs, ys = _lagged_matrices(x, y, lag)
    return _counts(xs, ys)


def mi_from_counts(n11: ArrayLike, n_x: ArrayLike, n_y: ArrayLike, n: int) -> NDArray[np.float64]:
    """Plug-in MI in bits of two binary variables from their counts (broadcasting).

    ``n11``: joint count of (1, 1); ``n_x``, ``n_y``: counts of 1 in each variable;
    ``n``: number of observations.  Raises ``ValueError`` for inconsistent counts.
    """
    n = int(n)
    n11, n_x, n_y = (np.asarray(v, dtype=np.int64) for v in (n11, n_x, n_y))
    if n < 1:
        raise ValueError(f"mi_from_counts: n must be >= 1, got {n}")
    if (np.any(n11 < 0) or np.any(n11 > np.minimum(n_x, n_y))
            or np.any(n_x > n) or np.any(n_y > n) or np.any(n - n_x - n_y + n11 < 0)):
        raise ValueError("mi_from_counts: counts are inconsistent (need 0 <= n11 <= min(n_x, n_y), "
                         "n_x, n_y <= n and n - n_x - n_y + n11 >= 0)")
    return _mi_cells(n11, n_x, n_y, n, _log_table(n))


def miller_madow_bias(n11: ArrayLike, n_x: ArrayLike, n_y: ArrayLike, n: int) -> NDArray[np.float64]:
    """First-order (Miller-Madow) bias in bits of the plug-in MI of two binary variables.

    ``(m_xy - m_x - m_y + 1) / (2 n ln 2)``, ``m`` = number of non-empty cells of the
    joint (up to 4) and marginal (up to 2) histograms.  Subtract it from the plug-in.
    """
    n11, n_x, n_y = (np.asarray(v, dtype=np.int64) for v in (n11, n_x, n_y))
    m_xy = ((n11 > 0).astype(np.int64) + (n_x - n11 > 0) + (n_y - n11 > 0)
            + (n - n_x - n_y + n11 > 0))
    m_x = 1 + ((n_x > 0) & (n_x < n))
    m_y = 1 + ((n_y > 0) & (n_y < n))
    return (m_xy - m_x - m_y + 1) / (2.0 * n * LN2)


def plugin_mi(x: ArrayLike, y: ArrayLike, lag: int = 0) -> NDArray[np.float64]:
    """Plug-in MI in bits between ``x[t]`` and ``y[t + lag]`` for every pair.

    ``x``: (T, n_in) or (R, T, n_in); ``y``: (T, n_out) or (R, T, n_out), 0/1.
    Returns (n_in, n_out).  Equals sklearn's ``mutual_info_classif(x, y_j,
    discrete_features=True) / ln 2`` at lag 0.
    """
    c = joint_counts(x, y, lag)
    return _mi_cells(c.n11, c.n_x[:, None], c.n_y[None, :], c.n, _log_table(c.n))


def miller_madow_mi(x: ArrayLike, y: ArrayLike, lag: int = 0) -> NDArray[np.float64]:
    """Miller-Madow corrected MI in bits for every pair, (n_in, n_out), unclipped."""
    c = joint_counts(x, y, lag)
    mi = _mi_cells(c.n11, c.n_x[:, None], c.n_y[None, :], c.n, _log_table(c.n))
    return mi - miller_madow_bias(c.n11, c.n_x[:, None], c.n_y[None, :], c.n)


def mi_from_contingency(table: ArrayLike) -> NDArray[np.float64]:
    """Plug-in MI in bits of the contingency table(s) ``table[..., rows, cols]`` of counts.

    ``sum_rc n_rc [(ln n_rc - ln n_r.) + (ln N - ln n_.c)] / (N ln 2)``, exactly 0 for a
    table with one non-empty row or column, and 0 for an empty table.
    """
    t = np.asarray(table, dtype=np.float64)
    rows = t.sum(axis=-1, keepdims=True)
    cols = t.sum(axis=-2, keepdims=True)
    n = t.sum(axis=(-2, -1), keepdims=True)
    with np.errstate(divide="ignore"):
        log_t, log_r, log_c, log_n = (np.log(np.where(v > 0, v, 1.0)) for v in (t, rows, cols, n))
    total = (t * ((log_t - log_r) + (log_n - log_c))).sum(axis=(-2, -1))
    n = n[..., 0, 0]
    return np.where(n > 0, np.maximum(total / (np.where(n > 0, n, 1.0) * LN2), 0.0), 0.0)


def miller_madow_bias_contingency(table: ArrayLike) -> NDArray[np.float64]:
    """Miller-Madow bias in bits of the plug-in MI of ``table[..., rows, cols]``.

    ``(m_rc - m_r - m_c + 1) / (2 N ln 2)`` with ``m`` the non-empty cell counts.
    """
    t = np.asarray(table)
    n = t.sum(axis=(-2, -1)).astype(np.float64)
    m_rc = (t > 0).sum(axis=(-2, -1))
    m_r = (t.sum(axis=-1) > 0).sum(axis=-1)
    m_c = (t.sum(axis=-2) > 0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (m_rc - m_r - m_c + 1) / (2.0 * n * LN2), 0.0)


# ------------------------------------------------------------- multiple testing


def permutation_p_value(observed: ArrayLike, null: ArrayLike,
                        weights: ArrayLike | None = None) -> NDArray[np.float64]:
    """One-sided permutation p-value ``(1 + #{null >= observed}) / (1 + P)``.

    ``null``: (P, ...) null statistics, ``observed``: (...).  ``weights`` (same shape
    as ``null``) are multiplicities of the null rows (P = their column sum).  Null values
    within :data:`TIE_TOLERANCE` below ``observed`` count as ties (>=).
    """
    obs = np.asarray(observed, dtype=np.float64)
    nul = np.asarray(null, dtype=np.float64)
    w = np.ones_like(nul) if weights is None else np.asarray(weights, dtype=np.float64)
    exceed = (w * (nul >= obs - TIE_TOLERANCE)).sum(axis=0)
    return (1.0 + exceed) / (1.0 + w.sum(axis=0))


def benjamini_hochberg(p_values: ArrayLike, alpha: float,
                       axis: int = -1) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """Benjamini-Hochberg step-up procedure along ``axis``.

    With the ``m`` p-values sorted, ``p_(1) <= ... <= p_(m)``, rejects the ``k*`` smallest
    for the largest ``k*`` with ``p_(k*) <= k* alpha / m`` (none if there is no such
    ``k*``).  Returns ``(reject, q)`` with the adjusted p-values
    ``q_(k) = min(1, min_{l >= k} m p_(l) / l)``, monotone in p (``reject`` agrees with
    ``q <= alpha`` up to rounding at the boundary).  Controls the false discovery rate at
    ``alpha`` for independent or positively dependent tests.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"benjamini_hochberg: alpha must lie in (0, 1), got {alpha}")
    p = np.moveaxis(np.asarray(p_values, dtype=np.float64), axis, -1)
    if np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("benjamini_hochberg: p-values must lie in [0, 1] (no NaN)")
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1)
    rank = np.arange(1, m + 1)
    below = ranked <= alpha * rank / m
    reject_sorted = np.logical_or.accumulate(below[..., ::-1], axis=-1)[..., ::-1]
    q_sorted = np.minimum.accumulate((ranked * m / rank)[..., ::-1], axis=-1)[..., ::-1]
    reject = np.empty_like(reject_sorted)
    q = np.empty_like(ranked)
    np.put_along_axis(reject, order, reject_sorted, axis=-1)
    np.put_along_axis(q, order, np.minimum(q_sorted, 1.0), axis=-1)
    return np.moveaxis(reject, -1, axis), np.moveaxis(q, -1, axis)


# ------------------------------------------------------------- permutation test


@dataclass(frozen=True)
class PermutationResult:
    """Observed MI and its permutation null for all (input, output) pairs; bits.

    Pair arrays are (n_in, n_out); per-output arrays are (n_out,), where the summed
    score is the sum over inputs (the paper's per-neuron score).
    """

    lag: int
    null: str
    permutations: int
    """Null draws used per output neuron (P)."""
    n_pairs: int
    """Number of time pairs N the estimates use (R (T - lag) when pooling R repeats)."""
    mi: NDArray[np.float64]
    """Plug-in MI per pair."""
    mi_miller_madow: NDArray[np.float64]
    """Miller-Madow corrected MI per pair (unclipped)."""
    mi_null_mean: NDArray[np.float64]
    """Mean plug-in MI per pair over the permutation null."""
    mi_sum: NDArray[np.float64]
    """Summed plug-in score per output neuron."""
    mi_sum_null_mean: NDArray[np.float64]
    """Mean of the summed score over the null."""
    mi_sum_null_std: NDArray[np.float64]
    """Standard deviation (ddof 0) of the summed score over the null."""
    p_value: NDArray[np.float64]
    """Permutation p-value of the summed score, (1 + #{null >= obs}) / (1 + P)."""

    @property
    def mi_shuffle_corrected(self) -> NDArray[np.float64]:
        """Plug-in minus null mean per pair (unclipped)."""
        return self.mi - self.mi_null_mean

    @property
    def mi_sum_miller_madow(self) -> NDArray[np.float64]:
        """Summed Miller-Madow corrected score per output neuron (unclipped)."""
        return self.mi_miller_madow.sum(axis=0)

    @property
    def mi_sum_shuffle_corrected(self) -> NDArray[np.float64]:
        """Summed plug-in score minus its null mean per output neuron (unclipped)."""
        return self.mi_sum - self.mi_sum_null_mean

    def significant(self, alpha: float) -> NDArray[np.bool_]:
        """Benjamini-Hochberg rejections across output neurons at FDR ``alpha``."""
        return benjamini_hochberg(self.p_value, alpha)[0]


def permutation_test(x: ArrayLike, y: ArrayLike, lag: int = 0, permutations: int = 1000,
                     null: str = "circular_shift", seed: SeedLike = None, *,
                     chunk_elements: int = _CHUNK_ELEMENTS) -> PermutationResult:
    """Plug-in, Miller-Madow and shuffle-corrected MI with a permutation null; bits.

    ``x``: (T, n_in) or (R, T, n_in); ``y``: (T, n_out) or (R, T, n_out), 0/1; pairs
    ``(x[t], y[t + lag])`` within each repeat.  The null permutes each *output* train
    in time, independently for every output neuron (and every repeat), keeping its
    spike count and the inputs fixed:

    * ``circular_shift``: rotate the train, preserving its autocorrelation.  With one
      repeat the null uses distinct offsets drawn without replacement from
      ``1 .. T_eff - 1`` (``T_eff = T - lag``); there are only ``T_eff - 1`` of them, so
      with ``permutations >= T_eff - 1`` the null is their complete enumeration (the exact
      test) and the smallest p-value is ``1 / T_eff``.  With ``R > 1`` repeats each repeat
      gets its own offset, uniform on ``0 .. T_eff - 1``, draws with replacement.
    * ``shuffle``: a uniformly random permutation of the time steps (with replacement);
      it destroys temporal structure too, so it is anti-conservative for outputs with
      autocorrelation (bursts, refractoriness).

    Both designs keep ``(1 + #{null >= observed}) / (1 + P)`` a valid p-value (Hemerik &
    Goeman 2018, TEST 27:811); drawing shifts *with* replacement from the non-identity
    shifts would not be once ``P`` approaches ``T_eff``.  ``P`` (``result.permutations``)
    is the number of null draws actually used per output neuron,
    ``min(permutations, T_eff - 1)`` for one repeat under ``circular_shift``.

    ``seed`` seeds a ``numpy.random.Generator`` (or is one); results do not depend on
    ``chunk_elements``, which only bounds the memory (MI values held per chunk).
    """
    if null not in NULL_METHODS:
        raise ValueError(f"null must be one of {NULL_METHODS}, got {null!r}")
    if int(permutations) < 1:
        raise ValueError(f"permutations must be >= 1, got {permutations}")
    permutations = int(permutations)
    xs, ys = _lagged_matrices(x, y, lag)
    n_rep, t_eff = xs.shape[0], xs.shape[1]
    if null == "circular_shift" and t_eff < 2:
        raise ValueError(f"circular_shift needs at least 2 time pairs per repeat; "
                         f"T - lag = {t_eff}")
    counts = _counts(xs, ys)
    n_in, n_out, n = counts.n_x.size, counts.n_y.size, counts.n
    pair_mi = _PairMI(counts.n_x, counts.n_y, n)

    mi = pair_mi(counts.n11[:, None, :])[:, 0, :]
    mi_sum = mi.sum(axis=0)
    mm = mi - miller_madow_bias(counts.n11, counts.n_x[:, None], counts.n_y[None, :], n)

    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    plan = _NullPlan(null, rng, permutations, n_out, n_rep, t_eff)
    x_mat = xs.reshape(n, n_in)
    y_t = np.ascontiguousarray(ys.reshape(n, n_out).T)  # (n_out, N)
    out_index = np.arange(n_out)[None, :, None]
    null_sums = np.empty((plan.n_draws, n_out))
    pair_null_total = np.zeros((n_in, n_out))
    step = max(1, int(chunk_elements) // (n_in * n_out))
    for start in range(0, plan.n_draws, step):
        stop = min(start + step, plan.n_draws)
        y_perm = y_t[out_index, plan.time_indices(start, stop)]  # (draws, n_out, N)
        n11 = x_mat.T @ y_perm.reshape(-1, n).T  # (n_in, draws * n_out)
        values = pair_mi(n11.reshape(n_in, stop - start, n_out))
        null_sums[start:stop] = values.sum(axis=0)
        pair_null_total += np.einsum("idj,dj->ij", values, plan.weights[start:stop])

    w = plan.weights
    null_mean = (w * null_sums).sum(axis=0) / plan.permutations
    null_std = np.sqrt((w * (null_sums - null_mean) ** 2).sum(axis=0) / plan.permutations)
    return PermutationResult(
        lag=int(lag), null=null, permutations=plan.permutations, n_pairs=n,
        mi=mi, mi_miller_madow=mm, mi_null_mean=pair_null_total / plan.permutations,
        mi_sum=mi_sum, mi_sum_null_mean=null_mean, mi_sum_null_std=null_std,
        p_value=permutation_p_value(mi_sum, null_sums, w),
    )


# ------------------------------------------------------------------- internals


def _check_binary(arr: np.ndarray, name: str) -> None:
    if arr.dtype == np.bool_:
        return
    if not np.all((arr == 0) | (arr == 1)):
        raise ValueError(f"{name} must contain only 0 and 1 (binary spike trains)")


def _as_repeats(arr: ArrayLike, name: str) -> np.ndarray:
    a = np.asarray(arr)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ValueError(f"{name} must be (T,), (T, n) or (repeats, T, n); got shape {a.shape}")
    _check_binary(a, name)
    return a


def _lagged_matrices(x: ArrayLike, y: ArrayLike, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate and return float32 ``(R, T - lag, n)`` arrays of paired x[t], y[t + lag]."""
    xs, ys = _as_repeats(x, "x"), _as_repeats(y, "y")
    if xs.shape[1] != ys.shape[1]:
        raise ValueError(f"x and y must have the same number of time steps: "
                         f"x has {xs.shape[1]}, y has {ys.shape[1]}")
    if xs.shape[0] != ys.shape[0]:
        raise ValueError(f"x and y must have the same number of repeats: "
                         f"x has {xs.shape[0]}, y has {ys.shape[0]}")
    if isinstance(lag, bool) or int(lag) != lag:
        raise ValueError(f"lag must be an integer, got {lag!r}")
    lag = int(lag)
    t = xs.shape[1]
    if not 0 <= lag < t:
        raise ValueError(f"lag must satisfy 0 <= lag < T = {t}, got {lag}")
    n = xs.shape[0] * (t - lag)
    dtype = np.float32 if n < _FLOAT32_EXACT else np.float64
    return (np.ascontiguousarray(xs[:, : t - lag], dtype=dtype),
            np.ascontiguousarray(ys[:, lag:], dtype=dtype))


def _counts(xs: np.ndarray, ys: np.ndarray) -> JointCounts:
    n = xs.shape[0] * xs.shape[1]
    x_mat, y_mat = xs.reshape(n, -1), ys.reshape(n, -1)
    return JointCounts(
        n11=np.rint(x_mat.T @ y_mat).astype(np.int64),
        n_x=np.rint(x_mat.sum(axis=0, dtype=np.float64)).astype(np.int64),
        n_y=np.rint(y_mat.sum(axis=0, dtype=np.float64)).astype(np.int64),
        n=n,
    )


def _log_table(n: int) -> NDArray[np.float64]:
    """``ln k`` for k = 0 .. n, with ``ln 0`` replaced by 0 (it is always multiplied by 0)."""
    k = np.arange(n + 1, dtype=np.float64)
    k[0] = 1.0
    return np.log(k)


def _mi_cells(n11: np.ndarray, n_x: np.ndarray, n_y: np.ndarray, n: int,
              log: NDArray[np.float64]) -> NDArray[np.float64]:
    """Plug-in MI in bits from consistent integer counts (broadcasting); ``log = _log_table(n)``.

    ``sum_cells n_uv [(ln n_uv - ln n_u.) + (ln n - ln n_.v)] / (n ln 2)``: the grouping
    makes the MI exactly 0 when either variable is constant.  The single definition used
    both directly and to fill :class:`_PairMI`'s table, so both give bit-identical values.
    Rounding below 0 is clipped (plug-in MI is >= 0).
    """
    n_x0, n_y0 = n - n_x, n - n_y
    n10, n01 = n_x - n11, n_y - n11
    n00 = n_x0 - n01
    log_n = log[n]
    total = (n11 * ((log[n11] - log[n_x]) + (log_n - log[n_y]))
             + n10 * ((log[n10] - log[n_x]) + (log_n - log[n_y0]))
             + n01 * ((log[n01] - log[n_x0]) + (log_n - log[n_y]))
             + n00 * ((log[n00] - log[n_x0]) + (log_n - log[n_y0])))
    return np.maximum(total / (n * LN2), 0.0)


class _PairMI:
    """Plug-in MI (bits) of every (input i, output j) pair as a function of ``n11[i, ..., j]``.

    Marginal counts are fixed, so MI depends on ``n11`` only.  When small enough, a table
    ``[j, rank of n_x[i], n11]`` is precomputed with :func:`_mi_cells` and indexed by a
    precomputed per-pair base plus ``n11``; otherwise :func:`_mi_cells` is evaluated directly.
    """

    def __init__(self, n_x: NDArray[np.int64], n_y: NDArray[np.int64], n: int) -> None:
        self._n_x, self._n_y, self._n = n_x, n_y, n
        self._log = _log_table(n)
        k_max = int(min(n_x.max(initial=0), n_y.max(initial=0)))
        x_values, x_rank = np.unique(n_x, return_inverse=True)
        self._table: NDArray[np.float64] | None = None
        if n_y.size * x_values.size * (k_max + 1) <= _TABLE_LIMIT:
            k = np.arange(k_max + 1)[None, None, :]
            a = x_values[None, :, None]
            b = n_y[:, None, None]
            valid = (k <= a) & (k <= b) & (n - a - b + k >= 0)
            table = _mi_cells(np.where(valid, k, 0), np.where(valid, a, 0),
                              np.where(valid, b, 0), n, self._log)
            self._table = np.where(valid, table, 0.0).ravel()
            base = (np.arange(n_y.size)[None, :] * x_values.size + x_rank.reshape(-1)[:, None])
            self._base = (base * (k_max + 1)).astype(np.intp)[:, None, :]  # (n_in, 1, n_out)

    def __call__(self, n11: np.ndarray) -> NDArray[np.float64]:
        """MI for joint counts shaped (n_in, draws, n_out) (any numeric dtype holding integers)."""
        index = n11.astype(np.intp)
        if self._table is None:
            return _mi_cells(index, self._n_x[:, None, None], self._n_y[None, None, :],
                             self._n, self._log)
        index += self._base
        return self._table.take(index)


class _NullPlan:
    """The permutation null as a grid of draws x output neurons with 0/1 weights.

    ``weights[d, j]`` says whether draw ``d`` belongs to output neuron ``j``'s null
    (``permutations`` = the number of draws per neuron, the column sums);
    ``time_indices(start, stop)`` gives, for draws ``start:stop``, the time index into the
    concatenated (repeat-major) output train of every permuted step, shaped
    (draws, n_out or 1, R * T_eff).  Shuffle draws must be requested in order.
    """

    def __init__(self, null: str, rng: np.random.Generator, permutations: int,
                 n_out: int, n_rep: int, t_eff: int) -> None:
        self._null, self._rng = null, rng
        self._n_out, self._n_rep, self._t_eff = n_out, n_rep, t_eff
        self._repeat_base = (np.arange(n_rep) * t_eff)[:, None]  # (R, 1)
        self._next = 0
        if null == "circular_shift" and n_rep == 1:
            # Distinct non-identity shifts, without replacement; rows = shifts in use.
            shifts = np.arange(1, t_eff)
            if permutations >= shifts.size:
                chosen = np.broadcast_to(shifts, (n_out, shifts.size))
            else:
                chosen = rng.permuted(np.broadcast_to(shifts, (n_out, shifts.size)),
                                      axis=1)[:, :permutations]
            member = np.zeros((t_eff, n_out))
            member[chosen, np.arange(n_out)[:, None]] = 1.0
            self._offsets = np.flatnonzero(member.any(axis=1))
            self.weights = member[self._offsets]
        else:
            if null == "circular_shift":  # one offset per repeat, uniform on the whole group
                self._offsets = rng.integers(0, t_eff, size=(permutations, n_out, n_rep))
            self.weights = np.ones((permutations, n_out))
        self.n_draws = self.weights.shape[0]
        self.permutations = int(self.weights.sum(axis=0).max(initial=0))

    def time_indices(self, start: int, stop: int) -> NDArray[np.intp]:
        t = np.arange(self._t_eff)
        if self._null == "circular_shift":
            if self._n_rep == 1:
                return ((t[None, :] + self._offsets[start:stop, None]) % self._t_eff)[:, None, :]
            shifted = (t + self._offsets[start:stop, :, :, None]) % self._t_eff
            return (shifted + self._repeat_base).reshape(stop - start, self._n_out, -1)
        if start != self._next:
            raise RuntimeError("shuffle draws must be requested in order")
        self._next = stop
        ordered = np.broadcast_to(t, (self._n_out, self._n_rep, self._t_eff))
        draws = [self._rng.permuted(ordered, axis=-1) for _ in range(stop - start)]
        return (np.stack(draws) + self._repeat_base).reshape(stop - start, self._n_out, -1)
