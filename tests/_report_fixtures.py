"""Small, format-exact synthetic result directories for the reporting tests.

:func:`build_run` writes ``results/{dataset}/n{neurons}/seed{seed}/`` with every
file of ``docs/formats.md`` (``model.pt``, ``training.csv``, ``assignments.nc``,
``evaluation.nc``, ``spikes.nc``) plus ``information.nc`` with the variables the
report reads. The numbers are synthetic but consistent: predictions follow from
the spike counts and assignments, silent samples have no spikes and predict -1,
the plug-in MI is computed from the recorded spike trains (so it is > 0 for every
neuron that spiked), and the Miller-Madow term stands in for the bias correction.
The p-values are a stand-in for the permutation test (small for the neurons the
fixture drives from the previous step's input, i.e. assigned neurons at lag 1),
with Benjamini-Hochberg over the spiking (sample, neuron) pairs of each lag.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
import torch
import xarray as xr

from snninfo import CLASS_NAMES
from snninfo.io import provenance, write_netcdf

N_CLASSES = 10
INTENSITY_HZ = 128.0
DT_MS = 1.0
ALPHA = 0.05


def _rng(dataset: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(dataset.encode())])


def image_shape(dataset: str) -> tuple[int, int]:
    """(height, width) of the data set's images."""
    return (32, 32) if dataset == "cifar10" else (28, 28)


