"""The README's results block is generated from the committed claims, and kept so."""

import json
import shutil
from pathlib import Path

from decaylab import readme

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_block_is_what_the_committed_claims_produce():
    text = (ROOT / "README.md").read_text()
    assert readme.BEGIN in text and readme.END in text
    assert readme.rewrite(text, ROOT / "reports") == text, "run: python -m decaylab.readme"


def test_a_changed_verdict_is_caught_and_rewritten_side_by_side(tmp_path):
    shutil.copytree(ROOT / "reports", tmp_path / "reports")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    first = sorted((tmp_path / "reports").glob("*/*/claims.json"))[0]
    claims = json.loads(first.read_text())
    claims["claims"]["2_decay_rate"]["status"] = "fails"
    twin = first.parent.parent / "other-data" / "claims.json"  # the same study on a second dataset
    twin.parent.mkdir()
    twin.write_text(json.dumps(claims))
    assert readme.main(["--check", "--root", str(tmp_path)]) == 1
    assert readme.main(["--root", str(tmp_path)]) == 0 and readme.main(["--check", "--root", str(tmp_path)]) == 0
    text = (tmp_path / "README.md").read_text()
    study = first.parent.parent.name
    assert f"| claim | {first.parent.name} | other-data |" in text
    original = json.loads(first.read_text())["claims"]["2_decay_rate"]["status"]
    if original != "fails":
        assert f"`{study}` claim 2: {original} on {first.parent.name}, fails on other-data" in text
