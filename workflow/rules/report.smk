# Reports: Table 1 and Table 2 beside the paper's values, the paper's figures and ours.
# `snakemake --report report.html` collects everything marked with report().


rule table1:
    input:
        evaluation=runs(RUN + "/evaluation.nc"),
        models=runs(RUN + "/model.pt"),
    output:
        csv=report(
            "results/tables/table1.csv",
            caption="../report/table1.rst",
            category="Tables",
            labels={"table": "Table 1: accuracy"},
        ),
        md="results/tables/table1.md",
        tex="results/tables/table1.tex",
    params:
        runs=runs(RUN),
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        "logs/report/table1.log",
    shell:
        "snninfo table1 --runs {params.runs} --out-prefix results/tables/table1 > {log} 2>&1"


rule table2:
    input:
        spikes=runs(RUN + "/spikes.nc"),
        information=runs(RUN + "/information.nc"),
        assignments=runs(RUN + "/assignments.nc"),
    output:
        csv=report(
            "results/tables/table2.csv",
            caption="../report/table2.rst",
            category="Tables",
            labels={"table": "Table 2: spiking and informative neurons"},
        ),
        md="results/tables/table2.md",
        tex="results/tables/table2.tex",
    params:
        runs=runs(RUN),
    resources:
        mem_mb=4000,
        runtime=10,
    log:
        "logs/report/table2.log",
    shell:
        "snninfo table2 --runs {params.runs} --out-prefix results/tables/table2 > {log} 2>&1"


def _figure(name, caption):
    return report(
        FIGURES + "/" + name,
        caption=f"../report/{caption}.rst",
        category="{dataset}",
        subcategory="{neurons} neurons, seed {seed}",
        labels={"figure": name.removesuffix(".png")},
    )


rule figures:
    input:
        model=RUN + "/model.pt",
        curve=RUN + "/training.csv",
        evaluation=RUN + "/evaluation.nc",
        spikes=RUN + "/spikes.nc",
        information=RUN + "/information.nc",
    output:
        rasters=[_figure(f"raster_class{k}.png", "raster") for k in range(N_CLASSES)],
        weights=_figure("weights.png", "weights"),
        theta=_figure("theta.png", "theta"),
        mi_maps=_figure("mi_maps.png", "mi_maps"),
        confusion=_figure("confusion.png", "confusion"),
        curve=_figure("training_curve.png", "training_curve"),
        mi_entropy=_figure("mi_vs_entropy.png", "mi_vs_entropy"),
    params:
        run=RUN,
        out=FIGURES,
    resources:
        mem_mb=4000,
        runtime=20,
    log:
        "logs/figures/{dataset}/n{neurons}/seed{seed}.log",
    shell:
        "snninfo figures --run {params.run} --out {params.out} > {log} 2>&1"
