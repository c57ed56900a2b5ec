"""The package's shape: no import circle (imports inside functions count too), and analyze, which holds what
several claims share, never imports a claim."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "decaylab"


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Each decaylab module and the decaylab modules it imports, anywhere in its file."""
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("decaylab"):
                found.add(node.module)
                found |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("decaylab")}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_no_import_circle():
    graph, done, stack = imports(), set(), []

    def visit(module: str) -> None:
        if module in stack:
            raise AssertionError("import circle: " + " -> ".join(stack[stack.index(module):] + [module]))
        if module in done:
            return
        stack.append(module)
        for other in sorted(graph[module]):
            visit(other)
        stack.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


def test_analyze_never_imports_a_claim():
    assert not {m for m in imports()["decaylab.analyze"] if m.startswith("decaylab.claims")}


def test_each_claim_is_one_module_with_its_figure_and_tables():
    from decaylab.claims import CLAIMS

    assert [c.key for c in CLAIMS] == ["1_early_decay_dominance", "2_decay_rate", "3_tail_off", "4_init_comparison"]
    assert len({c.draw.__module__ for c in CLAIMS}) == 4
    for claim in CLAIMS:
        assert {claim.draw.__module__, claim.tables.__module__} == {f"decaylab.claims.{claim.figure}"}
