"""The run spec: config validation (every bad value named before any job runs), runs and their packing into jobs."""

import copy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import make_run

from decaylab.data import SOURCES, load_synthetic
from decaylab.inits import INITS
from decaylab.spec import (
    SCHEMA,
    SHARED,
    ConfigError,
    defaults,
    fmt,
    jobs,
    load_config,
    runs,
    schema,
    skipped_arms,
    validate,
)

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def with_change(study: str, change) -> dict:
    config = copy.deepcopy(CONFIG)
    config["study"] = study
    change(config)
    return config


def arm(config, study="smoke", name="main") -> dict:
    return config["studies"][study]["arms"][name]


BAD = {
    "unknown study": (lambda c: c.update(study="nope"), r"study: 'nope' is not one of \['book', 'decay-limit', 'grid'"),
    "unknown init": (lambda c: arm(c).update(init=["xavier"]),
                     r"arms/main/init/0: 'xavier' is not one of \['standard', 'scaled'"),
    "unknown dataset": (lambda c: c.update(dataset="cifar"), r"key dataset: 'cifar' is not one of \['mnist', "),
    "misspelled dataset": (lambda c: c.update(dataset="mnits"), r"'mnits' is not one of .*\(did you mean 'mnist'\?\)"),
    "misspelled top-level key": (lambda c: c.update(stduy="book"),
                                 r"config key \(top level\): unknown key 'stduy' \(did you mean 'study'\?\)\. "
                                 r"Allowed keys: accelerator, dataset, "),
    "negative lambda": (lambda c: arm(c).update(lam=[-1]), r"arms/main/lam/0: -1 is less than the minimum of 0"),
    "zero eta": (lambda c: arm(c).update(eta=[0]), r"arms/main/eta/0: 0 is less than or equal to the minimum of 0"),
    "m below 1": (lambda c: c["studies"]["smoke"]["defaults"].update(m=0),
                  r"defaults/m: 0 is less than the minimum of 1$"),  # no hint: m's description is not a pattern's
    "m above n": (lambda c: arm(c).update(m=601), r"arms/main/m: 601 exceeds the training-set size n=600"),
    "epochs below 1": (lambda c: arm(c).update(epochs=0), r"arms/main/epochs: 0 is less than the minimum of 1$"),
    "empty grid": (lambda c: arm(c).update(lam=[]), r"arms/main/lam: \[\] should be non-empty"),
    "no arms": (lambda c: c["studies"]["smoke"].update(arms={}), r"studies/smoke/arms: \{\} should be non-empty"),
    "non-numeric value": (lambda c: arm(c).update(eta=["fast"]), r"arms/main/eta/0: 'fast' is not of type 'number'"),
    "width 0": (lambda c: arm(c).update(hidden=[[0]]), r"arms/main/hidden/0/0: 0 is less than the minimum of 1"),
    "unknown key": (lambda c: arm(c).update(lamda=[1]), r"arms/main: unknown key 'lamda' \(did you mean 'lam'\?\)"),
    "unknown key in an arm named with X": (lambda c: c["studies"]["smoke"]["arms"].update(BOX={"lamb": [1]}),
                                          r"key studies/smoke/arms/BOX: unknown key 'lamb' \(did you mean"),
    "decay factor <= 0": (lambda c: arm(c).update(lam=[1200]), r"arms/main/lam: eta \* lam must stay below n=600"),
    "train_size too big": (lambda c: arm(c).update(train_size=10**6),
                           r"train_size: 1000000 exceeds the 600 examples of synthetic's split"),
    # names become folders, MLflow names and search filters: nothing that leaves results/ or breaks a filter
    "study outside": (lambda c: c.update(study="../../evil"), r"key study: '../../evil' does not match .*no '/'"),
    "study key outside": (lambda c: c["studies"].update({"../x": c["studies"]["smoke"]}),
                          r"key studies: '../x' does not match"),
    "arm outside": (lambda c: c["studies"]["smoke"]["arms"].update({"../../../../../tmp/X": arm(c)}),
                    r"key studies/smoke/arms: '../../../../../tmp/X' does not match"),
    "experiment outside": (lambda c: c.update(experiment="../../EVILEXP"), r"key experiment: '../../EVILEXP' does"),
    "hidden name": (lambda c: c.update(experiment=".hidden"), r"key experiment: '.hidden' does not match"),
    "infinite lambda": (lambda c: arm(c).update(lam=[float("inf")]), r"arms/main/lam: \[inf\] must all be finite"),
    "duplicate seeds": (lambda c: c["studies"]["smoke"].update(seeds=[0, 0]), r"smoke/seeds: \[0, 0\] has non-unique"),
    "unknown bias init": (lambda c: arm(c).update(bias_init="uniform"),
                          r"arms/main/bias_init: 'uniform' is not one of \['normal', 'zero'\]"),
    "quote in a name": (lambda c: c["studies"].update({"it's": c["studies"]["smoke"]}), r"key studies: \"it's\" does"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_config_is_rejected_naming_the_key(case):
    change, message = BAD[case]
    with pytest.raises(ConfigError, match=message):
        validate(with_change("smoke", change))


def test_shipped_config_is_valid_and_grid_sizes_are_as_documented():
    config = validate(CONFIG)
    grid = runs(config, "grid")
    assert len({r.cell for r in grid}) == 24 and len(grid) == 72
    assert {r.n for r in grid} == {50_000} and {r.epochs for r in grid} == {30}
    widths = runs(config, "widths")
    assert {r.hidden for r in widths} == {(10,), (30,), (100,), (300,), (100, 100)}
    for r in widths:  # every arm trains long enough to reach its plateau
        assert r.epochs * r.eta * r.lam / r.m >= 10


def test_book_presets_are_the_books_configurations():
    book = {(r.arm, r.init, r.lam, r.eta, r.hidden, r.n, r.epochs) for r in runs(validate(CONFIG), "book")}
    assert ("small-l2", "standard", 0.1, 0.5, (30,), 1000, 400) in book
    assert ("small-noreg", "standard", 0.0, 0.5, (30,), 1000, 400) in book
    assert ("full-l2", "standard", 5.0, 0.5, (30,), 50_000, 30) in book
    assert ("full-noreg", "standard", 0.0, 0.5, (30,), 50_000, 30) in book
    for h in (30, 100):
        for init in ("standard", "scaled"):
            assert (f"init-h{h}", init, 5.0, 0.1, (h,), 50_000, 30) in book
    assert ("wide", "standard", 5.0, 0.5, (100,), 50_000, 30) in book
    assert all(r.m == 10 for r in runs(validate(CONFIG), "book"))


def test_paths_are_literal_and_deterministic():
    assert [fmt(5.0), fmt(0.1), fmt(50), fmt(2.0), fmt(0.5)] == ["5", "0.1", "50", "2", "0.5"]
    grid = runs(validate(CONFIG), "grid")
    assert grid[0].out == "results/grid/mnist/runs/main/init~standard/lam~0/eta~0.1/hidden~30/seed~0"
    assert grid[0].cell == "main/init~standard/lam~0/eta~0.1/hidden~30"
    assert [r.out for r in grid] == [r.out for r in runs(validate(CONFIG), "grid")]


def test_dataset_override_reaches_every_run():
    config = load_config(ROOT / "config" / "config.yaml", {"study": "book", "dataset": "fashion-mnist"})
    assert {r.dataset for r in runs(config)} == {"fashion-mnist"}


def test_a_dataset_keeps_its_own_folders_seeds_and_book_arms():
    """book on mnist-5k: its own results folder, its 10 seeds, only the arms whose book n fits (the others
    skipped with the reason, never run on fewer examples)."""
    config = load_config(ROOT / "config" / "config.yaml", {"study": "book", "dataset": "mnist-5k"})
    digits = runs(config)
    assert {r.arm for r in digits} == {"small-noreg", "small-l2"} and {r.n for r in digits} == {1000}
    assert sorted({r.seed for r in digits}) == list(range(10))
    assert all(r.out.startswith("results/book/mnist-5k/runs/") for r in digits)
    skipped = skipped_arms(config)
    assert set(skipped) == {"full-noreg", "full-l2", "init-h30", "init-h100", "init-h30-noreg", "init-h100-noreg",
                            "wide"}
    assert "n=50,000" in skipped["full-l2"] and "3,000" in skipped["full-l2"]
    arms = config["studies"]["book"]["arms"]
    config["studies"]["book"]["arms"] = dict(reversed(arms.items()))  # skipped arms first: the others still run
    assert {r.arm for r in runs(config)} == {"small-noreg", "small-l2"}
    mnist = load_config(ROOT / "config" / "config.yaml", {"study": "book"})
    assert skipped_arms(mnist) == {} and {r.seed for r in runs(mnist)} == {0, 1, 2, 3, 4}
    assert not {r.out for r in runs(mnist)} & {r.out for r in digits}


def test_a_dataset_override_is_checked_against_the_study_that_runs():
    """smoke on synthetic (600 examples) is fine although book's n=1,000 arms would not fit there."""
    config = load_config(ROOT / "config" / "config.yaml", {"study": "smoke", "dataset": "synthetic"})
    assert {r.dataset for r in runs(config)} == {"synthetic"}
    with pytest.raises(ConfigError, match="studies/book/arms/small-noreg/train_size: 1000 exceeds the 600"):
        load_config(ROOT / "config" / "config.yaml", {"study": "book", "dataset": "synthetic"})


def test_a_train_size_beyond_the_split_is_refused_with_study_arm_and_sizes():
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["studies"]["book"]["arms"]["small-l2"]["train_size"] = 5000
    with pytest.raises(ConfigError, match="studies/book/arms/small-l2/train_size: 5000 exceeds the 3000"):
        validate({**config, "study": "book", "dataset": "mnist-5k"})


def test_enumerations_and_defaults_are_written_once():
    """The schema's lists of datasets and init schemes come from their registries; every setting has a
    default in the schema, and nothing else in the config restates one."""
    settings = schema()["definitions"]["settings"]["properties"]
    assert settings["dataset"]["enum"] == list(SOURCES) and settings["init"]["items"]["enum"] == list(INITS)
    raw = yaml.safe_load(SCHEMA.read_text())["definitions"]["settings"]["properties"]
    assert "enum" not in raw["dataset"] and "enum" not in raw["init"]["items"]  # never written by hand
    assert set(defaults(schema()["definitions"]["settings"])) == set(settings)
    top = defaults(schema())
    assert not {key: v for key, v in CONFIG.items() if key in top and top[key] == v}, "restates a default"


def test_dataset_sizes_are_the_loaders_sizes():
    splits = load_synthetic(None)
    assert SOURCES["synthetic"].sizes == (len(splits.train_x), len(splits.val_x), len(splits.test_x))


def test_snakemake_rejects_bad_config_before_any_job(tmp_path):
    result = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--config", "study=smoke",
                             "dataset=cifar"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "localrule" not in output and "Traceback" not in output
    assert "decaylab: config key dataset: 'cifar' is not one of ['mnist', 'fashion-mnist'" in output
    assert len(output.strip().splitlines()) <= 5, output


@pytest.mark.parametrize("chosen", [False, True])
def test_the_split_notice_is_for_a_chosen_members_per_job(chosen):
    """The default packing splits grid's 24 cells per seed without a word; the same value, set, is announced."""
    result = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--config", "study=grid",
                             *(["members_per_job=12"] if chosen else [])], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert ("decaylab: members_per_job=12 cannot hold the 24 cells" in result.stderr) == chosen
    assert "study grid: 72 runs in 6 training jobs" in result.stderr


def test_runs_pack_into_jobs_by_seed():
    grid = runs(validate(CONFIG), "grid")  # 24 cells x 3 seeds
    assert [(len(j.runs), j.streams) for j in jobs(grid)] == [(3, 3)] * 24  # 0: one cell (its seeds) per job
    whole = jobs(grid, members_per_job=50)
    assert [(len(j.runs), j.streams) for j in whole] == [(48, 2), (24, 1)]  # whole seeds, one stream each
    for job in whole:
        assert [r.seed for r in job.runs] == sorted(r.seed for r in job.runs)
        assert len({r.cell for r in job.runs}) == 24
    notices = []
    split = jobs(grid, members_per_job=12, notify=notices.append)
    assert [(len(j.runs), j.streams) for j in split] == [(12, 1)] * 6  # 24 cells in 2 even parts per seed
    assert sorted(r.out for j in split for r in j.runs) == sorted(r.out for r in grid)
    assert notices == ["members_per_job=12 cannot hold the 24 cells one seed has in grid (hidden=30, 30 epochs): "
                       "they are split over 2 jobs per seed block, up to 12 cells each"]
    inits = jobs(runs(validate(CONFIG), "inits"), members_per_job=12, notify=notices.append)  # 8 cells x 3 seeds
    assert [(len(j.runs), j.streams) for j in inits] == [(12, 3)] * 2  # 2 jobs of 4 cells x 3 seeds, not 3 of 8
    assert len(notices) == 1  # a split by choice is no notice
    widths = jobs(runs(validate(CONFIG), "widths"), members_per_job=64)
    for job in widths:  # only runs of one shape and length share a job
        assert len({(r.hidden, r.epochs) for r in job.runs}) == 1 and job.streams == 5  # its 5 seeds
    ragged = [r for r in grid if not (r.seed == 2 and r.lam == 50)]  # seed 2 lacks six cells
    notices.clear()
    packed = jobs(ragged, members_per_job=24, notify=notices.append)
    assert [(len(j.runs), j.streams) for j in packed] == [(24, 1), (24, 1), (18, 1)]
    assert notices == ["the seeds of grid have different cells: each seed packs alone"]
    lone = [r for r in grid if r.seed != 0 or r.cell == grid[0].cell]  # seed 0 has one cell
    assert [len(j.runs) for j in jobs(lone, members_per_job=24, notify=notices.append)] == [1, 24, 24]
    assert notices[-1] == notices[0]
    five = sorted({r.cell for r in grid})[:5]  # 5 cells x 3 seeds, 2 a job: a seed a job (9 jobs), not two (10)
    assert len(jobs([r for r in grid if r.cell in five], members_per_job=2)) == 9


EVIL_STUDY = {"seeds": [0], "defaults": {"dataset": "synthetic", "epochs": 1}, "arms": {"main": {"lam": [1]}}}


@pytest.mark.slow
@pytest.mark.parametrize("overlay", [
    {"study": "../../evil", "studies": {"../../evil": EVIL_STUDY}},
    {"study": "smoke", "studies": {"smoke": {**EVIL_STUDY, "arms": {"../../../../tmp/X": {"lam": [1]}}}}},
    {"study": "smoke", "experiment": "../../EVILEXP"}])
def test_escaping_names_stop_snakemake_before_anything_is_written(tmp_path, overlay):
    """A config overlay with a name that would leave the project is refused; nothing is created anywhere."""
    work = tmp_path / "a" / "b" / "work"
    work.mkdir(parents=True)
    for name in ("Snakefile", "workflow", "config", "profiles"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, work / name)
    (tmp_path / "overlay.yaml").write_text(yaml.safe_dump(overlay))
    before = sorted(p for p in tmp_path.rglob("*") if ".snakemake" not in p.parts)
    result = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--configfile",
                             str(tmp_path / "overlay.yaml")], cwd=work, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "does not match" in result.stderr + result.stdout, result.stderr[-2000:]
    assert sorted(p for p in tmp_path.rglob("*") if ".snakemake" not in p.parts) == before
    assert not Path("/tmp/X").exists()


