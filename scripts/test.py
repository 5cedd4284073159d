"""Install what the tests need, then run the whole suite: `python scripts/test.py [pytest args]`.

Steps: the package and its test extras, pinned by requirements.lock; Debian's Chromium for the
browser tests if it is missing and this machine can install it (root with apt-get); then pytest.
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


def ensure_chromium() -> None:
    if os.environ.get("ROLECALL_TEST_CHROMIUM") or shutil.which("chromium"):
        return
    if shutil.which("apt-get") and os.geteuid() == 0:
        run("apt-get", "update", "-qq")
        run("apt-get", "install", "-y", "-qq", "chromium")
    else:
        print("! Chromium is missing: the browser tests will fail. Install it with `apt-get install -y chromium`.", flush=True)


def main() -> int:
    run(sys.executable, "-m", "pip", "install", "-q", "-c", "requirements.lock", "-e", ".[test]")
    ensure_chromium()
    return subprocess.run([sys.executable, "-m", "pytest", *sys.argv[1:]], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main())
