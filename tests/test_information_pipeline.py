"""The information step end to end: synthetic spikes.nc + evaluation.nc -> information.nc."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from snninfo.information import cli, pipeline

PERMUTATIONS = 200
N_OUT = 4
PLANTED_OUTPUT, PLANTED_INPUT = 0, 14
PROVENANCE = ("snninfo_code_version", "package_versions", "created", "command", "host",
              "config", "seed", "dataset", "n_neurons")


def write_spikes(path: Path, seed: int = 0) -> None:
    """spikes.nc as docs/formats.md: 3 test images x 2 repeats, 6x6 pixels, T = 120."""
    rng = np.random.default_rng(seed)
    images, repeats, steps, side = 3, 2, 120, 6
    n = images * repeats
    x = (rng.random((n, steps, side * side)) < 0.1).astype(np.uint8)
    y = (rng.random((n, steps, N_OUT)) < 0.05).astype(np.uint8)
    y[:, 0, PLANTED_OUTPUT] = 0
    y[:, 1:, PLANTED_OUTPUT] = x[:, :-1, PLANTED_INPUT]  # the input spike arrives one step later
    y[:, :, 3] = 0  # a silent output neuron
    ds = xr.Dataset(
        {
            "input_spikes": (("sample", "time", "input_neuron"), x),
            "output_spikes": (("sample", "time", "output_neuron"), y),
            "image": (("sample", "y", "x"), rng.integers(0, 256, (n, side, side), dtype=np.uint8)),
            "label": ("sample", np.repeat([7, 2, 1], repeats).astype(np.int64)),
            "test_index": ("sample", np.repeat([0, 1, 2], repeats).astype(np.int64)),
            "repeat": ("sample", np.tile(np.arange(repeats), images).astype(np.int64)),
            "prediction": ("sample", np.array([7, 7, 2, -1, 1, 3], dtype=np.int64)),
        },
        coords={"time": ("time", np.arange(steps, dtype=np.float64) * 1.0)},
        attrs={"dataset": "mnist", "n_neurons": N_OUT, "seed": 5, "dt": 1.0,
               "time_steps": steps, "image_height": side, "image_width": side,
               "class_names": json.dumps([str(i) for i in range(10)])},
    )
    ds.to_netcdf(path)


def write_evaluation(path: Path, seed: int = 1) -> None:
    """evaluation.nc as docs/formats.md: 400 test samples; neuron 0's count encodes the class."""
    rng = np.random.default_rng(seed)
    n = 400
    label = np.tile(np.arange(10), n // 10).astype(np.int64)
    counts = rng.poisson(1.0, (n, N_OUT)).astype(np.int16)
    counts[:, 0] = label
    counts[:, 3] = 0
    pred_all = np.where(rng.random(n) < 0.8, label, -1).astype(np.int64)
    pred_pw = rng.integers(-1, 10, n).astype(np.int64)
    ds = xr.Dataset(
        {
            "test_index": ("sample", np.arange(n, dtype=np.int64)),
            "label": ("sample", label),
            "prediction_all_activity": ("sample", pred_all),
            "prediction_proportion_weighting": ("sample", pred_pw),
            "spike_count": (("sample", "output_neuron"), counts),
        },
        coords={"sample": ("sample", np.arange(n, dtype=np.int64))},
        attrs={"accuracy_all_activity": float(np.mean(pred_all == label)),
               "accuracy_proportion_weighting": float(np.mean(pred_pw == label)),
               "silent_fraction": float(np.mean(pred_all == -1)), "n_test": n},
    )
    ds.to_netcdf(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("information")
    paths = {"spikes": d / "spikes.nc", "evaluation": d / "evaluation.nc", "dir": d}
    write_spikes(paths["spikes"])
    write_evaluation(paths["evaluation"])
    return paths


@pytest.fixture(scope="module")
def info(files) -> xr.Dataset:
    out = files["dir"] / "run1" / "information.nc"
    pipeline.run(files["spikes"], files["evaluation"], out, {"permutations": PERMUTATIONS}, seed=5)
    with xr.open_dataset(out) as ds:
        return ds.load()


def test_dimensions_and_variables(info):
    assert dict(info.sizes) == {"sample": 6, "lag": 2, "input_neuron": 36, "output_neuron": N_OUT,
                                "pooled_sample": 3, "scheme": 2}
    pair = ("sample", "lag", "input_neuron", "output_neuron")
    summed = ("sample", "lag", "output_neuron")
    expected = {
        "input_entropy": ("sample", "input_neuron"), "output_entropy": ("sample", "output_neuron"),
        "mi": pair, "mi_corrected": pair, "mi_sum": summed, "mi_sum_corrected": summed,
        "mi_sum_miller_madow": summed, "mi_sum_shuffle_corrected": summed,
        "mi_sum_null_mean": summed, "mi_sum_null_std": summed, "p_value": summed,
        "q_value": summed, "significant": summed, "null_draws": ("sample", "lag"),
        "paper_mi_sum_nats": ("sample", "output_neuron"),
        "paper_mi_positive": ("sample", "output_neuron"),
        "pooled_mi": ("pooled_sample", "lag", "input_neuron", "output_neuron"),
        "pooled_mi_sum_corrected": ("pooled_sample", "lag", "output_neuron"),
        "pooled_significant": ("pooled_sample", "lag", "output_neuron"),
        "pooled_input_entropy": ("pooled_sample", "input_neuron"),
        "class_entropy": (), "stimulus_mi": ("output_neuron",),
        "stimulus_mi_corrected": ("output_neuron",), "stimulus_p_value": ("output_neuron",),
        "stimulus_significant": ("output_neuron",), "prediction_mi": ("scheme",),
        "prediction_mi_corrected": ("scheme",), "prediction_p_value": ("scheme",),
    }
    for name, dims in expected.items():
        assert info[name].dims == dims, name
    assert info["mi"].dtype == np.float32 and info["mi_corrected"].dtype == np.float32
    assert info["significant"].dtype == bool and info["paper_mi_positive"].dtype == bool
    np.testing.assert_array_equal(info["lag"], [0, 1])
    np.testing.assert_array_equal(info["label"], [7, 7, 2, 2, 1, 1])
    np.testing.assert_array_equal(info["test_index"], [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(info["repeat"], [0, 1] * 3)
    np.testing.assert_array_equal(info["pooled_test_index"], [0, 1, 2])
    np.testing.assert_array_equal(info["pooled_label"], [7, 2, 1])
    np.testing.assert_array_equal(info["n_repeats"], [2, 2, 2])
    assert list(info["scheme"].values) == ["all_activity", "proportion_weighting"]
    # one repeat, circular shift: all T - lag - 1 distinct shifts
    np.testing.assert_array_equal(info["null_draws"].sel(lag=1), 118)
    np.testing.assert_array_equal(info["pooled_null_draws"], PERMUTATIONS)


def test_units_and_provenance(info):
    for name, var in info.data_vars.items():
        assert var.attrs.get("long_name"), name
        expected = ("1" if "p_value" in name or "q_value" in name or "significant" in name
                    or name in ("paper_mi_positive", "null_draws", "pooled_null_draws")
                    else "nats" if name == "paper_mi_sum_nats" else "bits")
        assert var.attrs.get("units") == expected, name
    for key in PROVENANCE:
        assert key in info.attrs, key
    assert info.attrs["dataset"] == "mnist" and int(info.attrs["n_neurons"]) == N_OUT
    assert json.loads(info.attrs["config"]) == {"information": {
        "lags": [0, 1], "permutations": PERMUTATIONS, "null_model": "circular_shift",
        "alpha": 0.05, "correction": "shuffle"}}
    assert info.attrs["null_model"] == "circular_shift" and info.attrs["correction"] == "shuffle"
    assert int(info.attrs["seed"]) == 5 and int(info.attrs["permutations"]) == PERMUTATIONS


def test_planted_copy_is_significant_at_lag_one_only(info):
    for prefix in ("", "pooled_"):
        sig = info[prefix + "significant"]
        assert sig.sel(lag=1, output_neuron=PLANTED_OUTPUT).all(), prefix
        assert not sig.sel(output_neuron=3).any(), prefix  # silent
        mi = info[prefix + "mi"].sel(lag=1, output_neuron=PLANTED_OUTPUT)
        assert (mi.argmax("input_neuron") == PLANTED_INPUT).all()
    # lag 0 pairs x[t] with x[t - 1] (independent): not the planted input's information
    assert (info["mi_sum_corrected"].sel(lag=0, output_neuron=PLANTED_OUTPUT) < 0.2).all()
    assert (info["mi_sum_corrected"].sel(lag=1, output_neuron=PLANTED_OUTPUT) > 0.3).all()
    # the paper's criterion calls every spiking neuron informative
    spiking = info["output_entropy"] > 0
    np.testing.assert_array_equal(info["paper_mi_positive"], spiking)
    np.testing.assert_allclose(info["paper_mi_sum_nats"],
                               info["mi_sum"].sel(lag=0) * np.log(2), rtol=1e-12)


def test_corrected_variables_follow_the_configured_correction(info):
    np.testing.assert_allclose(info["mi_sum_corrected"], info["mi_sum_shuffle_corrected"],
                               atol=1e-9)
    np.testing.assert_allclose(info["mi_sum_shuffle_corrected"],
                               info["mi_sum"] - info["mi_sum_null_mean"], atol=1e-12)
    np.testing.assert_allclose(info["mi_corrected"].sum("input_neuron"),
                               info["mi_sum_corrected"], atol=1e-4)  # float32 storage


def test_stimulus_information(info):
    assert info["class_entropy"] == pytest.approx(np.log2(10))
    assert info["stimulus_mi"].sel(output_neuron=0) == pytest.approx(np.log2(10), abs=1e-9)
    np.testing.assert_array_equal(info["stimulus_significant"], [True, False, False, False])
    assert info["stimulus_mi"].sel(output_neuron=3) == 0
    assert info["stimulus_p_value"].sel(output_neuron=3) == 1
    pred = info["prediction_p_value"]
    assert pred.sel(scheme="all_activity") == pytest.approx(1 / (1 + PERMUTATIONS))
    assert pred.sel(scheme="proportion_weighting") > 0.05


def test_deterministic_and_miller_madow_option(files, info):
    out = files["dir"] / "run2" / "information.nc"
    pipeline.run(files["spikes"], files["evaluation"], out, {"permutations": PERMUTATIONS}, seed=5)
    with xr.open_dataset(out) as again:
        xr.testing.assert_equal(again.load(), info)  # values, dims and coords; not attrs
    mm = pipeline.compute_information(xr.open_dataset(files["spikes"]).load(), None, lags=[1],
                                      permutations=20, correction="miller_madow", seed=5)
    np.testing.assert_allclose(mm["mi_sum_corrected"], mm["mi_sum_miller_madow"], atol=1e-9)
    assert "stimulus_mi" not in mm and "scheme" not in mm.coords


def test_cli_subprocess_matches_pipeline(files, info):
    out = files["dir"] / "cli" / "information.nc"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "snninfo.information.cli", "--spikes", str(files["spikes"]),
         "--evaluation", str(files["evaluation"]), "--out", str(out),
         "--config", json.dumps({"information": {"permutations": 999}}),
         "--permutations", str(PERMUTATIONS)],
        capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    with xr.open_dataset(out) as ds:  # seed from the spikes file's attribute (5)
        assert int(ds.attrs["seed"]) == 5
        xr.testing.assert_equal(ds.load(), info)


def test_subcommand_registration_and_overrides(files, tmp_path):
    parser = argparse.ArgumentParser()
    cli.add_information_parser(parser.add_subparsers(dest="step"))
    args = parser.parse_args(["information", "--spikes", str(files["spikes"]), "--out",
                              str(tmp_path / "i.nc"), "--null", "shuffle", "--lags", "1",
                              "--permutations", "20", "--seed", "3",
                              "--config", '{"information": {"alpha": 0.1}}'])
    assert cli.information_config(args) == {"lags": [1], "permutations": 20,
                                             "null_model": "shuffle", "alpha": 0.1,
                                             "correction": "shuffle"}
    assert args.func(args) == 0
    with xr.open_dataset(tmp_path / "i.nc") as ds:
        assert ds.attrs["null_model"] == "shuffle" and int(ds.attrs["seed"]) == 3
        np.testing.assert_array_equal(ds["lag"], [1])


def test_cli_reports_invalid_settings(files, tmp_path, capsys):
    code = cli.main(["--spikes", str(files["spikes"]), "--out", str(tmp_path / "i.nc"),
                     "--alpha", "1.5"])
    assert code == 1
    assert "alpha" in capsys.readouterr().err
    assert not (tmp_path / "i.nc").exists()
    with pytest.raises(ValueError, match="lags"):
        pipeline.run(files["spikes"], None, tmp_path / "i.nc", {"lags": [120]}, seed=0)
