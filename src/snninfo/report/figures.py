"""Figures of one run: the paper's spike rasters (Figures 2-7) and diagnostics.

:func:`make_all` draws, into one directory (normally
``results/figures/{dataset}/n{neurons}/seed{seed}/``):

* ``raster_class{k}.png``: for each recorded class, its first recorded test
  image (Poisson draw 0) beside the raster of the Poisson input spikes and the
  raster of the excitatory output spikes (the paper's Figures 2-7);
* ``weights.png``: the learned input weights of every excitatory neuron as image tiles;
* ``theta.png``: the distribution of the adaptive thresholds;
* ``mi_maps.png``: per-pixel bias-corrected MI (lag 1) of the most informative output neurons;
* ``confusion.png``: confusion matrices of both prediction schemes, silent samples as their own column;
* ``training_curve.png``: running accuracy, output activity and silent fraction during training;
* ``mi_vs_entropy.png``: summed MI against the output neuron's own entropy, which
  bounds any real information (the paper's plug-in sum exceeds it).

Figures are drawn with matplotlib's object-oriented API on the Agg backend at
:data:`DPI` with fonts of at least 8 pt, and saved atomically (temporary file in
the target directory, then renamed), as PNG and optionally PDF.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from snninfo.io import atomic_path  # noqa: E402
from snninfo.report import (  # noqa: E402
    INFO_VARS,
    class_names,
    class_text,
    dataset_label,
    info_var,
    load_model,
    open_nc,
    run_identity,
)

#: Resolution of the saved PNGs.
DPI = 150

#: Figure sizes in inches; a PNG is ``size x DPI`` pixels.
FIGURE_SIZES_IN: dict[str, tuple[float, float]] = {
    "raster": (11.0, 4.2),
    "weights": (8.0, 8.6),
    "theta": (5.0, 3.6),
    "mi_maps": (10.0, 5.4),
    "confusion": (11.0, 5.6),
    "training_curve": (7.0, 5.6),
    "mi_vs_entropy": (10.0, 4.6),
}

#: Font sizes for print (>= 8 pt at the saved size).
STYLE: dict[str, Any] = {
    "font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "xtick.labelsize": 8,
    "ytick.labelsize": 8, "legend.fontsize": 8, "figure.titlesize": 10,
}

#: Lag whose MI the maps show.
MAP_LAG = 1


def _styled(func: Callable[..., Figure]) -> Callable[..., Figure]:
    """Draw a figure under :data:`STYLE`."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs) -> Figure:
        with matplotlib.rc_context(STYLE):
            return func(*args, **kwargs)
    return wrapper


def _figure(kind: str) -> Figure:
    return Figure(figsize=FIGURE_SIZES_IN[kind], dpi=DPI, layout="constrained")


