"""Atomic output writing and provenance.

Every file the pipeline produces is written under a temporary name in the target
directory and renamed into place only when complete, so an interrupted step never
leaves a truncated output, and an existing output is replaced in one step.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator, Mapping

PROVENANCE_PACKAGES = (
    "snninfo", "bindsnet", "torch", "numpy", "pandas", "xarray", "netCDF4",
    "matplotlib", "snakemake", "numba",
)


_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp creates 0600; outputs get the usual mode
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_netcdf(ds, path: str | os.PathLike, chunk_dim: str | None = "sample") -> None:
    """Write an xarray Dataset atomically, zlib-compressed, chunked one ``chunk_dim`` entry a chunk."""
    encoding = {}
    for name, var in ds.data_vars.items():
        enc: dict[str, Any] = {"zlib": True, "complevel": 4}
        if var.ndim and chunk_dim:
            chunks = []
            for dim, size in zip(var.dims, var.shape):
                chunks.append(1 if dim == chunk_dim else max(int(size), 1))
            if chunk_dim in var.dims:
                enc["chunksizes"] = tuple(chunks)
        if var.dtype.kind in "OU":
            enc = {}
        encoding[name] = enc
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=encoding)


def code_version() -> str:
    """Package version plus the git commit of the source tree when available."""
    from snninfo import __version__

    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(
            ["git", "-C", str(here), "describe", "--always", "--dirty", "--tags"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = ""
    return f"{__version__}+git.{rev}" if rev else __version__


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PROVENANCE_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def provenance(config: Mapping | None = None, seed: int | None = None, **extra: Any) -> dict[str, str]:
    """Attributes every result file carries (strings and numbers only, NetCDF-safe)."""
    attrs: dict[str, Any] = {
        "snninfo_code_version": code_version(),
        "package_versions": json.dumps(package_versions(), sort_keys=True),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "host": platform.node(),
    }
    if config is not None:
        attrs["config"] = json.dumps(config, sort_keys=True)
    if seed is not None:
        attrs["seed"] = int(seed)
    for k, v in extra.items():
        attrs[k] = v if isinstance(v, (int, float, str)) else json.dumps(v, sort_keys=True)
    return attrs
