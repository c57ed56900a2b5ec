"""The run spec: config -> runs -> jobs, validated once where it enters. Torch-free (Snakemake imports it).

A study has arms (sub-grids with their own settings) and runs on one dataset; an arm is the product of its
AXES and the study's seeds. A run is one network, one grid point and seed, written to one folder:
    results/<study>/<dataset>/runs/<arm>/init~<init>/lam~<lam>/eta~<eta>/hidden~<h>/seed~<s>/
(<study>/<dataset> is the study's key: its results, report and MLflow runs stay apart from another dataset's).
A job trains runs that share the SHARED settings as one ensemble, packed by seed (see `jobs`). The config is
checked against the schema (workflow/schemas/config.schema.yaml: every key, its default; enumerations filled in
from the registries that define them) and the meaning checks below; a job file given to the trainer goes
through the same checks.
"""

import difflib
import hashlib
import itertools
import json
import math
from dataclasses import asdict, dataclass, fields, replace
from functools import cache
from pathlib import Path

import numpy as np
import yaml

from decaylab.data import SOURCES
from decaylab.errors import ExpectedError
from decaylab.inits import BIAS_INITS, INITS

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"
AXES = ("init", "lam", "eta", "hidden")  # settings an arm gives as lists; its runs are their product
SHARED = ("dataset", "hidden", "m", "epochs", "train_size", "validation_size", "test_size")  # one job's runs share


class ConfigError(ExpectedError, ValueError):
    """The configuration or a job file is invalid; the message names the key and the allowed values."""


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


@cache
def schema() -> dict:
    """The config schema, its enumerations (datasets, init schemes) filled in from their registries."""
    loaded = yaml.safe_load(SCHEMA.read_text())
    settings = loaded["definitions"]["settings"]["properties"]
    settings["dataset"]["enum"] = list(SOURCES)
    loaded["properties"]["dataset"]["enum"] = [None, *SOURCES]
    settings["init"]["items"]["enum"] = list(INITS)
    settings["bias_init"]["enum"] = list(BIAS_INITS)
    return loaded


def defaults(definition: dict) -> dict:
    """The `default` of each property of a schema object."""
    return {key: prop["default"] for key, prop in definition["properties"].items() if "default" in prop}


def _schema_check(value, definition: dict, where: str) -> None:
    import jsonschema

    try:
        jsonschema.validate(value, {**definition, "definitions": schema()["definitions"]})
    except jsonschema.ValidationError as exc:
        path = "/".join([where, *map(str, exc.absolute_path)]).strip("/") or "(top level)"
        hint = f" ({exc.schema['description']})" if exc.validator == "pattern" and "description" in exc.schema else ""
        message = exc.message
        if exc.validator == "additionalProperties" and isinstance(exc.instance, dict):
            allowed = sorted(exc.schema.get("properties", {}))
            unknown = sorted(set(exc.instance) - set(allowed))
            message = "; ".join(f"unknown key {key!r}{_did_you_mean(key, allowed)}" for key in unknown)
            message += f". Allowed keys: {', '.join(allowed)}"
        elif exc.validator == "enum":
            choices = [c for c in exc.validator_value if c is not None]  # null: "leave it to the default"
            message = f"{exc.instance!r} is not one of {choices}{_did_you_mean(str(exc.instance), map(str, choices))}"
        raise ConfigError(f"config key {path}: {message}{hint}") from None


def _did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_meaning(settings: dict, where: str) -> None:
    """What the schema cannot say: finite rates, sizes within the dataset, a positive decay factor."""
    def bad(key, message):
        raise ConfigError(f"config key {where}/{key}: {message}")

    if any(not math.isfinite(v) for v in settings["lam"]):
        bad("lam", f"{settings['lam']} must all be finite")
    if any(not math.isfinite(v) for v in settings["eta"]):
        bad("eta", f"{settings['eta']} must all be finite")
    dataset = settings["dataset"]
    for key, available in zip(("train_size", "validation_size", "test_size"), SOURCES[dataset].sizes):
        if settings[key] is not None and settings[key] > available:
            bad(key, f"{settings[key]} exceeds the {available} examples of {dataset}'s split")
    n = settings["train_size"] or SOURCES[dataset].sizes[0]
    if settings["m"] > n:
        bad("m", f"{settings['m']} exceeds the training-set size n={n} (allowed: 1..{n})")
    if max(settings["eta"]) * max(settings["lam"]) >= n:
        bad("lam", f"eta * lam must stay below n={n}, or the decay factor 1 - eta*lam/n is not positive "
                   f"(eta up to {max(settings['eta'])}, lam up to {max(settings['lam'])})")


