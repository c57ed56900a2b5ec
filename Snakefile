# decaylab: how L2 weight decay interacts with weight initialization (Nielsen, ch. 3).
#   snakemake --cores 2                          # the `grid` study
#   snakemake --cores 2 --config study=smoke     # any study of config/config.yaml
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/analyze.smk"
include: "workflow/rules/report.smk"


report: f"results/{KEY}/overview.rst"  # the landing page of `snakemake --report`: the verdicts (rule report)


# Light steps run where Snakemake runs (on a cluster: the login node); training goes to the executor.
localrules:
    all,
    prepare_data,
    tracking_setup,
    aggregate,
    analyze,
    figures,
    report,


rule all:
    input:
        f"reports/{KEY}/report.md",


onstart:
    claim_the_study()


onsuccess:
    print_runs_address()
    print_tracking_notices()


onerror:
    end_study_run_if_started("FAILED")
    print_failures(log)
    print_tracking_notices()
