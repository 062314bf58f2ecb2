"""Model stage on real MNIST images: encoding, determinism, resume after SIGKILL,
label assignment, evaluation with silent samples, spike recording."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from snninfo.config import validate
from snninfo.model.common import load_model
from snninfo.model.encoding import poisson_encode
from snninfo.model.inference import assign, evaluate, record
from snninfo.model.training import train

pytestmark = pytest.mark.slow

SMALL = {
    "data": {"n_train": 60, "n_test": 40},
    "model": {"time": 60},
    "training": {"update_interval": 20, "checkpoint_every": 20},
    "recording": {"repeats": 2},
    "simulation": {"batch_size": 16},
}


@pytest.fixture(scope="module")
def mnist_nc(shared_data, tmp_path_factory) -> Path:
    """A small converted MNIST file (first 300 training, 200 test images, real pixels);
    test images 5 and 6 are blanked (all-black: no input, hence no output spikes)."""
    from snninfo.data.idx import read_idx

    d = shared_data / "mnist"
    tri = read_idx(d / "train-images-idx3-ubyte.gz")[:300]
    trl = read_idx(d / "train-labels-idx1-ubyte.gz")[:300].astype(np.int64)
    tei = read_idx(d / "t10k-images-idx3-ubyte.gz")[:200].copy()
    tel = read_idx(d / "t10k-labels-idx1-ubyte.gz")[:200].astype(np.int64)
    tei[[5, 6]] = 0
    ds = xr.Dataset(
        {
            "train_image": (("train_sample", "y", "x"), tri),
            "test_image": (("test_sample", "y", "x"), tei),
            "train_label": ("train_sample", trl),
            "test_label": ("test_sample", tel),
        },
        attrs={"dataset": "mnist", "source_md5": "{}"},
    )
    path = tmp_path_factory.mktemp("data") / "mnist.nc"
    ds.to_netcdf(path)
    return path


def test_poisson_rates_follow_pixel_intensities(mnist_nc):
    torch.manual_seed(0)
    with xr.open_dataset(mnist_nc) as ds:
        image = ds.test_image[0].values
    draws, steps = 100, 250
    spikes = poisson_encode(np.repeat(image[None], draws, 0), time=steps, dt=1.0, intensity=128.0)
    assert spikes.dtype == torch.uint8 and spikes.shape == (draws, steps, 784)
    assert set(torch.unique(spikes).tolist()) <= {0, 1}
    observed = spikes.double().mean((0, 1)).numpy()  # spikes per step, per pixel
    expected = image.reshape(-1) / 255 * 128.0 * 1.0 / 1000
    assert np.all(observed[expected == 0] == 0)
    assert np.corrcoef(observed, expected)[0, 1] > 0.99
    # Where the mean inter-spike interval is short against the window (>= 8 expected spikes),
    # the rate follows the intensity within a few percent.
    bright = expected * steps >= 8
    assert bright.sum() > 50
    assert np.abs(observed[bright] / expected[bright] - 1).mean() < 0.05
    # BindsNET draws Poisson-distributed *intervals*: counts are far more regular than a
    # Poisson process (Fano factor << 1), and dim pixels fire below their nominal rate.
    counts = spikes.double().sum(1).numpy()[:, bright]
    fano = counts.var(0) / counts.mean(0)
    assert np.median(fano) < 0.3
    dim = (expected > 0) & (expected * steps < 4)
    assert observed[dim].sum() < expected[dim].sum()


def _train(tmp, data, seed=0, engine="fast", **over):
    cfg = validate({**SMALL, "simulation": {**SMALL["simulation"], "engine": engine}, **over})
    train(data, tmp, cfg, dataset="mnist", n_neurons=20, seed=seed)
    return cfg, load_model(Path(tmp) / "model.pt")


@pytest.mark.parametrize("engine", ["bindsnet", "fast"])
def test_training_is_deterministic_and_seeded(mnist_nc, tmp_path, engine):
    _, a = _train(tmp_path / "a", mnist_nc, engine=engine)
    _, b = _train(tmp_path / "b", mnist_nc, engine=engine)
    _, c = _train(tmp_path / "c", mnist_nc, seed=1, engine=engine)
    assert a["engine"] == engine
    assert torch.equal(a["weights"], b["weights"]) and torch.equal(a["theta"], b["theta"])
    assert not torch.equal(a["weights"], c["weights"])
    assert a["weights"].shape == (784, 20) and a["n_samples_seen"] == 60
    # learning happened: thresholds rose, columns renormalised to 0.1 x 784
    assert (a["theta"] > 0).any()
    np.testing.assert_allclose(a["weights"].sum(0).numpy(), 78.4, rtol=1e-4)
    assert not (tmp_path / "a" / "checkpoint.pt").exists()
    import pandas as pd

    curve = pd.read_csv(tmp_path / "a" / "training.csv")
    assert list(curve.samples_seen) == [20, 40, 60]
    assert np.isnan(curve.accuracy_all_activity[0]) and curve.accuracy_all_activity[1:].between(0, 1).all()
    assert (curve.mean_output_spikes > 0).all() and curve.silent_fraction.between(0, 1).all()


def _cli_env():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def test_resume_after_sigkill_gives_identical_weights(mnist_nc, tmp_path):
    # the reference engine, slow enough (~40 images/s here) to be killed mid-run
    cfg = json.dumps({**SMALL, "data": {"n_train": 200}, "training": {"update_interval": 20},
                      "simulation": {"engine": "bindsnet"}})
    args = [sys.executable, "-m", "snninfo", "train", "--config", cfg, "--dataset", "mnist",
            "--neurons", "20", "--seed", "3", "--data", str(mnist_nc), "--checkpoint-every", "20"]
    ref = tmp_path / "ref"
    subprocess.run([*args, "--out-dir", str(ref)], check=True, env=_cli_env(),
                   capture_output=True, timeout=600)

    run = tmp_path / "killed"
    ckpt = run / "checkpoint.pt"
    proc = subprocess.Popen([*args, "--out-dir", str(run)], env=_cli_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert ckpt.exists(), "training ended before writing a checkpoint"
    assert not (run / "model.pt").exists(), "the run was not killed mid-way"
    resumed = subprocess.run([*args, "--out-dir", str(run)], env=_cli_env(),
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from" in resumed.stderr
    a, b = load_model(ref / "model.pt"), load_model(run / "model.pt")
    assert torch.equal(a["weights"], b["weights"])
    assert torch.equal(a["theta"], b["theta"])
    assert torch.equal(a["label_rates"], b["label_rates"])
    assert not ckpt.exists()


@pytest.mark.parametrize("engine", ["bindsnet", "fast"])
def test_interrupted_and_resumed_run_equals_uninterrupted(mnist_nc, tmp_path, engine):
    """Resume from the checkpoint (engine state, its random generator, position, label
    statistics) of a run stopped mid-way, for both engines."""
    cfg = validate({**SMALL, "simulation": {"engine": engine}})
    train(mnist_nc, tmp_path / "ref", cfg, dataset="mnist", n_neurons=20, seed=5)
    run = tmp_path / "stopped"
    train(mnist_nc, run, cfg, dataset="mnist", n_neurons=20, seed=5, stop_after=40)
    assert (run / "checkpoint.pt").exists() and not (run / "model.pt").exists()
    train(mnist_nc, run, cfg, dataset="mnist", n_neurons=20, seed=5)
    a, b = load_model(tmp_path / "ref" / "model.pt"), load_model(run / "model.pt")
    for key in ("weights", "theta", "label_rates", "label_assignments"):
        assert torch.equal(a[key], b[key]), key
    import pandas as pd

    ra, rb = pd.read_csv(tmp_path / "ref" / "training.csv"), pd.read_csv(run / "training.csv")
    cols = [c for c in ra.columns if c != "seconds"]
    pd.testing.assert_frame_equal(ra[cols], rb[cols])


def test_checkpoint_of_another_configuration_is_ignored(mnist_nc, tmp_path):
    cfg = validate(SMALL)
    train(mnist_nc, tmp_path, cfg, dataset="mnist", n_neurons=20, seed=0, stop_after=20)
    assert (tmp_path / "checkpoint.pt").exists()
    other = validate({**SMALL, "model": {"time": 50}})
    train(mnist_nc, tmp_path, other, dataset="mnist", n_neurons=20, seed=0)
    fresh = tmp_path / "fresh"
    train(mnist_nc, fresh, other, dataset="mnist", n_neurons=20, seed=0)
    assert torch.equal(load_model(tmp_path / "model.pt")["weights"],
                       load_model(fresh / "model.pt")["weights"])


@pytest.fixture(scope="module", params=["bindsnet", "fast"])
def trained(mnist_nc, tmp_path_factory, request):
    run = tmp_path_factory.mktemp("run")
    cfg, _ = _train(run, mnist_nc, engine=request.param)
    return cfg, run


def test_assign_evaluate_record(trained, mnist_nc):
    cfg, run = trained
    a = assign(run / "model.pt", run / "assignments.nc", cfg, seed=0)
    model = load_model(run / "model.pt")
    assert a.assignment.dtype == np.int64 and a.sizes["output_neuron"] == 20
    assert set(np.unique(a.assignment.values)) <= set(range(-1, 10))
    np.testing.assert_array_equal(a.assignment.values, model["label_assignments"].numpy())
    never = model["label_rates"].sum(1) == 0
    assert (a.assignment.values[never.numpy()] == -1).all()

    ev = evaluate(run / "model.pt", run / "assignments.nc", mnist_nc, run / "evaluation.nc", cfg, seed=0)
    with xr.open_dataset(run / "evaluation.nc") as ds:
        assert ds.sizes["sample"] == 40 and ds.spike_count.dims == ("sample", "output_neuron")
        assert ds.attrs["dataset"] == "mnist" and "package_versions" in ds.attrs and ds.attrs["seed"] == 0
        counts = ds.spike_count.values
        pa = ds.prediction_all_activity.values
        # blanked images 5 and 6 are silent: predicted -1, counted wrong, reported
        assert (counts[[5, 6]] == 0).all() and (pa[[5, 6]] == -1).all()
        silent = counts.sum(1) == 0
        assert (pa[silent] == -1).all() and (pa[~silent] >= -1).all()
        assert ds.attrs["silent_fraction"] == pytest.approx(silent.mean())
        assert ds.attrs["accuracy_all_activity"] == pytest.approx(np.mean(pa == ds.label.values))
        assert ds.attrs["accuracy_all_activity"] <= 1 - silent.mean()
    # inference leaves the model unchanged and is reproducible
    ev2 = evaluate(run / "model.pt", run / "assignments.nc", mnist_nc, run / "evaluation2.nc", cfg, seed=0)
    np.testing.assert_array_equal(ev.spike_count.values, ev2.spike_count.values)

    sp = record(run / "model.pt", run / "assignments.nc", mnist_nc, run / "spikes.nc", cfg, seed=0)
    with xr.open_dataset(run / "spikes.nc") as ds:
        assert ds.input_spikes.dims == ("sample", "time", "input_neuron")
        assert ds.input_spikes.dtype == np.uint8 and ds.output_spikes.dtype == np.uint8
        assert ds.sizes["sample"] == 20 and ds.sizes["time"] == 60 and ds.sizes["input_neuron"] == 784
        assert list(ds.repeat.values[:4]) == [0, 1, 0, 1]
        # the first test image of each class, in test-set order
        labels = xr.open_dataset(mnist_nc).test_label.values
        firsts = [int(np.flatnonzero(labels == c)[0]) for c in range(10)]
        assert list(ds.test_index.values[::2]) == firsts and list(ds.label.values[::2]) == list(range(10))
        # two repeats are independent draws of the same image
        assert not np.array_equal(ds.input_spikes[0].values, ds.input_spikes[1].values)
        np.testing.assert_array_equal(ds.image[0].values, ds.image[1].values)
        assert ds.attrs["dt"] == 1.0 and ds.attrs["time_steps"] == 60 and ds.time.attrs["units"] == "ms"
        enc = ds.input_spikes.encoding
        assert enc.get("zlib") and enc["chunksizes"][0] == 1
        # all-activity prediction of each draw is consistent with its output spikes
        silent = ds.output_spikes.values.sum((1, 2)) == 0
        assert (ds.prediction.values[silent] == -1).all()
    assert sp.sizes["output_neuron"] == 20


def test_separate_label_pass(trained, mnist_nc, tmp_path):
    cfg, run = trained
    cfg = validate({**SMALL, "simulation": cfg["simulation"], "training": {"label_source": "separate_pass"}})
    with pytest.raises(ValueError, match="separate_pass"):
        assign(run / "model.pt", tmp_path / "a.nc", cfg, seed=0)
    a = assign(run / "model.pt", tmp_path / "a.nc", cfg, data_path=mnist_nc, seed=0)
    assert a.attrs["label_source"] == "separate_pass"
    rates = a.rates.values
    fired = rates.sum(1) > 0
    np.testing.assert_array_equal(a.assignment.values[fired], rates[fired].argmax(1))
    assert (a.assignment.values[~fired] == -1).all()


def test_cli_reports_bad_input_clearly(tmp_path):
    out = subprocess.run([sys.executable, "-m", "snninfo", "train", "--config", '{"model": {"time": -1}}',
                          "--dataset", "mnist", "--neurons", "5", "--seed", "0",
                          "--data", str(tmp_path / "x.nc"), "--out-dir", str(tmp_path)],
                         capture_output=True, text=True, env=_cli_env(), timeout=120)
    assert out.returncode == 2 and "model.time" in out.stderr
    out = subprocess.run([sys.executable, "-m", "snninfo", "train", "--dataset", "mnist", "--neurons", "5",
                          "--seed", "0", "--data", str(tmp_path / "missing.nc"), "--out-dir", str(tmp_path)],
                         capture_output=True, text=True, env=_cli_env(), timeout=120)
    assert out.returncode == 2 and "missing.nc" in out.stderr
    assert not (tmp_path / "model.pt").exists()


@pytest.mark.parametrize("engine", ["bindsnet", "fast"])
def test_simulation_leaves_the_input_spikes_intact(engine):
    """BindsNET writes into the tensor it is given; recorded input trains must not change."""
    from snninfo.model.engine import make_engine

    torch.manual_seed(0)
    eng = make_engine(engine, validate({"model": {"time": 50}})["model"], (28, 28), 10)
    spikes = eng.encode(np.full((1, 28, 28), 255, np.uint8))
    before = spikes.clone()
    assert before[0, -1].sum() > 0
    eng.infer(spikes)
    eng.train_sample(spikes[0])
    assert torch.equal(spikes, before)