def test_a_scalar_setting_reaches_every_run_of_its_arm():
    config = with_change("smoke", lambda c: arm(c).update(bias_init="zero"))
    assert {r.bias_init for r in runs(validate(config), "smoke")} == {"zero"}
    assert {r.bias_init for r in runs(validate(CONFIG), "smoke")} == {"normal"}  # the schema's default


def test_a_run_is_named_by_what_tells_it_apart_first():
    """MLflow cuts the name column short: the arm (unless `main`), λ, η, init and seed come before the widths."""

    assert make_run(arm="main", lam=5.0, seed=1).label(with_seed=True) == "λ=5 η=0.5 standard s=1 h=16"
    assert make_run(arm="init-h30", init="scaled").label() == "init-h30 λ=1 η=0.5 scaled h=16"


def test_every_default_that_moves_a_number_is_the_books_and_reaches_the_run():
    """The schema's defaults a run's numbers depend on, pinned to the book's network2 settings (784-30-10, m = 10,
    η = 0.5, λ = 0, N(0, 1) weights and biases, 30 epochs, the whole of each split) and read by a run given
    nothing else; and the job defaults that move numbers (float32, a fixed probe and data seed)."""
    from decaylab.spec import Job

    settings = defaults(schema()["definitions"]["settings"])
    assert {k: settings[k] for k in ("dataset", "hidden", "m", "epochs", "init", "bias_init", "lam", "eta",
                                     "train_size", "validation_size", "test_size")} == {
        "dataset": "mnist", "hidden": [[30]], "m": 10, "epochs": 30, "init": ["standard"], "bias_init": "normal",
        "lam": [0], "eta": [0.5], "train_size": None, "validation_size": None, "test_size": None}
    config = copy.deepcopy(CONFIG)
    config["studies"]["bare"] = {"seeds": [0], "arms": {"main": {}}}
    (run,) = runs(validate(config), "bare")
    assert (run.dataset, run.hidden, run.m, run.epochs, run.init, run.bias_init, run.lam, run.eta) == (
        "mnist", (30,), 10, 30, "standard", "normal", 0.0, 0.5)
    job = Job((run,))
    assert (job.dtype, job.probe_size, job.data_seed, job.instrument, job.gradient) == ("float32", 1000, 0, True,
                                                                                        True)


