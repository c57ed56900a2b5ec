"""Committed reports come from the code checked in: every claims.json records the fingerprint of the code that
moves numbers, and it must be today's."""

import json
import shutil
from pathlib import Path

import pytest

from decaylab.provenance import PACKAGE, code_fingerprint

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", sorted((ROOT / "reports").glob("*/*/claims.json")),
                         ids=lambda p: f"{p.parts[-3]}/{p.parts[-2]}")
def test_every_committed_report_was_made_by_the_code_checked_in(path):
    made_by = json.loads(path.read_text()).get("code_fingerprint")
    assert made_by == code_fingerprint(), (
        f"{path.relative_to(ROOT)} was made by other number-moving code ({made_by}, today {code_fingerprint()}): "
        "regenerate every committed report (README, 'Regenerating the reports')")


@pytest.mark.parametrize("name,moves", [("network.py", True), ("claims/tail_off.py", True), ("spec.py", True),
                                        ("report.py", False), ("tracking.py", False), ("cli.py", False)])
def test_the_fingerprint_follows_number_moving_code_only(tmp_path, name, moves):
    copy = tmp_path / "decaylab"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert code_fingerprint(copy) == code_fingerprint()
    with open(copy / name, "a") as f:
        f.write("# an edit\n")
    assert (code_fingerprint(copy) != code_fingerprint()) is moves


def test_the_fingerprint_is_sha256_over_each_number_moving_path_and_its_bytes(tmp_path):
    """The scheme every committed claims.json was fingerprinted with: sorted paths, each `path NUL bytes NUL`;
    presentation modules (report.py) are not read."""
    import hashlib

    (tmp_path / "claims").mkdir()
    files = {"spec.py": b"a = 1\n", "claims/tail_off.py": b"b = 2\n", "report.py": b"c = 3\n"}
    for name, text in files.items():
        (tmp_path / name).write_bytes(text)
    expected = hashlib.sha256(b"claims/tail_off.py\0b = 2\n\0spec.py\0a = 1\n\0").hexdigest()[:16]
    assert code_fingerprint(tmp_path) == expected