def _images(rng: np.random.Generator, labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A bright disc whose position encodes the class, on a faint noisy background (uint8)."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    out = np.empty((labels.size, *shape), dtype=np.uint8)
    for i, k in enumerate(labels):
        cy = shape[0] / 2 + 7 * np.sin(2 * np.pi * k / N_CLASSES)
        cx = shape[1] / 2 + 7 * np.cos(2 * np.pi * k / N_CLASSES)
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= 25
        out[i] = np.clip(disc * 230 + rng.integers(0, 25, shape), 0, 255)
    return out


def _plugin_mi_bits(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plug-in MI (bits) and its Miller-Madow bias of binary trains x (T, I) and y (..., T, O), per (..., I, O)."""
    n = x.shape[0]
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    p11 = np.einsum("ti,...to->...io", x, y) / n
    px = x.mean(axis=0)[:, None]
    py = y.mean(axis=-2)[..., None, :]
    joint = np.stack([p11, px - p11, py - p11, 1 - px - py + p11])
    marg = np.stack([px * py, px * (1 - py), (1 - px) * py, (1 - px) * (1 - py)])
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(joint > 1e-15, joint * np.log2(joint / marg), 0.0)
    mi = np.clip(terms.sum(axis=0), 0.0, None)
    bins_x = 1 + ((px > 0) & (px < 1))
    bins_y = 1 + ((py > 0) & (py < 1))
    bins_xy = (joint > 1e-15).sum(axis=0)
    bias = (bins_xy - bins_x - bins_y + 1) / (2 * n * np.log(2))
    return mi, bias


def _entropy_bits(trains: np.ndarray) -> np.ndarray:
    """Entropy (bits) of each binary train in (T, N)."""
    p = trains.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(np.where(p > 0, p * np.log2(p), 0) + np.where(p < 1, (1 - p) * np.log2(1 - p), 0))
    return np.nan_to_num(h)


def _discrete_mi_bits(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Plug-in MI (bits) between two discrete sequences and its Miller-Madow bias."""
    table = pd.crosstab(a, b).to_numpy().astype(float)
    p = table / table.sum()
    pa, pb = p.sum(axis=1, keepdims=True), p.sum(axis=0, keepdims=True)
    nz = p > 0
    mi = float(np.sum(p[nz] * np.log2(p[nz] / (pa @ pb)[nz])))
    bias = (nz.sum() - table.shape[0] - table.shape[1] + 1) / (2 * a.size * np.log(2))
    return mi, float(bias)


def _benjamini_hochberg(p: np.ndarray, alpha: float) -> np.ndarray:
    flat = p.ravel()
    order = np.argsort(flat)
    passed = flat[order] <= alpha * np.arange(1, flat.size + 1) / flat.size
    k = np.flatnonzero(passed).max() + 1 if passed.any() else 0
    out = np.zeros(flat.size, dtype=np.int8)
    out[order[:k]] = 1
    return out.reshape(p.shape)


def _predict(counts: np.ndarray, assignment: np.ndarray, proportions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All-activity and proportion-weighting predictions of spike counts (sample, neuron); -1 if silent."""
    counts = counts.astype(float)
    rates = np.stack([counts[:, assignment == k].mean(axis=1) if (assignment == k).any()
                      else np.zeros(counts.shape[0]) for k in range(N_CLASSES)], axis=1)
    silent = counts.sum(axis=1) == 0
    all_activity = np.where(silent, -1, rates.argmax(axis=1))
    proportion = np.where(silent, -1, (counts @ proportions).argmax(axis=1))
    return all_activity.astype(np.int64), proportion.astype(np.int64)


def _var(dims, values, long_name: str, units: str | None = None):
    attrs = {"long_name": long_name}
    if units:
        attrs["units"] = units
    return (dims, values, attrs)


def build_run(root: Path, dataset: str, n_neurons: int = 20, seed: int = 0, *, n_test: int = 10,
              time_steps: int = 50, n_train: int = 2000, silent_class: int = 9, all_silent: bool = False,
              repeats: int = 1, lags: Iterable[int] = (0, 1)) -> Path:
    """Write one synthetic run directory under ``root`` and return it.

    One recorded test image per class (``repeats`` Poisson draws each); the image
    of ``silent_class`` evokes no output spike (with ``all_silent`` none does).
    Evaluation covers ``n_test`` test images, two of them silent.
    """
    rng = _rng(dataset, seed)
    run = root / dataset / f"n{n_neurons}" / f"seed{seed}"
    run.mkdir(parents=True, exist_ok=True)
    height, width = image_shape(dataset)
    n_input = height * width
    config = {"data": {"n_train": n_train, "n_test": n_test},
              "model": {"time": time_steps, "dt": DT_MS, "intensity": INTENSITY_HZ},
              "training": {"epochs": 1, "update_interval": 250}}
    prov = provenance(config, seed=seed, dataset=dataset, n_neurons=n_neurons)
    names = CLASS_NAMES[dataset]

    # assignments.nc: neuron j -> class j % 10, the last two never fired.
    assignment = np.arange(n_neurons) % N_CLASSES
    assignment[-2:] = -1
    rates = rng.gamma(1.0, 0.2, (n_neurons, N_CLASSES))
    fired = assignment >= 0
    rates[fired, assignment[fired]] += 3.0
    rates[~fired] = 0.0
    with np.errstate(invalid="ignore"):
        proportions = np.nan_to_num(rates / rates.sum(axis=1, keepdims=True))
    write_netcdf(xr.Dataset(
        {"assignment": _var("output_neuron", assignment.astype(np.int64), "assigned class, -1 = never fired"),
         "rates": _var(("output_neuron", "class"), rates, "mean spikes per sample of the class", "spikes"),
         "proportions": _var(("output_neuron", "class"), proportions, "rates normalised per neuron")},
        coords={"output_neuron": np.arange(n_neurons), "class": np.arange(N_CLASSES)},
        attrs={**prov, "label_source": "training_responses"}), run / "assignments.nc", chunk_dim=None)

    # model.pt: weights shaped like the assigned class's image.
    templates = _images(rng, np.arange(N_CLASSES), (height, width)).reshape(N_CLASSES, n_input) / 255.0
    weights = rng.uniform(0, 0.05, (n_input, n_neurons))
    weights[:, fired] += 0.6 * templates[assignment[fired]].T
    torch.save({
        "format": "snninfo-model", "format_version": 1, "engine": "bindsnet", "dataset": dataset,
        "n_input": n_input, "input_shape": [height, width], "n_neurons": n_neurons, "seed": seed,
        "model": config["model"], "training": config["training"],
        "weights": torch.tensor(weights, dtype=torch.float32),
        "theta": torch.tensor(rng.gamma(4.0, 5.0, n_neurons), dtype=torch.float32),
        "label_rates": torch.tensor(rates, dtype=torch.float32),
        "n_samples_seen": n_train, "provenance": prov,
    }, run / "model.pt")

    # training.csv
    seen = np.arange(250, n_train + 1, 250)
    acc = np.clip(0.1 + 0.6 * (1 - np.exp(-seen / 800)) + rng.normal(0, 0.03, seen.size), 0, 1)
    frame = pd.DataFrame({
        "samples_seen": seen, "epoch": 0,
        "accuracy_all_activity": np.r_[np.nan, acc[1:]],
        "accuracy_proportion_weighting": np.r_[np.nan, np.clip(acc[1:] + 0.02, 0, 1)],
        "mean_output_spikes": 2 + 8 * (1 - np.exp(-seen / 600)),
        "silent_fraction": 0.5 * np.exp(-seen / 500),
        "seconds": rng.uniform(20, 30, seen.size)})
    (run / "training.csv").write_text(frame.to_csv(index=False))

    # evaluation.nc: two silent samples.
    labels = np.arange(n_test) % N_CLASSES
    counts = np.zeros((n_test, n_neurons), dtype=np.int16)
    for i, k in enumerate(labels):
        counts[i, assignment == k] = rng.poisson(4, (assignment == k).sum())
        counts[i, rng.integers(0, n_neurons - 2)] += rng.poisson(3)
    counts[[3, 7] if n_test > 7 else [0]] = 0
    if all_silent:
        counts[:] = 0
    pred_aa, pred_pw = _predict(counts, assignment, proportions)
    write_netcdf(xr.Dataset(
        {"test_index": _var("sample", np.arange(n_test, dtype=np.int64), "index in the test set"),
         "label": _var("sample", labels.astype(np.int64), "true class"),
         "prediction_all_activity": _var("sample", pred_aa, "all-activity prediction, -1 = silent"),
         "prediction_proportion_weighting": _var("sample", pred_pw, "proportion-weighting prediction, -1 = silent"),
         "spike_count": _var(("sample", "output_neuron"), counts, "excitatory spikes per test image", "spikes")},
        coords={"sample": np.arange(n_test, dtype=np.int64)},
        attrs={**prov, "accuracy_all_activity": float(np.mean(pred_aa == labels)),
               "accuracy_proportion_weighting": float(np.mean(pred_pw == labels)),
               "silent_fraction": float(np.mean(counts.sum(axis=1) == 0)), "n_test": n_test}),
        run / "evaluation.nc")

    # spikes.nc: the first test image of each class, `repeats` Poisson draws each.
    rec_label = np.repeat(np.arange(N_CLASSES), repeats)
    rec_repeat = np.tile(np.arange(repeats), N_CLASSES)
    images = _images(rng, rec_label, (height, width))
    x = (rng.random((rec_label.size, time_steps, n_input))
         < images.reshape(-1, 1, n_input) / 255.0 * INTENSITY_HZ * DT_MS / 1000).astype(np.uint8)
    y = np.zeros((rec_label.size, time_steps, n_neurons), dtype=np.uint8)
    for i, k in enumerate(rec_label):
        if k == silent_class or all_silent:
            continue
        driver = x[i, :, images[i].reshape(-1).argmax()]
        drive = 0.05 + 0.6 * np.r_[0, driver[:-1]]
        for j in np.flatnonzero(assignment == k):
            y[i, :, j] = rng.random(time_steps) < drive
        y[i, rng.integers(0, time_steps), (k + 3) % (n_neurons - 2)] = 1  # one extra, unassigned spike
    rec_pred, _ = _predict(y.sum(axis=1), assignment, proportions)
    write_netcdf(xr.Dataset(
        {"input_spikes": _var(("sample", "time", "input_neuron"), x, "Poisson input spikes (X layer)"),
         "output_spikes": _var(("sample", "time", "output_neuron"), y, "excitatory spikes (Ae layer)"),
         "image": _var(("sample", "y", "x"), images, "recorded image"),
         "label": _var("sample", rec_label.astype(np.int64), "true class"),
         "test_index": _var("sample", rec_label.astype(np.int64), "index in the test set"),
         "repeat": _var("sample", rec_repeat.astype(np.int64), "Poisson draw"),
         "prediction": _var("sample", rec_pred, "all-activity prediction, -1 = silent")},
        coords={"time": ("time", np.arange(time_steps) * DT_MS, {"units": "ms", "long_name": "time"})},
        attrs={**prov, "dt": DT_MS, "time_steps": time_steps, "image_height": height, "image_width": width,
               "class_names": json.dumps(names)}), run / "spikes.nc")

    # information.nc
    lags = list(lags)
    n_rec = rec_label.size
    mi = np.zeros((n_rec, len(lags), n_input, n_neurons))
    bias = np.zeros_like(mi)
    for i in range(n_rec):
        for li, lag in enumerate(lags):
            mi[i, li], bias[i, li] = _plugin_mi_bits(x[i, : time_steps - lag], y[i, lag:])
    mi_corrected = mi - bias
    mi_sum, mi_sum_corrected = mi.sum(axis=2), mi_corrected.sum(axis=2)
    null_mean = bias.sum(axis=2)
    null_std = 0.25 * null_mean + 1e-3
    spiking = np.broadcast_to(y.any(axis=1)[:, None, :], mi_sum.shape)
    driven = (assignment[None, :] == rec_label[:, None])[:, None, :] & (np.array(lags) == 1)[None, :, None]
    p_value = np.where(spiking, np.where(driven, 0.001, 0.5), 1.0)
    significant = np.zeros(p_value.shape, dtype=np.int8)
    for li in range(len(lags)):
        significant[:, li][spiking[:, li]] = _benjamini_hochberg(p_value[:, li][spiking[:, li]], ALPHA)
    stim = [_discrete_mi_bits(labels, counts[:, j]) for j in range(n_neurons)]
    stim_mi = np.array([s[0] for s in stim])
    stim_corr = stim_mi - np.array([s[1] for s in stim])
    pred = [_discrete_mi_bits(labels, p) for p in (pred_aa, pred_pw)]
    od = ("sample", "output_neuron")
    ld = ("sample", "lag", "output_neuron")
    write_netcdf(xr.Dataset(
        {"input_entropy": _var(("sample", "input_neuron"), np.stack([_entropy_bits(s) for s in x]),
                               "entropy of the input train", "bits"),
         "output_entropy": _var(od, np.stack([_entropy_bits(s) for s in y]), "entropy of the output train", "bits"),
         "mi": _var(("sample", "lag", "input_neuron", "output_neuron"), mi, "plug-in MI", "bits"),
         "mi_corrected": _var(("sample", "lag", "input_neuron", "output_neuron"), mi_corrected,
                              "bias-corrected MI", "bits"),
         "mi_sum": _var(ld, mi_sum, "plug-in MI summed over input neurons", "bits"),
         "mi_sum_corrected": _var(ld, mi_sum_corrected, "bias-corrected summed MI", "bits"),
         "mi_sum_miller_madow": _var(ld, mi_sum_corrected, "Miller-Madow corrected summed MI", "bits"),
         "mi_sum_shuffle_corrected": _var(ld, mi_sum - null_mean, "shuffle-corrected summed MI", "bits"),
         "mi_sum_null_mean": _var(ld, null_mean, "mean of the permutation null", "bits"),
         "mi_sum_null_std": _var(ld, null_std, "standard deviation of the permutation null", "bits"),
         "p_value": _var(ld, p_value, "permutation p-value"),
         "significant": _var(ld, significant, "significant after Benjamini-Hochberg"),
         "paper_mi_positive": _var(od, (mi_sum[:, lags.index(0)] * np.log(2) > 1e-6).astype(np.int8),
                                   "paper's criterion: plug-in summed MI at lag 0 > 1e-6 nats"),
         "stimulus_mi": _var("output_neuron", stim_mi, "MI between class and spike count", "bits"),
         "stimulus_mi_corrected": _var("output_neuron", stim_corr, "bias-corrected stimulus MI", "bits"),
         "stimulus_p_value": _var("output_neuron", np.full(n_neurons, 0.5), "permutation p-value"),
         "stimulus_significant": _var("output_neuron", np.zeros(n_neurons, np.int8), "significant after BH"),
         "prediction_mi": _var("scheme", np.array([p[0] for p in pred]), "MI between class and prediction", "bits"),
         "prediction_mi_corrected": _var("scheme", np.array([p[0] - p[1] for p in pred]),
                                         "bias-corrected prediction MI", "bits"),
         "prediction_p_value": _var("scheme", np.full(2, 0.01), "permutation p-value")},
        coords={"sample": np.arange(n_rec), "lag": lags, "scheme": ["all_activity", "proportion_weighting"],
                "label": ("sample", rec_label.astype(np.int64)),
                "test_index": ("sample", rec_label.astype(np.int64)),
                "repeat": ("sample", rec_repeat.astype(np.int64))},
        attrs={**prov, "correction": "shuffle", "alpha": ALPHA}), run / "information.nc")
    return run


def build_results(root: Path, datasets: Iterable[str] = ("mnist", "fashion_mnist"), n_neurons: int = 20,
                  seeds: Iterable[int] = (0, 1), **kwargs) -> list[Path]:
    """Build one run per data set x seed (see :func:`build_run`) and return their directories."""
    return [build_run(root, d, n_neurons, s, **kwargs) for d in datasets for s in seeds]
