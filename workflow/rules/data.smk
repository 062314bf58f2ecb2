# Data stage: download (official servers or data.mirror) with md5 verification, then
# conversion of the official formats to one NetCDF file per data set.


rule download:
    output:
        manifest="resources/raw/{dataset}/manifest.json",
    params:
        mirror=lambda w: (
            "--mirror " + shlex.quote(config["data"]["mirror"]) if config["data"]["mirror"] else ""
        ),
        accept=lambda w: (
            "--accept-checksum-mismatch"
            if w.dataset in config["data"]["accept_checksum_mismatch"]
            else ""
        ),
        timeout=config["data"]["timeout"],
        retries=config["data"]["retries"],
    log:
        "logs/download/{dataset}.log",
    resources:
        mem_mb=1000,
        runtime=60,
    shell:
        "snninfo download --dataset {wildcards.dataset} --dest resources/raw/{wildcards.dataset}"
        " --manifest {output.manifest} --timeout {params.timeout} --retries {params.retries}"
        " {params.mirror} {params.accept} > {log} 2>&1"


rule convert:
    input:
        manifest="resources/raw/{dataset}/manifest.json",
    output:
        "resources/datasets/{dataset}.nc",
    log:
        "logs/convert/{dataset}.log",
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "snninfo convert --dataset {wildcards.dataset} --raw resources/raw/{wildcards.dataset}"
        " --out {output} > {log} 2>&1"
