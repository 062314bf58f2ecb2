"""Reporting stage: the paper's tables and figures, side by side with sound versions.

:mod:`snninfo.report.tables` writes Table 1 (accuracy) and Table 2 (spiking and
informative neurons per class); :mod:`snninfo.report.figures` draws the spike
rasters of the paper's Figures 2-7 and the diagnostic figures;
:mod:`snninfo.report.cli` registers the ``table1``, ``table2`` and ``figures``
subcommands.

This module holds what both share: reading a run directory
(``results/{dataset}/n{neurons}/seed{seed}/``, see ``docs/formats.md``), the one
mapping from the names used here to the variable names of ``information.nc``
(:data:`INFO_VARS`, so that a rename there is a one-line change here), class and
data-set names, and the paper's set notation.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import xarray as xr

from snninfo import CLASS_NAMES

#: Names used by the report -> variable names in ``information.nc``.
INFO_VARS: dict[str, str] = {
    "input_entropy": "input_entropy",
    "output_entropy": "output_entropy",
    "mi": "mi",
    "mi_corrected": "mi_corrected",
    "mi_sum": "mi_sum",
    "mi_sum_corrected": "mi_sum_corrected",
    "significant": "significant",
    "pooled_significant": "pooled_significant",
    "pooled_test_index": "pooled_test_index",
    "n_repeats": "n_repeats",
    "p_value": "p_value",
    "paper_mi_positive": "paper_mi_positive",
    "stimulus_mi_corrected": "stimulus_mi_corrected",
    "label": "label",
    "test_index": "test_index",
    "repeat": "repeat",
    "lag": "lag",
}

#: Display names of the data sets.
DATASET_LABELS: dict[str, str] = {
    "mnist": "MNIST",
    "fashion_mnist": "Fashion-MNIST",
    "cifar10": "CIFAR-10 (grayscale)",
}

#: Order of the data sets in tables (the paper's order).
DATASET_ORDER: tuple[str, ...] = ("mnist", "fashion_mnist", "cifar10")


def info_var(ds: xr.Dataset, key: str) -> xr.DataArray:
    """Return the ``information.nc`` variable the report calls ``key`` (see :data:`INFO_VARS`)."""
    return ds[INFO_VARS[key]]


def open_nc(path: str | os.PathLike) -> xr.Dataset:
    """Load a NetCDF file fully into memory and close it (no file handle is kept open)."""
    with xr.open_dataset(path, engine="netcdf4") as ds:
        return ds.load()


def load_model(run_dir: str | os.PathLike) -> dict[str, Any]:
    """Load ``model.pt`` of a run (a plain dict, see ``docs/formats.md``); tensors become numpy arrays."""
    import torch

    model = torch.load(Path(run_dir) / "model.pt", map_location="cpu", weights_only=False)
    return {k: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v) for k, v in model.items()}


def run_dirs_from(run_dirs: Iterable[str | os.PathLike] | Mapping[Any, str | os.PathLike]) -> list[Path]:
    """Normalise the run directories given to a report function.

    A mapping (e.g. Snakemake's named inputs) contributes its values; its keys are
    ignored, because data set, network size and seed are always read from the
    files' attributes, never from names or paths.
    """
    values = run_dirs.values() if isinstance(run_dirs, Mapping) else run_dirs
    return [Path(p) for p in values]


def run_identity(attrs: Mapping[str, Any]) -> tuple[str, int, int]:
    """``(dataset, n_neurons, seed)`` from a result file's global attributes."""
    missing = [k for k in ("dataset", "n_neurons", "seed") if k not in attrs]
    if missing:
        raise ValueError(f"result file lacks the attributes {missing}")
    return str(attrs["dataset"]), int(attrs["n_neurons"]), int(attrs["seed"])


def class_names(dataset: str, attrs: Mapping[str, Any] | None = None) -> list[str]:
    """Class names from a file's ``class_names`` attribute (JSON list), else the package's table."""
    if attrs is not None and "class_names" in attrs:
        return list(json.loads(attrs["class_names"]))
    return list(CLASS_NAMES[dataset])


def class_text(index: int, name: str) -> str:
    """``3 (cat)`` for class 3 named ``cat``; just ``3`` where the name is the index (MNIST)."""
    return str(int(index)) if name == str(int(index)) else f"{int(index)} ({name})"


def dataset_label(dataset: str) -> str:
    """Human-readable data-set name (``cifar10`` -> ``CIFAR-10 (grayscale)``)."""
    return DATASET_LABELS.get(dataset, dataset)


def format_set(indices: Iterable[int]) -> str:
    """Format neuron indices as the paper does: sorted, ``{3, 4, 29}``; ``{}`` when empty."""
    return "{" + ", ".join(str(int(i)) for i in sorted(set(int(i) for i in indices))) + "}"


def nonzero_indices(mask: np.ndarray) -> list[int]:
    """Indices where a 1-D boolean/0-1 array is true."""
    return [int(i) for i in np.flatnonzero(np.asarray(mask))]
