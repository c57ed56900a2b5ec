"""Studies: named grids from config/config.yaml, validated and expanded into cells and jobs.

A study has arms (sub-grids with their own settings); each arm is the product
init x lam x eta x hidden. A cell is one grid point without its seed; its seeds
train together as one job (an ensemble), one run folder per seed:
    results/<study>/runs/<arm>/init~<init>/lam~<lam>/eta~<eta>/hidden~<h>/seed~<s>/
This module stays light (no torch): Snakemake imports it to build the DAG.
"""

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from decaylab.errors import ExpectedError

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"
DATASET_SPLITS = {  # (train, validation, test) sizes of each source
    "mnist": (50_000, 10_000, 10_000),
    "fashion-mnist": (50_000, 10_000, 10_000),
    "mnist-5k": (3_000, 1_000, 1_000),
    "synthetic": (600, 200, 200),
}
INIT_NAMES = ("standard", "scaled")  # kept equal to decaylab.inits.INITS by a test
SETTING_DEFAULTS = {"hidden": [[30]], "train_size": None, "validation_size": None, "test_size": None, "m": 10,
                    "epochs": 30, "init": ["standard"], "lam": [0], "eta": [0.5], "book": {}}


class ConfigError(ExpectedError, ValueError):
    """The configuration is invalid; the message names the key and the allowed values."""


