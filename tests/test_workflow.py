"""The Snakemake workflow as a user runs it: dry runs, config errors, and real runs on the
offline mirror (../shared/data) of the data stage and of the whole small pipeline."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from workflow_utils import copy_workflow, snakemake

pytestmark = pytest.mark.workflow

DATASETS = ["mnist", "fashion_mnist", "cifar10"]


def _mirror_config(mirror: Path, accept=("cifar10",)) -> list[str]:
    return ["--config", f"data={json.dumps({'mirror': str(mirror), 'accept_checksum_mismatch': list(accept)})}"]


def test_dry_run_shows_the_whole_dag(tmp_path):
    wd = copy_workflow(tmp_path)
    out = snakemake(wd, "-n", "--cores", "2", "--quiet", "rules").stdout
    for rule in ("download", "convert", "train", "assign", "evaluate", "record", "information",
                 "table1", "table2", "figures", "all"):
        assert re.search(rf"\b{rule}\b", out), (rule, out)
    # one branch per data set x size x seed
    out = snakemake(wd, "-n", "--cores", "2", "--config", "seeds=[0,1]", "network_sizes=[100,400]").stdout
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", out, re.M))
    assert counts["download"] == "3" and counts["convert"] == "3"
    assert counts["train"] == str(3 * 2 * 2) and counts["information"] == str(3 * 2 * 2)
    assert counts["table1"] == "1" and counts["figures"] == str(12)


@pytest.mark.parametrize(
    "override, key",
    [
        ("datasets=[svhn]", "datasets[0]"),
        ("model={'time': 'long'}", "model.time"),
        ("colour=red", "colour"),
    ],
)
def test_invalid_config_stops_the_run_naming_the_key(tmp_path, override, key):
    wd = copy_workflow(tmp_path)
    proc = snakemake(wd, "-n", "--cores", "1", "--config", override, check=False)
    assert proc.returncode != 0
    assert key in proc.stdout + proc.stderr


@pytest.mark.slow
def test_data_stage_from_mirror(tmp_path, shared_data):
    wd = copy_workflow(tmp_path)
    targets = [f"resources/datasets/{d}.nc" for d in DATASETS]
    snakemake(wd, "--cores", "2", *targets, *_mirror_config(shared_data))
    expected = {"mnist": (60000, 10000, 28), "fashion_mnist": (60000, 10000, 28), "cifar10": (4000, 1000, 32)}
    for d, (ntr, nte, side) in expected.items():
        with xr.open_dataset(wd / f"resources/datasets/{d}.nc") as ds:
            assert ds.train_image.shape == (ntr, side, side) and ds.test_image.shape == (nte, side, side)
            assert ds.train_image.dtype == np.uint8
            assert ds.sizes["class"] == 10
        manifest = json.loads((wd / f"resources/raw/{d}/manifest.json").read_text())
        assert manifest["dataset"] == d and manifest["files"]


@pytest.mark.slow
def test_cifar_subset_checksum_rejected_by_default(tmp_path, shared_data):
    wd = copy_workflow(tmp_path)
    proc = snakemake(wd, "--cores", "1", "resources/datasets/cifar10.nc",
                     *_mirror_config(shared_data, accept=()), check=False)
    assert proc.returncode != 0
    log = (wd / "logs/download/cifar10.log").read_text()
    assert "cifar-10-python.tar.gz" in log
    assert "c58f30108f718f92721af3b95e74349a" in log and "33568d23bd12ce23c9b6a3f8987dd63a" in log
    assert not (wd / "resources/raw/cifar10/manifest.json").exists()
    assert not (wd / "resources/raw/cifar10/cifar-10-python.tar.gz").exists()
    assert not (wd / "resources/datasets/cifar10.nc").exists()


@pytest.fixture(scope="module")
def small_pipeline(tmp_path_factory, shared_data):
    """The quick configuration (config/test/config.yaml) run end to end on the mirror."""
    wd = copy_workflow(tmp_path_factory.mktemp("pipeline"))
    snakemake(wd, "--cores", "2", "--configfile", "config/test/config.yaml", *_mirror_config(shared_data),
              timeout=3000)
    return wd


@pytest.mark.slow
def test_small_pipeline_outputs(small_pipeline):
    wd = small_pipeline
    for d in DATASETS:
        run = wd / f"results/{d}/n20/seed0"
        for f in ("model.pt", "training.csv", "assignments.nc", "evaluation.nc", "spikes.nc", "information.nc"):
            assert (run / f).stat().st_size > 0, (d, f)
        assert not (run / "checkpoint.pt").exists()
        with xr.open_dataset(run / "evaluation.nc") as ev:
            assert ev.sizes["sample"] == 100 and ev.attrs["n_train"] == 200
            assert ev.attrs["dataset"] == d and ev.attrs["seed"] == 0
            for attr in ("config", "package_versions", "snninfo_code_version"):
                assert attr in ev.attrs
        with xr.open_dataset(run / "spikes.nc") as sp:
            side = 32 if d == "cifar10" else 28
            assert sp.input_spikes.shape == (20, 100, side * side)  # 10 classes x 2 draws
            assert sp.output_spikes.shape == (20, 100, 20)
            assert list(sp.label.values) == [c for c in range(10) for _ in range(2)]
        with xr.open_dataset(run / "information.nc") as info:
            assert info.sizes["pooled_sample"] == 10 and info.mi_sum.attrs["units"] == "bits"
            assert info.attrs["permutations"] == 100
        curve = pd.read_csv(run / "training.csv")
        assert curve.samples_seen.iloc[-1] == 200
        assert (wd / f"logs/train/{d}/n20/seed0.log").read_text().count("samples |") == 4
    for t in ("table1", "table2"):
        for ext in ("csv", "md", "tex"):
            assert (wd / f"results/tables/{t}.{ext}").stat().st_size > 0
    t1 = pd.read_csv(wd / "results/tables/table1.csv")
    assert sorted(t1.dataset) == sorted(DATASETS)
    for _, r in t1.iterrows():
        with xr.open_dataset(wd / f"results/{r.dataset}/n20/seed0/evaluation.nc") as ev:
            assert r.accuracy_all_activity_mean == pytest.approx(ev.attrs["accuracy_all_activity"])
    t2 = pd.read_csv(wd / "results/tables/table2.csv")
    assert len(t2) == 3 * 10 * 2 and {"significant_lag1", "significant_pooled_lag1"} <= set(t2.columns)
    # the paper's column is the spiking set, by construction of the plug-in estimate
    assert (t2.spiked == t2.paper_mi_positive).all()
    figs = wd / "results/figures/mnist/n20/seed0"
    assert len(list(figs.glob("raster_class*.png"))) == 10


@pytest.mark.slow
def test_report_builds(small_pipeline):
    wd = small_pipeline
    snakemake(wd, "--cores", "1", "--configfile", "config/test/config.yaml", "--report", "report.html",
              timeout=600)
    html = (wd / "report.html").read_text(errors="replace")
    assert len(html) > 10000 and "table1.csv" in html and "raster_class0.png" in html


@pytest.mark.slow
def test_rerun_is_a_no_op(small_pipeline):
    # without the mirror setting this time: where verified files came from changes nothing
    out = snakemake(small_pipeline, "-n", "--cores", "1", "--configfile", "config/test/config.yaml")
    assert "Nothing to be done" in out.stdout + out.stderr
