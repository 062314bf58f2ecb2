"""Shared pieces of the model stage: data access, model files, label evaluation."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
import xarray as xr

from snninfo.io import atomic_path, provenance

MODEL_FORMAT = "snninfo-model"
MODEL_FORMAT_VERSION = 1
N_CLASSES = 10

log = logging.getLogger("snninfo")


def setup_logging(verbose: bool = True) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )


def set_threads(n: int) -> None:
    """torch threads for this process (1 for batch-1 simulation on shared machines)."""
    torch.set_num_threads(int(n))


def load_split(path: str | Path, split: str, n: int | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """First ``n`` images (uint8 [n, h, w]) and labels of ``split`` ("train"/"test") of a
    converted data set, plus its global attributes."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"converted data set not found: {path} (run the convert step first)")
    with xr.open_dataset(path) as ds:
        for var in (f"{split}_image", f"{split}_label"):
            if var not in ds:
                raise KeyError(f"{path}: variable {var!r} missing; not a converted snninfo data set")
        total = ds.sizes[f"{split}_sample"]
        if n is not None and n > total:
            raise ValueError(f"{path}: asked for {n} {split} images but the data set has {total}")
        sel = slice(0, n)
        images = ds[f"{split}_image"][sel].values
        labels = ds[f"{split}_label"][sel].values.astype(np.int64)
        attrs = dict(ds.attrs)
    return images, labels, attrs


def save_model(path: str | Path, engine, *, dataset: str, seed: int, cfg: Mapping[str, Any],
               label_rates: torch.Tensor, assignments: torch.Tensor, proportions: torch.Tensor,
               n_samples_seen: int, n_train: int) -> None:
    state = engine.get_state()
    obj = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "engine": engine.name,
        "dataset": dataset,
        "n_input": engine.n_input,
        "input_shape": list(engine.input_shape),
        "n_neurons": engine.n_neurons,
        "seed": int(seed),
        "model": dict(cfg["model"]),
        "training": dict(cfg["training"]),
        "weights": state["weights"],
        "theta": state["theta"],
        "label_rates": label_rates.detach().cpu().float(),
        "label_assignments": assignments.detach().cpu().long(),
        "label_proportions": proportions.detach().cpu().float(),
        "n_samples_seen": int(n_samples_seen),
        "n_train": int(n_train),
        "provenance": provenance(config={k: cfg[k] for k in ("data", "model", "training", "simulation")},
                                 seed=seed, dataset=dataset, n_neurons=engine.n_neurons),
    }
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_model(path: str | Path) -> dict:
    path = Path(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"model file not found: {path} (run the train step first)") from None
    if not isinstance(obj, dict) or obj.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path} is not an snninfo model file")
    if obj.get("format_version") != MODEL_FORMAT_VERSION:
        raise ValueError(f"{path}: model format version {obj.get('format_version')} not supported "
                         f"(expected {MODEL_FORMAT_VERSION})")
    return obj


def engine_from_model(model: Mapping[str, Any], engine_name: str, device, seed: int) -> Any:
    """An engine holding a trained model's state; ``seed`` seeds its own generator."""
    from snninfo.model.engine import make_engine

    engine = make_engine(engine_name, model["model"], model["input_shape"], model["n_neurons"],
                         device, seed)
    engine.set_state({"weights": model["weights"], "theta": model["theta"]})
    return engine


def predict(counts: torch.Tensor, assignments: torch.Tensor, proportions: torch.Tensor
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """BindsNET's ``all_activity`` and ``proportion_weighting`` on spike counts
    ``[n, n_neurons]``; -1 for a sample without a vote (silent)."""
    from bindsnet.evaluation import all_activity, proportion_weighting

    spikes = counts.float().unsqueeze(1)  # [n, time=1, neurons]: the schemes sum over time
    a = all_activity(spikes=spikes, assignments=assignments, n_labels=N_CLASSES)
    p = proportion_weighting(spikes=spikes, assignments=assignments, proportions=proportions,
                             n_labels=N_CLASSES)
    return a.long(), p.long()


def accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    """Fraction correct; a silent prediction (-1) counts as wrong."""
    return float(np.mean(np.asarray(pred) == np.asarray(labels))) if len(labels) else float("nan")
