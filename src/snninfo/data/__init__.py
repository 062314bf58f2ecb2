"""Data stage: download of the official benchmark files and conversion to NetCDF.

* :mod:`snninfo.data.registry` — official file names, md5s, URLs and image shapes;
* :mod:`snninfo.data.download` — md5-verified, atomic, retrying downloads (official servers
  or a mirror);
* :mod:`snninfo.data.idx` and :mod:`snninfo.data.cifar` — readers of the raw formats and the
  PIL-exact grayscale conversion;
* :mod:`snninfo.data.convert` — ``resources/datasets/{dataset}.nc`` (see docs/formats.md);
* :mod:`snninfo.data.cli` — the ``download`` and ``convert`` subcommands.
"""

from snninfo.data.cifar import read_cifar10, to_grayscale
from snninfo.data.convert import convert_dataset
from snninfo.data.download import ChecksumError, ChecksumWarning, DownloadError, download_dataset
from snninfo.data.idx import DataFormatError, read_idx
from snninfo.data.registry import DATASETS, DatasetSpec, RemoteFile, get_spec

__all__ = [
    "ChecksumError", "ChecksumWarning", "DATASETS", "DataFormatError", "DatasetSpec",
    "DownloadError", "RemoteFile", "convert_dataset", "download_dataset", "get_spec",
    "read_cifar10", "read_idx", "to_grayscale",
]
