"""Unsupervised STDP training of the Diehl & Cook network, as the paper's code does it.

Per image: Poisson encoding, one ``run`` with learning on, state reset. Every
``update_interval`` images the interval's responses are first classified with the
current neuron labels (the running accuracy logged in ``training.csv``), then
BindsNET's ``assign_labels`` updates the labels with rates accumulated over the
whole run (alpha 1), exactly as BindsNET's ``eth_mnist.py`` example the paper used.
Unlike that script, the final (possibly partial) interval is used too.

A checkpoint with the full state (weights, theta, RNG state, position, label
statistics, log rows) is written atomically every ``checkpoint_every`` images;
a restarted run resumes from it and ends bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import time as _time
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import torch

from snninfo.io import atomic_path
from snninfo.model.common import (
    N_CLASSES, accuracy, load_split, log, predict, save_model, set_threads,
)
from snninfo.model.engine import make_engine, resolve_device
from snninfo.seeding import derive_seed, seed_torch

CSV_COLUMNS = [
    "samples_seen", "epoch", "accuracy_all_activity", "accuracy_proportion_weighting",
    "mean_output_spikes", "silent_fraction", "seconds",
]


def checkpoint_path(out_dir: Path) -> Path:
    return Path(out_dir) / "checkpoint.pt"


def _fingerprint(cfg: Mapping[str, Any], dataset: str, n_neurons: int, seed: int, n_train: int,
                 data_attrs: Mapping[str, Any], device: str) -> str:
    training = {k: v for k, v in cfg["training"].items() if k != "checkpoint_every"}
    key = {
        "dataset": dataset, "n_neurons": n_neurons, "seed": seed, "n_train": n_train,
        "model": cfg["model"], "training": training, "engine": cfg["simulation"]["engine"],
        "data": data_attrs.get("source_md5", ""), "device": device,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


class _LabelState:
    """Label statistics accumulated over the training responses (BindsNET's loop)."""

    def __init__(self, n_neurons: int) -> None:
        self.rates = torch.zeros(n_neurons, N_CLASSES)
        self.assignments = -torch.ones(n_neurons, dtype=torch.long)
        self.proportions = torch.zeros(n_neurons, N_CLASSES)
        self.counts: list[torch.Tensor] = []
        self.labels: list[int] = []
        self.have_assignments = False

    def close_interval(self) -> dict[str, float]:
        from bindsnet.evaluation import assign_labels

        counts = torch.stack(self.counts).float()
        labels = torch.tensor(self.labels, dtype=torch.long)
        if self.have_assignments:
            a, p = predict(counts, self.assignments, self.proportions)
            acc_a, acc_p = accuracy(a.numpy(), labels.numpy()), accuracy(p.numpy(), labels.numpy())
        else:
            acc_a = acc_p = float("nan")
        self.assignments, self.proportions, self.rates = assign_labels(
            spikes=counts.unsqueeze(1), labels=labels, n_labels=N_CLASSES, rates=self.rates)
        self.have_assignments = True
        row = {
            "accuracy_all_activity": acc_a,
            "accuracy_proportion_weighting": acc_p,
            "mean_output_spikes": float(counts.sum(1).mean()),
            "silent_fraction": float((counts.sum(1) == 0).float().mean()),
        }
        self.counts, self.labels = [], []
        return row

    def state(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in
                ("rates", "assignments", "proportions", "counts", "labels", "have_assignments")}

    def load(self, st: Mapping[str, Any]) -> None:
        for k, v in st.items():
            setattr(self, k, v)


def train(data_path: str | Path, out_dir: str | Path, cfg: Mapping[str, Any], *, dataset: str,
          n_neurons: int, seed: int, stop_after: int | None = None) -> Path:
    """Train one network; writes ``model.pt`` and ``training.csv`` into ``out_dir``.

    ``stop_after`` (testing aid) stops after that many samples without writing outputs,
    leaving only the checkpoint, as a killed run would.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sim, tr, m = cfg["simulation"], cfg["training"], cfg["model"]
    set_threads(sim["threads"])
    device = resolve_device(sim["device"])
    images, labels, attrs = load_split(data_path, "train", cfg["data"]["n_train"])
    n = len(labels)
    input_shape = images.shape[1:]

    engine_seed = seed_torch(seed, "train")  # initial weights and every later torch draw
    engine = make_engine(sim["engine"], m, input_shape, n_neurons, device, engine_seed)
    lab = _LabelState(n_neurons)
    rows: list[dict[str, Any]] = []
    epoch, pos, seen = 0, 0, 0
    ckpt = checkpoint_path(out_dir)
    fp = _fingerprint(cfg, dataset, n_neurons, seed, n, attrs, str(device))

    if ckpt.exists():
        st = torch.load(ckpt, map_location="cpu", weights_only=False)
        if st.get("fingerprint") == fp:
            engine.set_state(st["engine_state"])
            engine.set_rng_state(st["rng"])
            torch.set_rng_state(st["torch_rng"])  # label tie-breaks draw from it, whatever the engine
            lab.load(st["labels"])
            rows, epoch, pos, seen = st["rows"], st["epoch"], st["pos"], st["seen"]
            log.info("resuming from %s at sample %d (epoch %d, position %d)", ckpt, seen, epoch, pos)
        else:
            log.warning("ignoring %s: it belongs to a different configuration", ckpt)

    def save_checkpoint() -> None:
        with atomic_path(ckpt) as tmp:
            torch.save({
                "fingerprint": fp, "engine_state": engine.get_state(), "rng": engine.get_rng_state(),
                "torch_rng": torch.get_rng_state(),
                "labels": lab.state(), "rows": rows, "epoch": epoch, "pos": pos, "seen": seen,
            }, tmp)

    total = n * tr["epochs"]
    t_interval = _time.time()
    log.info("training %s: %d neurons, %d images x %d epochs, engine %s on %s, seed %d",
             dataset, n_neurons, n, tr["epochs"], engine.name, device, seed)
    while epoch < tr["epochs"]:
        order = (np.random.default_rng(derive_seed(seed, "order", epoch)).permutation(n)
                 if tr["shuffle"] else np.arange(n))
        while pos < n:
            idx = int(order[pos])
            spikes_in = engine.encode(images[idx:idx + 1])[0]
            out = engine.train_sample(spikes_in)
            lab.counts.append(out.sum(0).to(torch.int32))
            lab.labels.append(int(labels[idx]))
            pos += 1
            seen += 1
            if len(lab.counts) == tr["update_interval"] or seen == total:
                row = lab.close_interval()
                elapsed = _time.time() - t_interval
                rows.append({"samples_seen": seen, "epoch": epoch, **row, "seconds": elapsed})
                log.info("%d/%d samples | interval acc all=%.3f prop=%.3f | %.2f spikes/sample, "
                         "%.0f%% silent | %.1f samples/s",
                         seen, total, row["accuracy_all_activity"], row["accuracy_proportion_weighting"],
                         row["mean_output_spikes"], 100 * row["silent_fraction"],
                         tr["update_interval"] / max(elapsed, 1e-9))
                t_interval = _time.time()
            if pos == n:
                epoch, pos = epoch + 1, 0
            if tr["checkpoint_every"] and seen % tr["checkpoint_every"] == 0 and seen < total:
                save_checkpoint()
            if stop_after is not None and seen >= stop_after:
                return ckpt
            if pos == 0:
                break  # next epoch: new order

    with atomic_path(out_dir / "training.csv") as tmp:
        pd.DataFrame(rows, columns=CSV_COLUMNS).to_csv(tmp, index=False, float_format="%.6g")
    save_model(out_dir / "model.pt", engine, dataset=dataset, seed=seed, cfg=cfg,
               label_rates=lab.rates, assignments=lab.assignments, proportions=lab.proportions,
               n_samples_seen=seen, n_train=n)
    ckpt.unlink(missing_ok=True)
    log.info("wrote %s and %s", out_dir / "model.pt", out_dir / "training.csv")
    return out_dir / "model.pt"