def check_settings(settings: dict, where: str) -> dict:
    """An arm's settings (missing keys take the schema's defaults) through the schema and the meaning checks."""
    definition = schema()["definitions"]["settings"]
    _schema_check(settings, definition, where)
    full = {**defaults(definition), **settings}
    _check_meaning(full, where)
    return full


def validate(config: dict) -> dict:
    """The config with its defaults filled in; ConfigError naming the key and the allowed values."""
    _schema_check(config, schema(), "")
    config = {**defaults(schema()), **config}
    if config["study"] not in config["studies"]:
        raise ConfigError(f"config key study: {config['study']!r} is not one of {sorted(config['studies'])}"
                          + _did_you_mean(str(config["study"]), config["studies"]))
    for name in config["studies"]:  # the dataset override is for the study that runs; the others on their own
        runs(config if name == config["study"] else {**config, "dataset": None}, name)
    return config


def load_config(path: str | Path, overrides: dict | None = None) -> dict:
    config = yaml.safe_load(Path(path).read_text())
    config.update(overrides or {})
    return validate(config)


@dataclass(frozen=True)
class Run:
    """One network: everything that determines its numbers, and where it is written and shown."""

    dataset: str
    hidden: tuple[int, ...]
    m: int
    epochs: int
    train_size: int | None
    validation_size: int | None
    test_size: int | None
    init: str
    lam: float
    eta: float
    seed: int
    out: str
    bias_init: str = defaults(schema()["definitions"]["settings"])["bias_init"]
    study: str = ""
    arm: str = ""
    book: tuple = ()  # the book's reported figure for this arm, as sorted (key, value) pairs

    @property
    def n(self) -> int:
        """Training-set size."""
        return self.train_size or SOURCES[self.dataset].sizes[0]

    @property
    def study_key(self) -> str:
        """<study>/<dataset>: the folder of the study's results and report on this dataset."""
        return f"{self.study}/{self.dataset}"

    @property
    def cell(self) -> str:
        """The grid point without its seed, as a path: <arm>/init~<init>/lam~<lam>/eta~<eta>/hidden~<h>."""
        axes = "/".join(f"{axis}~{literal(getattr(self, axis))}" for axis in AXES)
        return f"{self.arm}/{axes}"

    def init_seed(self) -> int:
        return int(np.random.SeedSequence([self.seed, 0]).generate_state(1)[0])

    def shuffle_seed(self) -> int:
        """Cells with the same seed share their init draws and their data order."""
        return int(np.random.SeedSequence([self.seed, 1]).generate_state(1)[0])

    def settings(self) -> dict:
        """The settings as an arm would give them (axes as one-value lists), for the config checks."""
        own = {key: getattr(self, key) for key in defaults(schema()["definitions"]["settings"]) if hasattr(self, key)}
        return {**own, **{axis: [list(self.hidden) if axis == "hidden" else getattr(self, axis)] for axis in AXES},
                "book": dict(self.book)}

    def record(self) -> dict:
        """The run's record in run.json, read by aggregate and analyze: settings, cell, n, the book's figure."""
        return {**{f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("out", "book")},
                "hidden": list(self.hidden), "cell": self.cell, "n": self.n, "book": dict(self.book)}

    def label(self, with_seed: bool = False) -> str:
        """The run as the MLflow UI shows it, what tells runs apart first (the name column is cut short): the arm
        unless it is `main`, then `λ=5 η=0.5 standard s=1 h=30` (the cell without s=)."""
        arm = f"{self.arm} " if self.arm and self.arm != "main" else ""
        seed = f" s={self.seed}" if with_seed else ""
        return f"{arm}λ={literal(self.lam)} η={literal(self.eta)} {self.init}{seed} h={literal(self.hidden)}"


RUN_SETTINGS = [f.name for f in fields(Run) if f.name in schema()["definitions"]["settings"]["properties"]
                and f.name != "book"]


def _arm_settings(config: dict, study: str) -> dict[str, dict]:
    """Each arm's settings as given (the study's defaults, the arm's own, the dataset override)."""
    spec = config["studies"][study]
    out = {}
    for arm, own in spec["arms"].items():
        out[arm] = {**spec.get("defaults", {}), **own}
        if config.get("dataset"):
            out[arm]["dataset"] = config["dataset"]
    return out


