"""Data flows one way: front doors -> services -> providers -> net; crypto and storage below.

Every module of the package belongs to a unit (its top-level package, or itself for a top-level
module). A unit may import only the units of ours listed for it in ``OURS`` (and itself), and none
of the libraries listed for it in ``FORBIDDEN_LIBS``. Relative imports are resolved first, so
``from ...storage import tables`` counts the same as ``from rolecall.storage import tables``.
The rules are explained in docs/architecture.md, "Layers and import rules".
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rolecall"

# Leaf modules: they import nothing of ours, so anyone may import them.
LEAVES = {"__init__", "redact"}

OURS: dict[str, set[str]] = {
    # Front doors: parse, authorize, call a service, render. `providers` for registry records the
    # forms are drawn from; `config` for the Settings type.
    "web": {"services", "providers", "config"},
    "jobs": {"services", "storage.queue"},
    # The domain: owns every transaction on domain data and every decryption of a stored key.
    "services": {"providers", "crypto", "net", "storage", "config"},
    "providers": {"net"},
    "crypto": set(),
    "net": set(),
    "storage": set(),
    # Top-level modules.
    "config": set(),
    "logs": {"net.secrets"},  # the secrets of the call in flight, registered by adapters
    "redact": set(),
    "__init__": set(),
    "__main__": {"cli"},
    # Wiring: build Resources and the ASGI app, or run a command; nothing imports them back.
    "app": {"config", "web", "services", "resources"},
    "cli": {"config", "logs", "app", "cli_keys", "cli_providers", "services", "storage", "resources"},
    "cli_keys": {"config", "crypto", "services", "storage"},
    "cli_providers": {"providers"},
    # Opens what a process holds (database, cache, queue, key ring, HTTP client) and registers the
    # jobs on the queue. The Resources type itself lives in services/resources.py, so jobs and
    # routes never import this module back (that was an import cycle through jobs).
    "resources": {"config", "crypto", "net", "services", "storage", "jobs"},
}

_STORAGE_LIBS = {"sqlalchemy", "alembic", "aiosqlite", "asyncpg", "redis", "arq"}
_WEB_LIBS = {"fastapi", "starlette", "jinja2", "uvicorn"}
_IO_LIBS = {
    "logging", "socket", "ssl", "io", "pathlib", "shutil", "tempfile", "subprocess", "asyncio", "anyio",
    "httpx", "httpcore", "aiohttp", "yarl", "urllib", "http",
}
# The outbound transport's own library: every outbound call goes through net's client.
_TRANSPORT_LIBS = {"aiohttp", "yarl"}
FORBIDDEN_LIBS: dict[str, set[str]] = {
    "web": _STORAGE_LIBS | _TRANSPORT_LIBS,
    "jobs": _STORAGE_LIBS | _WEB_LIBS | _TRANSPORT_LIBS,
    "services": _WEB_LIBS | _TRANSPORT_LIBS,
    "providers": _WEB_LIBS | _STORAGE_LIBS | _TRANSPORT_LIBS,
    "net": _WEB_LIBS | _STORAGE_LIBS,
    "storage": _WEB_LIBS,
    "crypto": _WEB_LIBS | _STORAGE_LIBS | _IO_LIBS,
    "config": _WEB_LIBS | _STORAGE_LIBS,
    "logs": _WEB_LIBS | _STORAGE_LIBS,
    "redact": _WEB_LIBS | _STORAGE_LIBS | _IO_LIBS,
}


def imports_of(path: Path, root: Path) -> tuple[set[str], set[str]]:
    """(modules of ours relative to the package, e.g. 'storage.tables'; top-level library names).

    Counts ``import``, ``from`` (absolute and relative, at any depth, including under
    ``TYPE_CHECKING``) and ``importlib.import_module("...")`` with a literal name.
    """
    relative = path.relative_to(root).with_suffix("")
    package = [root.name, *relative.parts[:-1]]  # a module's package; an __init__'s is itself
    ours: set[str] = set()
    libs: set[str] = set()

    def add(dotted: str) -> None:
        head, _, rest = dotted.partition(".")
        if head == root.name:
            ours.add(rest or "__init__")
        else:
            libs.add(head)

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            for alias in node.names:  # `from rolecall import storage` imports the module storage
                submodule = f"{module}.{alias.name}"
                add(submodule if _is_module(root, submodule) else module)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            add(node.args[0].value)
    return ours, libs


def _is_module(root: Path, dotted: str) -> bool:
    parts = dotted.split(".")
    if parts[0] != root.name:
        return False
    path = root.joinpath(*parts[1:])
    return path.is_dir() or path.with_suffix(".py").is_file()


def _allowed(target: str, rules: set[str]) -> bool:
    return any(target == rule or target.startswith(rule + ".") for rule in rules)


def violations(root: Path) -> list[str]:
    """Every import under ``root`` (a package directory) that breaks the rules."""
    found = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        unit = relative.with_suffix("").parts[0]
        if unit not in OURS:
            found.append(f"{relative}: no rule for unit {unit!r}; add it to OURS in tests/test_layering.py")
            continue
        ours, libs = imports_of(path, root)
        for target in sorted(ours):
            if not _allowed(target, OURS[unit] | LEAVES | {unit}):
                found.append(f"{relative} imports {root.name}.{target}")
        for lib in sorted(libs & FORBIDDEN_LIBS.get(unit, set())):
            found.append(f"{relative} imports {lib}")
    return found


def test_imports_flow_one_way() -> None:
    assert violations(PACKAGE) == []


def test_leaves_import_nothing_of_ours() -> None:
    for leaf in LEAVES:
        path = PACKAGE / f"{leaf}.py"
        assert imports_of(path, PACKAGE)[0] == set(), leaf


# --- the checker itself: plant each kind of violation and watch it being caught ----------------

def _plant(tmp_path: Path, where: str, source: str) -> list[str]:
    """A copy of the package's layout (empty modules) with one real file planted in it."""
    root = tmp_path / "rolecall"
    for module in PACKAGE.rglob("*.py"):
        copy = root / module.relative_to(PACKAGE)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.touch()
    file = root / where
    file.write_text(source, encoding="utf-8")
    return violations(root)


