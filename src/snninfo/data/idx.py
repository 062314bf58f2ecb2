"""Reader for the IDX format of MNIST and Fashion-MNIST (gzipped or plain).

An IDX file is a 4-byte magic number ``0x00 0x00 <type code> <number of dimensions>``,
one big-endian uint32 per dimension, then the values in row-major order. Only unsigned
bytes (type code 0x08) occur in these data sets: images are 3-D (0x00000803), labels
1-D (0x00000801).
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"
IDX_UBYTE = 0x08
SUPPORTED_NDIM = {1: "labels", 3: "images"}


class DataFormatError(ValueError):
    """A data file is truncated, corrupt or not of the expected format.

    The message names the file and states what was expected and what was found.
    """


def _read_payload(path: Path) -> bytes:
    """Return the (decompressed) bytes of ``path``."""
    raw = path.read_bytes()
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        # BadGzipFile (an OSError) for a bad header or CRC, EOFError for a cut stream.
        raise DataFormatError(f"{path}: corrupt gzip stream ({exc})") from exc


def read_idx(path: str | os.PathLike, expected_ndim: int | None = None) -> np.ndarray:
    """Read an IDX file of unsigned bytes into a ``uint8`` array of its shape.

    Parameters
    ----------
    path
        The file, gzip-compressed (detected by its content, not its name) or plain.
    expected_ndim
        If given, 1 (a label file) or 3 (an image file): any other number of
        dimensions in the header is an error.

    Raises
    ------
    DataFormatError
        For an empty, truncated, over-long or corrupt file, a foreign magic number, a type
        code other than unsigned byte, or an unexpected number of dimensions.
    """
    path = Path(path)
    data = _read_payload(path)
    if len(data) < 4:
        what = "empty" if not data else f"{len(data)} bytes long"
        raise DataFormatError(f"{path}: not an IDX file: {what}, expected a 4-byte magic number")
    magic = int.from_bytes(data[:4], "big")
    type_code, ndim = data[2], data[3]
    if data[:2] != b"\x00\x00" or ndim not in SUPPORTED_NDIM:
        raise DataFormatError(
            f"{path}: not an IDX label or image file: magic number 0x{magic:08x}, "
            "expected 0x00000801 (labels) or 0x00000803 (images)"
        )
    if type_code != IDX_UBYTE:
        raise DataFormatError(
            f"{path}: unsupported IDX type code 0x{type_code:02x} (magic 0x{magic:08x}), "
            f"expected 0x{IDX_UBYTE:02x} (unsigned byte)"
        )
    if expected_ndim is not None and ndim != expected_ndim:
        raise DataFormatError(
            f"{path}: IDX file holds {SUPPORTED_NDIM[ndim]} ({ndim}-D, magic 0x{magic:08x}), "
            f"expected {SUPPORTED_NDIM.get(expected_ndim, 'data')} ({expected_ndim}-D)"
        )
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DataFormatError(
            f"{path}: truncated IDX header: {len(data)} bytes, expected {header_len} "
            f"for {ndim} dimensions"
        )
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims, dtype=np.int64))
    found = len(data) - header_len
    if found != expected:
        shape = " x ".join(map(str, dims))
        state = "truncated" if found < expected else "over-long"
        raise DataFormatError(
            f"{path}: {state} IDX payload: {found} bytes, expected {expected} = {shape}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(dims).copy()
