"""Does a rerun reproduce a committed report? Compares a study's claims.json with the committed one.

    .venv/bin/python -m decaylab.compare reports/grid/mnist              # the working tree against git's HEAD
    .venv/bin/python -m decaylab.compare reports/grid/mnist --against other/claims.json

The promise (README): on the same machine and code a rerun's claims.json is identical; on another machine every
claim's status and the set of settings left out are the same, and every headline number lies within TOLERANCE of
the committed 95 % interval's half-width from the committed mean (float rounding differs between CPUs and BLAS
builds; the unstable settings, where it would decide an outcome, are left out of the claims). Exit status 0 when
the rerun reproduces the report, 1 when it does not, 2 when there is nothing to compare.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

TOLERANCE = 1.0  # in committed half-widths: a rerun's headline mean lies inside the committed interval
EXACT = 1e-9  # relative, for a number without an interval (one seed)


def _headlines(claims: dict) -> dict[tuple[str, str], dict]:
    return {(key, h["name"]): h for key, claim in claims["claims"].items() for h in claim.get("headline", [])}


def differences(new: dict, old: dict) -> list[str]:
    """What keeps `new` from reproducing `old` under the promise above, one line each (none: it reproduces)."""
    out = []
    if new.get("code_fingerprint") != old.get("code_fingerprint"):
        out.append(f"made by other number-moving code: fingerprint {new.get('code_fingerprint')} against "
                   f"{old.get('code_fingerprint')}")
    for key, claim in old["claims"].items():
        status = new["claims"].get(key, {}).get("status")
        if status != claim["status"]:
            out.append(f"claim {key}: status {status} against {claim['status']}")
    for kind in ("unstable_cells", "diverged_runs", "collapsed_runs"):
        if len(new.get(kind, [])) != len(old.get(kind, [])):
            out.append(f"{kind}: {len(new.get(kind, []))} against {len(old.get(kind, []))}")
    mine = _headlines(new)
    for (key, name), h in _headlines(old).items():
        got = mine.get((key, name))
        if got is None or got["mean"] is None or h["mean"] is None:
            if (got or {}).get("mean") != h["mean"]:
                out.append(f"claim {key}, {name}: missing in the rerun" if got is None else
                           f"claim {key}, {name}: {got['mean']} against {h['mean']}")
            continue
        half = (h["ci95"][1] - h["ci95"][0]) / 2 if h.get("ci95") else 0.0
        allowed = max(TOLERANCE * half, EXACT * abs(h["mean"]))
        if abs(got["mean"] - h["mean"]) > allowed:
            out.append(f"claim {key}, {name}: {got['mean']:.6g} against {h['mean']:.6g} (allowed ± {allowed:.3g})")
    return out


def committed(path: Path) -> dict:
    """The file as git's HEAD holds it."""
    shown = subprocess.run(["git", "show", f"HEAD:./{path.name}"], capture_output=True, text=True, cwd=path.parent)
    if shown.returncode:
        raise FileNotFoundError(f"git's HEAD has no {path}: {shown.stderr.strip()}")
    return json.loads(shown.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m decaylab.compare", description=__doc__.split("\n")[0],
                                     epilog="example: .venv/bin/python -m decaylab.compare reports/grid/mnist")
    parser.add_argument("report", type=Path, help="a study's report folder (holding claims.json), or the file")
    parser.add_argument("--against", type=Path, help="the claims.json to compare with (default: git's HEAD)")
    args = parser.parse_args(argv)
    path = args.report / "claims.json" if args.report.is_dir() else args.report
    try:
        new = json.loads(path.read_text())
        old = json.loads(args.against.read_text()) if args.against else committed(path)
    except (OSError, ValueError) as exc:
        print(f"decaylab.compare: {exc}", file=sys.stderr)
        return 2
    if new == old:
        print(f"{path}: identical to the committed report")
        return 0
    found = differences(new, old)
    if found:
        print(f"{path}: does not reproduce the committed report:", *found, sep="\n  ")
        return 1
    print(f"{path}: reproduces the committed report (same statuses; every headline within the committed interval)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