def test_a_job_file_names_its_unknown_keys_and_the_known_ones(tmp_path):
    from conftest import make_job

    from decaylab.spec import Job, Run

    job = make_job(tmp_path).to_dict()
    known, run_keys = sorted(job), sorted(Run.__dataclass_fields__)
    with pytest.raises(ConfigError) as top:
        Job.from_dict({**job, "speed": 1, "colour": 2})
    assert str(top.value) == f"job file: unknown keys ['colour', 'speed']; known: {known}"
    with pytest.raises(ConfigError) as inner:
        Job.from_dict({**job, "runs": [job["runs"][0], {**job["runs"][0], "lr": 1}]})
    assert str(inner.value) == f"job file runs/1: unknown keys ['lr']; known: {run_keys}"


def test_a_job_files_book_reference_survives_and_may_be_left_out(tmp_path):
    from dataclasses import replace

    from conftest import make_job

    from decaylab.spec import Job

    job = make_job(tmp_path)
    booked = replace(job, runs=(replace(job.runs[0], book=(("accuracy", 0.96), ("split", "test"))),))
    raw = booked.to_dict()
    assert Job.from_dict(raw) == booked
    assert Job.from_dict({**raw, "runs": [{k: v for k, v in raw["runs"][0].items() if k != "book"}]}) == job
    with pytest.raises(ConfigError, match="at least one run|runs"):
        Job.from_dict({k: v for k, v in raw.items() if k != "runs"})
    with pytest.raises(ConfigError, match=r"^job \S+: dtype 'float16' is not float32 or float64$"):
        replace(job, dtype="float16")


