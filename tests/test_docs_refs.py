"""The repository carries its own design: every citation points at a document inside it.

Code, tests, benchmarks, scripts and docs may cite docs/architecture.md, docs/security.md,
docs/decisions.md and docs/user-guide.md by section name. They may not cite design notes that
live outside the repository, paths above it, or absolute paths of a build machine. A cited
`docs/<name>.md` must exist, and a section quoted right after it must be one of its headings (or
the start of one: "Issue 9" cites "Issue 9: a codebase that checks itself").
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED_DIRS = ("rolecall", "tests", "bench", "scripts", "docs")
SCANNED_FILES = ("README.md",)
TEXT_SUFFIXES = {".py", ".js", ".html", ".css", ".md", ".json", ".toml", ".txt", ".cfg", ".ini", ".sh", ".yml", ".yaml"}

# Names of documents that are not in this repository, and paths that leave it.
OUTSIDE = re.compile(
    r"""
      (?<![\w./-])\.\./                               # a relative path climbing out: ../x (not a/../b)
    | (?<![\w./-])shared/                               # the read-only design folder of the build machine
    | \bDESIGN(?:\.md\b|'s\b|\s+["“])                   # DESIGN.md, DESIGN's …, DESIGN "Section"
    | \bcrypto-security(?:\.md)?\b
    | \bproviders-notes(?:\.md)?\b
    | \baesthetics(?:\.md)?\b
    | \bpeers\.md\b
    | \bproviders\.yaml\b
    | (?<![\w.-])reference/
    | (?<![\w:/.-])/(?:work|home|root|tmp|Users|mnt|srv|opt)/   # absolute paths of a machine
    | (?<!RFC\ \d\d\d\d\ )§\s?\d                       # a numbered section of an outside document
    """,
    re.VERBOSE,
)
# `docs/name.md`, optionally followed by a quoted section name: docs/security.md, "Threat model".
# The section may start on the next line, after a comment marker.
DOC_REF = re.compile(r"""docs/([\w.-]+\.md)(?:,?(?:\s|\#|//|\*)+(?:sections?\s+)?["“]([^"”\n]+)["”])?""")

# Lines whose match is not a citation: test data for URL parsing and path traversal.
ALLOWED_LINES = (
    re.compile(r"""["']https?://[^"']*/\.\./"""),     # a URL with dot segments being normalized
    re.compile(r"""["'](?:\.\./)+[\w?=#.]*["']"""),     # a traversal attempt a test expects to be refused
    re.compile(r"""match\(/\.\./g\)"""),                # a regular expression, not a path
)


def scanned_files() -> list[Path]:
    files = [ROOT / name for name in SCANNED_FILES]
    for directory in SCANNED_DIRS:
        files += [p for p in (ROOT / directory).rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES]
    return sorted(p for p in files if "__pycache__" not in p.parts)


def outside_citations(text: str) -> list[tuple[int, str]]:
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if OUTSIDE.search(line) and not any(allowed.search(line) for allowed in ALLOWED_LINES):
            found.append((number, line.strip()))
    return found


def _headings(doc: Path) -> set[str]:
    return {line.lstrip("#").strip() for line in doc.read_text(encoding="utf-8").splitlines() if line.startswith("#")}


def broken_doc_refs(text: str) -> list[str]:
    found = []
    for match in DOC_REF.finditer(text):
        name, section = match.groups()
        doc = ROOT / "docs" / name
        if not doc.is_file():
            found.append(f"docs/{name} does not exist")
        elif section and not any(heading.startswith(section) for heading in _headings(doc)):
            found.append(f'docs/{name} has no section "{section}"')
    return found


def test_nothing_cites_outside_the_repository() -> None:
    offences = []
    for path in scanned_files():
        if path == Path(__file__).resolve():
            continue  # this file names the forbidden patterns
        for number, line in outside_citations(path.read_text(encoding="utf-8", errors="replace")):
            offences.append(f"{path.relative_to(ROOT)}:{number}: {line[:140]}")
    assert offences == []


def test_cited_docs_and_sections_exist() -> None:
    offences = []
    for path in scanned_files():
        if path == Path(__file__).resolve():
            continue  # this file cites missing documents on purpose, to test the checker
        text = path.read_text(encoding="utf-8")
        offences += [f"{path.relative_to(ROOT)}: {problem}" for problem in broken_doc_refs(text)]
    assert offences == []


def test_the_design_documents_are_here() -> None:
    for name in ("architecture.md", "security.md", "decisions.md", "user-guide.md"):
        assert (ROOT / "docs" / name).is_file(), name


# --- the checker itself -------------------------------------------------------------------------

@pytest.mark.parametrize(
    "line",
    [
        "# Design: /work/shared/reference/crypto-security.md §3.1",
        '"""See DESIGN.md, "The house"."""',
        '# (see DESIGN "Testing a key")',
        "- Error kinds: DESIGN's nine plus billing",
        "// keystore.js: remember this device (crypto-security.md §3.1).",
        "    # providers-notes §2, anecdotal",
        "Facts come from `reference/providers.yaml`.",
        "(aesthetics.md practice 2)",
        "read the notes in ../shared/spec/guide.txt",
        "see ../DESIGN",
        "open('/home/dev/rolecall/keys.txt')",
        "cache at /root/.cache/rolecall",
        "written to /tmp/rolecall-test.log",
        "# the deny list (§4.3)",
        "// guide §3a: pick the privacy mode first",
    ],
)
def test_the_checker_catches_an_outside_citation(line: str) -> None:
    assert outside_citations(line) != []


@pytest.mark.parametrize(
    "line",
    [
        '"""Privacy modes (docs/user-guide.md, "Step 3a — Pick Your Privacy Mode")."""',
        '("https://a.b/x/../v1", "https://a.b/v1"),',
        'conn_for(fake_azure, deployment="../models")',
        "https://api.example.com/v1/models",
        "rolecall/web/static/js/vault.js",
        '"""base64url without padding (RFC 4648 §5)."""',
        '"source": "https://github.com/anthropics/skills/blob/main/skills/claude-api/shared/models.md"',
    ],
)
def test_the_checker_passes_repository_citations(line: str) -> None:
    assert outside_citations(line) == []


def test_the_checker_catches_a_missing_doc_or_section() -> None:
    assert broken_doc_refs("see docs/design.md") == ["docs/design.md does not exist"]
    assert broken_doc_refs('see docs/security.md, "No such section"') == [
        'docs/security.md has no section "No such section"'
    ]
    assert broken_doc_refs('see docs/security.md, "Threat model"') == []
    assert broken_doc_refs('see docs/decisions.md, "Issue 9"') == []
