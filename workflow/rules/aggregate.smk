rule aggregate:
    input:
        runs=run_files("run.json"),
        metrics=run_files("metrics.parquet"),
    output:
        summary="results/{key}/summary.parquet",
        runs="results/{key}/runs.csv",
    log:
        "logs/{key}/aggregate.log",
    conda:
        "../envs/decaylab.yaml"
    script:
        "../scripts/aggregate.py"
