rule figures:
    input:
        summary="results/{study}/summary.parquet",
    output:
        png=report(
            "reports/{study}/figures/{figure}.png",
            caption="../report/figure.rst",
            category="Claims",
            labels={"figure": "{figure}"},
        ),
        svg="reports/{study}/figures/{figure}.svg",
    log:
        "logs/{study}/figures/{figure}.log",
    params:
        caption=lambda wildcards: FIGURES[wildcards.figure],
    conda:
        "../envs/decaylab.yaml"
    script:
        "../scripts/figures.py"


rule report:
    input:
        claims="reports/{study}/claims.json",
        figures=expand("reports/{{study}}/figures/{figure}.png", figure=FIGURES),
        runs=run_files("run.json"),
        table="results/{study}/runs.csv",
        tracking="results/{study}/mlflow.json",
    output:
        report=report(
            "reports/{study}/report.md",
            caption="../report/report.rst",
            category="Report",
        ),
        html="results/{study}/report.html",
    log:
        "logs/{study}/report.log",
    params:
        description=config["studies"][STUDY].get("description", ""),
        study_params=study_params(RUNS),
    conda:
        "../envs/decaylab.yaml"
    script:
        "../scripts/report.py"
