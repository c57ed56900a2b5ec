rule prepare_data:
    output:
        "results/data/{dataset}.npz",
    log:
        "logs/data/{dataset}.log",
    params:
        cache=CACHE,
    conda:
        "../envs/decaylab.yaml"
    script:
        "../scripts/prepare_data.py"