@pytest.mark.parametrize("word,choices,hint", [("mnits", ["mnist", "mnist-5k"], " (did you mean 'mnist'?)"),
                                               ("zzz", ["mnist"], "")])
def test_a_misspelling_gets_the_one_closest_choice_or_nothing(word, choices, hint):
    from decaylab.spec import _did_you_mean

    assert _did_you_mean(word, choices) == hint


@pytest.mark.parametrize("members_per_job", [0, 1, 2, 3, 5, 12, 50, 1000])
@pytest.mark.parametrize("study", ["smoke", "grid", "book", "widths"])
def test_jobs_partition_a_studys_runs_within_members_per_job(study, members_per_job):
    """Whatever the packing: every run in exactly one job, at most members_per_job runs in a job (0: one cell's
    seeds), one shape per job, and a ragged study (a seed missing cells) packed whole too."""
    study_runs = runs(validate(CONFIG), study)
    ragged = [r for r in study_runs if not (r.seed == max(r.seed for r in study_runs) and r.lam == study_runs[-1].lam
                                            and r.arm == study_runs[-1].arm)]
    for given in (study_runs, ragged):
        packed = jobs(given, members_per_job)
        assert sorted(r.out for j in packed for r in j.runs) == sorted(r.out for r in given)
        for job in packed:
            assert len(job.runs) <= (members_per_job or len({r.seed for r in given}))
            assert len({tuple(getattr(r, key) for key in SHARED) for r in job.runs}) == 1
            if not members_per_job:
                assert len({r.cell for r in job.runs}) == 1
        assert [j.name for j in packed] == [f"train_{i:03d}" for i in range(len(packed))]


