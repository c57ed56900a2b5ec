rule aggregate:
    input:
        run_files("run.json"),
    output:
        summary="results/{study}/summary.parquet",
        runs="results/{study}/runs.csv",
    log:
        "logs/{study}/aggregate.log",
    conda:
        "../envs/decaylab.yaml"
    script:
        "../scripts/aggregate.py"
