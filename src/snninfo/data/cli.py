"""``download`` and ``convert`` subcommands, registered on the project CLI's subparsers."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from snninfo.config import ConfigError, load_cli, load_schema
from snninfo.data.convert import convert_dataset
from snninfo.data.download import DownloadError, download_dataset, md5sum
from snninfo.data.idx import DataFormatError
from snninfo.data.registry import DATASETS
from snninfo.io import provenance, write_text

log = logging.getLogger("snninfo.data")

OPTIONS_FROM_CONFIG = ("mirror", "timeout", "retries")
"""``download`` options that fall back on the config's ``data`` section when not given."""


def _error(command: str, exc: BaseException) -> int:
    print(f"snninfo {command}: error: {exc}", file=sys.stderr)
    return 1


def _schema_default(key: str) -> object:
    """Default of ``data.<key>`` in the config schema (for the help texts)."""
    return load_schema()["properties"]["data"]["properties"][key]["default"]


def _setup_logging() -> None:
    """Progress messages on stderr, unless the caller configured logging already."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


def _run_download(args: argparse.Namespace) -> int:
    """Handler of ``download``: resolve the options (command line > --config > defaults)."""
    _setup_logging()
    try:
        data = load_cli(args.config)["data"]  # all schema defaults when --config is absent
    except ConfigError as exc:
        return _error("download", exc)
    options = {key: data[key] if getattr(args, key) is None else getattr(args, key)
               for key in OPTIONS_FROM_CONFIG}
    accept = args.accept_checksum_mismatch or args.dataset in data["accept_checksum_mismatch"]
    try:
        paths = download_dataset(args.dataset, args.dest, accept_mismatch=accept, log=log, **options)
    except (DownloadError, ValueError) as exc:
        return _error("download", exc)
    if args.manifest:
        _write_manifest(args.manifest, args.dataset, paths, options["mirror"])
    return 0


def _write_manifest(path: str, dataset: str, paths: list, mirror: str | None) -> None:
    """What the workflow's download rule declares: the verified files and their md5."""
    official = {f.name: f.md5 for f in DATASETS[dataset].files.values()}
    files = {p.name: md5sum(p) for p in paths}
    manifest = {
        "dataset": dataset,
        "source": mirror or "official servers",
        "files": files,
        "differs_from_official_md5": sorted(n for n, m in files.items() if official.get(n) != m),
        "provenance": provenance(),
    }
    write_text(path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _run_convert(args: argparse.Namespace) -> int:
    """Handler of ``convert``."""
    _setup_logging()
    try:
        ds = convert_dataset(args.dataset, args.raw, args.out)
    except (DataFormatError, FileNotFoundError) as exc:
        return _error("convert", exc)
    log.info("%s: wrote %s (%d training, %d test images)", args.dataset, args.out,
             ds.sizes["train_sample"], ds.sizes["test_sample"])
    return 0


def add_download_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``download`` on ``subparsers`` (from ``ArgumentParser.add_subparsers``)."""
    parser = subparsers.add_parser(
        "download",
        help="download the official files of a data set, verified by md5",
        description=(
            "Download the official files of a data set into DIR, each streamed to a temporary "
            "file and moved into place only when its md5 is the official one. Files already "
            "present with the official md5 are not downloaded again. Options given here "
            "override those of --config, which override the built-in defaults."
        ),
    )
    parser.add_argument("--dataset", required=True, choices=sorted(DATASETS),
                        help="the data set to download")
    parser.add_argument("--dest", required=True, metavar="DIR",
                        help="directory to download into (created if needed), "
                             "e.g. resources/raw/<dataset>")
    parser.add_argument("--mirror", default=None, metavar="DIR_OR_URL",
                        help="fetch from a mirror laid out as <mirror>/<dataset>/<file>: a local "
                             "directory, a file:// or an http(s):// URL (default: config "
                             "data.mirror, else the official servers)")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="seconds without data before an attempt is abandoned (default: "
                             f"config data.timeout, else {_schema_default('timeout')})")
    parser.add_argument("--retries", type=int, default=None, metavar="N",
                        help="attempts per file for network errors, timeouts, HTTP 5xx and "
                             "truncated transfers (default: config data.retries, else "
                             f"{_schema_default('retries')})")
    parser.add_argument("--accept-checksum-mismatch", action="store_true",
                        help="keep files whose md5 differs from the official one, with a "
                             "warning, instead of failing (also enabled when the data set is "
                             "listed in config data.accept_checksum_mismatch)")
    parser.add_argument("--config", default=None, metavar="FILE",
                        help="YAML config file (or inline JSON mapping) whose validated 'data' "
                             "section supplies defaults for the options above")
    parser.add_argument("--manifest", default=None, metavar="FILE",
                        help="after success, write a JSON manifest of the files and their md5 "
                             "(the workflow's output of this step)")
    parser.set_defaults(func=_run_download)
    return parser


def add_convert_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``convert`` on ``subparsers`` (from ``ArgumentParser.add_subparsers``)."""
    parser = subparsers.add_parser(
        "convert",
        help="convert a data set's raw files into the project's NetCDF format",
        description=(
            "Read the raw files of a data set (as downloaded) and write one NetCDF file with "
            "uint8 grayscale images, int64 labels, class names and provenance (see "
            "docs/formats.md). CIFAR-10 is converted to grayscale exactly as PIL's "
            "convert('L'). The output is written atomically."
        ),
    )
    parser.add_argument("--dataset", required=True, choices=sorted(DATASETS),
                        help="the data set to convert")
    parser.add_argument("--raw", required=True, metavar="DIR",
                        help="directory holding the raw files under their official names")
    parser.add_argument("--out", required=True, metavar="FILE",
                        help="NetCDF file to write, e.g. resources/datasets/<dataset>.nc")
    parser.set_defaults(func=_run_convert)
    return parser
