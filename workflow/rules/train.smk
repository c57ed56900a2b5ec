rule tracking_setup:
    output:
        f"results/{KEY}/mlflow.json",
    log:
        f"logs/{KEY}/tracking_setup.log",
    params:
        experiment=config["experiment"],
        study=STUDY,
        dataset=RUNS[0].dataset,
        results=lambda wildcards, output: os.path.dirname(output[0]),
        description=config["studies"][STUDY].get("description", ""),
        study_params=study_params(RUNS),
    conda:
        "../envs/decaylab.yaml"
    script:
        "../scripts/tracking_setup.py"


for job in TRAIN_JOBS:  # one rule per job: a job's outputs are one run folder per run

    rule:
        name:
            job.name
        input:
            data=f"results/data/{job.shared.dataset}.npz",
            tracking=f"results/{KEY}/mlflow.json",
        output:
            runs=run_files("run.json", job.runs),
            metrics=run_files("metrics.parquet", job.runs),
        log:
            f"logs/{KEY}/train/{job.name}.log",
        threads: 1
        resources:
            gpu=config["gpus_per_job"],
        params:
            job=job,
            accelerator=config["accelerator"],
        conda:
            "../envs/decaylab.yaml"
        script:
            "../scripts/train.py"
