"""Reader for CIFAR-10's "python version" archive and PIL-exact grayscale conversion.

``cifar-10-python.tar.gz`` holds ``cifar-10-batches-py/data_batch_1`` ... ``data_batch_5``
(10,000 training images each), ``test_batch`` and ``batches.meta``: Python pickles whose
``b'data'`` is an N x 3072 uint8 array (per row 1024 red, 1024 green, 1024 blue values, each
a row-major 32 x 32 plane) and ``b'labels'`` a list of N class indices. Training batches
that are absent from the archive are skipped and reported (the offline mirror has only
``data_batch_1``).
"""

from __future__ import annotations

import codecs
import os
import pickle
import tarfile
import zlib
from pathlib import Path
from typing import IO, Any, TypedDict

import numpy as np

from snninfo.data.idx import DataFormatError

try:  # numpy >= 2
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import _reconstruct

ARCHIVE_DIR = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
HEIGHT = WIDTH = 32
N_CLASSES = 10

GRAYSCALE_WEIGHTS = (19595, 38470, 7471)
"""ITU-R 601-2 luma weights scaled by 2**16, as PIL's ``Image.convert("L")`` uses them."""
GRAYSCALE_FORMULA = "L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16"
"""Integer grayscale conversion, bit-identical to PIL's ``Image.convert("L")``."""

# Errors that reading a member of a damaged archive or unpickling a damaged pickle can raise.
_READ_ERRORS = (
    tarfile.TarError, pickle.UnpicklingError, EOFError, OSError, zlib.error,
    ValueError, TypeError, AttributeError, IndexError, KeyError,
)


class CifarData(TypedDict):
    """What :func:`read_cifar10` returns."""

    train_images: np.ndarray
    """(N_train, 32, 32, 3) uint8 RGB."""
    train_labels: np.ndarray
    """(N_train,) int64 class indices."""
    test_images: np.ndarray
    """(N_test, 32, 32, 3) uint8 RGB."""
    test_labels: np.ndarray
    """(N_test,) int64 class indices."""
    class_names: list[str]
    train_batches: list[str]
    """Names of the training batches found in the archive, in order."""


