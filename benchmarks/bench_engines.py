"""Throughput, memory and scaling of the simulation engines (``bindsnet`` vs ``fast``).

One thread throughout; times are the CPU time of the benchmarking process (user +
system), so other load on a shared machine disturbs them little, and both engines are
measured in the same run. Prints markdown tables.

* Training: images/s for ``encode`` + ``train_sample`` (batch 1, as the training loop).
* Inference: images/s for ``encode`` + ``infer`` at batch 64 and 256 (encoding included).
* Peak memory: peak resident set size (``VmHWM``) of a separate process per engine
  that imports it, builds a 100-neuron network, trains 20 images and infers a batch
  of 256 (numba kernels loaded from their cache, which the throughput runs fill).
* Scaling: 100, 400, 1600, 6400 neurons; BindsNET is timed on a few images and the
  time per image extrapolated.
* ``--accuracy``: pipeline train -> assign -> evaluate on 2,000 training and 1,000 test
  MNIST images (:func:`end_to_end`): both engines on identical input spike trains with
  one_spike off (should agree exactly), and the default configuration (one_spike on,
  each engine's own random draws), BindsNET at seed 0 and the fast engine at seeds
  0..9 (``--fast-seeds``), whose spread shows the seed-to-seed variability of the
  accuracy at this training length.

Usage: ``python benchmarks/bench_engines.py [--quick] [--accuracy] [--mnist DIR]``
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from snninfo.config import validate  # noqa: E402
from snninfo.model.engine import make_engine  # noqa: E402

ENGINES = ("bindsnet", "fast")
SIZES = (100, 400, 1600, 6400)
DEFAULT_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def read_mnist(mnist_dir: Path, split: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    prefix = {"train": "train", "test": "t10k"}[split]
    with gzip.open(mnist_dir / f"{prefix}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:n].copy()
    with gzip.open(mnist_dir / f"{prefix}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)[:n].astype(np.int64)
    return images, labels


def build(engine: str, n_neurons: int, seed: int = 0):
    torch.manual_seed(seed)
    return make_engine(engine, validate({})["model"], (28, 28), n_neurons, "cpu", seed)


def time_training(eng, images: np.ndarray) -> float:
    """Seconds per image of encode + train_sample (after one warm-up image)."""
    eng.train_sample(eng.encode(images[:1])[0])
    t0 = time.process_time()
    for img in images:
        eng.train_sample(eng.encode(img[None])[0])
    return (time.process_time() - t0) / len(images)


def time_inference(eng, images: np.ndarray, batch: int) -> float:
    """Seconds per image of encode + infer at ``batch`` (after a warm-up batch of that size:
    the first large batch pays for fresh memory, about 0.1 s at 256)."""
    eng.infer(eng.encode(images[:batch]))
    t0 = time.process_time()
    for start in range(0, len(images), batch):
        eng.infer(eng.encode(images[start:start + batch]))
    return (time.process_time() - t0) / len(images)


def peak_rss_mib() -> float:
    """Peak resident set size of this process: ``VmHWM`` of /proc/self/status. (Linux's
    ``ru_maxrss`` of a process started from a large parent reports at least the parent's
    size at the fork, so it is only the fallback where /proc is absent.)"""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_memory(engine: str) -> None:
    """Run in a fresh process: peak RSS of one engine's typical use, printed as JSON."""
    torch.set_num_threads(1)
    images, _ = read_mnist(Path(os.environ["BENCH_MNIST"]), "test", 276)
    eng = build(engine, 100)
    for img in images[:20]:
        eng.train_sample(eng.encode(img[None])[0])
    eng.infer(eng.encode(images[20:276]))
    print(json.dumps({"peak_rss_mib": peak_rss_mib()}))


def peak_memory(engine: str, mnist_dir: Path) -> float:
    env = {**os.environ, "BENCH_MNIST": str(mnist_dir)}
    res = subprocess.run([sys.executable, __file__, "--child-memory", engine],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])["peak_rss_mib"]