def skipped_arms(config: dict, study: str | None = None) -> dict[str, str]:
    """Arms left out on this dataset, with why: the book measured their figure on more training examples than
    the dataset's split holds (never run on fewer examples and set against the book's figure)."""
    study = study or config["study"]
    out = {}
    for arm, given in _arm_settings(config, study).items():
        dataset = given.get("dataset", defaults(schema()["definitions"]["settings"])["dataset"])
        needed, available = given.get("book", {}).get("train_size"), SOURCES[dataset].sizes[0]
        if needed and given.get("train_size") is None and needed > available:
            out[arm] = (f"the book's figure for it was measured on n={needed:,} training examples; {dataset}'s "
                        f"training split holds {available:,}")
    return out


def runs(config: dict, study: str | None = None, root: str = "results") -> list[Run]:
    """Every run of a study (default: the configured one) in a stable order; each arm checked."""
    study = study or config["study"]
    spec = config["studies"][study]
    skipped = skipped_arms(config, study)
    out = []
    for arm, given in _arm_settings(config, study).items():
        if arm in skipped:
            continue
        s = check_settings(given, f"studies/{study}/arms/{arm}")
        scalars = {key: s[key] for key in RUN_SETTINGS if key not in AXES}
        seeds = spec.get("dataset_seeds", {}).get(s["dataset"], spec["seeds"])
        for init, lam, eta, hidden, seed in itertools.product(*(s[a] for a in AXES), seeds):
            run = Run(**scalars, hidden=tuple(hidden), init=init, lam=float(lam), eta=float(eta), seed=seed,
                      out="", study=study, arm=arm, book=tuple(sorted(s["book"].items())))
            out.append(replace(run, out=f"{root}/{run.study_key}/runs/{run.cell}/seed~{seed}"))
    if not out:
        raise ConfigError(f"config key studies/{study}: no arm runs on this dataset: {skipped}")
    if len(datasets := sorted({r.dataset for r in out})) > 1:
        raise ConfigError(f"config key studies/{study}: a study runs on one dataset, its arms give {datasets}")
    folders = [r.out for r in out]
    repeated = sorted({f for f in folders if folders.count(f) > 1})
    if repeated:
        raise ConfigError(f"config key studies/{study}: grid cells repeat: {repeated}")
    return out


def study_params(study_runs: list[Run]) -> dict[str, str]:
    """The study's setting as MLflow params: each setting with the values it takes, as written in the config."""
    def values(key):
        return ", ".join(map(literal, dict.fromkeys(getattr(r, key) for r in study_runs)))

    return {"study": study_runs[0].study, "dataset": values("dataset"), "arms": values("arm"),
            "init": values("init"), "lam": values("lam"), "eta": values("eta"), "hidden": values("hidden"),
            "n": values("n"), "m": values("m"), "epochs": values("epochs"), "seeds": values("seed")}


@dataclass(frozen=True)
class Job:
    """Runs trained as one ensemble (they share every SHARED setting), and how to train them."""

    runs: tuple[Run, ...]
    name: str = "job"
    data_file: str | None = None
    data_seed: int = 0
    probe_size: int = 1000
    dtype: str = "float32"
    instrument: bool = True
    gradient: bool = True  # False: a pure-decay control, weights follow the decay part alone
    accelerator: str = defaults(schema())["accelerator"]
    threads: int = 1
    block_steps: int = 500
    experiment: str = defaults(schema())["experiment"]
    study_results: str | None = None  # the study's results folder: its runs are children of the study's MLflow run

    def __post_init__(self):
        if not self.runs:
            raise ConfigError("job: at least one run is needed")
        differ = [key for key in SHARED if len({getattr(r, key) for r in self.runs}) > 1]
        if differ:
            raise ConfigError(f"job {self.name}: its runs must share {differ} to train as one ensemble")
        if self.dtype not in ("float32", "float64"):
            raise ConfigError(f"job {self.name}: dtype {self.dtype!r} is not float32 or float64")

    @property
    def streams(self) -> int:
        """How many mini-batch streams the job draws. Runs with one seed read the same data order (same
        shuffle seed, n and m), so runs given seed by seed, each seed with as many runs, share one stream per
        seed (each step's first layer is then one GEMM per seed); any other order: one stream per run."""
        seeds = [run.seed for run in self.runs]
        blocks = list(dict.fromkeys(seeds))
        per_seed = len(seeds) // len(blocks)
        if seeds == [seed for seed in blocks for _ in range(per_seed)]:
            return len(blocks)
        return len(seeds)

    @property
    def shared(self) -> Run:
        """Read the settings every run of the job shares (dataset, hidden, m, epochs, sizes) from here."""
        return self.runs[0]

    @classmethod
    def from_dict(cls, raw: dict) -> "Job":
        """A job file's contents, every run through the config checks."""
        known = {f.name for f in fields(cls)}
        if unknown := set(raw) - known:
            raise ConfigError(f"job file: unknown keys {sorted(unknown)}; known: {sorted(known)}")
        run_keys = {f.name for f in fields(Run)}
        runs = []
        for i, given in enumerate(raw.get("runs", ())):
            if unknown := set(given) - run_keys:
                raise ConfigError(f"job file runs/{i}: unknown keys {sorted(unknown)}; known: {sorted(run_keys)}")
            run = Run(**{**given, "hidden": tuple(given.get("hidden", ())), "book": tuple(given.get("book", ()))})
            check_settings(run.settings(), f"job file runs/{i}")
            runs.append(run)
        return cls(**{**raw, "runs": tuple(runs)})

    def to_dict(self) -> dict:
        return asdict(self)

    def run_config(self, run: Run) -> dict:
        """Everything that determines one run's numbers (not where it is written or tracked)."""
        numbers = {"data_seed": self.data_seed, "probe_size": self.probe_size, "dtype": self.dtype,
                   "gradient": self.gradient}
        own = {f.name: getattr(run, f.name) for f in fields(run) if f.name not in ("out", "arm", "book")}
        return {**own, **numbers, "hidden": list(run.hidden)}


