# snninfo: Diehl & Cook spiking networks and the information theory of their spike trains.
# Entry point. The DAG expands over config datasets x network_sizes x seeds; every step's
# work lives in the tested package (src/snninfo) and is runnable by hand as `snninfo <step>`.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/information.smk"
include: "workflow/rules/report.smk"


report: "workflow/report/workflow.rst"


rule all:
    input:
        all_targets(),
    default_target: True
