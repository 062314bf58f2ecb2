"""IDX and CIFAR-10 readers, and the PIL-exact grayscale conversion."""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from snninfo import CLASS_NAMES
from snninfo.data.cifar import read_cifar10, to_grayscale
from snninfo.data.idx import DataFormatError, read_idx

MNIST_TRAIN_HEAD = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
MNIST_TEST_HEAD = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
FASHION_TRAIN_HEAD = [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
CIFAR_TRAIN_HEAD = [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
CIFAR_TEST_HEAD = [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]


def pil_grayscale(rgb: np.ndarray) -> np.ndarray:
    """PIL's ``convert("L")`` of an (H, W, 3) uint8 array."""
    return np.asarray(Image.fromarray(rgb).convert("L"))


# ---------------------------------------------------------------- IDX on the real files

def test_mnist_idx(shared_data: Path) -> None:
    d = shared_data / "mnist"
    train = read_idx(d / "train-images-idx3-ubyte.gz", expected_ndim=3)
    test = read_idx(d / "t10k-images-idx3-ubyte.gz", expected_ndim=3)
    train_labels = read_idx(d / "train-labels-idx1-ubyte.gz", expected_ndim=1)
    test_labels = read_idx(d / "t10k-labels-idx1-ubyte.gz", expected_ndim=1)
    assert train.shape == (60000, 28, 28) and train.dtype == np.uint8
    assert test.shape == (10000, 28, 28) and test.dtype == np.uint8
    assert train_labels.shape == (60000,) and test_labels.shape == (10000,)
    assert train_labels[:10].tolist() == MNIST_TRAIN_HEAD
    assert test_labels[:10].tolist() == MNIST_TEST_HEAD
    assert train.mean(dtype=np.float64) == pytest.approx(33.318421, abs=1e-5)
    assert test.mean(dtype=np.float64) == pytest.approx(33.791224, abs=1e-5)
    assert train.flags.writeable


def test_fashion_mnist_idx(shared_data: Path) -> None:
    d = shared_data / "fashion_mnist"
    assert read_idx(d / "train-images-idx3-ubyte.gz").shape == (60000, 28, 28)
    assert read_idx(d / "t10k-images-idx3-ubyte.gz").shape == (10000, 28, 28)
    labels = read_idx(d / "train-labels-idx1-ubyte.gz")
    assert labels.shape == (60000,)
    assert labels[:10].tolist() == FASHION_TRAIN_HEAD
    assert read_idx(d / "t10k-labels-idx1-ubyte.gz").shape == (10000,)


def test_plain_idx_equals_gzipped(shared_data: Path, tmp_path: Path) -> None:
    gz = shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz"
    plain = tmp_path / "t10k-labels-idx1-ubyte"
    plain.write_bytes(gzip.decompress(gz.read_bytes()))
    np.testing.assert_array_equal(read_idx(plain), read_idx(gz))


# ---------------------------------------------------------------- IDX errors

@pytest.fixture
def labels_payload(shared_data: Path) -> bytes:
    """Decompressed bytes of the real MNIST test label file (8-byte header + 10000 labels)."""
    return gzip.decompress((shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes())


def _damaged(payload: bytes, case: str) -> bytes:
    if case == "truncated payload":
        return payload[:-100]
    if case == "over-long payload":
        return payload + b"\x00" * 3
    if case == "truncated header":
        return payload[:6]
    if case == "float type code":
        return payload[:2] + b"\x0d" + payload[3:]
    if case == "foreign magic":
        return b"\x12\x34" + payload[2:]
    if case == "2-D":
        return payload[:3] + b"\x02" + payload[4:]
    raise AssertionError(case)


@pytest.mark.parametrize("case, expected", [
    ("truncated payload", r"truncated IDX payload: 9900 bytes, expected 10000 = 10000"),
    ("over-long payload", r"over-long IDX payload: 10003 bytes, expected 10000"),
    ("truncated header", r"truncated IDX header: 6 bytes, expected 8"),
    ("float type code", r"unsupported IDX type code 0x0d .*expected 0x08"),
    ("foreign magic", r"magic number 0x12340801, expected 0x00000801 .* or 0x00000803"),
    ("2-D", r"magic number 0x00000802, expected 0x00000801"),
])
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_idx_damaged_payload(
    labels_payload: bytes, tmp_path: Path, case: str, expected: str, compress: bool,
) -> None:
    path = tmp_path / "damaged-idx1-ubyte"
    data = _damaged(labels_payload, case)
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(DataFormatError, match=expected) as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_idx_truncated_gzip(shared_data: Path, tmp_path: Path) -> None:
    raw = (shared_data / "mnist" / "t10k-images-idx3-ubyte.gz").read_bytes()
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataFormatError, match="corrupt gzip stream") as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_idx_corrupt_gzip_crc(shared_data: Path, tmp_path: Path) -> None:
    raw = bytearray((shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes())
    raw[-8] ^= 0xFF  # CRC32 of the gzip trailer
    path = tmp_path / "crc.gz"
    path.write_bytes(bytes(raw))
    with pytest.raises(DataFormatError, match=f"{path}: corrupt gzip stream"):
        read_idx(path)


@pytest.mark.parametrize("content, expected", [
    (b"", "not an IDX file: empty"),
    (b"\x00\x00", "not an IDX file: 2 bytes long"),
    (b"this is a text file, not IDX\n", "magic number 0x74686973"),
])
def test_idx_foreign_files(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "foreign.txt"
    path.write_bytes(content)
    with pytest.raises(DataFormatError, match=expected) as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_idx_expected_ndim(make_idx, tmp_path: Path) -> None:
    path = make_idx(tmp_path / "labels.gz", np.arange(5, dtype=np.uint8))
    assert read_idx(path, expected_ndim=1).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(DataFormatError, match=r"holds labels \(1-D.*expected images \(3-D\)"):
        read_idx(path, expected_ndim=3)


# ---------------------------------------------------------------- CIFAR-10

def test_cifar10_subset(shared_data: Path) -> None:
    data = read_cifar10(shared_data / "cifar10" / "cifar-10-python.tar.gz")
    assert data["train_images"].shape == (4000, 32, 32, 3)
    assert data["test_images"].shape == (1000, 32, 32, 3)
    assert data["train_images"].dtype == data["test_images"].dtype == np.uint8
    assert data["train_labels"].dtype == data["test_labels"].dtype == np.int64
    assert data["train_labels"][:10].tolist() == CIFAR_TRAIN_HEAD
    assert data["test_labels"][:10].tolist() == CIFAR_TEST_HEAD
    assert data["class_names"] == CLASS_NAMES["cifar10"]
    assert data["train_batches"] == ["data_batch_1"]


def _batch(n: int, label: int = 0) -> dict:
    rng = np.random.default_rng(n)
    return {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": [label] * n}


META = {b"label_names": [name.encode() for name in CLASS_NAMES["cifar10"]]}


def make_cifar_archive(path: Path, members: dict[str, object]) -> Path:
    """A ``cifar-10-python.tar.gz`` holding the given objects, pickled as the original."""
    with tarfile.open(path, "w:gz") as tar:
        for name, obj in members.items():
            blob = obj if isinstance(obj, bytes) else pickle.dumps(obj, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def test_cifar10_layout_and_batch_order(tmp_path: Path) -> None:
    b1, b3, test = _batch(3, 1), _batch(2, 3), _batch(4, 9)
    archive = make_cifar_archive(tmp_path / "c.tar.gz", {
        "test_batch": test, "data_batch_3": b3, "batches.meta": META, "data_batch_1": b1,
    })
    data = read_cifar10(archive)
    assert data["train_batches"] == ["data_batch_1", "data_batch_3"]
    assert data["train_labels"].tolist() == [1, 1, 1, 3, 3]
    # row = 1024 red, 1024 green, 1024 blue values, each plane row-major 32 x 32
    row = b1[b"data"][0]
    expected = np.stack([row[:1024], row[1024:2048], row[2048:]], axis=-1).reshape(32, 32, 3)
    np.testing.assert_array_equal(data["train_images"][0], expected)
    assert data["test_labels"].tolist() == [9] * 4


@pytest.mark.parametrize("members, expected", [
    ({"data_batch_1": _batch(2), "batches.meta": META}, r"missing member\(s\).*test_batch"),
    ({"test_batch": _batch(2), "batches.meta": META}, r"missing member\(s\).*data_batch_1\.\.5"),
    ({"data_batch_1": {b"data": np.zeros((2, 3000), np.uint8), b"labels": [0, 0]},
      "test_batch": _batch(2), "batches.meta": META},
     r"member cifar-10-batches-py/data_batch_1: b'data' must be a uint8 N x 3072 array, "
     r"found uint8 array of shape \(2, 3000\)"),
    ({"data_batch_1": {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]},
      "test_batch": _batch(2), "batches.meta": META},
     r"data_batch_1: 2 images but b'labels' has shape \(1,\)"),
    ({"data_batch_1": _batch(2), "test_batch": _batch(2, label=10), "batches.meta": META},
     r"test_batch: label 10 at index 0 outside 0-9"),
    ({"data_batch_1": [1, 2], "test_batch": _batch(2), "batches.meta": META},
     r"data_batch_1: expected a dict with b'data' and b'labels', found list"),
    ({"data_batch_1": _batch(2), "test_batch": _batch(2), "batches.meta": {b"label_names": []}},
     r"batches.meta: expected b'label_names' as a list of 10 byte strings"),
    ({"data_batch_1": b"cos\nsystem\n(S'true'\ntR.", "test_batch": _batch(2),
      "batches.meta": META},
     r"cannot read member cifar-10-batches-py/data_batch_1: UnpicklingError: "
     r"global os.system is not allowed"),
], ids=["no-test", "no-train", "data-shape", "label-count", "label-range", "not-dict",
        "meta", "foreign-global"])
def test_cifar10_errors(tmp_path: Path, members: dict, expected: str) -> None:
    archive = make_cifar_archive(tmp_path / "c.tar.gz", members)
    with pytest.raises(DataFormatError, match=expected) as err:
        read_cifar10(archive)
    assert str(archive) in str(err.value)


@pytest.mark.parametrize("keep", [0, 1000, 10_000_000], ids=["empty", "header", "half"])
def test_cifar10_truncated_archive(shared_data: Path, tmp_path: Path, keep: int) -> None:
    raw = (shared_data / "cifar10" / "cifar-10-python.tar.gz").read_bytes()
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(raw[:keep])
    with pytest.raises(DataFormatError) as err:
        read_cifar10(archive)
    assert str(archive) in str(err.value)


# ---------------------------------------------------------------- grayscale

def test_grayscale_equals_pil_on_all_cifar_images(shared_data: Path) -> None:
    data = read_cifar10(shared_data / "cifar10" / "cifar-10-python.tar.gz")
    rgb = np.concatenate([data["train_images"], data["test_images"]])
    assert len(rgb) == 5000
    # The conversion is per pixel: one tall image converts all 5000 images in one PIL call.
    expected = pil_grayscale(rgb.reshape(-1, 32, 3)).reshape(-1, 32, 32)
    np.testing.assert_array_equal(to_grayscale(rgb), expected)
    # and image by image, for a sample
    for i in range(0, 5000, 499):
        np.testing.assert_array_equal(to_grayscale(rgb[i]), pil_grayscale(rgb[i]))


def test_grayscale_equals_pil_on_random_and_extreme_values() -> None:
    rng = np.random.default_rng(1)
    random = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    corners = np.array(np.meshgrid([0, 1, 127, 128, 254, 255], [0, 1, 127, 128, 254, 255],
                                   [0, 1, 127, 128, 254, 255], indexing="ij"))
    extremes = corners.reshape(3, -1).T.astype(np.uint8).reshape(6, 36, 3)
    every_gray = np.repeat(np.arange(256, dtype=np.uint8), 3).reshape(16, 16, 3)
    for rgb in (random, extremes, every_gray):
        np.testing.assert_array_equal(to_grayscale(rgb), pil_grayscale(rgb))
    np.testing.assert_array_equal(to_grayscale(every_gray), every_gray[..., 0])
    assert to_grayscale(np.full((2, 2, 3), 255, np.uint8)).tolist() == [[255, 255], [255, 255]]


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 4), np.uint8)])
def test_grayscale_rejects_bad_input(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"expected a uint8 array of shape \[\.\.\., 3\]"):
        to_grayscale(bad)
