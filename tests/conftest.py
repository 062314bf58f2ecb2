"""Shared test fixtures.

``shared_data``: the offline copies of the benchmark data sets at ``../shared/data`` from the
project root. When that folder is absent the tests using it are skipped, except under CI
(environment variable ``CI`` = ``true``), where its absence is a failure. Tests using the
fixture are marked ``realdata`` automatically.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data_dir() -> Path:
    """Return ``../shared/data``; skip the calling test when it is absent (fail under CI)."""
    if SHARED_DATA.is_dir():
        return SHARED_DATA
    reason = (
        f"offline data mirror not found at {SHARED_DATA} (../shared/data from the project "
        "root; see its README.md)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; it is required when CI=true", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The offline data mirror (see :func:`shared_data_dir`)."""
    return shared_data_dir()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "shared_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.realdata)


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> Path:
    """Write a uint8 array as an IDX file (gzipped when ``compress``); return ``path``."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    payload = header + array.tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


@pytest.fixture
def make_idx() -> Callable[..., Path]:
    """The :func:`write_idx` helper, as a fixture."""
    return write_idx
