rule aggregate:
    input:
        run_files("run.json"),
    output:
        summary="results/{study}/summary.parquet",
        runs="results/{study}/runs.csv",
    log:
        "logs/{study}/aggregate.log",
    script:
        "../scripts/aggregate.py"
