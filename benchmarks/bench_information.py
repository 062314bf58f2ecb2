"""Benchmark of the information stage's permutation test (not collected by pytest).

Goal (issue 4): 784 inputs x 100 outputs x 2 lags x 1000 permutations for 10 samples
in under 60 s on one core.  Runs exactly that workload on random spike trains of
realistic rates (input 5 % per step, output 1 %, T = 250) with every thread pool pinned
to one thread, for each null model, and prints the seconds and the ratio to the goal.
For scale it also times the paper's naive route, sklearn ``mutual_info_classif`` once
per output neuron, on a few output neurons of one sample at lag 0 without permutations,
and extrapolates it to the same workload (the null needs one full evaluation per
permutation).

    OMP_NUM_THREADS=1 python benchmarks/bench_information.py [--null circular_shift|shuffle|both]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from snninfo.information.estimators import NULL_METHODS, permutation_test, plugin_mi  # noqa: E402

GOAL_SECONDS = 60.0
SAMPLES, STEPS, N_IN, N_OUT = 10, 250, 784, 100
LAGS = (0, 1)
PERMUTATIONS = 1000
INPUT_RATE, OUTPUT_RATE = 0.05, 0.01
NAIVE_NEURONS = 3


def spike_trains(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = (rng.random((SAMPLES, STEPS, N_IN)) < INPUT_RATE).astype(np.uint8)
    y = (rng.random((SAMPLES, STEPS, N_OUT)) < OUTPUT_RATE).astype(np.uint8)
    return x, y


def time_workload(x: np.ndarray, y: np.ndarray, null: str) -> tuple[float, int]:
    """Seconds for every sample and lag, and the number of MI evaluations of all pairs done
    (observed + null draws; under circular_shift at most the T - lag - 1 distinct shifts)."""
    start = time.perf_counter()
    evaluations = 0
    for s in range(SAMPLES):
        for lag in LAGS:
            res = permutation_test(x[s], y[s], lag, PERMUTATIONS, null,
                                   np.random.default_rng([0, s, lag]))
            evaluations += 1 + res.permutations
    return time.perf_counter() - start, evaluations


def time_naive(x: np.ndarray, y: np.ndarray) -> float:
    """Seconds per output neuron of sklearn's mutual_info_classif (sample 0, lag 0)."""
    from sklearn.feature_selection import mutual_info_classif

    ours = plugin_mi(x[0], y[0, :, :NAIVE_NEURONS])
    start = time.perf_counter()
    for j in range(NAIVE_NEURONS):
        nats = mutual_info_classif(x[0], y[0, :, j], discrete_features=True)
        if not np.allclose(nats / np.log(2), ours[:, j], atol=1e-12):
            raise AssertionError("sklearn and plugin_mi disagree")
    return (time.perf_counter() - start) / NAIVE_NEURONS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--null", choices=(*NULL_METHODS, "both"), default="both")
    nulls = NULL_METHODS if (arg := parser.parse_args().null) == "both" else (arg,)
    x, y = spike_trains(0)
    evaluations = SAMPLES * len(LAGS) * (PERMUTATIONS + 1)
    print(f"workload: {SAMPLES} samples x {len(LAGS)} lags x {PERMUTATIONS} permutations, "
          f"{N_IN} x {N_OUT} pairs, T = {STEPS}, rates {INPUT_RATE:.0%} / {OUTPUT_RATE:.0%}, "
          "1 thread")
    with threadpool_limits(limits=1):
        naive_neuron = time_naive(x, y)
        naive_total = naive_neuron * N_OUT * evaluations
        print(f"naive reference (sklearn mutual_info_classif per output neuron): "
              f"{naive_neuron:.3f} s per neuron ({NAIVE_NEURONS} timed) -> "
              f"{naive_neuron * N_OUT:.1f} s per sample and lag without permutations -> "
              f"{naive_total / 3600:.0f} h extrapolated to the workload")
        for null in nulls:
            seconds, done = time_workload(x, y, null)
            note = (f" (null = all T - lag - 1 distinct shifts, {done} evaluations in all)"
                    if done < evaluations else f" ({done} evaluations)")
            print(f"{null}: {seconds:.1f} s{note}; ratio to the {GOAL_SECONDS:.0f} s goal "
                  f"{seconds / GOAL_SECONDS:.2f} ({'met' if seconds < GOAL_SECONDS else 'MISSED'}); "
                  f"{seconds / done * 1e3:.2f} ms per evaluation of all pairs, speed-up over "
                  f"naive for the same evaluations {naive_neuron * N_OUT * done / seconds:,.0f}x")


if __name__ == "__main__":
    main()
