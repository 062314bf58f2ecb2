"""CLI subcommands of the model stage: train, assign, evaluate, record."""

from __future__ import annotations

import argparse

from snninfo.config import load_cli

CONFIG_HELP = ("YAML config file, or an inline JSON mapping of config sections (what the workflow "
               "passes); missing keys take the schema defaults")


def _load(args) -> dict:
    """Validated config with the command-line overrides of execution settings."""
    overrides: dict = {}
    if getattr(args, "threads", None) is not None:
        overrides.setdefault("simulation", {})["threads"] = args.threads
    if getattr(args, "checkpoint_every", None) is not None:
        overrides.setdefault("training", {})["checkpoint_every"] = args.checkpoint_every
    return load_cli(args.config, overrides)


def _common(p: argparse.ArgumentParser, data: bool = True) -> None:
    p.add_argument("--config", help=CONFIG_HELP)
    p.add_argument("--threads", type=int, help="torch threads (overrides simulation.threads)")
    p.add_argument("--seed", type=int, required=True, help="branch seed (all random draws derive from it)")
    if data:
        p.add_argument("--data", required=True, help="converted data set, resources/datasets/{dataset}.nc")


def _train(args) -> int:
    from snninfo.model.training import train

    cfg = _load(args)
    train(args.data, args.out_dir, cfg, dataset=args.dataset, n_neurons=args.neurons, seed=args.seed)
    return 0


def _assign(args) -> int:
    from snninfo.model.inference import assign

    cfg = _load(args)
    assign(args.model, args.out, cfg, data_path=args.data, seed=args.seed)
    return 0


def _evaluate(args) -> int:
    from snninfo.model.inference import evaluate

    evaluate(args.model, args.assignments, args.data, args.out, _load(args), seed=args.seed)
    return 0


def _record(args) -> int:
    from snninfo.model.inference import record

    record(args.model, args.assignments, args.data, args.out, _load(args), seed=args.seed)
    return 0


def add_model_parsers(sub) -> None:
    p = sub.add_parser("train", help="train the Diehl & Cook network (model.pt, training.csv)",
                       description="Unsupervised STDP training; resumes from checkpoint.pt in --out-dir.")
    _common(p)
    p.add_argument("--dataset", required=True, choices=["mnist", "fashion_mnist", "cifar10"])
    p.add_argument("--neurons", type=int, required=True, help="excitatory neurons")
    p.add_argument("--out-dir", required=True, help="run directory; gets model.pt and training.csv")
    p.add_argument("--checkpoint-every", type=int,
                   help="samples between checkpoints (overrides training.checkpoint_every; 0 = never)")
    p.set_defaults(func=_train)

    p = sub.add_parser("assign", help="assign a class to every excitatory neuron (assignments.nc)")
    _common(p, data=False)
    p.add_argument("--model", required=True, help="model.pt")
    p.add_argument("--data", help="converted data set (needed for training.label_source: separate_pass)")
    p.add_argument("--out", required=True, help="assignments.nc")
    p.set_defaults(func=_assign)

    for name, help_, out, func in (
        ("evaluate", "classify the test set with learning off (evaluation.nc)", "evaluation.nc", _evaluate),
        ("record", "record input/output spike trains of selected test images (spikes.nc)", "spikes.nc",
         _record),
    ):
        p = sub.add_parser(name, help=help_)
        _common(p)
        p.add_argument("--model", required=True, help="model.pt")
        p.add_argument("--assignments", required=True, help="assignments.nc")
        p.add_argument("--out", required=True, help=out)
        p.set_defaults(func=func)