def test_a_runs_config_and_its_hash_hold_what_moves_its_numbers_in_any_key_order(tmp_path):
    from conftest import make_job

    from decaylab.spec import Run, config_hash

    job = make_job(tmp_path)
    config = job.run_config(job.runs[0])
    assert set(config) == ({f for f in Run.__dataclass_fields__} - {"out", "arm", "book"}
                           | {"data_seed", "probe_size", "dtype", "gradient"})
    assert config["hidden"] == list(job.runs[0].hidden) and config["dtype"] == job.dtype
    digest = config_hash(config)
    assert len(digest) == 16 and int(digest, 16) >= 0
    assert config_hash(dict(reversed(list(config.items())))) == digest != config_hash({**config, "lam": 99.0})
    record = job.runs[0].record()
    assert "out" not in record and "book" in record and record["arm"] == job.runs[0].arm


def test_each_seeds_init_and_shuffle_seeds_are_the_ones_the_committed_runs_used(snapshot):
    """A seed's two streams (init draws, data order) are derived from it alone, differ from each other, and stay as
    they were when the committed reports were trained (a changed derivation would not reproduce them)."""
    derived = {seed: (make_run(seed=seed).init_seed(), make_run(seed=seed).shuffle_seed()) for seed in range(5)}
    assert all(init != shuffle for init, shuffle in derived.values())
    assert len({s for pair in derived.values() for s in pair}) == 10
    snapshot("spec/derived-seeds.txt", "".join(f"seed {k}: init {i}, shuffle {s}\n" for k, (i, s) in derived.items()))


