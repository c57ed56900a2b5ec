rule aggregate:
    input:
        runs=run_files("run.json"),
        metrics=run_files("metrics.parquet"),
    output:
        summary="results/{study}/summary.parquet",
        runs="results/{study}/runs.csv",
    log:
        "logs/{study}/aggregate.log",
    conda:
        "../envs/decaylab.yaml"
    script:
        "../scripts/aggregate.py"
