# Model stage: train the Diehl & Cook network, assign neuron labels, evaluate the test set,
# record spike trains. One branch per data set x network size x seed, in results/{dataset}/n{neurons}/seed{seed}/.


rule train:
    input:
        data="resources/datasets/{dataset}.nc",
    output:
        model=RUN + "/model.pt",
        curve=RUN + "/training.csv",
    params:
        cfg=lambda w: training_sections(),
        out_dir=RUN,
    threads: config["simulation"]["threads"]
    resources:
        gpu=train_gpus(),
        mem_mb=lambda w: 4000 + int(w.neurons) * 2,
        runtime=lambda w, attempt: 240 * attempt,
    log:
        "logs/train/{dataset}/n{neurons}/seed{seed}.log",
    shell:
        "snninfo train --config {params.cfg:q} --dataset {wildcards.dataset}"
        " --neurons {wildcards.neurons} --seed {wildcards.seed} --data {input.data}"
        " --out-dir {params.out_dir} --threads {threads}"
        # not a param: the checkpoint interval must not retrain (see config/README.md)
        " --checkpoint-every {config[training][checkpoint_every]} > {log} 2>&1"


def assign_inputs(w):
    inputs = {"model": RUN.format(**w) + "/model.pt"}
    if config["training"]["label_source"] == "separate_pass":
        inputs["data"] = f"resources/datasets/{w.dataset}.nc"
    return inputs


rule assign:
    input:
        unpack(assign_inputs),
    output:
        RUN + "/assignments.nc",
    params:
        cfg=cfg_json(
            data=["n_train"],
            training=["label_source"],
            simulation=["engine", "device", "batch_size"],
        ),
        data=lambda w, input: f"--data {input.data}" if "data" in input.keys() else "",
    threads: config["simulation"]["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
    log:
        "logs/assign/{dataset}/n{neurons}/seed{seed}.log",
    shell:
        "snninfo assign --config {params.cfg:q} --seed {wildcards.seed} --model {input.model}"
        " {params.data} --out {output} --threads {threads} > {log} 2>&1"


rule evaluate:
    input:
        model=RUN + "/model.pt",
        assignments=RUN + "/assignments.nc",
        data="resources/datasets/{dataset}.nc",
    output:
        RUN + "/evaluation.nc",
    params:
        cfg=cfg_json(data=["n_test"], simulation=["engine", "device", "batch_size"]),
    threads: config["simulation"]["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
    log:
        "logs/evaluate/{dataset}/n{neurons}/seed{seed}.log",
    shell:
        "snninfo evaluate --config {params.cfg:q} --seed {wildcards.seed} --model {input.model}"
        " --assignments {input.assignments} --data {input.data} --out {output}"
        " --threads {threads} > {log} 2>&1"


rule record:
    input:
        model=RUN + "/model.pt",
        assignments=RUN + "/assignments.nc",
        data="resources/datasets/{dataset}.nc",
    output:
        RUN + "/spikes.nc",
    params:
        cfg=cfg_json(recording=None, simulation=["engine", "device", "batch_size"]),
    threads: config["simulation"]["threads"]
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        "logs/record/{dataset}/n{neurons}/seed{seed}.log",
    shell:
        "snninfo record --config {params.cfg:q} --seed {wildcards.seed} --model {input.model}"
        " --assignments {input.assignments} --data {input.data} --out {output}"
        " --threads {threads} > {log} 2>&1"
