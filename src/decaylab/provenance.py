"""Which code made a report: a fingerprint of the modules that move numbers (training, data, the study's runs,
aggregation, the claims' rules), written into every claims.json. Presentation (report, figures' drawing helpers,
tracking, the command line) is left out: changing it moves no number."""

import hashlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
NUMBER_MOVING = ("network.py", "module.py", "instrument.py", "graphs.py", "inits.py", "datamodule.py", "data.py",
                 "spec.py", "aggregate.py", "analyze.py", "glossary.py", "claims/*.py")


def code_fingerprint(package: Path = PACKAGE) -> str:
    """SHA-256 (first 16 hex digits) over the number-moving modules' paths and bytes."""
    digest = hashlib.sha256()
    for path in sorted(p for pattern in NUMBER_MOVING for p in package.glob(pattern)):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
