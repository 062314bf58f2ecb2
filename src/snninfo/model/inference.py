"""Inference with learning off: label assignment, test-set evaluation, spike recording."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import torch
import xarray as xr

from snninfo import CLASS_NAMES
from snninfo.io import provenance, write_netcdf
from snninfo.model.common import (
    N_CLASSES, accuracy, engine_from_model, load_model, load_split, log, predict, set_threads,
)
from snninfo.model.engine import resolve_device
from snninfo.seeding import seed_torch


def _batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def run_images(engine, images: np.ndarray, batch_size: int, keep_trains: bool = False):
    """Encode and run images (learning off), batched. Returns spike counts
    ``[n, n_neurons]`` (int) and, with ``keep_trains``, the input and output trains."""
    counts = torch.zeros(len(images), engine.n_neurons, dtype=torch.int32)
    ins, outs = [], []
    for sl in _batches(len(images), batch_size):
        spikes_in = engine.encode(images[sl])
        out = engine.infer(spikes_in)
        counts[sl] = out.sum(1).to(torch.int32)
        if keep_trains:
            ins.append(spikes_in)
            outs.append(out)
    if keep_trains:
        return counts, torch.cat(ins), torch.cat(outs)
    return counts


def _common_attrs(cfg: Mapping[str, Any], model: Mapping[str, Any], seed: int, sections) -> dict:
    return provenance(config={s: cfg[s] for s in sections}, seed=seed,
                      dataset=model["dataset"], n_neurons=int(model["n_neurons"]),
                      model_engine=model["engine"])


def assign(model_path: str | Path, out_path: str | Path, cfg: Mapping[str, Any], *,
           data_path: str | Path | None = None, seed: int) -> xr.Dataset:
    """Neuron labels. ``training_responses`` (default, as the paper): the labels BindsNET's
    ``assign_labels`` produced from rates accumulated over all training responses.
    ``separate_pass``: one more pass over the training set with learning off, labels from
    mean responses of the final network (needs ``data_path``)."""
    from bindsnet.evaluation import assign_labels

    model = load_model(model_path)
    source = cfg["training"]["label_source"]
    sim = cfg["simulation"]
    if source == "training_responses":
        assignments = model["label_assignments"]
        proportions = model["label_proportions"]
        rates = model["label_rates"]
        rates_long = "spike rates accumulated over the training run (sum over update intervals of per-class mean spikes per sample)"
        rates_units = "spikes per sample, accumulated"
    else:
        if data_path is None:
            raise ValueError("training.label_source is 'separate_pass': the converted data set is needed")
        set_threads(sim["threads"])
        images, labels, _ = load_split(data_path, "train", cfg["data"]["n_train"])
        engine = engine_from_model(model, sim["engine"], resolve_device(sim["device"]),
                                   seed_torch(seed, "assign"))
        log.info("label pass over %d training images, learning off", len(images))
        counts = run_images(engine, images, sim["batch_size"])
        assignments, proportions, rates = assign_labels(
            spikes=counts.float().unsqueeze(1), labels=torch.as_tensor(labels), n_labels=N_CLASSES)
        rates_long = "mean spikes per sample of each class (separate pass, learning off)"
        rates_units = "spikes per sample"
    n = int(model["n_neurons"])
    ds = xr.Dataset(
        {
            "assignment": ("output_neuron", assignments.numpy().astype(np.int64),
                           {"long_name": "assigned class (-1: neuron never fired)", "units": "1"}),
            "rates": (("output_neuron", "class"), rates.numpy().astype(np.float32),
                      {"long_name": rates_long, "units": rates_units}),
            "proportions": (("output_neuron", "class"), proportions.numpy().astype(np.float32),
                            {"long_name": "per-neuron proportion of class activity", "units": "1"}),
        },
        coords={"output_neuron": np.arange(n), "class": np.arange(N_CLASSES),
                "class_name": ("class", CLASS_NAMES[model["dataset"]])},
        attrs={**_common_attrs(cfg, model, seed, ("training", "simulation")), "label_source": source},
    )
    write_netcdf(ds, out_path, chunk_dim=None)
    log.info("assigned %d/%d neurons (label source %s)", int((ds.assignment >= 0).sum()), n, source)
    return ds


def evaluate(model_path: str | Path, assignments_path: str | Path, data_path: str | Path,
             out_path: str | Path, cfg: Mapping[str, Any], *, seed: int) -> xr.Dataset:
    """Every test sample (the first ``data.n_test``, in order), learning off, batched."""
    sim = cfg["simulation"]
    set_threads(sim["threads"])
    model = load_model(model_path)
    with xr.open_dataset(assignments_path) as a:
        assignments = torch.as_tensor(a["assignment"].values)
        proportions = torch.as_tensor(a["proportions"].values)
    images, labels, _ = load_split(data_path, "test", cfg["data"]["n_test"])
    engine = engine_from_model(model, sim["engine"], resolve_device(sim["device"]),
                               seed_torch(seed, "evaluate"))
    log.info("evaluating %d test images, batch %d", len(images), sim["batch_size"])
    counts = run_images(engine, images, sim["batch_size"])
    pa, pp = predict(counts, assignments, proportions)
    pa, pp = pa.numpy(), pp.numpy()
    silent = counts.sum(1).numpy() == 0
    acc_a, acc_p = accuracy(pa, labels), accuracy(pp, labels)
    n = len(labels)
    ds = xr.Dataset(
        {
            "test_index": ("sample", np.arange(n, dtype=np.int64), {"long_name": "index in the test set"}),
            "label": ("sample", labels, {"long_name": "true class", "units": "1"}),
            "prediction_all_activity": ("sample", pa.astype(np.int64), {
                "long_name": "predicted class, all-activity scheme (-1: silent, counted wrong)", "units": "1"}),
            "prediction_proportion_weighting": ("sample", pp.astype(np.int64), {
                "long_name": "predicted class, proportion-weighting scheme (-1: silent, counted wrong)",
                "units": "1"}),
            "spike_count": (("sample", "output_neuron"), counts.numpy().astype(np.int16), {
                "long_name": "excitatory spikes per test image", "units": "spikes"}),
        },
        coords={"sample": np.arange(n), "output_neuron": np.arange(int(model["n_neurons"])),
                "class": np.arange(N_CLASSES), "class_name": ("class", CLASS_NAMES[model["dataset"]])},
        attrs={
            **_common_attrs(cfg, model, seed, ("data", "model", "simulation")),
            "accuracy_all_activity": acc_a,
            "accuracy_proportion_weighting": acc_p,
            "silent_fraction": float(silent.mean()),
            "n_test": n,
            "n_train": int(model["n_train"]),
        },
    )
    write_netcdf(ds, out_path, chunk_dim=None)
    log.info("accuracy all_activity %.4f, proportion_weighting %.4f, silent %.2f%% (%d test images)",
             acc_a, acc_p, 100 * silent.mean(), n)
    return ds


def select_recording(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Test indices of the first ``per_class`` images of each class, class by class."""
    out = []
    for c in range(N_CLASSES):
        idx = np.flatnonzero(labels == c)[:per_class]
        out.extend(idx.tolist())
    return np.asarray(out, dtype=np.int64)


