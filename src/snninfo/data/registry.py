"""Official files of the benchmark data sets: names, md5 checksums, URLs, image geometry.

The md5 values are those of the original distributions (byte-exact). MNIST is fetched from
the maintained mirror of the original files that torchvision uses, since the original host
(yann.lecun.com) no longer serves them reliably.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, Mapping

from snninfo import CLASS_NAMES


@dataclass(frozen=True)
class RemoteFile:
    """One official file of a data set."""

    name: str
    """File name, identical on the official server, in a mirror and in the raw directory."""
    md5: str
    """md5 of the official file (lower-case hex)."""
    url: str
    """Official download URL."""


@dataclass(frozen=True)
class DatasetSpec:
    """Everything the download and conversion steps need to know about one data set."""

    name: str
    format: Literal["idx", "cifar-python"]
    """``idx``: four gzipped IDX files; ``cifar-python``: the pickled CIFAR-10 tar archive."""
    files: Mapping[str, RemoteFile]
    """Role -> file. IDX data sets: ``train_images``, ``train_labels``, ``test_images``,
    ``test_labels``; CIFAR-10: ``archive``."""
    image_shape: tuple[int, int]
    """(height, width) of one (grayscale) image."""
    class_names: tuple[str, ...]


def _idx_files(base_url: str, md5: Mapping[str, str]) -> Mapping[str, RemoteFile]:
    names = {
        "train_images": "train-images-idx3-ubyte.gz",
        "train_labels": "train-labels-idx1-ubyte.gz",
        "test_images": "t10k-images-idx3-ubyte.gz",
        "test_labels": "t10k-labels-idx1-ubyte.gz",
    }
    return MappingProxyType(
        {role: RemoteFile(name, md5[role], base_url + name) for role, name in names.items()}
    )


MNIST_BASE_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
FASHION_MNIST_BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"

DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        format="idx",
        files=_idx_files(MNIST_BASE_URL, {
            "train_images": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train_labels": "d53e105ee54ea40749a09fcbcd1e9432",
            "test_images": "9fb629c4189551a2d022fa330f9573f3",
            "test_labels": "ec29112dd5afa0611ce80d1b7f02629c",
        }),
        image_shape=(28, 28),
        class_names=tuple(CLASS_NAMES["mnist"]),
    ),
    "fashion_mnist": DatasetSpec(
        name="fashion_mnist",
        format="idx",
        files=_idx_files(FASHION_MNIST_BASE_URL, {
            "train_images": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train_labels": "25c81989df183df01b3e8a0aad5dffbe",
            "test_images": "bef4ecab320f06d8554ea6380940ec79",
            "test_labels": "bb300cfdad3c16e7a12a480ee83cd310",
        }),
        image_shape=(28, 28),
        class_names=tuple(CLASS_NAMES["fashion_mnist"]),
    ),
    "cifar10": DatasetSpec(
        name="cifar10",
        format="cifar-python",
        files=MappingProxyType({
            "archive": RemoteFile(
                "cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a", CIFAR10_URL
            ),
        }),
        image_shape=(32, 32),
        class_names=tuple(CLASS_NAMES["cifar10"]),
    ),
}
"""Known data sets by name."""


def get_spec(dataset: str) -> DatasetSpec:
    """Return the :class:`DatasetSpec` of ``dataset``; ``ValueError`` naming the known ones."""
    try:
        return DATASETS[dataset]
    except KeyError:
        raise ValueError(
            f"unknown data set {dataset!r} (known: {', '.join(sorted(DATASETS))})"
        ) from None
