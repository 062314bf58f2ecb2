# Config validation and helpers shared by all rules.
#
# The config is validated against workflow/schemas/config.schema.yaml (JSON Schema draft
# 2020-12, the same file the package ships) when the workflow starts: an unknown key, a wrong
# type or an invalid value stops the run with a message naming the key. Defaults are filled in.

import json
import shlex

from snakemake.exceptions import WorkflowError

from snninfo.config import ConfigError, validate

try:
    # validate() also types the strings --config delivers (Snakemake uses YAML's BaseLoader)
    _validated = validate(config, source="the workflow config (config/config.yaml and --config)")
except ConfigError as exc:
    raise WorkflowError(str(exc)) from None
config.clear()
config.update(_validated)

DATASETS = config["datasets"]
SIZES = config["network_sizes"]
SEEDS = config["seeds"]
N_CLASSES = 10
RUN = "results/{dataset}/n{neurons}/seed{seed}"
FIGURES = "results/figures/{dataset}/n{neurons}/seed{seed}"
RUN_FIGURES = [
    "weights.png",
    "theta.png",
    "mi_maps.png",
    "confusion.png",
    "training_curve.png",
    "mi_vs_entropy.png",
]


wildcard_constraints:
    dataset="mnist|fashion_mnist|cifar10",
    neurons=r"\d+",
    seed=r"\d+",


def cfg_json(**sections):
    """Compact, key-sorted JSON of config sections for a rule's params.

    Each value is a list of keys to take from that section, or None for the whole section.
    A rule's params hold exactly what its output depends on, so Snakemake's params rerun
    trigger reruns a step (and what follows) only when a setting it uses changes.
    """
    out = {}
    for name, keys in sections.items():
        section = config[name]
        out[name] = dict(section) if keys is None else {k: section[k] for k in keys}
    return json.dumps(out, sort_keys=True, separators=(",", ":"))


def runs(pattern):
    """Expand a per-run pattern over datasets x network sizes x seeds."""
    return expand(pattern, dataset=DATASETS, neurons=SIZES, seed=SEEDS)


def training_sections():
    training = [k for k in config["training"] if k != "checkpoint_every"]
    return cfg_json(
        data=["n_train"],
        model=None,
        training=training,
        simulation=["engine", "device"],
    )


def train_gpus():
    return 0 if config["simulation"]["device"] == "cpu" else 1


def all_targets():
    return [
        "results/tables/table1.csv",
        "results/tables/table2.csv",
        *runs(RUN + "/information.nc"),
        *runs([FIGURES + "/" + f for f in RUN_FIGURES]),
        *expand(FIGURES + "/raster_class{k}.png", dataset=DATASETS, neurons=SIZES, seed=SEEDS,
                k=range(N_CLASSES)),
    ]
