rule figures:
    input:
        summary="results/{key}/summary.parquet",
        runs="results/{key}/runs.csv",
    output:
        png=report(
            "reports/{key}/figures/{figure}.png",
            caption="../report/figure.rst",
            category="Claims",
            labels=lambda wildcards: figure_labels(wildcards.figure, KEY),
        ),
        svg="reports/{key}/figures/{figure}.svg",
    log:
        "logs/{key}/figures/{figure}.log",
    params:
        caption=lambda wildcards: FIGURES[wildcards.figure],
    conda:
        "../envs/decaylab.yaml"
    script:
        "../scripts/figures.py"


rule report:
    input:
        claims="reports/{key}/claims.json",
        figures=expand("reports/{{key}}/figures/{figure}.png", figure=FIGURES),
        runs=run_files("run.json"),
        table="results/{key}/runs.csv",
        summary="results/{key}/summary.parquet",
        tracking="results/{key}/mlflow.json",
    output:
        report="reports/{key}/report.md",
        table="reports/{key}/runs.csv",
        summary="reports/{key}/summary.parquet",
        html=report("results/{key}/report.html", caption="../report/report.rst", category="Report"),
        overview="results/{key}/overview.rst",
    log:
        "logs/{key}/report.log",
    params:
        description=config["studies"][STUDY].get("description", ""),
        study_params=study_params(RUNS),
        skipped=SKIPPED,
        unpublished=f"logs/{KEY}/unpublished.txt",
    conda:
        "../envs/decaylab.yaml"
    script:
        "../scripts/report.py"