class _BatchUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals a CIFAR-10 pickle needs (no arbitrary code)."""

    _ALLOWED = {
        ("_codecs", "encode"): codecs.encode,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    }

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"global {module}.{name} is not allowed in a CIFAR-10 pickle"
            ) from None


def _unpickle(stream: IO[bytes]) -> Any:
    return _BatchUnpickler(stream, encoding="bytes").load()


def _read_members(archive: Path) -> dict[str, Any]:
    """Unpickle the batches and the metadata found in ``archive``, in one pass over it."""
    wanted = {f"{ARCHIVE_DIR}/{name}": name for name in (*TRAIN_BATCHES, TEST_BATCH, META)}
    found: dict[str, Any] = {}
    member = "<archive header>"
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for info in tar:
                if info.name not in wanted:
                    continue
                member = info.name
                stream = tar.extractfile(info)
                if stream is None:
                    raise DataFormatError(f"{archive}: member {member} is not a regular file")
                found[wanted[member]] = _unpickle(stream)
    except DataFormatError:
        raise
    except _READ_ERRORS as exc:
        raise DataFormatError(
            f"{archive}: cannot read member {member}: {type(exc).__name__}: {exc}"
        ) from exc
    return found


def _check_batch(obj: Any, archive: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate one unpickled batch; return its (N, 32, 32, 3) images and (N,) labels."""
    where = f"{archive}: member {ARCHIVE_DIR}/{name}"
    if not isinstance(obj, dict) or b"data" not in obj or b"labels" not in obj:
        keys = f"keys {list(obj)}" if isinstance(obj, dict) else type(obj).__name__
        raise DataFormatError(f"{where}: expected a dict with b'data' and b'labels', found {keys}")
    data = obj[b"data"]
    n_values = 3 * HEIGHT * WIDTH
    expected = f"b'data' must be a uint8 N x {n_values} array"
    if not isinstance(data, np.ndarray):
        raise DataFormatError(f"{where}: {expected}, found {type(data).__name__}")
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != n_values:
        raise DataFormatError(
            f"{where}: {expected}, found {data.dtype} array of shape {data.shape}"
        )
    try:
        labels = np.asarray(obj[b"labels"], dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise DataFormatError(f"{where}: b'labels' is not a list of integers: {exc}") from exc
    if labels.shape != (data.shape[0],):
        raise DataFormatError(
            f"{where}: {data.shape[0]} images but b'labels' has shape {labels.shape}"
        )
    bad = (labels < 0) | (labels >= N_CLASSES)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataFormatError(
            f"{where}: label {labels[i]} at index {i} outside 0-{N_CLASSES - 1}"
        )
    images = data.reshape(-1, 3, HEIGHT, WIDTH).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def _check_meta(obj: Any, archive: Path) -> list[str]:
    """Validate the unpickled ``batches.meta``; return the class names."""
    where = f"{archive}: member {ARCHIVE_DIR}/{META}"
    names = obj.get(b"label_names") if isinstance(obj, dict) else None
    if not (isinstance(names, list) and len(names) == N_CLASSES
            and all(isinstance(n, bytes) for n in names)):
        raise DataFormatError(
            f"{where}: expected b'label_names' as a list of {N_CLASSES} byte strings, "
            f"found {names!r}"
        )
    return [n.decode("ascii", errors="backslashreplace") for n in names]


def read_cifar10(archive_path: str | os.PathLike) -> CifarData:
    """Read ``cifar-10-python.tar.gz`` into RGB arrays, labels and class names.

    The training set is the concatenation, in order, of the ``data_batch_<i>`` members present
    (at least one is required); ``test_batch`` and ``batches.meta`` are required.

    Raises
    ------
    DataFormatError
        Naming the archive and the member, for a damaged archive, a missing member, or a
        batch of unexpected structure, shape, label count or label value.
    """
    archive = Path(archive_path)
    members = _read_members(archive)
    train_batches = [name for name in TRAIN_BATCHES if name in members]
    missing = [name for name in (TEST_BATCH, META) if name not in members]
    if not train_batches:
        missing.insert(0, "data_batch_1..5 (none present)")
    if missing:
        raise DataFormatError(
            f"{archive}: missing member(s) in {ARCHIVE_DIR}/: {', '.join(missing)}"
        )
    train = [_check_batch(members[name], archive, name) for name in train_batches]
    test_images, test_labels = _check_batch(members[TEST_BATCH], archive, TEST_BATCH)
    return CifarData(
        train_images=np.concatenate([images for images, _ in train]),
        train_labels=np.concatenate([labels for _, labels in train]),
        test_images=test_images,
        test_labels=test_labels,
        class_names=_check_meta(members[META], archive),
        train_batches=train_batches,
    )


def to_grayscale(rgb: np.ndarray) -> np.ndarray:
    """Convert uint8 RGB (``[..., 3]``) to uint8 luma exactly as PIL's ``convert("L")``.

    Computes ``(R*19595 + G*38470 + B*7471 + 0x8000) >> 16`` in integer arithmetic (the
    weights sum to 2**16, so the result lies in 0-255); this is also what torchvision's
    ``Grayscale`` transform does on PIL images.
    """
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim < 1 or rgb.shape[-1] != 3:
        raise ValueError(f"expected a uint8 array of shape [..., 3], got {rgb.dtype} {rgb.shape}")
    w_r, w_g, w_b = (np.uint32(w) for w in GRAYSCALE_WEIGHTS)
    acc = rgb[..., 0].astype(np.uint32)
    acc *= w_r
    acc += rgb[..., 1] * w_g
    acc += rgb[..., 2] * w_b
    acc += np.uint32(0x8000)
    acc >>= np.uint32(16)
    return acc.astype(np.uint8)
