"""docs/mutation.md from the last `mutmut run` (mutants/**/*.meta): the score per module and over every mutated
module, and each mutant not killed with the line it changes and its reason. Reasons come from
docs/mutation-reasons.yaml: `wording` (a message's words rewritten, see is_wording), `kinds` (a regular expression
over the changed line, before -> after: the reason) and `mutants` (a mutant's name: its reason, which wins); a
survivor none of them names is listed as UNREVIEWED.

    .venv/bin/python scripts/mutation_report.py 2026-12-05 "52 min"
"""

import ast
import difflib
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import yaml
from mutmut.stats import status_by_exit_code

ROOT = Path(__file__).resolve().parents[1]
KILLED = {"killed", "timeout", "caught by type check"}
ALIVE = ("survived", "no tests")  # the mutants a reason must cover


def results() -> dict[str, str]:
    """mutant name: status, over every mutated module."""
    out = {}
    for meta in sorted((ROOT / "mutants").rglob("*.py.meta")):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            out[name] = status_by_exit_code[code]
    return out


def changes() -> dict[str, str]:
    """mutant name: its changed lines as `before -> after`, from the mutated sources."""
    out = {}
    for path in (ROOT / "mutants/src").rglob("*.py"):
        source = path.read_text()
        rows = source.splitlines()
        functions = {node.name: "\n".join(rows[node.lineno - 1:node.end_lineno]) for node in ast.walk(ast.parse(source))
                     if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and "__mutmut_" in node.name}
        prefix = ".".join(path.relative_to(ROOT / "mutants/src").with_suffix("").parts).removesuffix(".__init__")
        for name, text in functions.items():
            base, number = name.rsplit("__mutmut_", 1)
            if number == "orig" or f"{base}__mutmut_orig" not in functions:
                continue
            shown = base.split("ǁ")[-1] if "ǁ" in base else base.removeprefix("x_")  # the name in src/
            orig = functions[f"{base}__mutmut_orig"].replace(f"{base}__mutmut_orig", shown).splitlines()
            diff = [ln for ln in difflib.unified_diff(orig, text.replace(name, shown).splitlines(), lineterm="", n=0)
                    if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
            before = " ".join(ln[1:].strip() for ln in diff if ln[0] == "-")
            after = " ".join(ln[1:].strip() for ln in diff if ln[0] == "+")
            out[f"{prefix}.{name}"] = f"{before} -> {after}"
    return out


def is_wording(change: str) -> bool:
    """True when the change rewrites one string literal holding a space (a message's words) into the same words
    wrapped in XX or in another case, and nothing else on the line."""
    before, _, after = change.partition(" -> ")
    literal = r"\"[^\"]*\"|'[^']*'"
    old, new = re.findall(literal, before), re.findall(literal, after)
    pairs = [(a, b) for a, b in zip(old, new) if a != b]
    if len(old) != len(new) or len(pairs) != 1 or re.split(literal, before) != re.split(literal, after):
        return False
    (a, b), = pairs
    return " " in a and (b[1:-1] == f"XX{a[1:-1]}XX" or (a.lower() == b.lower()))


def module(name: str) -> str:
    return name[:name.index(".x")]


def main(date: str, took: str) -> None:
    found, changed = results(), changes()
    reasons = yaml.safe_load((ROOT / "docs/mutation-reasons.yaml").read_text())
    per = defaultdict(Counter)
    for name, status in found.items():
        per[module(name)][status] += 1
    killed = sum(found[n] in KILLED for n in found)
    run = sum(found[n] != "not checked" for n in found)
    lines = ["# Mutation testing", "",
             f"Run {date} with `.venv/bin/mutmut run --max-children 2` (mutmut 3.8.1, over the modules "
             "`pyproject.toml`'s `[tool.mutmut]` names, against the fast tests that reach each function), "
             f"{took} on 2 cores. This page: `.venv/bin/python scripts/mutation_report.py DATE TIME`.", "",
             f"**Score: {killed} of {len(found)} mutants killed, {killed / len(found):.1%}"
             + (f"; of the {run} run, {killed / run:.1%} ({len(found) - run} not run yet)" if run < len(found) else "")
             + ".**", "", "| module | mutants | killed | survived | no test | not run |", "|---|---|---|---|---|---|"]
    for mod, c in sorted(per.items()):
        lines.append(f"| `{mod}` | {sum(c.values())} | {sum(c[s] for s in KILLED)} | {c['survived']} | "
                     f"{c['no tests']} | {c['not checked']} |")
    lines += ["", "## Mutants not killed, each with its change and reason", ""]
    by_reason = defaultdict(list)
    for name in sorted(n for n, s in found.items() if s in ALIVE):
        change = changed.get(name, "?")
        reason = reasons["mutants"].get(name) or (reasons["wording"] if is_wording(change) else None) or next(
            (why for kind, why in reasons["kinds"].items() if re.search(kind, change)), "UNREVIEWED")
        status = "" if found[name] == "survived" else f" ({found[name]})"
        by_reason[reason].append(f"- `{name}`{status}: `{change}`")
    for reason, items in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
        lines += [f"### {reason} ({len(items)})", "", *items, ""]
    (ROOT / "docs/mutation.md").write_text("\n".join(lines))
    stale = sorted(n for n in reasons["mutants"] if found.get(n) not in ALIVE)
    print(f"{killed}/{len(found)} killed ({killed / len(found):.1%}), {run} run; "
          f"{len(by_reason.get('UNREVIEWED', []))} not killed and unreviewed"
          + (f"; named reasons for mutants killed or gone (delete them): {', '.join(stale)}" if stale else ""))


if __name__ == "__main__":
    main(*sys.argv[1:3])