def end_to_end(mnist_dir: Path, fast_seeds: int, n_train: int = 2000, n_test: int = 1000) -> dict:
    """Pipeline train -> assign -> evaluate, 100 neurons. Runs, keyed (setting, engine, seed):

    * ``paired``: one_spike off and the fast engine fed BindsNET's encoder, which draws
      from torch's global generator like the rest of the pipeline: both engines see
      identical input spike trains, so the runs should agree exactly (seed 0);
    * ``default``: the default configuration (one_spike on, each engine's own encoder),
      BindsNET at seed 0, the fast engine at seeds 0 .. fast_seeds - 1 (the seed-to-seed
      spread).
    """
    from unittest import mock

    import xarray as xr

    from snninfo.model.engine import BindsNETEngine
    from snninfo.model.fast import FastEngine
    from snninfo.model.inference import assign, evaluate
    from snninfo.model.training import train

    tri, trl = read_mnist(mnist_dir, "train", n_train)
    tei, tel = read_mnist(mnist_dir, "test", n_test)
    runs = ([("paired", e, 0) for e in ENGINES] + [("default", "bindsnet", 0)]
            + [("default", "fast", s) for s in range(fast_seeds)])
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "mnist.nc"
        xr.Dataset({"train_image": (("train_sample", "y", "x"), tri),
                    "test_image": (("test_sample", "y", "x"), tei),
                    "train_label": ("train_sample", trl), "test_label": ("test_sample", tel)},
                   attrs={"dataset": "mnist", "source_md5": "{}"}).to_netcdf(data)
        for setting, engine, seed in runs:
            paired = setting == "paired"
            cfg = validate({"data": {"n_train": n_train, "n_test": n_test},
                            "model": {"one_spike": False} if paired else {},
                            "training": {"checkpoint_every": 0},
                            "simulation": {"engine": engine, "device": "cpu"}})
            d = tmp / f"{setting}-{engine}-{seed}"
            encoder = BindsNETEngine.encode if paired else FastEngine.encode
            with mock.patch.object(FastEngine, "encode", encoder):
                t0 = time.perf_counter()
                model = train(data, d, cfg, dataset="mnist", n_neurons=100, seed=seed)
                t_train = time.perf_counter() - t0
                assign(model, d / "assignments.nc", cfg, seed=seed)
                t0 = time.perf_counter()
                ds = evaluate(model, d / "assignments.nc", data, d / "evaluation.nc", cfg, seed=seed)
            out[setting, engine, seed] = {
                "all_activity": float(ds.attrs["accuracy_all_activity"]),
                "proportion_weighting": float(ds.attrs["accuracy_proportion_weighting"]),
                "train_s": t_train, "evaluate_s": time.perf_counter() - t0,
                "counts": ds["spike_count"].values}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer images (a few minutes)")
    ap.add_argument("--accuracy", action="store_true",
                    help="also the 2,000-image end-to-end accuracy comparisons (~10 min)")
    ap.add_argument("--fast-seeds", type=int, default=10,
                    help="seeds of the fast engine in the accuracy comparison (default 10)")
    ap.add_argument("--mnist", type=Path, default=DEFAULT_MNIST, help="folder of the MNIST .gz files")
    ap.add_argument("--child-memory", choices=ENGINES, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_memory:
        child_memory(args.child_memory)
        return
    torch.set_num_threads(1)
    images, _ = read_mnist(args.mnist, "test", 4096)
    q = args.quick
    # images timed per engine: training, inference per batch size, and per scaling size
    n_train = {"bindsnet": 10 if q else 40, "fast": 200 if q else 1000}
    n_infer = {"bindsnet": 256 if q else 512, "fast": 1024 if q else 4096}
    n_scale_train = {"bindsnet": dict(zip(SIZES, (3, 2, 1, 1) if q else (10, 5, 3, 2))),
                     "fast": dict(zip(SIZES, (100, 50, 20, 10) if q else (400, 200, 100, 40)))}
    n_scale_infer = {"bindsnet": dict(zip(SIZES, (64, 64, 64, 64))),
                     "fast": dict(zip(SIZES, (512, 256, 128, 64) if q else (1024, 512, 256, 128)))}

    print(f"# Engine benchmark (1 thread, torch {torch.__version__}, "
          f"{'quick' if q else 'full'} run, 250 steps of 1 ms, MNIST test images)\n")
    res = {}
    for engine in ENGINES:
        eng = build(engine, 100)
        r = {"train": 1 / time_training(eng, images[:n_train[engine]])}
        for batch in (64, 256):
            r[f"infer{batch}"] = 1 / time_inference(eng, images[:n_infer[engine]], batch)
        r["mem"] = peak_memory(engine, args.mnist)
        res[engine] = r
        print(f"{engine}: " + ", ".join(f"{k} {v:.1f}" for k, v in r.items()), file=sys.stderr)
    b, f = res["bindsnet"], res["fast"]
    print("## Throughput and memory, 100 neurons\n")
    print("| | bindsnet | fast | fast / bindsnet |")
    print("|---|---:|---:|---:|")
    print(f"| training, images/s (encode + train, batch 1) | {b['train']:.1f} | {f['train']:.0f} "
          f"| {f['train'] / b['train']:.0f}x |")
    for batch in (64, 256):
        k = f"infer{batch}"
        print(f"| inference, images/s (encode + infer, batch {batch}) | {b[k]:.0f} | {f[k]:.0f} "
              f"| {f[k] / b[k]:.0f}x |")
    print(f"| peak resident memory, MiB (own process) | {b['mem']:.0f} | {f['mem']:.0f} "
          f"| {f['mem'] / b['mem']:.2f} |")

    print("\n## Scaling (seconds per image; bindsnet extrapolated from the images timed)\n")
    print("| neurons | bindsnet train | fast train | ratio | bindsnet infer (b64) | fast infer (b64) | ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in SIZES:
        t = {}
        for engine in ENGINES:
            eng = build(engine, n)
            t[engine] = (time_training(eng, images[:n_scale_train[engine][n]]),
                         time_inference(eng, images[:n_scale_infer[engine][n]], 64))
        (bt, bi), (ft, fi) = t["bindsnet"], t["fast"]
        print(f"| {n} | {bt:.4f} | {ft:.5f} | {bt / ft:.0f}x | {bi:.4f} | {fi:.5f} | {bi / fi:.0f}x |",
              flush=True)

    if args.accuracy:
        acc = end_to_end(args.mnist, args.fast_seeds)
        print("\n## End to end: 2,000 training / 1,000 test MNIST images, 100 neurons\n")
        print("paired: one_spike off, identical input spike trains (BindsNET's encoder in both); "
              "default: one_spike on, each engine's own random draws.\n")
        print("| setting | engine | seed | accuracy (all activity) | accuracy (proportion weighting) "
              "| training s (wall) | evaluation s (wall) |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for (setting, engine, seed), r in acc.items():
            print(f"| {setting} | {engine} | {seed} | {r['all_activity']:.3f} | {r['proportion_weighting']:.3f} "
                  f"| {r['train_s']:.0f} | {r['evaluate_s']:.1f} |")
        same = np.array_equal(acc["paired", "bindsnet", 0]["counts"], acc["paired", "fast", 0]["counts"])
        ref = acc["default", "bindsnet", 0]["all_activity"]
        fast = np.array([r["all_activity"] for (st, e, _), r in acc.items() if st == "default" and e == "fast"])
        print(f"\npaired: fast - bindsnet {100 * (acc['paired', 'fast', 0]['all_activity'] - acc['paired', 'bindsnet', 0]['all_activity']):+.1f} "
              f"points; test spike counts identical: {same}")
        print(f"default, seed 0: fast - bindsnet {100 * (fast[0] - ref):+.1f} points; fast over {len(fast)} "
              f"seeds: median {np.median(fast):.3f}, range {fast.min():.3f}-{fast.max():.3f}")

if __name__ == "__main__":
    main()
