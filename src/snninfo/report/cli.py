"""Command-line subcommands of the reporting stage: ``table1``, ``table2``, ``figures``.

:func:`add_report_parsers` registers them on the ``subparsers`` of the
``snninfo`` command; each parser's ``func`` runs the step and returns exit status 0.
Data set, network size and seed are read from the result files' attributes, never
from the directory names.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def _table1(args: argparse.Namespace) -> int:
    from snninfo.report.tables import table1

    table1(args.runs, args.out_prefix)
    return 0


def _table2(args: argparse.Namespace) -> int:
    from snninfo.report.tables import table2

    table2(args.runs, args.out_prefix)
    return 0


def _figures(args: argparse.Namespace) -> int:
    from snninfo.report.figures import make_all

    make_all(args.run, args.out, pdf=args.pdf)
    return 0


def add_report_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``table1``, ``table2`` and ``figures`` subcommands on ``subparsers``."""
    runs_help = "run directories results/{dataset}/n{neurons}/seed{seed} (any order)"
    p = subparsers.add_parser(
        "table1", help="Table 1: test accuracy per data set and network size (mean ± sd over seeds)",
        description="Writes OUT_PREFIX.csv, .md and .tex from each run's evaluation.nc (and model.pt).")
    p.add_argument("--runs", nargs="+", required=True, type=Path, metavar="DIR", help=runs_help)
    p.add_argument("--out-prefix", type=Path, default=Path("results/tables/table1"),
                   help="output path without extension (default: %(default)s)")
    p.set_defaults(func=_table1)

    p = subparsers.add_parser(
        "table2", help="Table 2: spiking, paper-informative and significantly informative neurons per class",
        description="Writes OUT_PREFIX.csv, .md and .tex from each run's spikes.nc, information.nc "
                    "and assignments.nc.")
    p.add_argument("--runs", nargs="+", required=True, type=Path, metavar="DIR", help=runs_help)
    p.add_argument("--out-prefix", type=Path, default=Path("results/tables/table2"),
                   help="output path without extension (default: %(default)s)")
    p.set_defaults(func=_table2)

    p = subparsers.add_parser(
        "figures", help="figures of one run: spike rasters per class, weights, theta, MI maps, "
                        "confusion, training curve, MI vs entropy",
        description="Writes the PNGs (and PDFs with --pdf) of one run into --out.")
    p.add_argument("--run", required=True, type=Path, metavar="DIR", help="one run directory")
    p.add_argument("--out", required=True, type=Path, metavar="DIR",
                   help="output directory, normally results/figures/{dataset}/n{neurons}/seed{seed}")
    p.add_argument("--pdf", action="store_true", help="also write every figure as PDF")
    p.set_defaults(func=_figures)