def _even_parts(items: list, parts: int) -> list[list]:
    bounds = [round(i * len(items) / parts) for i in range(parts + 1)]
    return [items[lo:hi] for lo, hi in zip(bounds, bounds[1:])]


def _cell_parts(n_cells: int, members_per_job: int, seeds_per_job: int) -> int:
    """Jobs a seed block's cells need when each job holds seeds_per_job seeds."""
    return -(-n_cells // max(1, min(n_cells, members_per_job // seeds_per_job)))


def jobs(study_runs: list[Run], members_per_job: int = 0, notify=lambda line: None) -> list[Job]:
    """Pack runs into jobs of at most members_per_job runs (0: one grid cell, i.e. its seeds, per job).

    Only runs of one shape (every SHARED setting) share a job, and they pack by seed: a job holds a block of
    seeds, each with the same block of cells, so the runs of a seed read one mini-batch stream (Job.streams).
    Of the blocks that fit, the one that needs the fewest jobs is taken (then the fewest seeds per job), cut
    into even parts. A members_per_job that cannot hold one seed's cells splits them; `notify` is told so in
    one line.
    """
    shapes: dict[tuple, dict[int, list[Run]]] = {}
    for run in study_runs:
        shapes.setdefault(tuple(getattr(run, key) for key in SHARED), {}).setdefault(run.seed, []).append(run)
    groups = []
    for by_seed in shapes.values():
        if len({tuple(run.cell for run in seed_runs) for seed_runs in by_seed.values()}) == 1:
            groups.append(by_seed)
        else:  # never from `runs`: every cell of an arm has every seed
            notify(f"the seeds of {next(iter(by_seed.values()))[0].study} have different cells: each seed packs alone")
            groups += [{seed: seed_runs} for seed, seed_runs in by_seed.items()]
    packed: list[tuple[Run, ...]] = []
    for by_seed in groups:
        seeds, n_cells = list(by_seed), len(next(iter(by_seed.values())))
        if not members_per_job:
            packed += [tuple(by_seed[seed][i] for seed in seeds) for i in range(n_cells)]
            continue
        per_job = min(range(1, min(len(seeds), members_per_job) + 1),  # a job never holds more seeds than runs
                      key=lambda g: (-(-len(seeds) // g) * _cell_parts(n_cells, members_per_job, g), g))
        parts = _cell_parts(n_cells, members_per_job, per_job)
        for seed_block in _even_parts(seeds, -(-len(seeds) // per_job)):
            for cells_block in _even_parts(list(range(n_cells)), parts):
                packed.append(tuple(by_seed[seed][i] for seed in seed_block for i in cells_block))
        if members_per_job < n_cells:
            run = by_seed[seeds[0]][0]
            notify(f"members_per_job={members_per_job} cannot hold the {n_cells} cells one seed has in "
                   f"{run.study} (hidden={literal(run.hidden)}, {run.epochs} epochs): they are split over "
                   f"{parts} jobs per seed block, up to {-(-n_cells // parts)} cells each")
    return [Job(runs, name=f"train_{i:03d}") for i, runs in enumerate(packed)]


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