@pytest.mark.parametrize("arms,dataset,message", [
    ({"big": {"lam": [1], "book": {"accuracy": 0.9, "train_size": 50_000}}}, "mnist-5k",
     "config key studies/x: no arm runs on this dataset: {'big': \"the book's figure for it was measured on "
     "n=50,000 training examples; mnist-5k's training split holds 3,000\"}"),
    ({"a": {"lam": [1]}, "b": {"lam": [2], "dataset": "mnist-5k"}}, None,
     "config key studies/x: a study runs on one dataset, its arms give ['mnist-5k', 'synthetic']"),
    ({"a": {"lam": [1]}, "b": {"lam": [1, 1]}}, None,
     "config key studies/x: grid cells repeat: ['results/x/synthetic/runs/b/init~standard/lam~1/eta~0.5/hidden~30/"
     "seed~0']"),
])
def test_a_study_that_cannot_run_as_given_is_refused_naming_why(arms, dataset, message):
    """Every arm skipped on this dataset, arms on two datasets, a grid point given twice: each refused before any
    job, also when the study is not the one chosen (every study is checked)."""
    study = {**EVIL_STUDY, "arms": arms}
    with pytest.raises(ConfigError) as refused:
        validate({**CONFIG, "study": "x", "dataset": dataset, "studies": {**CONFIG["studies"], "x": study}})
    assert str(refused.value) == message
    if dataset is None:
        with pytest.raises(ConfigError, match=r"^config key studies/x: "):
            validate({**CONFIG, "study": "smoke", "studies": {**CONFIG["studies"], "x": study}})


def test_a_misspelt_study_is_refused_with_the_nearest_name():
    with pytest.raises(ConfigError) as refused:
        validate({**CONFIG, "study": "gird"})
    assert str(refused.value) == (f"config key study: 'gird' is not one of {sorted(CONFIG['studies'])} "
                                  "(did you mean 'grid'?)")


def test_a_studys_runs_skip_the_arms_its_dataset_cannot_hold_and_carry_the_books_figure():
    """The book study on mnist-5k, asked for while another study is chosen: only its n = 1,000 arms run, each run
    with its arm's figure from the book."""
    config = validate({**CONFIG, "study": "smoke", "dataset": "mnist-5k"})
    book = runs(config, "book")
    arms = config["studies"]["book"]["arms"]
    small = {arm for arm, given in arms.items() if given.get("train_size") == 1000}
    assert {r.arm for r in book} == small == set(arms) - set(skipped_arms(config, "book")) and small
    assert all(r.book == tuple(sorted(arms[r.arm]["book"].items())) for r in book)


@pytest.mark.parametrize("arm,message", [
    ({"lam": [1], "eta": [float("inf")]}, "config key studies/x/arms/main/eta: [inf] must all be finite"),
    ({"lam": [1], "train_size": 601}, "config key studies/x/arms/main/train_size: 601 exceeds the 600 examples of "
                                      "synthetic's split"),
    ({"lam": [1], "train_size": 600}, None),  # the whole split is allowed
])
def test_an_arms_settings_are_checked_for_meaning_at_their_bounds(arm, message):
    config = {**CONFIG, "study": "x", "studies": {**CONFIG["studies"], "x": {**EVIL_STUDY, "arms": {"main": arm}}}}
    if message is None:
        assert [r.n for r in runs(validate(config))] == [600]
        return
    with pytest.raises(ConfigError) as refused:
        validate(config)
    assert str(refused.value) == message
