"""Conversion of the raw files into resources/datasets/{dataset}.nc (docs/formats.md)."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from PIL import Image

from snninfo import CLASS_NAMES
from snninfo.data import cli
from snninfo.data.cifar import read_cifar10, to_grayscale
from snninfo.data.convert import convert_dataset
from snninfo.data.download import md5sum
from snninfo.data.idx import DataFormatError, read_idx
from snninfo.data.registry import DATASETS

PROVENANCE_ATTRS = ("snninfo_code_version", "package_versions", "created", "command", "host")
IDX_ROLES = ("train_images", "train_labels", "test_images", "test_labels")


@pytest.fixture(scope="module")
def converted(shared_data: Path, tmp_path_factory: pytest.TempPathFactory):
    """Convert each real data set once per module; yields dataset -> output path (lazily)."""
    out_dir = tmp_path_factory.mktemp("datasets")
    cache: dict[str, Path] = {}

    def get(dataset: str) -> Path:
        if dataset not in cache:
            out = out_dir / f"{dataset}.nc"
            convert_dataset(dataset, shared_data / dataset, out)
            cache[dataset] = out
        return cache[dataset]

    return get


def check_layout(ds: xr.Dataset, dataset: str, n_train: int, n_test: int, side: int) -> None:
    assert dict(ds.sizes) == {"train_sample": n_train, "test_sample": n_test,
                              "y": side, "x": side, "class": 10}
    assert ds.train_image.dims == ("train_sample", "y", "x")
    assert ds.test_image.dims == ("test_sample", "y", "x")
    assert ds.train_image.dtype == ds.test_image.dtype == np.uint8
    assert ds.train_label.dtype == ds.test_label.dtype == np.int64
    assert ds["class"].values.tolist() == list(range(10))
    assert ds["class"].dtype == np.int64
    assert ds.class_name.values.tolist() == CLASS_NAMES[dataset]
    for name in ("train_image", "test_image", "train_label", "test_label", "class", "class_name"):
        assert ds[name].attrs["long_name"]
    assert ds.attrs["dataset"] == dataset
    for name in PROVENANCE_ATTRS:
        assert ds.attrs[name]
    assert ds.train_image.encoding["chunksizes"] == (1, side, side)
    assert ds.train_image.encoding["zlib"]


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_convert_idx(converted, shared_data: Path, dataset: str) -> None:
    raw = shared_data / dataset
    files = DATASETS[dataset].files
    with xr.open_dataset(converted(dataset)) as ds:
        check_layout(ds, dataset, 60000, 10000, 28)
        for split in ("train", "test"):
            np.testing.assert_array_equal(
                ds[f"{split}_image"].values, read_idx(raw / files[f"{split}_images"].name))
            np.testing.assert_array_equal(
                ds[f"{split}_label"].values, read_idx(raw / files[f"{split}_labels"].name))
        names = [files[role].name for role in IDX_ROLES]
        assert json.loads(ds.attrs["source_files"]) == names
        md5 = json.loads(ds.attrs["source_md5"])
        assert md5 == {name: md5sum(raw / name) for name in names}
        assert md5 == {f.name: f.md5 for f in files.values()}  # the official files
        assert "IDX" in ds.attrs["conversion"]


def test_convert_cifar10_subset(converted, shared_data: Path) -> None:
    archive = shared_data / "cifar10" / "cifar-10-python.tar.gz"
    rgb = read_cifar10(archive)
    with xr.open_dataset(converted("cifar10")) as ds:
        check_layout(ds, "cifar10", 4000, 1000, 32)
        for split in ("train", "test"):
            np.testing.assert_array_equal(ds[f"{split}_image"].values,
                                          to_grayscale(rgb[f"{split}_images"]))
            np.testing.assert_array_equal(ds[f"{split}_label"].values, rgb[f"{split}_labels"])
        for i in (0, 1, 2, 1234, 3999):
            pil = np.asarray(Image.fromarray(rgb["train_images"][i]).convert("L"))
            np.testing.assert_array_equal(ds.train_image.values[i], pil)
        assert json.loads(ds.attrs["source_files"]) == ["cifar-10-python.tar.gz"]
        assert json.loads(ds.attrs["source_md5"]) == {"cifar-10-python.tar.gz": md5sum(archive)}
        conversion = ds.attrs["conversion"]
        for part in ("(R*19595 + G*38470 + B*7471 + 0x8000) >> 16", "data_batch_1 (a SUBSET",
                     "4000 training images", "1000 test images"):
            assert part in conversion


def test_returned_dataset_equals_file(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "cifar10.nc"
    ds = convert_dataset("cifar10", shared_data / "cifar10", out)
    with xr.open_dataset(out) as reread:
        xr.testing.assert_identical(ds, reread.load())


# ---------------------------------------------------------------- failures write nothing

def raw_copy(shared_data: Path, tmp_path: Path, dataset: str) -> Path:
    """A raw directory of symbolic links to the real files (replace one to damage it)."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for file in DATASETS[dataset].files.values():
        (raw / file.name).symlink_to(shared_data / dataset / file.name)
    return raw


def assert_nothing_written(out: Path) -> None:
    assert not out.exists()
    assert list(out.parent.iterdir()) == []