def record(model_path: str | Path, assignments_path: str | Path, data_path: str | Path,
           out_path: str | Path, cfg: Mapping[str, Any], *, seed: int) -> xr.Dataset:
    """Input and output spike trains of selected test images (learning off)."""
    sim, rec = cfg["simulation"], cfg["recording"]
    set_threads(sim["threads"])
    model = load_model(model_path)
    m = model["model"]
    with xr.open_dataset(assignments_path) as a:
        assignments = torch.as_tensor(a["assignment"].values)
        proportions = torch.as_tensor(a["proportions"].values)
    images, labels, _ = load_split(data_path, "test")
    chosen = select_recording(labels, rec["samples_per_class"])
    missing = sorted(set(range(N_CLASSES)) - set(labels[chosen].tolist()))
    if missing:
        log.warning("no test image of classes %s", missing)
    test_index = np.repeat(chosen, rec["repeats"])
    repeat = np.tile(np.arange(rec["repeats"]), len(chosen))
    engine = engine_from_model(model, sim["engine"], resolve_device(sim["device"]),
                               seed_torch(seed, "record"))
    counts, spikes_in, spikes_out = run_images(engine, images[test_index], sim["batch_size"],
                                               keep_trains=True)
    pred, _ = predict(counts, assignments, proportions)
    h, w = images.shape[1:]
    n = len(test_index)
    dt = float(m["dt"])
    ds = xr.Dataset(
        {
            "input_spikes": (("sample", "time", "input_neuron"), spikes_in.numpy().astype(np.uint8), {
                "long_name": "Poisson input spikes (layer X)", "units": "1",
                "flag_values": "0 1", "flag_meanings": "no_spike spike"}),
            "output_spikes": (("sample", "time", "output_neuron"), spikes_out.numpy().astype(np.uint8), {
                "long_name": "excitatory spikes (layer Ae)", "units": "1",
                "flag_values": "0 1", "flag_meanings": "no_spike spike"}),
            "image": (("sample", "y", "x"), images[test_index], {"long_name": "recorded image", "units": "1"}),
            "label": ("sample", labels[test_index], {"long_name": "true class", "units": "1"}),
            "test_index": ("sample", test_index, {"long_name": "index in the test set"}),
            "repeat": ("sample", repeat.astype(np.int64), {"long_name": "independent Poisson draw"}),
            "prediction": ("sample", pred.numpy().astype(np.int64), {
                "long_name": "all-activity prediction for this draw (-1: silent)", "units": "1"}),
        },
        coords={
            "sample": np.arange(n),
            "time": ("time", np.arange(int(m["time"])) * dt, {"long_name": "time", "units": "ms"}),
            "input_neuron": np.arange(h * w),
            "output_neuron": np.arange(int(model["n_neurons"])),
        },
        attrs={
            **_common_attrs(cfg, model, seed, ("model", "simulation", "recording")),
            "dt": dt, "dt_units": "ms", "time_steps": int(m["time"]),
            "image_height": int(h), "image_width": int(w),
            "class_names": json.dumps(CLASS_NAMES[model["dataset"]]),
            "input_neuron_layout": "input_neuron = y * image_width + x",
        },
    )
    write_netcdf(ds, out_path, chunk_dim="sample")
    log.info("recorded %d samples (%d images x %d repeats)", n, len(chosen), rec["repeats"])
    return ds