def fmt(x: float) -> str:
    """A number as written in paths: literal, no float noise (5.0 -> '5', 0.1 -> '0.1')."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def literal(value) -> str:
    """A setting as a user types it (paths, MLflow params): 5 not 5.0, 0.1, a width list as 100-100."""
    if isinstance(value, float):
        return fmt(value)
    if isinstance(value, (list, tuple)):
        return "-".join(map(literal, value))
    return str(value)


@dataclass(frozen=True)
class Cell:
    study: str
    arm: str
    dataset: str
    init: str
    lam: float
    eta: float
    hidden: tuple[int, ...]
    m: int
    epochs: int
    train_size: int | None
    validation_size: int | None
    test_size: int | None
    seeds: tuple[int, ...]
    book: tuple = ()

    @property
    def path(self) -> str:
        h = "-".join(map(str, self.hidden))
        return f"{self.arm}/init~{self.init}/lam~{fmt(self.lam)}/eta~{fmt(self.eta)}/hidden~{h}"

    def run_dir(self, seed: int, root: str = "results") -> str:
        return f"{root}/{self.study}/runs/{self.path}/seed~{seed}"

    @property
    def n(self) -> int:
        return self.train_size or DATASET_SPLITS[self.dataset][0]


def validate(config: dict) -> None:
    """Schema and meaning checks; raise ConfigError naming the key and the allowed values."""
    import jsonschema

    schema = yaml.safe_load(SCHEMA.read_text())
    try:
        jsonschema.validate(config, schema)
    except jsonschema.ValidationError as exc:
        where = "/".join(map(str, exc.absolute_path)) or "(top level)"
        hint = f" ({exc.schema['description']})" if exc.validator == "pattern" and "description" in exc.schema else ""
        raise ConfigError(f"config key {where}: {exc.message}{hint}") from None
    if config["study"] not in config["studies"]:
        raise ConfigError(f"config key study: {config['study']!r} is not one of {sorted(config['studies'])}")
    for name, study in config["studies"].items():
        for arm, settings in _arms(config, name).items():
            _check_arm(f"studies/{name}/arms/{arm}", settings, study["seeds"])


def _arms(config: dict, study: str) -> dict[str, dict]:
    spec = config["studies"][study]
    arms = {}
    for arm, own in spec["arms"].items():
        settings = {**SETTING_DEFAULTS, **spec.get("defaults", {}), **own}
        settings["dataset"] = config.get("dataset") or settings.get("dataset") or "mnist"
        arms[arm] = settings
    return arms


def _check_arm(where: str, s: dict, seeds: list[int]) -> None:
    def bad(key, message):
        raise ConfigError(f"config key {where}/{key}: {message}")

    if s["dataset"] not in DATASET_SPLITS:
        bad("dataset", f"{s['dataset']!r} is not one of {sorted(DATASET_SPLITS)}")
    for init in s["init"]:
        if init not in INIT_NAMES:
            bad("init", f"{init!r} is not one of {list(INIT_NAMES)}")
    if any(not math.isfinite(v) or v < 0 for v in s["lam"]):
        bad("lam", f"{s['lam']} must all be finite and >= 0")
    if any(not math.isfinite(v) or v <= 0 for v in s["eta"]):
        bad("eta", f"{s['eta']} must all be finite and > 0")
    if len(set(seeds)) != len(seeds):
        bad("seeds", f"{seeds} has duplicates")
    n_train, n_val, _ = DATASET_SPLITS[s["dataset"]]
    if s["train_size"] is not None and s["train_size"] > n_train:
        bad("train_size", f"{s['train_size']} exceeds the {n_train} training examples of {s['dataset']}")
    if s["validation_size"] is not None and s["validation_size"] > n_val:
        bad("validation_size", f"{s['validation_size']} exceeds the {n_val} validation examples of {s['dataset']}")
    if s["test_size"] is not None and s["test_size"] > DATASET_SPLITS[s["dataset"]][2]:
        bad("test_size", f"{s['test_size']} exceeds the test examples of {s['dataset']}")
    n = s["train_size"] or n_train
    if s["m"] > n:
        bad("m", f"{s['m']} exceeds the training-set size n={n} (allowed: 1..{n})")
    if max(s["eta"]) * max(s["lam"]) >= n:
        bad("lam", f"eta * lam must stay below n={n}, or the decay factor 1 - eta*lam/n is not positive "
                   f"(eta up to {max(s['eta'])}, lam up to {max(s['lam'])})")


def load_config(path: str | Path, overrides: dict | None = None) -> dict:
    config = yaml.safe_load(Path(path).read_text())
    config.update(overrides or {})
    validate(config)
    return config


def cells(config: dict, study: str | None = None) -> list[Cell]:
    """Every grid cell of a study (default: the configured one), in a stable order."""
    study = study or config["study"]
    seeds = tuple(config["studies"][study]["seeds"])
    out = []
    for arm, s in _arms(config, study).items():
        for init, lam, eta, hidden in itertools.product(s["init"], s["lam"], s["eta"], s["hidden"]):
            out.append(Cell(study, arm, s["dataset"], init, float(lam), float(eta), tuple(hidden), s["m"],
                            s["epochs"], s["train_size"], s["validation_size"], s["test_size"], seeds,
                            tuple(sorted(s["book"].items()))))
    paths = [c.path for c in out]
    dupes = {p for p in paths if paths.count(p) > 1}
    if dupes:
        raise ConfigError(f"config key studies/{study}: grid cells repeat: {sorted(dupes)}")
    return out


def study_params(study_cells: list[Cell]) -> dict[str, str]:
    """The study's setting as MLflow params: each axis with the values it takes, as written in the config."""
    def values(key):
        return ", ".join(map(literal, dict.fromkeys(getattr(c, key) for c in study_cells)))

    first = study_cells[0]
    return {"study": first.study, "dataset": values("dataset"), "arms": values("arm"), "init": values("init"),
            "lam": values("lam"), "eta": values("eta"), "hidden": values("hidden"), "n": values("n"),
            "m": values("m"), "epochs": values("epochs"), "seeds": ", ".join(map(str, first.seeds))}


@dataclass(frozen=True)
class TrainJob:
    """Cells trained together as one ensemble (they share data, layer sizes, m and epochs)."""

    name: str
    cells: tuple[Cell, ...]

    def run_files(self, filename: str) -> list[str]:
        return [f"{cell.run_dir(seed)}/{filename}" for cell in self.cells for seed in cell.seeds]


def train_jobs(study_cells: list[Cell], members_per_job: int = 0) -> list[TrainJob]:
    """Group cells into jobs of at most members_per_job members (0: one cell, i.e. its seeds, per job).

    A cell's seeds are never split; only cells that share every shared setting are grouped.
    """
    shared = {}
    for cell in study_cells:
        key = (cell.dataset, cell.hidden, cell.m, cell.epochs, cell.train_size, cell.validation_size, cell.test_size)
        shared.setdefault(key, []).append(cell)
    jobs = []
    for group in shared.values():
        per_job = max(1, members_per_job // len(group[0].seeds)) if members_per_job else 1
        for lo in range(0, len(group), per_job):
            jobs.append(TrainJob(f"train_{len(jobs):03d}", tuple(group[lo : lo + per_job])))
    return jobs
