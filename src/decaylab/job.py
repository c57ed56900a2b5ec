"""A training job: shared settings plus K members (init, lam, eta, seed) trained as one ensemble.

A single run is a job with one member. Members of one job share the data,
layer sizes, m and epochs; each keeps its own seed, so its numbers do not
depend on which job it is trained in.
"""

import hashlib
import json
from dataclasses import asdict, dataclass, fields

import numpy as np

from decaylab.inits import INITS


@dataclass(frozen=True)
class Member:
    init: str
    lam: float
    eta: float
    seed: int
    out: str
    cell: str = ""
    arm: str = ""

    def init_seed(self) -> int:
        return int(np.random.SeedSequence([self.seed, 0]).generate_state(1)[0])

    def shuffle_seed(self) -> int:
        return int(np.random.SeedSequence([self.seed, 1]).generate_state(1)[0])


@dataclass(frozen=True)
class Job:
    dataset: str
    hidden: tuple[int, ...]
    m: int
    epochs: int
    members: tuple[Member, ...]
    train_size: int | None = None
    validation_size: int | None = None
    test_size: int | None = None
    data_file: str | None = None
    data_seed: int = 0
    probe_size: int = 1000
    dtype: str = "float32"
    instrument: bool = True
    gradient: bool = True  # False: a pure-decay control, weights follow the decay part alone
    accelerator: str = "auto"
    threads: int = 1
    block_steps: int = 500
    experiment: str = "decaylab"
    parent_run_id: str | None = None
    study: str = ""

    def __post_init__(self):
        problems = []
        if not self.members:
            problems.append("members: at least one is needed")
        for mb in self.members:
            if mb.init not in INITS:
                problems.append(f"init: {mb.init!r} is not one of {sorted(INITS)}")
            if not mb.lam >= 0:
                problems.append(f"lam: {mb.lam} must be >= 0")
            if not mb.eta > 0:
                problems.append(f"eta: {mb.eta} must be > 0")
        if self.m < 1:
            problems.append(f"m: {self.m} must be >= 1")
        if self.epochs < 1:
            problems.append(f"epochs: {self.epochs} must be >= 1")
        if not self.hidden or min(self.hidden) < 1:
            problems.append(f"hidden: {list(self.hidden)} must be a non-empty list of widths >= 1")
        if self.dtype not in ("float32", "float64"):
            problems.append(f"dtype: {self.dtype!r} is not float32 or float64")
        if problems:
            raise ValueError("invalid job: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, raw: dict) -> "Job":
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"invalid job: unknown keys {sorted(unknown)}")
        members = tuple(Member(**m) for m in raw.get("members", ()))
        return cls(**{**raw, "hidden": tuple(raw["hidden"]), "members": members})

    def to_dict(self) -> dict:
        return asdict(self)

    def member_config(self, member: Member) -> dict:
        """Everything that determines one member's numbers (not where it is written or tracked)."""
        shared = {k: v for k, v in self.to_dict().items()
                  if k not in ("members", "data_file", "experiment", "parent_run_id", "threads",
                               "accelerator", "block_steps", "instrument")}
        own = {k: v for k, v in asdict(member).items() if k not in ("out", "cell", "arm")}
        return {**shared, **own, "hidden": list(self.hidden)}

    def cell_label(self, member: Member) -> str:
        """The member's grid cell as the MLflow runs table groups it: `standard λ=5 η=0.5 h=30 · main`."""
        return self._label(member, "")

    def run_name(self, member: Member) -> str:
        """A name that tells runs apart even where the UI cuts it short: `standard s=1 λ=5 η=0.5 h=30 · main`."""
        return self._label(member, f"s={member.seed} ")

    def _label(self, member: Member, seed: str) -> str:
        from decaylab.study import literal

        name = f"{member.init} {seed}λ={literal(member.lam)} η={literal(member.eta)} h={literal(self.hidden)}"
        return f"{name} · {member.arm}" if member.arm else name


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
