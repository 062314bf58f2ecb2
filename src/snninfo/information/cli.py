"""Command line of the ``information`` step.

``snninfo information --spikes spikes.nc [--evaluation evaluation.nc] --out information.nc``
(registered by :func:`add_information_parser`), or stand-alone
``python -m snninfo.information.cli --spikes ... --out ...``.

Settings come from the ``information`` section of ``--config`` (a YAML file or an inline
JSON mapping; schema defaults otherwise); explicit flags override it.  The seed defaults
to the spikes file's ``seed`` attribute.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence

import xarray as xr

from snninfo import config as _config
from snninfo.information.estimators import NULL_METHODS
from snninfo.information.pipeline import CORRECTIONS, run

_FLAG_KEYS = ("lags", "permutations", "null_model", "alpha", "correction")


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spikes", required=True, metavar="FILE", help="spikes.nc (record step)")
    parser.add_argument("--evaluation", metavar="FILE",
                        help="evaluation.nc (evaluate step); adds the stimulus information")
    parser.add_argument("--out", required=True, metavar="FILE", help="information.nc to write")
    parser.add_argument("--lags", type=int, nargs="+", metavar="LAG",
                        help="lags in time steps (output at t + lag), e.g. 0 1")
    parser.add_argument("--permutations", type=int, metavar="N", help="size of the null")
    parser.add_argument("--null", "--null-model", dest="null_model", choices=NULL_METHODS,
                        help="how output trains are permuted (config key null_model)")
    parser.add_argument("--alpha", type=float, metavar="A",
                        help="Benjamini-Hochberg false discovery rate")
    parser.add_argument("--correction", choices=CORRECTIONS,
                        help="bias correction of the *_corrected variables")
    parser.add_argument("--seed", type=int, metavar="S",
                        help="seed (default: the spikes file's seed attribute)")
    parser.add_argument("--config", metavar="FILE_OR_JSON",
                        help="config YAML file or inline JSON mapping; flags override it")


def add_information_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``information`` subcommand on an ``argparse`` subparsers object.

    The parsed namespace's ``func(args)`` runs the step and returns the exit code 0;
    invalid settings raise :class:`snninfo.config.ConfigError` / ``ValueError``.
    """
    parser = subparsers.add_parser(
        "information", help="entropies, MI with permutation tests, stimulus information",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_arguments(parser)
    parser.set_defaults(func=run_information)
    return parser


def information_config(args: argparse.Namespace) -> dict:
    """The validated ``information`` section: ``--config`` (or defaults) overridden by flags."""
    cfg = _config.load_cli(args.config)
    overrides = {k: getattr(args, k) for k in _FLAG_KEYS if getattr(args, k) is not None}
    if overrides:
        cfg["information"].update(overrides)
        cfg = _config.validate(cfg, source="command line")
    return cfg["information"]


def run_information(args: argparse.Namespace) -> int:
    """Handler of the ``information`` subcommand; returns 0 on success."""
    info_cfg = information_config(args)
    seed = args.seed
    if seed is None:
        with xr.open_dataset(args.spikes) as ds:
            if "seed" not in ds.attrs:
                raise ValueError(f"{args.spikes} has no 'seed' attribute; pass --seed")
            seed = int(ds.attrs["seed"])
    run(args.spikes, args.evaluation, args.out, info_cfg, seed)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point; returns the exit code (1 with a message on bad input)."""
    parser = argparse.ArgumentParser(
        prog="python -m snninfo.information.cli", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_information(args)
    except (ValueError, OSError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
