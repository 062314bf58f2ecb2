"""``snninfo <step>``: every pipeline step, runnable by hand. ``snninfo <step> --help``."""

from __future__ import annotations

import argparse
import os
import sys

from snninfo import __version__


def build_parser() -> argparse.ArgumentParser:
    from snninfo.data.cli import add_convert_parser, add_download_parser
    from snninfo.information.cli import add_information_parser
    from snninfo.model.cli import add_model_parsers
    from snninfo.report.cli import add_report_parsers

    parser = argparse.ArgumentParser(
        prog="snninfo",
        description="Diehl & Cook spiking networks and the information theory of their spike trains.",
    )
    parser.add_argument("--version", action="version", version=f"snninfo {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="step", metavar="<step>", required=True)
    add_download_parser(sub)
    add_convert_parser(sub)
    add_model_parsers(sub)
    add_information_parser(sub)
    add_report_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("MPLBACKEND", "Agg")
    from snninfo.config import ConfigError
    from snninfo.model.common import setup_logging

    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(verbose=not args.quiet)
    try:
        return int(args.func(args) or 0)
    except (ConfigError, FileNotFoundError, ValueError, KeyError, RuntimeError) as exc:
        if os.environ.get("SNNINFO_TRACEBACK"):
            raise
        print(f"snninfo {args.step}: error ({type(exc).__name__}): {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