PLANTED = [
    # web reaching into storage, in every spelling
    ("web/routes/bad.py", "from ...storage import tables\n", "imports rolecall.storage.tables"),
    ("web/routes/bad.py", "from ...storage.tables import Account\n", "imports rolecall.storage.tables"),
    ("web/bad.py", "from ..storage.tables import Account\n", "imports rolecall.storage.tables"),
    ("web/bad.py", "from .. import storage\n", "imports rolecall.storage"),
    ("web/bad.py", "from rolecall.storage.tables import Account\n", "imports rolecall.storage.tables"),
    ("web/bad.py", "import rolecall.storage.db\n", "imports rolecall.storage.db"),
    ("web/bad.py", "from rolecall import storage\n", "imports rolecall.storage"),
    ("web/bad.py", "import importlib\nimportlib.import_module('rolecall.storage.db')\n", "imports rolecall.storage.db"),
    # SQL in a route or a job
    ("web/routes/bad.py", "from sqlalchemy import select\n", "imports sqlalchemy"),
    ("web/routes/bad.py", "import sqlalchemy.ext.asyncio\n", "imports sqlalchemy"),
    ("jobs/bad.py", "from sqlalchemy import select\n", "imports sqlalchemy"),
    # HTTP framework in a service or below
    ("services/bad.py", "from fastapi import Request\n", "imports fastapi"),
    ("services/bad.py", "from starlette.requests import Request\n", "imports starlette"),
    ("services/bad.py", "import jinja2\n", "imports jinja2"),
    ("providers/bad.py", "from fastapi import HTTPException\n", "imports fastapi"),
    ("storage/bad.py", "from starlette.datastructures import URL\n", "imports starlette"),
    # services reaching up into a front door
    ("services/bad.py", "from ..web.deps import CurrentAccount\n", "imports rolecall.web.deps"),
    ("services/bad.py", "from rolecall.jobs import tasks\n", "imports rolecall.jobs.tasks"),
    # providers knowing settings or the database
    ("providers/bad.py", "from ..config import Settings\n", "imports rolecall.config"),
    ("providers/protocols/bad.py", "from ... import config\n", "imports rolecall.config"),
    ("providers/bad.py", "from rolecall.config import Settings\n", "imports rolecall.config"),
    ("providers/bad.py", "from sqlalchemy import select\n", "imports sqlalchemy"),
    ("providers/bad.py", "from rolecall.services import accounts\n", "imports rolecall.services.accounts"),
    ("providers/bad.py", "from rolecall.crypto import Secret\n", "imports rolecall.crypto"),
    # crypto: nothing of ours but leaves, no I/O
    ("crypto/bad.py", "from ..net import make_client\n", "imports rolecall.net"),
    ("crypto/bad.py", "from rolecall.config import Settings\n", "imports rolecall.config"),
    ("crypto/bad.py", "import logging\n", "imports logging"),
    ("crypto/bad.py", "import httpx\n", "imports httpx"),
    ("crypto/bad.py", "from pathlib import Path\n", "imports pathlib"),
    # the lower layers stay below
    ("net/bad.py", "from rolecall.providers import get\n", "imports rolecall.providers"),
    ("storage/bad.py", "from ..services.errors import NotFound\n", "imports rolecall.services.errors"),
    # jobs and the wiring: no import cycle through a front door
    ("jobs/bad.py", "from rolecall.resources import Resources\n", "imports rolecall.resources"),
    ("jobs/bad.py", "from ..web import deps\n", "imports rolecall.web.deps"),
    ("services/bad.py", "from rolecall import resources\n", "imports rolecall.resources"),
    ("web/bad.py", "from ..app import create_app\n", "imports rolecall.app"),
    ("config.py", "from .storage import db\n", "imports rolecall.storage.db"),
    ("logs.py", "from rolecall.config import Settings\n", "imports rolecall.config"),
    ("redact.py", "from rolecall.crypto import Secret\n", "imports rolecall.crypto"),
    ("cli_providers.py", "from rolecall.storage.db import make_engine\n", "imports rolecall.storage.db"),
    ("newmodule.py", "x = 1\n", "no rule for unit 'newmodule'"),
]


