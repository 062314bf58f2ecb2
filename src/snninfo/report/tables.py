"""Table 1 (test accuracy) and Table 2 (spiking and informative neurons per class).

Both tables put the paper's numbers beside sound versions:

* Table 1 recomputes the accuracy of both prediction schemes from the per-sample
  predictions in ``evaluation.nc`` over the whole evaluated test set, counting a
  silent sample (prediction -1, no output spike) as wrong, and reports mean and
  sample standard deviation over seeds.
* Table 2 lists, per recorded test image, the output neurons that spiked and the
  neurons the paper's criterion calls informative (plug-in summed MI at lag 0 >
  1e-6 nats, which holds for every neuron that spiked), next to the neurons whose
  bias-corrected MI is significant after Benjamini-Hochberg, per lag.

Each table is written as ``{out_prefix}.csv`` (full precision, machine-readable),
``{out_prefix}.md`` (readable, percentages) and ``{out_prefix}.tex`` (a booktabs
``tabular``), every file atomically.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from snninfo.io import write_text
from snninfo.report import (
    DATASET_ORDER,
    INFO_VARS,
    class_names,
    class_text,
    dataset_label,
    format_set,
    info_var,
    load_model,
    nonzero_indices,
    open_nc,
    run_dirs_from,
    run_identity,
)

#: The paper's Table 1 (test accuracy, 100 excitatory neurons).
PAPER_ACCURACY: dict[tuple[str, int], float] = {
    ("mnist", 100): 0.72,
    ("fashion_mnist", 100): 0.46,
    ("cifar10", 100): 0.09,
}

#: Sizes of the official training and test sets.
FULL_TRAIN: dict[str, int] = {"mnist": 60_000, "fashion_mnist": 60_000, "cifar10": 50_000}
FULL_TEST: dict[str, int] = {"mnist": 10_000, "fashion_mnist": 10_000, "cifar10": 10_000}

#: Prediction schemes, as suffixes of ``evaluation.nc``'s ``prediction_*`` variables.
SCHEMES: tuple[str, ...] = ("all_activity", "proportion_weighting")

TABLE1_COLUMNS: list[str] = [
    "dataset", "n_neurons", "n_seeds",
    "accuracy_all_activity_mean", "accuracy_all_activity_std",
    "accuracy_proportion_weighting_mean", "accuracy_proportion_weighting_std",
    "silent_fraction_mean", "n_train", "n_test", "paper_accuracy", "note",
]

_ATTR_TOLERANCE = 1e-9


# --------------------------------------------------------------------------- Table 1

def evaluate_run(run_dir: str | os.PathLike) -> dict[str, Any]:
    """Accuracy of both schemes and the silent fraction of one run, from ``evaluation.nc``.

    Accuracies are the fraction of evaluated test samples whose prediction equals
    the label; a silent sample (prediction -1) is therefore wrong. A sample is
    silent when no output neuron spiked. Values stored in the file's attributes
    must agree with the recomputation (else ``ValueError``). ``n_train`` is the
    number of distinct training images (``model.pt``: ``n_samples_seen`` / epochs;
    without ``model.pt``, the ``data.n_train`` of the file's ``config`` attribute;
    ``None`` when neither is available).
    """
    run_dir = Path(run_dir)
    ev = open_nc(run_dir / "evaluation.nc")
    dataset, n_neurons, seed = run_identity(ev.attrs)
    label = ev["label"].values
    out: dict[str, Any] = {"dataset": dataset, "n_neurons": n_neurons, "seed": seed}
    for scheme in SCHEMES:
        out[f"accuracy_{scheme}"] = float(np.mean(ev[f"prediction_{scheme}"].values == label))
    out["silent_fraction"] = float(np.mean(ev["spike_count"].values.sum(axis=1) == 0))
    out["n_test"] = int(label.size)
    for key in [f"accuracy_{s}" for s in SCHEMES] + ["silent_fraction", "n_test"]:
        if key in ev.attrs and not np.isclose(float(ev.attrs[key]), out[key], rtol=0, atol=_ATTR_TOLERANCE):
            raise ValueError(
                f"{run_dir / 'evaluation.nc'}: attribute {key}={ev.attrs[key]} disagrees with "
                f"the value recomputed from the per-sample data, {out[key]}"
            )
    out["n_train"] = _n_train(run_dir, ev.attrs, dataset)
    return out


def _n_train(run_dir: Path, attrs: Mapping[str, Any], dataset: str) -> int | None:
    """Distinct training images of a run (see :func:`evaluate_run`)."""
    if (run_dir / "model.pt").exists():
        model = load_model(run_dir)
        epochs = int(model.get("training", {}).get("epochs", 1))
        return int(model["n_samples_seen"]) // epochs
    data = json.loads(attrs.get("config", "{}")).get("data")
    if data is None:
        return None
    n = data.get("n_train")
    return FULL_TRAIN[dataset] if n is None else min(int(n), FULL_TRAIN[dataset])


def _single(values: pd.Series, what: str, dataset: str, n_neurons: int) -> Any:
    """The one value seeds of a configuration must share."""
    unique = values.dropna().unique()
    if len(unique) > 1:
        raise ValueError(f"{dataset} n{n_neurons}: seeds disagree on {what}: {sorted(unique)}")
    return unique[0] if len(unique) else None


def _table1_note(dataset: str, n_seeds: int, n_train: int | None, n_test: int) -> str:
    notes = []
    if n_seeds == 1:
        notes.append("1 seed: no standard deviation")
    if n_test < FULL_TEST[dataset]:
        notes.append(f"test subset: {n_test:,} of {FULL_TEST[dataset]:,} images")
    if n_train is None:
        notes.append("training-set size unknown (no model.pt)")
    elif n_train < FULL_TRAIN[dataset]:
        notes.append(f"training subset: {n_train:,} of {FULL_TRAIN[dataset]:,} images")
    return "; ".join(notes)


def table1_frame(run_dirs: Iterable[str | os.PathLike] | Mapping[Any, str | os.PathLike]) -> pd.DataFrame:
    """Table 1 as a DataFrame (one row per data set x network size), without writing files."""
    per_run = pd.DataFrame([evaluate_run(d) for d in run_dirs_from(run_dirs)])
    if per_run.empty:
        raise ValueError("table1 needs at least one run directory")
    dup = per_run.duplicated(["dataset", "n_neurons", "seed"])
    if dup.any():
        raise ValueError(f"duplicate runs: {per_run.loc[dup, ['dataset', 'n_neurons', 'seed']].to_dict('records')}")
    rows = []
    for (dataset, n_neurons), g in per_run.groupby(["dataset", "n_neurons"], sort=False):
        n_train = _single(g["n_train"], "n_train", dataset, n_neurons)
        n_test = int(_single(g["n_test"], "n_test", dataset, n_neurons))
        row: dict[str, Any] = {"dataset": dataset, "n_neurons": int(n_neurons), "n_seeds": len(g)}
        for scheme in SCHEMES:
            acc = g[f"accuracy_{scheme}"]
            row[f"accuracy_{scheme}_mean"] = float(acc.mean())
            row[f"accuracy_{scheme}_std"] = float(acc.std(ddof=1)) if len(g) > 1 else np.nan
        row["silent_fraction_mean"] = float(g["silent_fraction"].mean())
        row["n_train"] = pd.NA if n_train is None else int(n_train)
        row["n_test"] = n_test
        row["paper_accuracy"] = PAPER_ACCURACY.get((dataset, int(n_neurons)), np.nan)
        row["note"] = _table1_note(dataset, len(g), None if n_train is None else int(n_train), n_test)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=TABLE1_COLUMNS)
    frame["n_train"] = frame["n_train"].astype("Int64")
    return _sort_by_dataset(frame, ["n_neurons"])


def table1(
    run_dirs: Iterable[str | os.PathLike] | Mapping[Any, str | os.PathLike],
    out_prefix: str | os.PathLike = "results/tables/table1",
) -> pd.DataFrame:
    """Build Table 1 and write ``{out_prefix}.csv``, ``.md`` and ``.tex`` atomically.

    ``run_dirs``: run directories (``results/{dataset}/n{neurons}/seed{seed}``),
    each with ``evaluation.nc`` and normally ``model.pt``; or a mapping whose
    values are such directories. Returns the table (fractions, not percentages).
    """
    frame = table1_frame(run_dirs)
    headers = ["Data set", "Neurons", "Seeds", "Accuracy, all-activity (%)",
               "Accuracy, proportion weighting (%)", "Silent samples (%)",
               "Training images", "Test images", "Paper accuracy (%)", "Note"]
    rows = []
    for r in frame.itertuples(index=False):
        accuracy = []
        for scheme in SCHEMES:
            mean, std = getattr(r, f"accuracy_{scheme}_mean"), getattr(r, f"accuracy_{scheme}_std")
            accuracy.append(_pct(mean) + ("" if np.isnan(std) else " ± " + _pct(std)))
        rows.append([dataset_label(r.dataset), str(r.n_neurons), str(r.n_seeds), *accuracy,
                     _pct(r.silent_fraction_mean), "" if pd.isna(r.n_train) else f"{int(r.n_train):,}",
                     f"{r.n_test:,}", "" if np.isnan(r.paper_accuracy) else f"{100 * r.paper_accuracy:.0f}",
                     r.note])
    caption = (
        "Table 1. Test accuracy of the Diehl & Cook (2015) network, recomputed from the per-sample "
        "predictions over the evaluated test set. A silent sample (no output spike, no vote) counts as "
        "wrong. Mean ± sample standard deviation over seeds (none with one seed). "
        "Paper: Capozzi & Goncalves, Table 1 (100 neurons)."
    )
    _write_table(out_prefix, frame, headers, "lrrrrrrrrl", rows, caption)
    return frame


# --------------------------------------------------------------------------- Table 2

def table2_rows(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Table 2 rows of one run: one per recorded sample (test image x Poisson repeat).

    Reads ``spikes.nc`` (which neurons spiked), ``information.nc`` (the paper's
    criterion, significance per lag, stimulus information) and ``assignments.nc``
    (neurons assigned to each class); samples of ``spikes.nc`` and
    ``information.nc`` must be the same (label, test index, repeat).
    """
    run_dir = Path(run_dir)
    spikes = open_nc(run_dir / "spikes.nc")
    info = open_nc(run_dir / "information.nc")
    assignments = open_nc(run_dir / "assignments.nc")
    dataset, n_neurons, seed = run_identity(spikes.attrs)
    if run_identity(info.attrs) != (dataset, n_neurons, seed):
        raise ValueError(f"{run_dir}: spikes.nc and information.nc belong to different runs")
    for key in ("label", "test_index", "repeat"):
        if not np.array_equal(spikes[key].values, info_var(info, key).values):
            raise ValueError(f"{run_dir}: spikes.nc and information.nc differ in their samples' {key}")
    names = class_names(dataset, spikes.attrs)
    spiked = spikes["output_spikes"].transpose("sample", "time", "output_neuron").values.sum(axis=1) > 0
    paper = info_var(info, "paper_mi_positive").transpose("sample", "output_neuron").values > 0
    significant = info_var(info, "significant")
    lags = [int(lag) for lag in info_var(info, "lag").values]
    sig_by_lag = {lag: significant.sel({INFO_VARS["lag"]: lag}).transpose("sample", "output_neuron").values > 0
                  for lag in lags}
    # significance pooled over the Poisson draws of each image (only with several draws)
    pooled_by_lag: dict[int, dict[int, np.ndarray]] = {}
    if INFO_VARS["pooled_significant"] in info and int(info_var(info, "n_repeats").max()) > 1:
        pooled = info_var(info, "pooled_significant")
        index = info_var(info, "pooled_test_index").values
        for lag in lags:
            flags = pooled.sel({INFO_VARS["lag"]: lag}).transpose(pooled.dims[0], "output_neuron").values > 0
            pooled_by_lag[lag] = {int(t): flags[j] for j, t in enumerate(index)}
    assignment = assignments["assignment"].values
    stimulus_mi = info_var(info, "stimulus_mi_corrected").values
    rows = []
    for i, (label, test_index, repeat, prediction) in enumerate(zip(
            spikes["label"].values, spikes["test_index"].values, spikes["repeat"].values,
            spikes["prediction"].values)):
        assigned = nonzero_indices(assignment == label)
        row: dict[str, Any] = {
            "dataset": dataset, "n_neurons": n_neurons, "seed": seed,
            "class": int(label), "class_name": names[int(label)], "test_index": int(test_index),
            "repeat": int(repeat), "prediction": int(prediction),
            "prediction_name": "silent" if prediction < 0 else names[int(prediction)],
            "spiked": format_set(nonzero_indices(spiked[i])),
            "paper_mi_positive": format_set(nonzero_indices(paper[i])),
        }
        for lag in lags:
            row[f"significant_lag{lag}"] = format_set(nonzero_indices(sig_by_lag[lag][i]))
        for lag, by_image in pooled_by_lag.items():
            row[f"significant_pooled_lag{lag}"] = format_set(nonzero_indices(by_image[int(test_index)]))
        row["n_spiked"] = int(spiked[i].sum())
        row["n_paper_mi_positive"] = int(paper[i].sum())
        for lag in lags:
            row[f"n_significant_lag{lag}"] = int(sig_by_lag[lag][i].sum())
        row["assigned_neurons"] = format_set(assigned)
        row["n_assigned"] = len(assigned)
        row["stimulus_mi_assigned_mean_bits"] = float(np.mean(stimulus_mi[assigned])) if assigned else np.nan
        row["correction"] = str(info.attrs.get("correction", ""))
        row["alpha"] = float(info.attrs["alpha"]) if "alpha" in info.attrs else np.nan
        rows.append(row)
    return rows


