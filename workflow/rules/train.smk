rule tracking_setup:
    output:
        f"results/{STUDY}/mlflow.json",
    log:
        f"logs/{STUDY}/tracking_setup.log",
    params:
        experiment=config.get("experiment", "decaylab"),
        study=STUDY,
        results=lambda wildcards, output: os.path.dirname(output[0]),
    conda:
        "../envs/decaylab.yaml"
    script:
        "../scripts/tracking_setup.py"


for job in TRAIN_JOBS:  # one rule per job: a job's outputs are one run folder per grid point

    rule:
        name:
            job.name
        input:
            data=f"results/data/{job.cells[0].dataset}.npz",
            tracking=f"results/{STUDY}/mlflow.json",
        output:
            runs=job.run_files("run.json"),
            metrics=job.run_files("metrics.parquet"),
        log:
            f"logs/{STUDY}/train/{job.name}.log",
        threads: 1
        resources:
            gpu=config.get("gpus_per_job", 0),
        params:
            cells=job.cells,
            accelerator=config.get("accelerator", "auto"),
        conda:
            "../envs/decaylab.yaml"
        script:
            "../scripts/train.py"
