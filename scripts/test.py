"""Install what the tests need, then run the whole suite: `python scripts/test.py [pytest args]`.

Steps: the package and its test extras, pinned by requirements.lock; Debian's Chromium (and npm)
for the browser tests if missing and this machine can install them (root with apt-get); axe-core,
pinned in tests/browser/axe.py, fetched with `npm pack` into a local cache; then pytest.
Exits with pytest's status.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*command: str) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)


def ensure_browser_tools() -> None:
    missing = [] if os.environ.get("ROLECALL_TEST_CHROMIUM") or shutil.which("chromium") else ["chromium"]
    missing += [] if shutil.which("npm") else ["npm"]
    if not missing:
        return
    if shutil.which("apt-get") and os.geteuid() == 0:
        run("apt-get", "update", "-qq")
        run("apt-get", "install", "-y", "-qq", *missing)
    else:
        names = " ".join(missing)
        print(f"! Missing {names}: the browser tests will fail. Install with `apt-get install -y {names}`.", flush=True)


def ensure_axe_core() -> None:
    # The accessibility tests inject axe-core from the npm registry (pinned), never from a CDN.
    if shutil.which("npm"):
        run(sys.executable, "tests/browser/axe.py")


def main() -> int:
    run(sys.executable, "-m", "pip", "install", "-q", "-c", "requirements.lock", "-e", ".[test]")
    ensure_browser_tools()
    ensure_axe_core()
    return subprocess.run([sys.executable, "-m", "pytest", *sys.argv[1:]], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main())