def test_truncated_file_fails_without_output(shared_data: Path, tmp_path: Path) -> None:
    raw = raw_copy(shared_data, tmp_path, "mnist")
    name = "t10k-images-idx3-ubyte.gz"
    data = (shared_data / "mnist" / name).read_bytes()
    (raw / name).unlink()
    (raw / name).write_bytes(data[: len(data) - 1000])
    out = tmp_path / "out" / "mnist.nc"
    out.parent.mkdir()
    with pytest.raises(DataFormatError, match=f"{raw / name}: corrupt gzip stream"):
        convert_dataset("mnist", raw, out)
    assert_nothing_written(out)


def test_truncated_cifar_fails_without_output(shared_data: Path, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    data = (shared_data / "cifar10" / "cifar-10-python.tar.gz").read_bytes()
    (raw / "cifar-10-python.tar.gz").write_bytes(data[: len(data) // 2])
    out = tmp_path / "out" / "cifar10.nc"
    out.parent.mkdir()
    with pytest.raises(DataFormatError, match="cifar-10-python.tar.gz: cannot read member"):
        convert_dataset("cifar10", raw, out)
    assert_nothing_written(out)


@pytest.fixture
def synthetic_raw(make_idx, tmp_path: Path) -> Path:
    """Small, valid MNIST-named IDX files: 5 training and 3 test images."""
    raw = tmp_path / "raw"
    raw.mkdir()
    rng = np.random.default_rng(0)
    files = DATASETS["mnist"].files
    make_idx(raw / files["train_images"].name, rng.integers(0, 256, (5, 28, 28)))
    make_idx(raw / files["train_labels"].name, np.array([0, 1, 2, 3, 9]))
    make_idx(raw / files["test_images"].name, rng.integers(0, 256, (3, 28, 28)))
    make_idx(raw / files["test_labels"].name, np.array([4, 5, 6]), compress=False)
    return raw


def test_synthetic_conversion(synthetic_raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "mnist.nc"
    ds = convert_dataset("mnist", synthetic_raw, out)
    assert ds.sizes["train_sample"] == 5 and ds.sizes["test_sample"] == 3
    assert ds.test_label.values.tolist() == [4, 5, 6]
    assert out.is_file() and len(list(out.parent.iterdir())) == 1


@pytest.mark.parametrize("role, array, expected", [
    ("train_labels", np.array([0, 1, 2, 3]),
     r"mnist train set: 5 images \(train-images-idx3-ubyte.gz\) but 4 labels "
     r"\(train-labels-idx1-ubyte.gz\)"),
    ("test_labels", np.array([4, 10, 6]),
     r"t10k-labels-idx1-ubyte.gz: test label 10 at index 1 outside 0-9"),
    ("test_images", np.zeros((3, 32, 32)),
     r"t10k-images-idx3-ubyte.gz: test images of shape \(32, 32\), expected \(28, 28\)"),
    ("train_images", np.zeros((5, 784)),
     r"train-images-idx3-ubyte.gz: not an IDX label or image file: magic number 0x00000802"),
    ("train_labels", np.zeros((5, 1, 1)),
     r"train-labels-idx1-ubyte.gz: IDX file holds images \(3-D.*expected labels \(1-D\)"),
])
def test_inconsistent_files_fail_without_output(
    synthetic_raw: Path, make_idx, tmp_path: Path, role: str, array: np.ndarray, expected: str,
) -> None:
    make_idx(synthetic_raw / DATASETS["mnist"].files[role].name, array)
    out = tmp_path / "out" / "mnist.nc"
    out.parent.mkdir()
    with pytest.raises(DataFormatError, match=expected):
        convert_dataset("mnist", synthetic_raw, out)
    assert_nothing_written(out)


def test_missing_raw_file(synthetic_raw: Path, tmp_path: Path) -> None:
    (synthetic_raw / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"raw file\(s\) missing: .*t10k-images"):
        convert_dataset("mnist", synthetic_raw, tmp_path / "mnist.nc")
    assert not (tmp_path / "mnist.nc").exists()


def test_existing_output_replaced_only_on_success(synthetic_raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "mnist.nc"
    out.write_text("previous")
    (synthetic_raw / "t10k-labels-idx1-ubyte.gz").write_bytes(b"")
    with pytest.raises(DataFormatError):
        convert_dataset("mnist", synthetic_raw, out)
    assert out.read_text() == "previous"


# ---------------------------------------------------------------- command line

def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="snninfo")
    subparsers = parser.add_subparsers(dest="command", required=True)
    cli.add_convert_parser(subparsers)
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_convert(synthetic_raw: Path, tmp_path: Path,
                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "datasets" / "mnist.nc"
    assert run_cli("convert", "--dataset", "mnist", "--raw", str(synthetic_raw),
                   "--out", str(out)) == 0
    with xr.open_dataset(out) as ds:
        assert ds.sizes["train_sample"] == 5
    shutil.copy(synthetic_raw / "t10k-labels-idx1-ubyte.gz",
                synthetic_raw / "train-labels-idx1-ubyte.gz")
    assert run_cli("convert", "--dataset", "mnist", "--raw", str(synthetic_raw),
                   "--out", str(tmp_path / "other.nc")) == 1
    assert "5 images (train-images-idx3-ubyte.gz) but 3 labels" in capsys.readouterr().err
    assert not (tmp_path / "other.nc").exists()