def _message(ax, text: str) -> None:
    """Write ``text`` in the middle of an empty panel (used instead of a plot that has no data)."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def _raster(ax, trains: np.ndarray, time_ms: np.ndarray, dt: float, ylabel: str, noun: str) -> None:
    """Raster of binary ``trains`` (time, neuron): one vertical tick per spike; ``noun`` names the spikes."""
    n = trains.shape[1]
    t_idx, neuron = np.nonzero(trains)
    ax.set_xlim(time_ms[0] - dt, time_ms[-1] + dt)
    ax.set_ylim(-0.5, n - 0.5)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(ylabel)
    if t_idx.size == 0:
        ax.set_title(f"No {noun} ({n} neurons)")
        ax.text(0.5, 0.5, f"no {noun}", transform=ax.transAxes, ha="center", va="center", fontsize=11,
                color="0.3")
        return
    fig = ax.get_figure()
    height_pt = ax.get_position().height * fig.get_figheight() * 72
    tick = float(np.clip(0.9 * height_pt / n, 2.5, 6.0))
    ax.scatter(time_ms[t_idx], neuron, marker="|", s=tick ** 2, linewidths=0.9, color="black")
    ax.set_title(f"{t_idx.size:,} {noun} from {np.unique(neuron).size} of {n} neurons")


@_styled
def raster_figure(spikes: xr.Dataset, sample: int) -> Figure:
    """The paper's Figures 2-7 for one recorded sample of ``spikes.nc``.

    Panels: the test image, the Poisson input spikes (input neuron = y x width + x)
    and the excitatory output spikes, against time in ms.
    """
    dataset = str(spikes.attrs["dataset"])
    names = class_names(dataset, spikes.attrs)
    s = spikes.isel(sample=sample)
    label, prediction = int(s["label"]), int(s["prediction"])
    time_ms = spikes["time"].values
    dt = float(spikes.attrs.get("dt", time_ms[1] - time_ms[0] if time_ms.size > 1 else 1.0))
    fig = _figure("raster")
    grid = fig.add_gridspec(1, 3, width_ratios=[1.0, 2.4, 2.4])
    ax_img = fig.add_subplot(grid[0])
    ax_img.imshow(s["image"].values, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax_img.set_title(f"Test image #{int(s['test_index'])}")
    ax_img.set_xlabel("x (pixel)")
    ax_img.set_ylabel("y (pixel)")
    ax_in = fig.add_subplot(grid[1])
    ax_out = fig.add_subplot(grid[2], sharex=ax_in)
    fig.canvas.draw()  # positions of the axes, to size the spike ticks
    width = int(spikes.attrs.get("image_width", s["image"].shape[-1]))
    _raster(ax_in, s["input_spikes"].transpose("time", "input_neuron").values, time_ms, dt,
            f"input neuron (pixel y·{width} + x)", "Poisson input spikes")
    _raster(ax_out, s["output_spikes"].transpose("time", "output_neuron").values, time_ms, dt,
            "output (excitatory) neuron", "output spikes")
    predicted = "silent (no output spike)" if prediction < 0 else class_text(prediction, names[prediction])
    fig.suptitle(f"{dataset_label(dataset)}, {int(spikes.attrs['n_neurons'])} neurons, seed "
                 f"{int(spikes.attrs['seed'])}: class {class_text(label, names[label])}, test image "
                 f"#{int(s['test_index'])}, Poisson draw {int(s['repeat'])}; prediction: {predicted}")
    return fig


def _tiles(weights: np.ndarray, shape: Sequence[int]) -> tuple[np.ndarray, int, int]:
    """Arrange the columns of ``weights`` (n_input, n_neurons) as image tiles with a 1-pixel NaN gap."""
    h, w = shape
    n = weights.shape[1]
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    canvas = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), np.nan)
    for j in range(n):
        r, c = divmod(j, cols)
        canvas[r * (h + 1): r * (h + 1) + h, c * (w + 1): c * (w + 1) + w] = weights[:, j].reshape(h, w)
    return canvas, rows, cols


@_styled
def weights_figure(model: dict[str, Any]) -> Figure:
    """Learned input (X -> Ae) weights of every excitatory neuron as tiles, neuron 0 top left, row-major."""
    h, w = (int(v) for v in model["input_shape"])
    weights = np.asarray(model["weights"], dtype=float)
    canvas, rows, cols = _tiles(weights, (h, w))
    fig = _figure("weights")
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps["hot_r"].with_extremes(bad="0.75")
    im = ax.imshow(canvas, cmap=cmap, vmin=0, vmax=max(float(np.nanmax(canvas)), 1e-12), interpolation="nearest")
    ax.set_xticks(np.arange(cols) * (w + 1) + (w - 1) / 2, [f"+{c}" for c in range(cols)])
    ax.set_yticks(np.arange(rows) * (h + 1) + (h - 1) / 2, [str(r * cols) for r in range(rows)])
    ax.set_xlabel("column (added to the row's first neuron)")
    ax.set_ylabel("first neuron of the row")
    fig.colorbar(im, ax=ax, shrink=0.8, label="synaptic weight (dimensionless)")
    ax.set_title(f"{dataset_label(str(model['dataset']))}: learned input weights of the "
                 f"{weights.shape[1]} excitatory neurons ({h}×{w} tile each)")
    return fig


@_styled
def theta_figure(model: dict[str, Any]) -> Figure:
    """Histogram of the adaptive threshold increments theta (mV) after training."""
    theta = np.asarray(model["theta"], dtype=float)
    fig = _figure("theta")
    ax = fig.add_subplot()
    ax.hist(theta, bins=int(np.clip(theta.size // 3, 5, 40)), color="0.35", edgecolor="white")
    ax.axvline(np.median(theta), color="C3", linestyle="--", label=f"median {np.median(theta):.2f} mV")
    ax.set_xlabel("adaptive threshold increment θ (mV)")
    ax.set_ylabel("excitatory neurons")
    ax.legend()
    ax.set_title(f"{dataset_label(str(model['dataset']))}: θ of {theta.size} neurons after training")
    return fig


def _map_lag(info: xr.Dataset) -> int:
    lags = [int(v) for v in info_var(info, "lag").values]
    return MAP_LAG if MAP_LAG in lags else max(lags)


@_styled
def mi_maps_figure(info: xr.Dataset, spikes: xr.Dataset, top: int = 4) -> Figure:
    """Per-pixel bias-corrected MI maps (lag 1) of the ``top`` most informative output neurons.

    Neurons are ranked by their largest bias-corrected summed MI at lag 1 over the
    recorded samples in which they spiked; each column shows that sample's image
    and the map of MI between each input pixel and the neuron. One symmetric
    colour scale serves all maps (corrected MI can be negative). Without any
    output spike there is nothing to map, and the figure says so.
    """
    dataset = str(spikes.attrs["dataset"])
    names = class_names(dataset, spikes.attrs)
    lag = _map_lag(info)
    lag_sel = {INFO_VARS["lag"]: lag}
    h, w = int(spikes.attrs["image_height"]), int(spikes.attrs["image_width"])
    spiked = spikes["output_spikes"].transpose("sample", "time", "output_neuron").values.any(axis=1)
    score = np.where(spiked, info_var(info, "mi_sum_corrected").sel(lag_sel)
                     .transpose("sample", "output_neuron").values, -np.inf)
    best_sample = score.argmax(axis=0)
    best = score.max(axis=0)
    neurons = [int(j) for j in np.argsort(-best, kind="stable") if np.isfinite(best[j])][:top]
    fig = _figure("mi_maps")
    title = (f"{dataset_label(dataset)}, {int(spikes.attrs['n_neurons'])} neurons, seed "
             f"{int(spikes.attrs['seed'])}: bias-corrected MI between each input pixel at t and the "
             f"output neuron at t + {lag}")
    if not neurons:
        _message(fig.add_subplot(), "No output spikes in any recorded sample:\nan output without spikes has zero "
                 "entropy and carries no information; nothing to map.")
        fig.suptitle(title)
        return fig
    maps = [info_var(info, "mi_corrected").sel(lag_sel).isel(sample=int(best_sample[j]))
            .isel(output_neuron=j).values.reshape(h, w) for j in neurons]
    vmax = max(float(np.max(np.abs(maps))), 1e-12)
    significant = info_var(info, "significant").sel(lag_sel).transpose("sample", "output_neuron").values
    axes = fig.subplots(2, top, squeeze=False)
    im = None
    for col in range(top):
        ax_img, ax_map = axes[0, col], axes[1, col]
        if col >= len(neurons):
            _message(ax_img, "")
            _message(ax_map, f"only {len(neurons)} output\nneuron(s) spiked")
            continue
        j, i = neurons[col], int(best_sample[neurons[col]])
        label = int(spikes["label"].values[i])
        ax_img.imshow(spikes["image"].values[i], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax_img.set_title(f"neuron {j}: class {class_text(label, names[label])},\n"
                         f"test image #{int(spikes['test_index'].values[i])}")
        ax_img.set_axis_off()
        im = ax_map.imshow(maps[col], cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
        verdict = "significant" if significant[i, j] else "not significant"
        ax_map.set_title(f"sum {best[j]:.3f} bits\n{verdict} (BH)")
        ax_map.set_xlabel("x (pixel)")
        ax_map.set_ylabel("y (pixel)")
    fig.colorbar(im, ax=axes[1, :].tolist(), shrink=0.9, label=f"bias-corrected MI, lag {lag} (bits)")
    fig.suptitle(title)
    return fig


def _confusion(label: np.ndarray, prediction: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts (true class, predicted class), the last column for silent samples (prediction -1)."""
    column = np.where(prediction < 0, n_classes, prediction)
    counts = np.zeros((n_classes, n_classes + 1), dtype=int)
    np.add.at(counts, (label, column), 1)
    return counts


