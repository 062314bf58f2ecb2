"""Conversion of the raw data set files into ``resources/datasets/{dataset}.nc``.

The output layout is documented in ``docs/formats.md``: grayscale uint8 images
``train_image(train_sample, y, x)`` / ``test_image(test_sample, y, x)``, int64 labels, the
class coordinate with the class names, and global attributes naming the source files and
their md5s, describing the conversion and carrying the provenance.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from snninfo.data.cifar import GRAYSCALE_FORMULA, TRAIN_BATCHES, read_cifar10, to_grayscale
from snninfo.data.download import md5sum
from snninfo.data.idx import DataFormatError, read_idx
from snninfo.data.registry import DatasetSpec, get_spec
from snninfo.io import atomic_path, provenance

COMPRESSION = {"zlib": True, "complevel": 4}
SPLIT_WORDS = {"train": "training", "test": "test"}


@dataclass(frozen=True)
class _Split:
    """Images and labels of one split, with the files they came from (for messages)."""

    images: np.ndarray
    labels: np.ndarray
    image_source: Path
    label_source: Path


def _load_idx(spec: DatasetSpec, sources: dict[str, Path]) -> tuple[dict[str, _Split], str]:
    """Splits of an IDX data set, and the description of the conversion."""
    splits = {
        split: _Split(
            images=read_idx(sources[f"{split}_images"], expected_ndim=3),
            labels=read_idx(sources[f"{split}_labels"], expected_ndim=1).astype(np.int64),
            image_source=sources[f"{split}_images"],
            label_source=sources[f"{split}_labels"],
        )
        for split in SPLIT_WORDS
    }
    conversion = (
        "IDX files decoded without change: uint8 pixel values as distributed; labels widened "
        "from uint8 to int64; official sample order."
    )
    return splits, conversion


def _load_cifar(spec: DatasetSpec, sources: dict[str, Path]) -> tuple[dict[str, _Split], str]:
    """Grayscale splits of CIFAR-10, and the description of the conversion."""
    archive = sources["archive"]
    data = read_cifar10(archive)
    if tuple(data["class_names"]) != spec.class_names:
        raise DataFormatError(
            f"{archive}: batches.meta lists classes {data['class_names']}, "
            f"expected {list(spec.class_names)}"
        )
    splits = {
        split: _Split(
            images=to_grayscale(data[f"{split}_images"]),
            labels=data[f"{split}_labels"],
            image_source=archive,
            label_source=archive,
        )
        for split in SPLIT_WORDS
    }
    present = data["train_batches"]
    extent = "all of" if present == list(TRAIN_BATCHES) else "a SUBSET of"
    conversion = (
        f"RGB converted to grayscale with {GRAYSCALE_FORMULA} in integer arithmetic "
        "(bit-identical to PIL Image.convert('L'), which torchvision's Grayscale applies to "
        f"PIL images). Training batches present: {', '.join(present)} ({extent} "
        f"data_batch_1..5), {len(data['train_labels'])} training images; test_batch: "
        f"{len(data['test_labels'])} test images; official sample order."
    )
    return splits, conversion


def _check_split(spec: DatasetSpec, name: str, split: _Split) -> None:
    """Image geometry, image/label count agreement and label range of one split."""
    images, labels = split.images, split.labels
    if images.shape[1:] != spec.image_shape:
        raise DataFormatError(
            f"{split.image_source}: {name} images of shape {images.shape[1:]}, "
            f"expected {spec.image_shape} for {spec.name}"
        )
    if len(images) != len(labels):
        raise DataFormatError(
            f"{spec.name} {name} set: {len(images)} images ({split.image_source.name}) "
            f"but {len(labels)} labels ({split.label_source.name})"
        )
    if len(images) == 0:
        raise DataFormatError(f"{split.image_source}: the {name} set holds no images")
    n_classes = len(spec.class_names)
    bad = (labels < 0) | (labels >= n_classes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataFormatError(
            f"{split.label_source}: {name} label {int(labels[i])} at index {i} "
            f"outside 0-{n_classes - 1}"
        )


def _build_dataset(
    spec: DatasetSpec, splits: dict[str, _Split], sources: dict[str, Path], conversion: str,
) -> xr.Dataset:
    """The in-memory data set in the layout of docs/formats.md."""
    data_vars = {}
    for name, split in splits.items():
        word = SPLIT_WORDS[name]
        data_vars[f"{name}_image"] = (
            (f"{name}_sample", "y", "x"), split.images,
            {"long_name": f"{word} image, grayscale pixel intensity (0-255)"},
        )
        data_vars[f"{name}_label"] = (
            (f"{name}_sample",), split.labels,
            {"long_name": f"class index of the {word} image"},
        )
    coords = {
        "class": ("class", np.arange(len(spec.class_names), dtype=np.int64),
                  {"long_name": "class index"}),
        "class_name": ("class", np.array(spec.class_names, dtype=str),
                       {"long_name": "class name"}),
    }
    attrs = {
        "dataset": spec.name,
        "source_files": json.dumps([path.name for path in sources.values()]),
        "source_md5": json.dumps({path.name: md5sum(path) for path in sources.values()},
                                 sort_keys=True),
        "conversion": conversion,
        **provenance(),
    }
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def _write(ds: xr.Dataset, out_path: Path) -> None:
    """Write atomically, zlib-compressed; images chunked one image a chunk, labels whole."""
    encoding = {
        name: {**COMPRESSION, "chunksizes": (1, *var.shape[1:]) if var.ndim == 3 else var.shape}
        for name, var in ds.data_vars.items()
    }
    with atomic_path(out_path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=encoding)


def convert_dataset(
    dataset: str, raw_dir: str | os.PathLike, out_path: str | os.PathLike,
) -> xr.Dataset:
    """Convert the raw files of ``dataset`` in ``raw_dir`` into the NetCDF file ``out_path``.

    The raw files are those :func:`snninfo.data.download.download_dataset` fetches, under their
    official names. CIFAR-10 images are converted to grayscale (see
    :data:`snninfo.data.cifar.GRAYSCALE_FORMULA`). Returns the written data set (in memory).

    Raises
    ------
    FileNotFoundError
        A raw file is missing (the message lists them).
    DataFormatError
        A raw file is damaged or inconsistent: wrong format, image size, image/label count
        mismatch, label outside 0-9. Nothing is written then.
    """
    spec = get_spec(dataset)
    raw = Path(raw_dir)
    sources = {role: raw / file.name for role, file in spec.files.items()}
    missing = [str(path) for path in sources.values() if not path.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{dataset}: raw file(s) missing: {', '.join(missing)} "
            f"(fetch them with `snninfo download --dataset {dataset} --dest {raw}`)"
        )
    load = _load_idx if spec.format == "idx" else _load_cifar
    splits, conversion = load(spec, sources)
    for name, split in splits.items():
        _check_split(spec, name, split)
    ds = _build_dataset(spec, splits, sources, conversion)
    _write(ds, Path(out_path))
    return ds