def table2_frame(run_dirs: Iterable[str | os.PathLike] | Mapping[Any, str | os.PathLike]) -> pd.DataFrame:
    """Table 2 as a DataFrame (one row per run x recorded sample), without writing files."""
    rows = [row for d in run_dirs_from(run_dirs) for row in table2_rows(d)]
    if not rows:
        raise ValueError("table2 needs at least one run directory with recorded samples")
    return _sort_by_dataset(pd.DataFrame(rows), ["n_neurons", "seed", "class", "test_index", "repeat"])


def table2(
    run_dirs: Iterable[str | os.PathLike] | Mapping[Any, str | os.PathLike],
    out_prefix: str | os.PathLike = "results/tables/table2",
) -> pd.DataFrame:
    """Build Table 2 and write ``{out_prefix}.csv``, ``.md`` and ``.tex`` atomically.

    ``run_dirs``: run directories with ``spikes.nc``, ``information.nc`` and
    ``assignments.nc`` (or a mapping whose values are such directories). The CSV
    holds every recorded sample and Poisson repeat; the Markdown and LaTeX
    versions, like the paper's table, show repeat 0 only and say so. Returns the
    full table.
    """
    frame = table2_frame(run_dirs)
    lags = sorted(int(c.removeprefix("n_significant_lag")) for c in frame.columns
                  if c.startswith("n_significant_lag"))
    n_repeats = int(frame["repeat"].max()) + 1
    pooled_lags = [lag for lag in lags if f"significant_pooled_lag{lag}" in frame.columns]
    headers = ["Data set", "Neurons", "Seed", "Class", "Test image", "Prediction",
               "Spiked (paper)", "MI > 0 (paper)", *[f"Significant MI, lag {lag}" for lag in lags],
               *[f"Significant MI, {n_repeats} draws, lag {lag}" for lag in pooled_lags],
               "Assigned neurons", "Mean stimulus MI of assigned (bits)"]
    rows = [[dataset_label(r["dataset"]), str(r["n_neurons"]), str(r["seed"]),
             class_text(r["class"], r["class_name"]), str(r["test_index"]), r["prediction_name"],
             r["spiked"], r["paper_mi_positive"], *[r[f"significant_lag{lag}"] for lag in lags],
             *[r[f"significant_pooled_lag{lag}"] for lag in pooled_lags],
             r["assigned_neurons"],
             "" if np.isnan(r["stimulus_mi_assigned_mean_bits"]) else f"{r['stimulus_mi_assigned_mean_bits']:.4f}"]
            for r in frame[frame["repeat"] == 0].to_dict("records")]
    corrections = "/".join(sorted(set(frame["correction"]) - {""})) or "bias"
    alphas = "/".join(f"{a:g}" for a in sorted(set(frame["alpha"].dropna()))) or "alpha"
    caption = (
        "Table 2. Output neurons per recorded test image. 'Spiked': neurons with at least one spike; "
        "'MI > 0 (paper)': the paper's criterion (plug-in MI summed over input neurons at lag 0 above "
        "1e-6 nats), which every spiking neuron meets. 'Significant MI': neurons whose "
        f"{corrections}-corrected MI summed over input neurons passes a permutation test with "
        f"Benjamini-Hochberg control at FDR {alphas}, per lag (steps between input at t and output "
        "at t + lag). 'Assigned neurons': neurons whose label assignment is the image's class, with "
        "their mean bias-corrected stimulus information. "
        f"Repeat 0 of {n_repeats} Poisson draw(s) shown" + ("; the CSV has all repeats." if n_repeats > 1 else ".")
        + (f" 'Significant MI, {n_repeats} draws': the same test on the {n_repeats} independent "
           "Poisson draws of the image pooled (one draw of T steps allows no p-value below "
           "1/(T - lag) with the circular-shift null, too few for Benjamini-Hochberg across all "
           "output neurons)." if pooled_lags else "")
    )
    _write_table(out_prefix, frame, headers, "lrrlrlll" + "l" * (len(lags) + len(pooled_lags)) + "lr",
                 rows, caption)
    return frame


