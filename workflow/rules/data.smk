# Data stage: download (official servers or data.mirror) with md5 verification, then
# conversion of the official formats to one NetCDF file per data set.


def download_options(dataset):
    """Where and how to fetch. Not params: the files are verified against the official md5
    whatever their source, so a new mirror, timeout or retry count must not rerun anything."""
    d = config["data"]
    opts = f"--timeout {d['timeout']} --retries {d['retries']}"
    if d["mirror"]:
        opts += " --mirror " + shlex.quote(str(d["mirror"]))
    if dataset in d["accept_checksum_mismatch"]:
        opts += " --accept-checksum-mismatch"
    return opts


rule download:
    output:
        manifest="resources/raw/{dataset}/manifest.json",
    log:
        "logs/download/{dataset}.log",
    resources:
        mem_mb=1000,
        runtime=60,
    run:
        shell(
            "snninfo download --dataset {wildcards.dataset} --dest resources/raw/{wildcards.dataset}"
            " --manifest {output.manifest} " + download_options(wildcards.dataset) + " > {log} 2>&1"
        )


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
