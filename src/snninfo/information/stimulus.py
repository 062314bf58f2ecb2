"""Stimulus information over the test set: I(class; response) in bits.

Two quantities, both from contingency tables over the ``n`` test samples:

* ``I(class; K_j)`` for every output neuron ``j``, ``K_j`` its spike count per test
  image, binned as the integer count with every count ``>= count_cap`` in one bin
  (``count_cap`` = :data:`DEFAULT_COUNT_CAP` unless given): the table is
  classes x ``count_cap + 1`` bins.  The cap keeps the table, and hence the plug-in
  bias, bounded for the rare neurons with very high counts.
* ``I(class; prediction)`` from the confusion matrix of a prediction scheme; the
  prediction ``-1`` (silent sample, no vote) is a category of its own.

Each is reported as the plug-in MI, the Miller-Madow corrected MI
(``- (m_cr - m_c - m_r + 1) / (2 n ln 2)``, non-empty cell counts) and the
shuffle-corrected MI (plug-in minus the mean over ``P`` random permutations of the
class labels, which keeps both marginals), with the permutation p-value
``(1 + #{null >= observed}) / (1 + P)``.  One label permutation is shared by all
neurons of a draw.  All values are unclipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from snninfo.information.estimators import (
    SeedLike,
    benjamini_hochberg,
    mi_from_contingency,
    miller_madow_bias_contingency,
    permutation_p_value,
)

DEFAULT_COUNT_CAP = 20
"""Spike counts >= this value share one bin in I(class; count)."""

_CHUNK_CELLS = 2**22  # contingency-table cells held per chunk of permutations


@dataclass(frozen=True)
class StimulusResult:
    """I(class; response) per response variable (trailing shape of the inputs), bits."""

    mi: NDArray[np.float64]
    """Plug-in MI."""
    mi_miller_madow: NDArray[np.float64]
    """Miller-Madow corrected MI (unclipped)."""
    mi_null_mean: NDArray[np.float64]
    """Mean plug-in MI over the label-permutation null."""
    p_value: NDArray[np.float64]
    """Permutation p-value (1 + #{null >= observed}) / (1 + P)."""
    permutations: int
    n_samples: int

    @property
    def mi_shuffle_corrected(self) -> NDArray[np.float64]:
        """Plug-in minus the null mean (unclipped)."""
        return self.mi - self.mi_null_mean

    def significant(self, alpha: float) -> NDArray[np.bool_]:
        """Benjamini-Hochberg rejections across the response variables at FDR ``alpha``."""
        return benjamini_hochberg(np.atleast_1d(self.p_value), alpha)[0].reshape(self.p_value.shape)


def bin_counts(counts: ArrayLike, count_cap: int = DEFAULT_COUNT_CAP) -> NDArray[np.int64]:
    """Bin spike counts: bin ``k`` holds count ``k`` for ``k < count_cap``, bin ``count_cap``
    holds every count ``>= count_cap``.  Raises ``ValueError`` for negative counts."""
    c = np.asarray(counts)
    if count_cap < 1:
        raise ValueError(f"count_cap must be >= 1, got {count_cap}")
    if np.any(c < 0):
        raise ValueError("spike counts must be non-negative")
    return np.minimum(c.astype(np.int64), count_cap)


def class_entropy(labels: ArrayLike) -> float:
    """Plug-in entropy in bits of the class distribution (upper bound of I(class; .))."""
    _, n = np.unique(np.asarray(labels), return_counts=True)
    p = n / n.sum()
    return float(-(p * np.log2(p)).sum())


def count_information(spike_count: ArrayLike, labels: ArrayLike, permutations: int,
                      seed: SeedLike = None,
                      count_cap: int = DEFAULT_COUNT_CAP) -> StimulusResult:
    """I(class; binned spike count) for every neuron; results shaped (n_neurons,).

    ``spike_count``: (n_samples, n_neurons) non-negative integers; ``labels``: (n_samples,).
    """
    counts = np.asarray(spike_count)
    if counts.ndim != 2:
        raise ValueError(f"spike_count must be (n_samples, n_neurons), got shape {counts.shape}")
    return _categorical_information(labels, bin_counts(counts, count_cap), permutations, seed)


def prediction_information(labels: ArrayLike, predictions: ArrayLike, permutations: int,
                           seed: SeedLike = None) -> StimulusResult:
    """I(class; prediction) from the confusion matrix; results are 0-d arrays.

    Every distinct prediction value, including ``-1`` (silent), is its own category.
    """
    preds = np.asarray(predictions)
    if preds.ndim != 1:
        raise ValueError(f"predictions must be 1-D, got shape {preds.shape}")
    codes = np.unique(preds, return_inverse=True)[1].reshape(-1, 1)
    res = _categorical_information(labels, codes, permutations, seed)
    return StimulusResult(
        mi=res.mi[0], mi_miller_madow=res.mi_miller_madow[0], mi_null_mean=res.mi_null_mean[0],
        p_value=res.p_value[0], permutations=res.permutations, n_samples=res.n_samples,
    )


def _categorical_information(labels: ArrayLike, codes: NDArray[np.int64], permutations: int,
                             seed: SeedLike) -> StimulusResult:
    """I(label; codes[:, v]) for every column v of non-negative integer ``codes``."""
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.shape[0] != codes.shape[0]:
        raise ValueError(f"labels must be 1-D with one entry per sample: labels {lab.shape}, "
                         f"responses {codes.shape}")
    if int(permutations) < 1:
        raise ValueError(f"permutations must be >= 1, got {permutations}")
    permutations = int(permutations)
    n_samples, n_var = codes.shape
    if n_samples == 0:
        raise ValueError("no samples")
    lab_codes = np.unique(lab, return_inverse=True)[1].reshape(-1)
    n_lab = int(lab_codes.max()) + 1
    n_lev = int(codes.max()) + 1
    lab_totals = np.bincount(lab_codes, minlength=n_lab)
    # Level 0 (e.g. zero spikes) dominates; count only the other entries and fill level 0
    # from the (permutation-invariant) class totals.
    rows, cols = np.nonzero(codes)
    cell_base = cols * (n_lab * n_lev) + codes[rows, cols]
    var_cells = n_var * n_lab * n_lev

    def tables(label_draws: NDArray[np.int64]) -> NDArray[np.int64]:
        draws = label_draws.shape[0]
        index = (np.arange(draws)[:, None] * var_cells + cell_base[None, :]
                 + label_draws[:, rows] * n_lev)
        t = np.bincount(index.ravel(), minlength=draws * var_cells).reshape(
            draws, n_var, n_lab, n_lev)
        t[..., 0] = lab_totals - t[..., 1:].sum(axis=-1)
        return t

    observed = tables(lab_codes[None, :])[0]
    mi = mi_from_contingency(observed)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    null = np.empty((permutations, n_var))
    step = max(1, _CHUNK_CELLS // max(var_cells, rows.size))
    for start in range(0, permutations, step):
        stop = min(start + step, permutations)
        draws = np.stack([rng.permutation(lab_codes) for _ in range(stop - start)])
        null[start:stop] = mi_from_contingency(tables(draws))
    return StimulusResult(
        mi=mi, mi_miller_madow=mi - miller_madow_bias_contingency(observed),
        mi_null_mean=null.mean(axis=0), p_value=permutation_p_value(mi, null),
        permutations=permutations, n_samples=n_samples,
    )
