"""The ``information`` step: spikes.nc (+ evaluation.nc) -> information.nc.

For every recorded sample and lag, :func:`snninfo.information.estimators.permutation_test`
gives the plug-in, Miller-Madow and shuffle-corrected MI of every (input, output) pair,
the summed score per output neuron with its permutation p-value, and Benjamini-Hochberg
flags across the output neurons of that sample and lag.  The same is done *pooled* over
the repeats (independent Poisson draws) of each test image (dimension ``pooled_sample``);
an image recorded once reuses its per-sample result.  With an evaluation file, the
stimulus information over the whole test set is added (see
:mod:`snninfo.information.stimulus`).

information.nc
--------------
Units are bits, ``1`` for p-values and flags, ``nats`` for ``paper_mi_sum_nats`` only.
``X`` stands for the configured correction (``shuffle`` or ``miller_madow``).

* ``input_entropy`` (sample, input_neuron), ``output_entropy`` (sample, output_neuron):
  ``H(p)``, ``p`` = spikes / time steps.
* ``mi``, ``mi_corrected`` (sample, lag, input_neuron, output_neuron), float32: plug-in and
  X-corrected MI of every pair.
* (sample, lag, output_neuron): ``mi_sum`` (sum of ``mi`` over inputs, the paper's score),
  ``mi_sum_corrected`` (X), ``mi_sum_miller_madow``, ``mi_sum_shuffle_corrected``
  (``mi_sum`` minus the null mean), ``mi_sum_null_mean``, ``mi_sum_null_std``,
  ``p_value`` (permutation p-value of ``mi_sum``), ``q_value`` (Benjamini-Hochberg
  adjusted), ``significant`` (bool, BH at FDR ``alpha`` across output neurons).
* ``null_draws`` (sample, lag): null draws used per output neuron (under ``circular_shift``
  at most ``T - lag - 1``, the number of distinct shifts).
* ``paper_mi_sum_nats`` (sample, output_neuron): the paper's score (lag-0 plug-in sum, nats);
  ``paper_mi_positive`` (bool): the paper's "MI > 0" criterion (> 1e-6 nats).
* ``pooled_`` + each of the above (except the paper's), with ``pooled_sample`` in place of
  ``sample``: repeats of one test image pooled.
* ``class_entropy`` (): plug-in H(class) over the test set.
* ``stimulus_mi``, ``stimulus_mi_corrected``, ``stimulus_mi_miller_madow``,
  ``stimulus_mi_shuffle_corrected``, ``stimulus_mi_null_mean``, ``stimulus_p_value``,
  ``stimulus_q_value``, ``stimulus_significant`` (output_neuron): I(class; spike count).
* ``prediction_mi``, ``prediction_mi_corrected``, ``prediction_mi_miller_madow``,
  ``prediction_mi_shuffle_corrected``, ``prediction_mi_null_mean``, ``prediction_p_value``
  (scheme): I(class; prediction).

Coordinates: ``sample`` with ``label``, ``test_index``, ``repeat`` (copied from
spikes.nc); ``lag`` (steps); ``input_neuron``; ``output_neuron``; ``pooled_sample`` with
``pooled_test_index``, ``pooled_label``, ``n_repeats``; ``scheme`` = ``all_activity``,
``proportion_weighting``.  The stimulus and prediction variables are present only when
an evaluation file is given.  Global attributes: the settings (``lags``,
``permutations``, ``null_model``, ``alpha``, ``correction``, ``seed``), the estimator
definitions (``estimator_*``), ``tie_tolerance_bits``, ``stimulus_count_cap`` and the
provenance of :func:`snninfo.io.provenance` with ``dataset``, ``n_neurons``, ``dt``.

Random streams are ``numpy.random.default_rng([seed, kind, id, lag])`` with kind 0 for a
sample (id = its ``sample`` coordinate), 1 for a pooled image (id = its test index), 2 for
the spike-count stimulus information and 3 for the prediction schemes (id = scheme index),
so no result depends on the order of processing.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import xarray as xr

from snninfo import config as _config
from snninfo.information.estimators import (
    LN2,
    NULL_METHODS,
    TIE_TOLERANCE,
    PermutationResult,
    benjamini_hochberg,
    permutation_test,
    plugin_mi,
    spike_entropy,
)
from snninfo.information.stimulus import (
    DEFAULT_COUNT_CAP,
    StimulusResult,
    class_entropy,
    count_information,
    prediction_information,
)
from snninfo.io import provenance, write_netcdf

log = logging.getLogger(__name__)

CORRECTIONS = ("shuffle", "miller_madow")
PREDICTION_SCHEMES = {
    "all_activity": "prediction_all_activity",
    "proportion_weighting": "prediction_proportion_weighting",
}
PAPER_THRESHOLD_NATS = 1e-6
"""The paper lists a neuron as "MI > 0" when its summed lag-0 plug-in MI exceeds this (nats)."""

ESTIMATORS = {
    "estimator_entropy": "H(p) = -p log2 p - (1-p) log2(1-p), p = spikes / time steps",
    "estimator_mi": ("plug-in MI in bits between input x_i[t] and output y_j[t + lag], "
                     "t = 0..T-1-lag (pairs within one repeat)"),
    "estimator_miller_madow": ("plug-in minus (m_xy - m_x - m_y + 1) / (2 N ln 2), m = non-empty "
                               "cells, N = time pairs; unclipped"),
    "estimator_shuffle": "plug-in minus the mean plug-in MI of the permutation null; unclipped",
    "estimator_null": ("each output train permuted in time independently per output neuron, "
                       "inputs fixed; circular_shift, one repeat: distinct offsets in 1..T-lag-1 "
                       "without replacement (all of them, the exact test, when permutations >= "
                       "T-lag-1); circular_shift, pooled repeats: one offset per repeat uniform in "
                       "0..T-lag-1; shuffle: uniformly random permutation of the time steps of "
                       "each repeat; null_draws = draws used per output neuron"),
    "estimator_p_value": ("summed score S_j = sum_i MI(x_i; y_j); p = (1 + #{null S >= observed S "
                          f"- {TIE_TOLERANCE}}}) / (1 + null_draws); Benjamini-Hochberg across "
                          "output neurons per sample (or pooled sample) and lag"),
    "estimator_pooled": ("time pairs of all repeats of one test image concatenated, lag applied "
                         "within each repeat, null permuted within each repeat"),
    "estimator_stimulus": ("I(class; spike count) per neuron, counts >= stimulus_count_cap in one "
                           "bin; I(class; prediction) with prediction -1 (silent) a category; "
                           "null: permuted class labels"),
    "paper_criterion": (f"paper_mi_positive: summed plug-in MI at lag 0 > {PAPER_THRESHOLD_NATS} "
                        "nats (sklearn mutual_info_classif, discrete features)"),
}


def _attrs(long_name: str, units: str, **extra: str) -> dict[str, str]:
    return {"long_name": long_name, "units": units, **extra}


_SUMMARY_VARS = {
    # name: (PermutationResult attribute or None for the configured correction, long_name)
    "mi_sum": ("mi_sum", "summed plug-in MI over input neurons"),
    "mi_sum_corrected": (None, "summed bias-corrected MI over input neurons (configured correction)"),
    "mi_sum_miller_madow": ("mi_sum_miller_madow", "summed Miller-Madow corrected MI"),
    "mi_sum_shuffle_corrected": ("mi_sum_shuffle_corrected", "summed shuffle-corrected MI"),
    "mi_sum_null_mean": ("mi_sum_null_mean", "mean of the summed MI over the permutation null"),
    "mi_sum_null_std": ("mi_sum_null_std", "standard deviation of the summed MI over the null"),
}


def _check_settings(lags: Sequence[int], permutations: int, null: str, alpha: float,
                    correction: str) -> list[int]:
    lag_list = [int(v) for v in lags]
    if not lag_list or len(set(lag_list)) != len(lag_list) or min(lag_list) < 0:
        raise ValueError(f"lags must be distinct non-negative integers, got {list(lags)}")
    if int(permutations) < 1:
        raise ValueError(f"permutations must be >= 1, got {permutations}")
    if null not in NULL_METHODS:
        raise ValueError(f"null must be one of {NULL_METHODS}, got {null!r}")
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {CORRECTIONS}, got {correction!r}")
    return lag_list


def _corrected(res: PermutationResult | StimulusResult, correction: str) -> np.ndarray:
    """The configured bias-corrected MI of a result."""
    return res.mi_shuffle_corrected if correction == "shuffle" else res.mi_miller_madow


class _Collector:
    """Fills per-(unit, lag) arrays from :class:`PermutationResult`s; unit = sample or pooled."""

    def __init__(self, n_units: int, n_lags: int, n_in: int, n_out: int) -> None:
        self.mi = np.zeros((n_units, n_lags, n_in, n_out), np.float32)
        self.mi_corrected = np.zeros_like(self.mi)
        self.summary = {k: np.zeros((n_units, n_lags, n_out)) for k in _SUMMARY_VARS}
        self.p_value = np.ones((n_units, n_lags, n_out))
        self.null_draws = np.zeros((n_units, n_lags), np.int64)

    def put(self, unit: int, li: int, res: PermutationResult, correction: str) -> None:
        corrected = _corrected(res, correction)
        self.mi[unit, li] = res.mi
        self.mi_corrected[unit, li] = corrected
        for name, (attr, _) in _SUMMARY_VARS.items():
            self.summary[name][unit, li] = (corrected.sum(axis=0) if attr is None
                                            else getattr(res, attr))
        self.p_value[unit, li] = res.p_value
        self.null_draws[unit, li] = res.permutations

    def copy(self, unit: int, other: _Collector, other_unit: int) -> None:
        self.mi[unit], self.mi_corrected[unit] = other.mi[other_unit], other.mi_corrected[other_unit]
        for name in _SUMMARY_VARS:
            self.summary[name][unit] = other.summary[name][other_unit]
        self.p_value[unit] = other.p_value[other_unit]
        self.null_draws[unit] = other.null_draws[other_unit]

    def variables(self, unit_dim: str, prefix: str, alpha: float,
                  correction: str, what: str) -> dict[str, xr.Variable]:
        significant, q_value = benjamini_hochberg(self.p_value, alpha, axis=-1)
        pair_dims = (unit_dim, "lag", "input_neuron", "output_neuron")
        sum_dims = (unit_dim, "lag", "output_neuron")
        out = {
            f"{prefix}mi": xr.Variable(pair_dims, self.mi, _attrs(
                f"plug-in MI between input at t and output at t + lag ({what})", "bits")),
            f"{prefix}mi_corrected": xr.Variable(pair_dims, self.mi_corrected, _attrs(
                f"bias-corrected MI ({what}), correction: {correction}", "bits",
                correction=correction)),
        }
        for name, (_, long_name) in _SUMMARY_VARS.items():
            extra = {"correction": correction} if name == "mi_sum_corrected" else {}
            out[prefix + name] = xr.Variable(sum_dims, self.summary[name],
                                             _attrs(f"{long_name} ({what})", "bits", **extra))
        out[f"{prefix}p_value"] = xr.Variable(sum_dims, self.p_value, _attrs(
            f"permutation p-value of the summed plug-in MI ({what})", "1"))
        out[f"{prefix}q_value"] = xr.Variable(sum_dims, q_value, _attrs(
            f"Benjamini-Hochberg adjusted p-value across output neurons ({what})", "1"))
        out[f"{prefix}null_draws"] = xr.Variable((unit_dim, "lag"), self.null_draws, _attrs(
            f"permutation null draws used per output neuron ({what})", "1"))
        out[f"{prefix}significant"] = xr.Variable(sum_dims, significant, _attrs(
            f"significant after Benjamini-Hochberg at FDR alpha across output neurons ({what})",
            "1", alpha=float(alpha)))
        return out


def _spike_arrays(spikes: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    for name in ("input_spikes", "output_spikes", "label", "test_index", "repeat"):
        if name not in spikes:
            raise ValueError(f"spikes dataset lacks the variable {name!r} (see docs/formats.md)")
    x = spikes["input_spikes"].transpose("sample", "time", "input_neuron").values
    y = spikes["output_spikes"].transpose("sample", "time", "output_neuron").values
    return x, y


def _stimulus_variables(evaluation: xr.Dataset, n_out: int, permutations: int, alpha: float,
                        correction: str, seed: int) -> dict[str, xr.Variable]:
    for name in ("label", "spike_count", *PREDICTION_SCHEMES.values()):
        if name not in evaluation:
            raise ValueError(f"evaluation dataset lacks the variable {name!r} (see docs/formats.md)")
    counts = evaluation["spike_count"].transpose("sample", "output_neuron").values
    if counts.shape[1] != n_out:
        raise ValueError(f"evaluation has {counts.shape[1]} output neurons, spikes has {n_out}")
    labels = evaluation["label"].values
    res = count_information(counts, labels, permutations, np.random.default_rng([seed, 2]))
    significant, q_value = benjamini_hochberg(res.p_value, alpha)
    corrected = _corrected(res, correction)
    n_test = f"{labels.size} test samples"
    dim = ("output_neuron",)
    out = {
        "class_entropy": xr.Variable((), class_entropy(labels), _attrs(
            f"plug-in entropy of the class labels over {n_test}", "bits")),
        "stimulus_mi": xr.Variable(dim, res.mi, _attrs(
            f"plug-in I(class; spike count) over {n_test}", "bits")),
        "stimulus_mi_corrected": xr.Variable(dim, corrected, _attrs(
            f"bias-corrected I(class; spike count), correction: {correction}", "bits",
            correction=correction)),
        "stimulus_mi_miller_madow": xr.Variable(dim, res.mi_miller_madow, _attrs(
            "Miller-Madow corrected I(class; spike count)", "bits")),
        "stimulus_mi_shuffle_corrected": xr.Variable(dim, res.mi_shuffle_corrected, _attrs(
            "shuffle-corrected I(class; spike count)", "bits")),
        "stimulus_mi_null_mean": xr.Variable(dim, res.mi_null_mean, _attrs(
            "mean I(class; spike count) over permuted class labels", "bits")),
        "stimulus_p_value": xr.Variable(dim, res.p_value, _attrs(
            "permutation p-value of I(class; spike count)", "1")),
        "stimulus_q_value": xr.Variable(dim, q_value, _attrs(
            "Benjamini-Hochberg adjusted p-value of I(class; spike count) across neurons", "1")),
        "stimulus_significant": xr.Variable(dim, significant, _attrs(
            "I(class; spike count) significant after Benjamini-Hochberg at FDR alpha", "1",
            alpha=float(alpha))),
    }
    results = [prediction_information(labels, evaluation[var].values, permutations,
                                      np.random.default_rng([seed, 3, k]))
               for k, var in enumerate(PREDICTION_SCHEMES.values())]

    def per_scheme(values: list[Any], long_name: str, units: str = "bits",
                   **extra: str) -> xr.Variable:
        return xr.Variable(("scheme",), np.array(values, dtype=np.float64), _attrs(
            f"{long_name} over {n_test}; prediction -1 (silent) is a category", units, **extra))

    out["prediction_mi"] = per_scheme([r.mi for r in results], "plug-in I(class; prediction)")
    out["prediction_mi_corrected"] = per_scheme(
        [_corrected(r, correction) for r in results],
        f"bias-corrected I(class; prediction), correction: {correction}", correction=correction)
    out["prediction_mi_miller_madow"] = per_scheme(
        [r.mi_miller_madow for r in results], "Miller-Madow corrected I(class; prediction)")
    out["prediction_mi_shuffle_corrected"] = per_scheme(
        [r.mi_shuffle_corrected for r in results], "shuffle-corrected I(class; prediction)")
    out["prediction_mi_null_mean"] = per_scheme(
        [r.mi_null_mean for r in results], "mean I(class; prediction) over permuted class labels")
    out["prediction_p_value"] = per_scheme(
        [r.p_value for r in results], "permutation p-value of I(class; prediction)", units="1")
    return out


def compute_information(spikes: xr.Dataset, evaluation: xr.Dataset | None = None,
                        lags: Sequence[int] = (0, 1), permutations: int = 1000,
                        null: str = "circular_shift", alpha: float = 0.05,
                        correction: str = "shuffle", seed: int = 0) -> xr.Dataset:
    """All information quantities of a spikes dataset (and optional evaluation dataset).

    ``spikes`` and ``evaluation`` follow docs/formats.md.  ``lags`` in time steps;
    ``permutations`` draws of the null ``null`` ('circular_shift' or 'shuffle');
    Benjamini-Hochberg at FDR ``alpha``; ``correction`` ('shuffle' or 'miller_madow')
    selects the ``*_corrected`` variables.  Returns the information.nc dataset without
    provenance (see :func:`run`).
    """
    lag_list = _check_settings(lags, permutations, null, alpha, correction)
    x, y = _spike_arrays(spikes)
    n_samples, n_steps, n_in = x.shape
    n_out = y.shape[2]
    if max(lag_list) >= n_steps:
        raise ValueError(f"lags must be < the number of time steps ({n_steps}), got {lag_list}")
    sample_ids = (spikes["sample"].values if "sample" in spikes.coords
                  else np.arange(n_samples))
    labels = spikes["label"].values
    test_index = spikes["test_index"].values
    repeat = spikes["repeat"].values

    per_sample = _Collector(n_samples, len(lag_list), n_in, n_out)
    input_entropy = np.zeros((n_samples, n_in))
    output_entropy = np.zeros((n_samples, n_out))
    paper_nats = np.zeros((n_samples, n_out))
    for s in range(n_samples):
        input_entropy[s] = spike_entropy(x[s])
        output_entropy[s] = spike_entropy(y[s])
        paper_nats[s] = plugin_mi(x[s], y[s], 0).sum(axis=0) * LN2
        for li, lag in enumerate(lag_list):
            rng = np.random.default_rng([int(seed), 0, int(sample_ids[s]), lag])
            per_sample.put(s, li, permutation_test(x[s], y[s], lag, permutations, null, rng),
                           correction)
        log.info("information: sample %d/%d done", s + 1, n_samples)

    images = np.unique(test_index)
    pooled = _Collector(images.size, len(lag_list), n_in, n_out)
    pooled_input_entropy = np.zeros((images.size, n_in))
    pooled_output_entropy = np.zeros((images.size, n_out))
    pooled_label = np.zeros(images.size, dtype=np.int64)
    n_repeats = np.zeros(images.size, dtype=np.int64)
    for g, image in enumerate(images):
        members = np.flatnonzero(test_index == image)
        if np.unique(labels[members]).size != 1:
            raise ValueError(f"samples of test image {image} have different labels")
        pooled_label[g], n_repeats[g] = labels[members[0]], members.size
        pooled_input_entropy[g] = spike_entropy(x[members].reshape(-1, n_in))
        pooled_output_entropy[g] = spike_entropy(y[members].reshape(-1, n_out))
        if members.size == 1:
            pooled.copy(g, per_sample, members[0])
            continue
        for li, lag in enumerate(lag_list):
            rng = np.random.default_rng([int(seed), 1, int(image), lag])
            pooled.put(g, li, permutation_test(x[members], y[members], lag, permutations, null,
                                               rng), correction)
        log.info("information: pooled image %d/%d done", g + 1, images.size)

    entropy_in = "entropy of the per-step spike probability of the input neuron"
    entropy_out = "entropy of the per-step spike probability of the output neuron"
    data_vars: dict[str, xr.Variable] = {
        "input_entropy": xr.Variable(("sample", "input_neuron"), input_entropy,
                                     _attrs(entropy_in, "bits")),
        "output_entropy": xr.Variable(("sample", "output_neuron"), output_entropy,
                                      _attrs(entropy_out, "bits")),
        **per_sample.variables("sample", "", alpha, correction, "per sample"),
        "paper_mi_sum_nats": xr.Variable(("sample", "output_neuron"), paper_nats, _attrs(
            "summed plug-in MI at lag 0 in nats, the paper's score", "nats")),
        "paper_mi_positive": xr.Variable(("sample", "output_neuron"),
                                         paper_nats > PAPER_THRESHOLD_NATS, _attrs(
            f"paper's criterion: summed lag-0 plug-in MI > {PAPER_THRESHOLD_NATS} nats", "1")),
        "pooled_input_entropy": xr.Variable(("pooled_sample", "input_neuron"),
                                            pooled_input_entropy,
                                            _attrs(entropy_in + " (pooled repeats)", "bits")),
        "pooled_output_entropy": xr.Variable(("pooled_sample", "output_neuron"),
                                             pooled_output_entropy,
                                             _attrs(entropy_out + " (pooled repeats)", "bits")),
        **pooled.variables("pooled_sample", "pooled_", alpha, correction, "pooled repeats"),
    }
    attrs: dict[str, Any] = {
        "lags": np.array(lag_list, dtype=np.int64), "permutations": int(permutations),
        "null_model": null, "alpha": float(alpha), "correction": correction, "seed": int(seed),
        "tie_tolerance_bits": TIE_TOLERANCE, "time_steps": int(n_steps),
        "pooled_single_repeat": "an image recorded once reuses its per-sample result",
        **ESTIMATORS,
    }
    if evaluation is not None:
        data_vars.update(_stimulus_variables(evaluation, n_out, permutations, alpha, correction,
                                             int(seed)))
        attrs["stimulus_count_cap"] = DEFAULT_COUNT_CAP
        attrs["stimulus_n_test"] = int(evaluation.sizes["sample"])
    coords = {
        "sample": ("sample", sample_ids),
        "label": ("sample", labels, {"long_name": "true class"}),
        "test_index": ("sample", test_index, {"long_name": "index in the test set"}),
        "repeat": ("sample", repeat, {"long_name": "independent Poisson draw of the image"}),
        "lag": ("lag", np.array(lag_list, dtype=np.int64),
                _attrs("lag: input at step t, output at step t + lag", "time steps")),
        "input_neuron": ("input_neuron", np.arange(n_in)),
        "output_neuron": ("output_neuron", np.arange(n_out)),
        "pooled_sample": ("pooled_sample", np.arange(images.size)),
        "pooled_test_index": ("pooled_sample", images.astype(np.int64),
                              {"long_name": "index in the test set of the pooled image"}),
        "pooled_label": ("pooled_sample", pooled_label, {"long_name": "true class"}),
        "n_repeats": ("pooled_sample", n_repeats, {"long_name": "repeats pooled"}),
    }
    if evaluation is not None:
        coords["scheme"] = ("scheme", np.array(list(PREDICTION_SCHEMES)))
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def run(spikes_path: str | Path, evaluation_path: str | Path | None, out_path: str | Path,
        info_cfg: Mapping[str, Any], seed: int) -> xr.Dataset:
    """Read spikes.nc (and evaluation.nc), compute, write information.nc atomically.

    ``info_cfg`` is the ``information`` config section; missing keys take the schema
    defaults and the section is validated (lags must be < the recording's time steps).
    Returns the dataset written.
    """
    with xr.open_dataset(spikes_path) as ds:
        spikes = ds.load()
    evaluation = None
    if evaluation_path is not None:
        with xr.open_dataset(evaluation_path) as ds:
            evaluation = ds.load()
    cfg = _config.validate({"information": dict(info_cfg),
                            "model": {"time": int(spikes.sizes["time"])}},
                           source="information config")["information"]
    result = compute_information(spikes, evaluation, lags=cfg["lags"],
                                 permutations=cfg["permutations"], null=cfg["null_model"],
                                 alpha=cfg["alpha"], correction=cfg["correction"], seed=seed)
    extra = {k: np.asarray(spikes.attrs[k]).item() for k in ("dataset", "n_neurons", "dt")
             if k in spikes.attrs}
    result.attrs.update(provenance(config={"information": cfg}, seed=seed, **extra))
    write_netcdf(result, out_path)
    return result
