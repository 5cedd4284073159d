"""Data flows one way: front doors -> services -> providers -> net; crypto and storage below.

Each package may import only the packages listed for it (and itself). See DESIGN.md, "The house".
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rolecall"

# Top-level modules are wiring: app/cli/resources may assemble everything.
WIRING = {"__init__", "app", "cli", "cli_keys", "cli_providers", "resources", "__main__"}
ALLOWED: dict[str, set[str]] = {
    "web": {"web", "services", "providers", "config", "resources", "logs", "__version__"},
    "jobs": {"jobs", "services", "providers", "config", "resources", "storage.queue"},
    "services": {"services", "providers", "crypto", "net", "storage", "config", "logs"},
    "providers": {"providers", "net"},
    "crypto": {"crypto"},
    "net": {"net"},
    "storage": {"storage"},
    "config": set(),
    "logs": {"net.secrets"},  # the secrets of the call in flight, registered by adapters
}


def _our_imports(path: Path) -> set[str]:
    """Names of rolecall modules a file imports, relative to the package ('services.accounts')."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rolecall"):
            base = node.module.removeprefix("rolecall").lstrip(".")
            found.update(base if base else f"{base}.{alias.name}".lstrip(".") for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.removeprefix("rolecall.") for a in node.names if a.name.startswith("rolecall."))
    return {name or "__init__" for name in found}


def _allowed(target: str, rules: set[str]) -> bool:
    return any(target == rule or target.startswith(rule + ".") for rule in rules)


def test_imports_flow_one_way() -> None:
    violations = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).with_suffix("")
        top = relative.parts[0]
        if top in WIRING:
            continue
        rules = ALLOWED.get(top)
        assert rules is not None, f"{relative}: add its package to ALLOWED in this test"
        for target in _our_imports(path):
            if not _allowed(target, rules | {top}):
                violations.append(f"{relative} imports rolecall.{target}")
    assert violations == []


def test_the_checker_sees_violations(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from rolecall.storage.tables import Account\nimport rolecall.services.accounts\n")
    assert _our_imports(bad) == {"storage.tables", "services.accounts"}
    assert not _allowed("storage.tables", ALLOWED["web"])
