"""The workflow on SLURM through snakemake-executor-plugin-slurm and profiles/slurm.

No SLURM here: tests/slurm_standin holds small executables named like the SLURM commands the
plugin calls (sbatch, sacct, squeue, scontrol, sinfo, scancel, srun, sacctmgr, sshare). Put
first on PATH, they log every submission's flags and run each job at once on this machine.
The plugin, the jobs' own Snakemake (the slurm-jobstep executor) and the steps run unchanged.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
from pathlib import Path

import pytest
import xarray as xr

from workflow_utils import ROOT, copy_workflow, snakemake

pytestmark = pytest.mark.workflow

STANDIN = ROOT / "tests" / "slurm_standin"
COMMANDS = ("sbatch", "sacct", "squeue", "scontrol", "sinfo", "scancel", "srun", "sacctmgr",
            "sshare")
RULES = ("download", "convert", "train", "assign", "evaluate", "record", "information", "table1",
         "table2", "figures")
RUN = "results/mnist/n10/seed0"
ACCOUNT = "snninfo_test"
PROFILE_ENV = ("SNNINFO_SLURM_ACCOUNT", "SNNINFO_SLURM_PARTITION", "SNNINFO_SLURM_GPU_PARTITION",
               "SNNINFO_SLURM_GPU_MODEL")
# the plugin's pauses before and between status checks, cut for the tests
FAST = ["--slurm-init-seconds-before-status-checks", "1", "--seconds-between-status-checks", "1"]


def small_config(mirror: Path, **data) -> list[str]:
    cfg = {
        "datasets": ["mnist"],
        "network_sizes": [10],
        "data": {"mirror": str(mirror), "n_train": 40, "n_test": 30, **data},
        "model": {"time": 40},
        "training": {"update_interval": 20, "checkpoint_every": 20},
        # the reference engine: slow enough for the preemption test to catch training mid-run
        "simulation": {"engine": "bindsnet"},
        "recording": {"repeats": 2},
        "information": {"permutations": 20},
    }
    return ["--config", *(f"{k}={json.dumps(v)}" for k, v in cfg.items())]


def standin_bin(dest: Path) -> Path:
    """A copy of the stand-in commands, executable whatever git kept of their mode bits."""
    shutil.copytree(STANDIN, dest, ignore=shutil.ignore_patterns("__pycache__"))
    for name in COMMANDS:
        f = dest / name
        f.chmod(f.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return dest


def calls(state: Path, cmd: str = "sbatch") -> list[dict]:
    log = state / "calls.jsonl"
    if not log.exists():
        return []
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [e for e in entries if e["cmd"] == cmd]


def job_record(state: Path, jobid: str) -> dict:
    return json.loads((state / "jobs" / f"{jobid}.json").read_text())


def profile_env(monkeypatch, **values):
    for name in PROFILE_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def dry_run_resources(wd: Path) -> dict[str, dict[str, str]]:
    """rule -> its jobs' resources as the dry run with the slurm profile shows them."""
    out = snakemake(wd, "-n", "--profile", "profiles/slurm").stdout
    found: dict[str, dict[str, str]] = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", out):
        m = re.match(r"(?:local)?rule (\w+):", block)
        r = re.search(r"^\s+resources: (.*)$", block, re.M)
        if m and r:
            found[m.group(1)] = dict(kv.split("=", 1) for kv in r.group(1).split(", "))
    return found


# ----------------------------------------------------------------------------- dry runs

def test_dry_run_resolves_every_rules_resources_and_only_training_asks_for_a_gpu(
        tmp_path, monkeypatch):
    wd = copy_workflow(tmp_path / "wd")
    profile_env(monkeypatch, SNNINFO_SLURM_ACCOUNT="acct1", SNNINFO_SLURM_PARTITION="all",
                SNNINFO_SLURM_GPU_PARTITION="gpu_a100", SNNINFO_SLURM_GPU_MODEL="a100")
    res = dry_run_resources(wd)  # the paper's config: all three data sets
    assert set(RULES) <= set(res), res.keys()
    for rule in RULES:
        r = res[rule]
        assert "<TBD>" not in (r["mem_mb"] + r["runtime"]), (rule, r)
        assert int(r["mem_mb"]) >= 1000 and int(r["runtime"]) >= 10, (rule, r)
        assert r["slurm_account"] == "acct1", (rule, r)
        if rule == "train":
            assert r["gpu"] == "1" and r["gpu_model"] == "a100" and r["cpus_per_gpu"] == "2"
            assert r["slurm_partition"] == "gpu_a100"
            assert int(r["mem_mb"]) == 16000 and int(r["runtime"]) == 480
        else:
            assert r.get("gpu", "0") == "0" and "gpu_model" not in r and "gres" not in r, (rule, r)
            assert r["slurm_partition"] == "all", (rule, r)  # a string, not Python's all()