@pytest.mark.parametrize(("where", "source", "expected"), PLANTED, ids=[f"{w}:{s.strip()}" for w, s, _ in PLANTED])
def test_the_checker_catches_a_planted_violation(tmp_path: Path, where: str, source: str, expected: str) -> None:
    found = _plant(tmp_path, where, source)
    assert len(found) == 1 and expected in found[0], found


ALLOWED_PLANTS = [
    ("web/routes/ok.py", "from ...services import accounts\nfrom ..deps import CurrentAccount\n"),
    ("web/ok.py", "from rolecall import __version__\nfrom rolecall.providers import get\n"),
    ("jobs/ok.py", "from rolecall.services.resources import Resources\n"),
    ("services/ok.py", "from ..storage.tables import Account\nfrom sqlalchemy import select\n"),
    ("providers/protocols/ok.py", "from ...net import make_client\nfrom ..types import Connection\n"),
    ("crypto/ok.py", "from rolecall.redact import masked_hint\nfrom .aead import seal\nimport os\n"),
    ("logs.py", "import logging\nfrom .redact import CREDENTIAL_HEADER_NAMES\n"),
]


@pytest.mark.parametrize(("where", "source"), ALLOWED_PLANTS, ids=[w for w, _ in ALLOWED_PLANTS])
def test_the_checker_passes_allowed_imports(tmp_path: Path, where: str, source: str) -> None:
    assert _plant(tmp_path, where, source) == []
