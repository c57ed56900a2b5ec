rule analyze:
    input:
        summary="results/{study}/summary.parquet",
        runs="results/{study}/runs.csv",
    output:
        claims="reports/{study}/claims.json",
    log:
        "logs/{study}/analyze.log",
    conda:
        "../envs/decaylab.yaml"
    script:
        "../scripts/analyze.py"