@_styled
def confusion_figure(evaluation: xr.Dataset) -> Figure:
    """Confusion matrices of both prediction schemes, normalised per true class, with a silent column."""
    dataset = str(evaluation.attrs["dataset"])
    names = class_names(dataset, evaluation.attrs)
    n_classes = len(names)
    label = evaluation["label"].values
    fig = _figure("confusion")
    axes = fig.subplots(1, 2)
    im = None
    for ax, scheme, scheme_name in zip(axes, ("all_activity", "proportion_weighting"),
                                       ("All-activity", "Proportion weighting")):
        prediction = evaluation[f"prediction_{scheme}"].values
        counts = _confusion(label, prediction, n_classes)
        totals = counts.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            fraction = counts / totals
        im = ax.imshow(fraction, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
        for (r, c), v in np.ndenumerate(fraction):
            if counts[r, c]:
                ax.text(c, r, f"{100 * v:.0f}", ha="center", va="center", fontsize=8,
                        color="white" if v > 0.6 else "black")
        ax.axvline(n_classes - 0.5, color="0.3", linewidth=1)
        ax.set_xticks(range(n_classes + 1), [*names, "silent"], rotation=45, ha="right", rotation_mode="anchor")
        ax.set_yticks(range(n_classes), [f"{n} (n={t})" for n, t in zip(names, totals[:, 0])])
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class (test images)")
        accuracy = float(np.mean(prediction == label))
        ax.set_title(f"{scheme_name}: accuracy {100 * accuracy:.1f} %")
    fig.colorbar(im, ax=axes.tolist(), shrink=0.85,
                 label="fraction of the true class (cell text: %)")
    fig.suptitle(f"{dataset_label(dataset)}, {int(evaluation.attrs['n_neurons'])} neurons, seed "
                 f"{int(evaluation.attrs['seed'])}: confusion over {label.size:,} test images "
                 f"(silent = no output spike, counted wrong)")
    return fig


@_styled
def training_curve_figure(training: pd.DataFrame, dataset: str, n_classes: int = 10) -> Figure:
    """Running accuracy of both schemes, mean output spikes and silent fraction against images seen."""
    x = training["samples_seen"].to_numpy()
    fig = _figure("training_curve")
    ax_acc, ax_act = fig.subplots(2, 1, sharex=True)
    ax_acc.plot(x, 100 * training["accuracy_all_activity"], marker="o", markersize=3, label="all-activity")
    ax_acc.plot(x, 100 * training["accuracy_proportion_weighting"], marker="s", markersize=3,
                label="proportion weighting")
    ax_acc.axhline(100 / n_classes, color="0.5", linestyle=":", label="chance")
    ax_acc.set_ylim(0, 100)
    ax_acc.set_ylabel("running accuracy (%)")
    ax_acc.legend(loc="lower right")
    ax_acc.set_title("Accuracy on each update interval, predicted with the previous interval's assignments")
    ax_act.plot(x, training["mean_output_spikes"], color="C2", marker="o", markersize=3)
    ax_act.set_ylabel("mean output spikes per image", color="C2")
    ax_act.set_ylim(bottom=0)
    ax_act.set_xlabel("training images seen")
    ax_sil = ax_act.twinx()
    ax_sil.plot(x, 100 * training["silent_fraction"], color="C3", marker="^", markersize=3)
    ax_sil.set_ylabel("silent images (%)", color="C3")
    ax_sil.set_ylim(bottom=0)
    ax_act.set_title("Output activity during training")
    epoch_starts = x[1:][np.diff(training["epoch"].to_numpy()) != 0]
    for ax in (ax_acc, ax_act):
        for start in epoch_starts:
            ax.axvline(start, color="0.7", linewidth=0.8)
    fig.suptitle(f"{dataset_label(dataset)}: training")
    return fig


@_styled
def mi_vs_entropy_figure(info: xr.Dataset) -> Figure:
    """Summed MI (plug-in and bias-corrected) against the output entropy, one panel per lag.

    Each point is one output neuron in one recorded sample; neurons that did not
    spike (entropy 0, MI 0) are left out and counted in the title. An output
    neuron cannot carry more information than its own entropy, so points above
    y = x are estimation artefacts. The y axis is symmetric-logarithmic (linear
    within +/-0.01 bits) because corrected values can be negative.
    """
    dataset = str(info.attrs["dataset"])
    entropy = info_var(info, "output_entropy").transpose("sample", "output_neuron").values
    active = entropy > 0
    lags = [int(v) for v in info_var(info, "lag").values]
    fig = _figure("mi_vs_entropy")
    axes = fig.subplots(1, len(lags), squeeze=False)[0]
    h_max = max(float(entropy.max()), 1e-3) * 1.05
    for ax, lag in zip(axes, lags):
        sel = {INFO_VARS["lag"]: lag}
        ax.plot([0, h_max], [0, h_max], color="black", linestyle="--", linewidth=1, label="y = x (MI = entropy)")
        for key, name, marker, color in (("mi_sum", "plug-in (paper)", "o", "C1"),
                                         ("mi_sum_corrected", "bias-corrected", "x", "C0")):
            mi = info_var(info, key).sel(sel).transpose("sample", "output_neuron").values[active]
            above = int(np.sum(mi > entropy[active]))
            ax.scatter(entropy[active], mi, marker=marker, s=14, color=color, linewidths=1,
                       facecolors="none" if marker == "o" else None,
                       label=f"{name}: {above} of {mi.size} above y = x")
        ax.set_yscale("symlog", linthresh=0.01)
        ax.set_xlim(0, h_max)
        ax.set_xlabel("output entropy H(Y) (bits)")
        ax.set_ylabel(f"MI summed over input neurons, lag {lag} (bits)")
        ax.set_title(f"lag {lag}")
        ax.legend(loc="lower right")
    fig.suptitle(f"{dataset_label(dataset)}, {int(info.attrs['n_neurons'])} neurons, seed "
                 f"{int(info.attrs['seed'])}: summed MI vs output entropy ({int(active.sum())} spiking "
                 f"neuron-samples; {int((~active).sum())} silent ones left out)")
    return fig


def _save(fig: Figure, path: Path, pdf: bool) -> list[Path]:
    """Save ``fig`` atomically as PNG (and PDF beside it when ``pdf``); return the paths."""
    paths = [path]
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    if pdf:
        paths.append(path.with_suffix(".pdf"))
        with atomic_path(paths[-1]) as tmp:
            fig.savefig(tmp, format="pdf")
    return paths


def make_all(run_dir: str | os.PathLike, out_dir: str | os.PathLike, pdf: bool = False) -> list[Path]:
    """Draw every figure of the run in ``run_dir`` into ``out_dir``; return the written paths.

    ``run_dir`` holds ``model.pt``, ``training.csv``, ``evaluation.nc``,
    ``spikes.nc`` and ``information.nc``; their ``dataset``/``n_neurons``/``seed``
    attributes must agree. ``out_dir`` is used as given (normally
    ``results/figures/{dataset}/n{neurons}/seed{seed}``). With ``pdf`` every
    figure is also written as PDF.
    """
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    spikes = open_nc(run_dir / "spikes.nc")
    info = open_nc(run_dir / "information.nc")
    evaluation = open_nc(run_dir / "evaluation.nc")
    identity = run_identity(spikes.attrs)
    for name, ds in (("information.nc", info), ("evaluation.nc", evaluation)):
        if run_identity(ds.attrs) != identity:
            raise ValueError(f"{run_dir}: {name} is from {run_identity(ds.attrs)}, spikes.nc from {identity}")
    model = load_model(run_dir)
    dataset = identity[0]
    written: list[Path] = []

    def save(fig: Figure, name: str) -> None:
        written.extend(_save(fig, out_dir / name, pdf))

    labels, repeats = spikes["label"].values, spikes["repeat"].values
    for k in sorted(set(int(v) for v in labels[repeats == 0])):
        save(raster_figure(spikes, int(np.flatnonzero((labels == k) & (repeats == 0))[0])), f"raster_class{k}.png")
    save(weights_figure(model), "weights.png")
    save(theta_figure(model), "theta.png")
    save(mi_maps_figure(info, spikes), "mi_maps.png")
    save(confusion_figure(evaluation), "confusion.png")
    save(training_curve_figure(pd.read_csv(run_dir / "training.csv"), dataset,
                               len(class_names(dataset, spikes.attrs))), "training_curve.png")
    save(mi_vs_entropy_figure(info), "mi_vs_entropy.png")
    return written
