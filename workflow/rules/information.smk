# Information stage: entropies, plug-in and bias-corrected mutual information at each lag,
# permutation significance, and stimulus information over the whole test set. All in bits.


rule information:
    input:
        spikes=RUN + "/spikes.nc",
        evaluation=RUN + "/evaluation.nc",
    output:
        RUN + "/information.nc",
    params:
        cfg=cfg_json(information=None),
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    log:
        "logs/information/{dataset}/n{neurons}/seed{seed}.log",
    shell:
        "snninfo information --config {params.cfg:q} --seed {wildcards.seed}"
        " --spikes {input.spikes} --evaluation {input.evaluation} --out {output} > {log} 2>&1"
