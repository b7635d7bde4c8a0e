"""Where code lives is a rule, checked from the source: shared/ never imports the services, the two services never
import each other, and the packages of shared/ depend one way (no package imports one that imports it back)."""

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imports_of(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


def package_of(module: str) -> str:
    """`shared.kpis.judging` → `shared.kpis`; `shared.numbers` → `shared.numbers`."""
    return ".".join(module.split(".")[:2])


def sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def test_shared_never_imports_the_services():
    offenders = [
        f"{module_name(p)} imports {m}" for p in sources("shared") for m in imports_of(p) if m.startswith("services")
    ]
    assert offenders == []


def test_the_api_and_the_worker_never_import_each_other():
    offenders = [
        f"{module_name(p)} imports {m}"
        for folder, other in (("services/api", "services.kpi_engine"), ("services/kpi_engine", "services.api"))
        for p in sources(folder)
        for m in imports_of(p)
        if m.startswith(other)
    ]
    assert offenders == []


def test_the_packages_of_shared_depend_one_way():
    # shared/models.py gathers every table for Alembic; the job catalogue imports job modules by name at run time.
    edges: dict[str, set[str]] = defaultdict(set)
    for path in sources("shared"):
        source = package_of(module_name(path))
        if source == "shared.models":
            continue
        for target in {package_of(m) for m in imports_of(path) if m.startswith("shared.")}:
            if target != source:
                edges[source].add(target)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})) for nxt in edges[start])

    cycles = sorted(f"{a} → {b} → … → {a}" for a in list(edges) for b in edges[a] if reaches(b, a, {b}))
    assert cycles == [], "a package cycle: move the shared part into a package both can import"
