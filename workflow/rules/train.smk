rule tracking_setup:
    output:
        f"results/{STUDY}/mlflow.json",
    log:
        f"logs/{STUDY}/tracking_setup.log",
    params:
        experiment=config.get("experiment", "decaylab"),
        study=STUDY,
    conda:
        "../envs/decaylab.yaml"
    script:
        "../scripts/tracking_setup.py"


rule train:
    input:
        data=lambda w: f"results/data/{CELLS[w.cell].dataset}.npz",
        tracking=f"results/{STUDY}/mlflow.json",
    output:
        runs=[f"results/{{study}}/runs/{{cell}}/seed~{seed}/run.json" for seed in SEEDS],
        metrics=[f"results/{{study}}/runs/{{cell}}/seed~{seed}/metrics.parquet" for seed in SEEDS],
    log:
        "logs/{study}/train/{cell}.log",
    threads: 1
    resources:
        gpu=config.get("gpus_per_job", 0),
    params:
        cell=lambda w: CELLS[w.cell],
        accelerator=config.get("accelerator", "auto"),
    conda:
        "../envs/decaylab.yaml"
    script:
        "../scripts/train.py"
