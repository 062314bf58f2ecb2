"""Partial reruns: Snakemake reruns exactly the steps a change affects, on real data.

One tiny real-data pipeline (MNIST, 10 neurons, 40 training and 30 test images) is built once
for the module: first a single target, then the rest. Each rule's params hold exactly the
config sections its output depends on, so the params rerun trigger reruns a step, and what
follows it, only when one of those settings changes; settings of execution only (checkpoint
interval, threads, where and how the data are downloaded) rerun nothing.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from workflow_utils import copy_workflow, snakemake

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

RUN = "results/mnist/n10/seed0"
FIG = "results/figures/mnist/n10/seed0"

# The smallest real-data pipeline: one data set, one size, toy sizes everywhere.
BASE = {
    "datasets": ["mnist"],
    "network_sizes": [10],
    "data": {"n_train": 40, "n_test": 30},
    "model": {"time": 40},
    "training": {"update_interval": 20, "checkpoint_every": 20},
    "recording": {"repeats": 2},
    "information": {"permutations": 20},
}

EVERYTHING_AFTER_TRAINING = {"train", "assign", "evaluate", "record", "information", "table1",
                             "table2", "figures", "all"}


def config_args(mirror: Path, **changes) -> list[str]:
    """``--config`` arguments of BASE with the data mirror, sections updated by ``changes``."""
    cfg = json.loads(json.dumps(BASE))
    cfg["data"]["mirror"] = str(mirror)
    for section, value in changes.items():
        if isinstance(value, dict):
            cfg.setdefault(section, {}).update(value)
        else:
            cfg[section] = value
    return ["--config", *(f"{k}={json.dumps(v)}" for k, v in cfg.items())]


def job_counts(output: str) -> dict[str, int]:
    """The "Job stats" table of a snakemake (dry) run: rule -> number of jobs; {} if none."""
    if "Nothing to be done" in output:
        return {}
    m = re.search(r"^Job stats:\n(.*?)^total\s+\d+", output, re.M | re.S)
    assert m, output[-3000:]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)\s*$", m.group(1), re.M)}


def dry_run(wd: Path, *args: str) -> dict[str, int]:
    proc = snakemake(wd, "-n", "--cores", "1", *args, timeout=300)
    return job_counts(proc.stdout + proc.stderr)


def mtimes(wd: Path) -> dict[str, int]:
    return {str(p.relative_to(wd)): p.stat().st_mtime_ns
            for top in ("resources", "results") for p in (wd / top).rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, shared_data):
    """The tiny pipeline, built as a single target (evaluation.nc) first and then completed."""
    wd = copy_workflow(tmp_path_factory.mktemp("reruns"))
    cfg = config_args(shared_data)
    first = snakemake(wd, "--cores", "2", f"{RUN}/evaluation.nc", *cfg, timeout=900)
    after_first = sorted(mtimes(wd))
    snakemake(wd, "--cores", "2", *cfg, timeout=900)
    return {"wd": wd, "mirror": shared_data, "first": first.stdout + first.stderr,
            "after_first": after_first}


def test_a_single_target_builds_only_its_ancestors(pipeline, tmp_path):
    counts = job_counts(pipeline["first"])
    assert counts == {"download": 1, "convert": 1, "train": 1, "assign": 1, "evaluate": 1}
    built = pipeline["after_first"]
    assert f"{RUN}/evaluation.nc" in built and f"{RUN}/model.pt" in built
    for absent in (f"{RUN}/spikes.nc", f"{RUN}/information.nc", "results/tables/table1.csv",
                   f"{FIG}/weights.png"):
        assert absent not in built
    # other single targets in a fresh directory: again exactly their ancestors
    wd = copy_workflow(tmp_path)
    cfg = config_args(pipeline["mirror"])
    assert dry_run(wd, "results/tables/table1.csv", *cfg) == {
        "download": 1, "convert": 1, "train": 1, "assign": 1, "evaluate": 1, "table1": 1}
    assert dry_run(wd, f"{RUN}/information.nc", *cfg) == {
        "download": 1, "convert": 1, "train": 1, "assign": 1, "evaluate": 1, "record": 1,
        "information": 1}


def test_complete_pipeline_is_up_to_date(pipeline):
    assert dry_run(pipeline["wd"], *config_args(pipeline["mirror"])) == {}


@pytest.mark.parametrize(
    "changes, expected",
    [
        pytest.param({"information": {"permutations": 30}}, {"information", "table2", "figures", "all"},
                     id="information-parameter"),
        pytest.param({"information": {"alpha": 0.01}}, {"information", "table2", "figures", "all"},
                     id="information-alpha"),
        pytest.param({"model": {"theta_plus": 0.06}}, EVERYTHING_AFTER_TRAINING,
                     id="model-parameter"),
        pytest.param({"training": {"update_interval": 10}}, EVERYTHING_AFTER_TRAINING,
                     id="training-parameter"),
        pytest.param({"recording": {"repeats": 3}}, {"record", "information", "table2", "figures", "all"},
                     id="recording-parameter"),
        pytest.param({"training": {"checkpoint_every": 10}}, set(), id="checkpoint-interval"),
        pytest.param({"simulation": {"threads": 2}}, set(), id="threads"),
        pytest.param({"data": {"timeout": 5, "retries": 1}}, set(), id="download-settings"),
    ],
)
def test_a_config_change_reruns_exactly_what_depends_on_it(pipeline, changes, expected):
    counts = dry_run(pipeline["wd"], *config_args(pipeline["mirror"], **changes))
    assert set(counts) == expected, counts
    assert all(n == 1 for n in counts.values()), counts


def test_moving_the_data_mirror_reruns_nothing(pipeline, tmp_path):
    mirror = tmp_path / "mirror"
    shutil.copytree(pipeline["mirror"] / "mnist", mirror / "mnist")
    assert dry_run(pipeline["wd"], *config_args(mirror)) == {}


def test_forcerun_information_reruns_information_and_reports_only(pipeline):
    wd = pipeline["wd"]
    cfg = config_args(pipeline["mirror"])
    assert dry_run(wd, "--forcerun", "information", *cfg) == {
        "information": 1, "table2": 1, "figures": 1, "all": 1}
    before = mtimes(wd)
    snakemake(wd, "--cores", "2", "--forcerun", "information", *cfg, timeout=900)
    after = mtimes(wd)
    changed = {f for f in before if after[f] != before[f]}
    assert set(after) == set(before)
    assert f"{RUN}/information.nc" in changed
    assert {"results/tables/table2.csv", f"{FIG}/mi_maps.png", f"{FIG}/weights.png"} <= changed
    for kept in ("resources/datasets/mnist.nc", f"{RUN}/model.pt", f"{RUN}/training.csv",
                 f"{RUN}/assignments.nc", f"{RUN}/evaluation.nc", f"{RUN}/spikes.nc",
                 "results/tables/table1.csv"):
        assert kept not in changed, kept
    assert dry_run(wd, *cfg) == {}
