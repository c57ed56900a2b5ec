rule analyze:
    input:
        summary="results/{key}/summary.parquet",
        runs="results/{key}/runs.csv",
    output:
        claims="reports/{key}/claims.json",
    params:
        study=STUDY,
    log:
        "logs/{key}/analyze.log",
    conda:
        "../envs/decaylab.yaml"
    script:
        "../scripts/analyze.py"