# --------------------------------------------------------------------------- rendering

def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _sort_by_dataset(frame: pd.DataFrame, then: Sequence[str]) -> pd.DataFrame:
    """Sort rows in the paper's data-set order, then by ``then``."""
    rank = {d: i for i, d in enumerate(DATASET_ORDER)}
    key = frame["dataset"].map(lambda d: rank.get(d, len(rank)))
    return (frame.assign(_rank=key).sort_values(["_rank", "dataset", *then], kind="stable")
            .drop(columns="_rank").reset_index(drop=True))


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> str:
    """A GitHub-flavoured Markdown table; ``align`` has one ``l``/``r``/``c`` per column."""
    marks = {"l": ":---", "r": "---:", "c": ":---:"}

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", r"\|") for c in cells) + " |"

    return "\n".join([line(headers), "| " + " | ".join(marks[a] for a in align) + " |",
                      *(line(r) for r in rows)]) + "\n"


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "±": r"$\pm$", ">": r"$>$", "<": r"$<$"}


def latex_escape(text: str) -> str:
    """Escape LaTeX special characters in plain text (``{3, 4}`` -> ``\\{3, 4\\}``, ``±`` -> ``$\\pm$``)."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def latex_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str, caption: str) -> str:
    """A booktabs ``tabular`` (needs ``\\usepackage{booktabs}``) of plain-text cells, escaped;
    the caption precedes it as comment lines."""
    def line(cells: Sequence[str]) -> str:
        return " & ".join(latex_escape(c) for c in cells) + r" \\"

    return "\n".join([*(f"% {text}" for text in textwrap.wrap(caption, 98)),
                      rf"\begin{{tabular}}{{{align}}}", r"\toprule", line(headers), r"\midrule",
                      *(line(r) for r in rows), r"\bottomrule", r"\end{tabular}"]) + "\n"


def _write_table(out_prefix: str | os.PathLike, frame: pd.DataFrame, headers: Sequence[str], align: str,
                 rows: Sequence[Sequence[str]], caption: str) -> None:
    """Write ``{out_prefix}.csv`` (``frame``), ``.md`` and ``.tex`` (formatted ``rows``) atomically."""
    prefix = str(out_prefix)
    write_text(prefix + ".csv", frame.to_csv(index=False))
    write_text(prefix + ".md", caption + "\n\n" + markdown_table(headers, rows, align))
    write_text(prefix + ".tex", latex_table(headers, rows, align, caption))