def test_unset_account_and_partitions_are_not_sent(tmp_path, monkeypatch):
    wd = copy_workflow(tmp_path / "wd")
    profile_env(monkeypatch)
    res = dry_run_resources(wd)
    for rule in RULES:
        assert not {"slurm_account", "slurm_partition", "gpu_model"} & set(res[rule]), res[rule]
    assert res["train"]["gpu"] == "1"


# ----------------------------------------------------------------------------- end to end

@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory, shared_data):
    """The small real-data pipeline submitted through the plugin to the stand-in scheduler."""
    tmp = tmp_path_factory.mktemp("slurm")
    wd = copy_workflow(tmp / "wd")
    bin_dir = standin_bin(tmp / "bin")
    state = tmp / "state"
    with pytest.MonkeyPatch.context() as mp:
        profile_env(mp, SNNINFO_SLURM_ACCOUNT=ACCOUNT, SNNINFO_SLURM_GPU_PARTITION="gpu",
                    SNNINFO_SLURM_GPU_MODEL="a100")
        mp.setenv("STANDIN_SLURM_DIR", str(state))
        mp.setenv("STANDIN_SLURM_ACCOUNTS", f"{ACCOUNT},other")
        proc = snakemake(wd, "--profile", "profiles/slurm", *FAST, *small_config(shared_data),
                         extra_path=bin_dir, timeout=900)
    return {"wd": wd, "bin": bin_dir, "state": state, "tmp": tmp, "mirror": shared_data,
            "out": proc.stdout + proc.stderr}


@pytest.mark.slow
def test_pipeline_completes_through_the_slurm_executor(slurm_run):
    wd, state = slurm_run["wd"], slurm_run["state"]
    for f in ("model.pt", "training.csv", "assignments.nc", "evaluation.nc", "spikes.nc",
              "information.nc"):
        assert (wd / RUN / f).stat().st_size > 0, f
    for t in ("table1", "table2"):
        assert (wd / f"results/tables/{t}.csv").stat().st_size > 0
    assert len(list((wd / "results/figures/mnist/n10/seed0").glob("*.png"))) == 16
    with xr.open_dataset(wd / RUN / "evaluation.nc") as ev:
        assert ev.sizes["sample"] == 30 and ev.attrs["n_train"] == 40
    submitted = calls(state)
    # one SLURM job per step; the aggregate rule `all` runs on the submit host
    assert sorted(e["rule"] for e in submitted) == sorted(RULES)
    for e in submitted:
        assert job_record(state, e["jobid"])["state"] == "COMPLETED", e["rule"]
    # every job ran its step through srun, inside its allocation
    assert sorted(e["jobid"] for e in calls(state, "srun")) == sorted(e["jobid"] for e in submitted)
    assert "Nothing to be done" in snakemake(wd, "-n", "--profile", "profiles/slurm",
                                             *small_config(slurm_run["mirror"])).stdout


