from decaylab.figures import FIGURES


rule figures:
    input:
        summary="results/{study}/summary.parquet",
    output:
        png=[
            report(
                f"reports/{{study}}/figures/{name}.png",
                caption=f"../report/{name}.rst",
                category="Claims",
                labels={"figure": name},
            )
            for name in FIGURES
        ],
        svg=[f"reports/{{study}}/figures/{name}.svg" for name in FIGURES],
    log:
        "logs/{study}/figures.log",
    conda:
        "../envs/decaylab.yaml"
    script:
        "../scripts/figures.py"


rule report:
    input:
        claims="reports/{study}/claims.json",
        figures=rules.figures.output.png,
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
        study_params=study_params(list(CELLS.values())),
    conda:
        "../envs/decaylab.yaml"
    script:
        "../scripts/report.py"
