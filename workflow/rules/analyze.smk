rule analyze:
    input:
        summary="results/{study}/summary.parquet",
        runs="results/{study}/runs.csv",
    output:
        claims="reports/{study}/claims.json",
    log:
        "logs/{study}/analyze.log",
    params:
        cells=lambda w: [cell for cell in CELLS.values() if cell.book],
    conda:
        "../envs/decaylab.yaml"
    script:
        "../scripts/analyze.py"
