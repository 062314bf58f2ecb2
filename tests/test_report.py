"""Tests of the reporting stage (Tables 1-2, figures, CLI) on synthetic, format-exact runs."""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from _report_fixtures import build_results, build_run
from snninfo.report import format_set, open_nc
from snninfo.report import figures, tables
from snninfo.report.cli import add_report_parsers

SET_PATTERN = re.compile(r"^\{(\d+(, \d+)*)?\}$")
FIGURE_KINDS = {"weights.png": "weights", "theta.png": "theta", "mi_maps.png": "mi_maps",
                "confusion.png": "confusion", "training_curve.png": "training_curve",
                "mi_vs_entropy.png": "mi_vs_entropy"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    """2 data sets x 1 size (20 neurons) x 2 seeds."""
    return build_results(tmp_path_factory.mktemp("results"))


@pytest.fixture(scope="module")
def silent_run(tmp_path_factory) -> Path:
    """A run in which no output neuron ever spikes."""
    return build_run(tmp_path_factory.mktemp("silent"), "cifar10", 20, 0, all_silent=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="snninfo")
    add_report_parsers(parser.add_subparsers(dest="command", required=True))
    return parser


def _no_temporaries(directory: Path) -> None:
    assert not list(directory.rglob("*.tmp")), "temporary files left behind"


def _spiked_sets(run: Path) -> list[str]:
    ds = open_nc(run / "spikes.nc")
    spiked = ds["output_spikes"].values.sum(axis=1) > 0
    return [format_set(np.flatnonzero(row)) for row in spiked]


# --------------------------------------------------------------------------- helpers

def test_format_set_is_sorted_and_paper_style():
    assert format_set([29, 3, 4]) == "{3, 4, 29}"
    assert format_set(np.array([], dtype=int)) == "{}"
    assert format_set([7]) == "{7}"


# --------------------------------------------------------------------------- Table 1

def test_table1_rows_columns_and_notes(runs, tmp_path):
    frame = tables.table1(runs, tmp_path / "table1")
    assert list(frame.columns) == tables.TABLE1_COLUMNS
    assert list(frame["dataset"]) == ["mnist", "fashion_mnist"]
    assert list(frame["n_neurons"]) == [20, 20]
    assert list(frame["n_seeds"]) == [2, 2]
    assert list(frame["n_train"]) == [2000, 2000]
    assert list(frame["n_test"]) == [10, 10]
    assert frame["paper_accuracy"].isna().all()  # the paper reports 100 neurons only
    for note in frame["note"]:
        assert "test subset: 10 of 10,000" in note and "training subset: 2,000 of 60,000" in note
    _no_temporaries(tmp_path)


def test_table1_accuracy_recomputed_with_silent_counted_wrong(runs, tmp_path):
    frame = tables.table1(runs, tmp_path / "table1").set_index("dataset")
    for dataset in ("mnist", "fashion_mnist"):
        evals = [xr.load_dataset(r / "evaluation.nc") for r in runs if r.parts[-3] == dataset]
        for scheme in tables.SCHEMES:
            per_seed = [float(np.mean(ev[f"prediction_{scheme}"].values == ev["label"].values)) for ev in evals]
            assert frame.loc[dataset, f"accuracy_{scheme}_mean"] == pytest.approx(np.mean(per_seed))
            assert frame.loc[dataset, f"accuracy_{scheme}_std"] == pytest.approx(np.std(per_seed, ddof=1))
        silent = [ev["spike_count"].values.sum(axis=1) == 0 for ev in evals]
        assert frame.loc[dataset, "silent_fraction_mean"] == pytest.approx(np.mean([s.mean() for s in silent]))
        # Silent samples exist, predict -1 and lower the accuracy below the non-silent one.
        ev, s = evals[0], silent[0]
        assert s.any() and (ev["prediction_all_activity"].values[s] == -1).all()
        pred, label = ev["prediction_all_activity"].values, ev["label"].values
        assert np.mean(pred == label) < np.mean(pred[~s] == label[~s])


def test_table1_single_seed_full_training_set_and_paper_value(tmp_path):
    run = build_run(tmp_path / "results", "cifar10", 100, 3, n_train=50_000)
    frame = tables.table1({"only": run}, tmp_path / "tables" / "table1")
    row = frame.iloc[0]
    assert row["dataset"] == "cifar10" and row["n_neurons"] == 100 and row["n_seeds"] == 1
    assert np.isnan(row["accuracy_all_activity_std"]) and np.isnan(row["accuracy_proportion_weighting_std"])
    assert row["paper_accuracy"] == pytest.approx(0.09)
    assert "1 seed: no standard deviation" in row["note"] and "training subset" not in row["note"]
    md = (tmp_path / "tables" / "table1.md").read_text()
    assert "CIFAR-10 (grayscale) | 100 | 1 |" in md and "±" not in md.split("\n\n", 1)[1]


def test_table1_rejects_attributes_that_disagree(runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs[0], run)
    ev = xr.load_dataset(run / "evaluation.nc")
    ev.attrs["accuracy_all_activity"] = 0.999
    ev.to_netcdf(run / "evaluation.nc")
    with pytest.raises(ValueError, match="accuracy_all_activity"):
        tables.table1([run], tmp_path / "table1")


def test_table1_training_size_from_config_without_model(runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs[0], run)
    (run / "model.pt").unlink()
    assert tables.table1([run], tmp_path / "table1").loc[0, "n_train"] == 2000  # config data.n_train


def test_table1_files(runs, tmp_path):
    frame = tables.table1(runs, tmp_path / "out" / "table1")
    csv = pd.read_csv(tmp_path / "out" / "table1.csv")
    assert list(csv.columns) == tables.TABLE1_COLUMNS
    np.testing.assert_allclose(csv["accuracy_all_activity_mean"], frame["accuracy_all_activity_mean"])
    md = (tmp_path / "out" / "table1.md").read_text()
    mean, std = frame.loc[0, ["accuracy_all_activity_mean", "accuracy_all_activity_std"]]
    assert f"| MNIST | 20 | 2 | {100 * mean:.1f} ± {100 * std:.1f} |" in md
    tex = (tmp_path / "out" / "table1.tex").read_text()
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert r"$\pm$" in tex and r"(\%)" in tex and tex.count(r"\\") == 3
    _no_temporaries(tmp_path)


# --------------------------------------------------------------------------- Table 2

def test_table2_rows_columns_and_sets(runs, tmp_path):
    frame = tables.table2(runs, tmp_path / "table2")
    assert len(frame) == 4 * 10
    for column in ("dataset", "n_neurons", "seed", "class", "class_name", "test_index", "repeat",
                   "spiked", "paper_mi_positive", "significant_lag0", "significant_lag1", "n_spiked",
                   "n_significant_lag0", "n_significant_lag1", "assigned_neurons",
                   "stimulus_mi_assigned_mean_bits"):
        assert column in frame.columns, column
    for column in ("spiked", "paper_mi_positive", "significant_lag0", "significant_lag1", "assigned_neurons"):
        assert frame[column].map(lambda s: bool(SET_PATTERN.match(s))).all(), column
    fashion = frame[(frame["dataset"] == "fashion_mnist") & (frame["class"] == 9)]
    assert set(fashion["class_name"]) == {"Ankle boot"}
    # The silent class: nothing spiked, nothing informative, prediction silent.
    silent = frame[frame["class"] == 9]
    assert (silent["spiked"] == "{}").all() and (silent["paper_mi_positive"] == "{}").all()
    assert (silent["prediction_name"] == "silent").all()


def test_table2_matches_spike_trains_and_information(runs, tmp_path):
    frame = tables.table2(runs, tmp_path / "table2")
    for run in runs:
        spikes = xr.load_dataset(run / "spikes.nc")
        rows = frame[(frame["dataset"] == spikes.attrs["dataset"]) & (frame["seed"] == spikes.attrs["seed"])]
        assert list(rows["spiked"]) == _spiked_sets(run)
        info = xr.load_dataset(run / "information.nc")
        assignment = xr.load_dataset(run / "assignments.nc")["assignment"].values
        for _, row in rows.iterrows():
            i = int(np.flatnonzero(spikes["label"].values == row["class"])[0])
            for lag in (0, 1):
                sig = info["significant"].sel(lag=lag).values[i]
                assert row[f"significant_lag{lag}"] == format_set(np.flatnonzero(sig))
            assigned = np.flatnonzero(assignment == row["class"])
            assert row["assigned_neurons"] == format_set(assigned)
            expected = info["stimulus_mi_corrected"].values[assigned].mean()
            assert row["stimulus_mi_assigned_mean_bits"] == pytest.approx(expected)
    # Plug-in MI is positive for every spiking neuron here: the paper's column is the spiked column.
    assert (frame["paper_mi_positive"] == frame["spiked"]).all()
    assert (frame["n_significant_lag0"] < frame["n_spiked"]).any()


def test_table2_repeats_csv_all_markdown_repeat0(tmp_path):
    run = build_run(tmp_path / "results", "mnist", 20, 0, repeats=2)
    frame = tables.table2([run], tmp_path / "table2")
    assert len(frame) == 20 and set(frame["repeat"]) == {0, 1}
    assert len(pd.read_csv(tmp_path / "table2.csv")) == 20
    md = (tmp_path / "table2.md").read_text()
    assert "Repeat 0 of 2 Poisson draw(s) shown; the CSV has all repeats." in md
    assert sum(line.startswith("| MNIST |") for line in md.splitlines()) == 10
    tex = (tmp_path / "table2.tex").read_text()
    assert r"\{\}" in tex and r"\toprule" in tex
    _no_temporaries(tmp_path)


# --------------------------------------------------------------------------- figures

def _check_png(path: Path, kind: str) -> None:
    image = mpimg.imread(path)
    width, height = figures.FIGURE_SIZES_IN[kind]
    assert image.shape[:2] == (round(height * figures.DPI), round(width * figures.DPI)), path.name
    assert image[..., :3].std() > 0.01, f"{path.name} is blank"


def test_make_all_figures(runs, tmp_path):
    out = tmp_path / "figures"
    written = figures.make_all(runs[0], out)
    expected = {f"raster_class{k}.png" for k in range(10)} | set(FIGURE_KINDS)
    assert {p.name for p in written} == expected
    assert {p.name for p in out.iterdir()} == expected
    for path in written:
        _check_png(path, FIGURE_KINDS.get(path.name, "raster"))
    _no_temporaries(out)


def test_figures_without_any_output_spike(silent_run, tmp_path):
    written = figures.make_all(silent_run, tmp_path / "figures")
    names = {p.name for p in written}
    assert "mi_maps.png" in names and "raster_class9.png" in names
    _check_png(tmp_path / "figures" / "mi_maps.png", "mi_maps")


def test_mi_maps_with_fewer_spiking_neurons_than_panels(runs):
    spikes, info = open_nc(runs[0] / "spikes.nc"), open_nc(runs[0] / "information.nc")
    out = spikes["output_spikes"].values.copy()
    out[:, :, 1:] = 0  # only output neuron 0 spikes
    spikes["output_spikes"] = (spikes["output_spikes"].dims, out)
    fig = figures.mi_maps_figure(info, spikes)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert texts.count("only 1 output\nneuron(s) spiked") == 3
    assert fig.axes[0].get_title().startswith("neuron 0:")


# --------------------------------------------------------------------------- CLI

def test_cli_tables(runs, tmp_path):
    parser = _parser()
    run_args = [str(r) for r in runs]
    for name in ("table1", "table2"):
        args = parser.parse_args([name, "--runs", *run_args, "--out-prefix", str(tmp_path / "tables" / name)])
        assert args.func(args) == 0
        for ext in ("csv", "md", "tex"):
            assert (tmp_path / "tables" / f"{name}.{ext}").stat().st_size > 0
    _no_temporaries(tmp_path)


def test_cli_figures_with_pdf(silent_run, tmp_path):
    parser = _parser()
    args = parser.parse_args(["figures", "--run", str(silent_run), "--out", str(tmp_path / "fig"), "--pdf"])
    assert args.func(args) == 0
    pngs = sorted((tmp_path / "fig").glob("*.png"))
    assert len(pngs) == 16
    assert all(p.with_suffix(".pdf").stat().st_size > 0 for p in pngs)
    _no_temporaries(tmp_path)


def test_cli_requires_runs():
    with pytest.raises(SystemExit):
        _parser().parse_args(["table1"])