@pytest.mark.slow
def test_only_training_jobs_request_a_gpu(slurm_run):
    state = slurm_run["state"]
    submitted = {e["rule"]: e for e in calls(state)}
    train = submitted["train"]
    f = train["flags"]
    assert f["gpus"] == "a100:1"  # gpu: 1 with the optional model
    assert f["partition"] == "gpu" and f["cpus-per-gpu"] == "2"
    assert f["mem"] == "16000" and f["time"] == "480" and f["account"] == ACCOUNT
    assert f.get("requeue") is True  # preempted training is requeued and resumes
    assert "--gpus=a100:1" in train["argv"]
    for rule, e in submitted.items():
        if rule == "train":
            continue
        assert e["gpus"] is None and "gres" not in e["flags"], (rule, e["argv"])
        assert not any("gpu" in a for a in e["argv"] if not a.startswith("--wrap")), e["argv"]
        # no partition set: the cluster's default one (sinfo's starred partition)
        assert e["flags"]["partition"] == "cpu" and e["flags"]["account"] == ACCOUNT
        assert e["flags"]["cpus-per-task"] == "1" and int(e["flags"]["mem"]) >= 1000
    # inside the job, the step's srun asks for the GPU too, and only in training
    for s in calls(state, "srun"):
        is_train = s["jobid"] == train["jobid"]
        assert ("--gpus=1" in s["options"]) == is_train, s


@pytest.mark.slow
def test_a_failed_job_is_reported_and_the_run_fails(slurm_run, monkeypatch):
    tmp = slurm_run["tmp"]
    wd = tmp / "wd_fail"
    shutil.copytree(slurm_run["wd"], wd, symlinks=True)
    state = tmp / "state_fail"
    profile_env(monkeypatch, SNNINFO_SLURM_ACCOUNT=ACCOUNT)
    monkeypatch.setenv("STANDIN_SLURM_DIR", str(state))
    monkeypatch.setenv("STANDIN_SLURM_ACCOUNTS", ACCOUNT)
    monkeypatch.setenv("STANDIN_SLURM_FAIL_RULE", "information")
    # one retry instead of the profile's two: the plugin's pause after a failed status check
    # grows by 10 s each time
    proc = snakemake(wd, "--profile", "profiles/slurm", *FAST, "--retries", "1",
                     "--forcerun", "information",
                     *small_config(slurm_run["mirror"]), extra_path=slurm_run["bin"],
                     timeout=600, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    submitted = calls(state)
    info = [e for e in submitted if e["rule"] == "information"]
    # a failed job is resubmitted (retries), then reported failed for good
    assert len(info) == 2 and all(e["forced_failure"] for e in info), submitted
    for e in info:
        assert job_record(state, e["jobid"])["state"] == "FAILED"
        assert f"SLURM-job '{e['jobid']}' failed" in out
    assert "Error in rule information" in out
    # nothing after it was submitted, nothing before it rerun
    assert {e["rule"] for e in submitted} == {"information"}
    assert not (wd / RUN / "information.nc").exists()


@pytest.mark.slow
def test_preempted_training_is_requeued_and_resumes_from_its_checkpoint(slurm_run, monkeypatch):
    tmp = slurm_run["tmp"]
    wd = tmp / "wd_preempt"
    shutil.copytree(slurm_run["wd"], wd, symlinks=True)
    state = tmp / "state_preempt"
    profile_env(monkeypatch, SNNINFO_SLURM_ACCOUNT=ACCOUNT)
    monkeypatch.setenv("STANDIN_SLURM_DIR", str(state))
    monkeypatch.setenv("STANDIN_SLURM_ACCOUNTS", ACCOUNT)
    # preempt the training job once its first checkpoint is on disk
    monkeypatch.setenv("STANDIN_SLURM_PREEMPT", f"train:{RUN}/checkpoint.pt")
    snakemake(wd, "--profile", "profiles/slurm", *FAST, f"{RUN}/model.pt",
              *small_config(slurm_run["mirror"], n_train=100), extra_path=slurm_run["bin"],
              timeout=600)
    submitted = calls(state)
    assert [e["rule"] for e in submitted] == ["train"]  # submitted once, requeued by SLURM
    jobid = submitted[0]["jobid"]
    assert [p["jobid"] for p in calls(state, "preempt")] == [jobid]
    job = job_record(state, jobid)
    assert job["state"] == "COMPLETED" and job["restarts"] == 1
    log = (wd / "logs/train/mnist/n10/seed0.log").read_text()
    assert re.search(r"resuming from \S*checkpoint.pt at sample [1-9]\d*", log), log
    assert not (wd / RUN / "checkpoint.pt").exists()
    rows = (wd / RUN / "training.csv").read_text().splitlines()
    assert rows[-1].split(",")[0] == "100"
