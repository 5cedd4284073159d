"""axe-core for the accessibility tests, from the npm registry, pinned by version and integrity.

`axe_core_path()` returns a cached `axe.min.js`, fetching it once with `npm pack` (the ordinary
client, no CDN) and checking the tarball's sha512 against the pin. `python scripts/test.py` calls
it before pytest; the session fixture `axe_script` calls it too, so a plain `pytest` run works.
Cache: `$ROLECALL_TEST_CACHE` or `~/.cache/rolecall-tests`.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

AXE_VERSION = "4.14.1"
AXE_INTEGRITY = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="


def cache_dir() -> Path:
    root = os.environ.get("ROLECALL_TEST_CACHE") or Path.home() / ".cache" / "rolecall-tests"
    return Path(root) / f"axe-core-{AXE_VERSION}"


def axe_core_path() -> Path:
    script = cache_dir() / "axe.min.js"
    if script.exists():
        return script
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("The accessibility tests need npm to fetch axe-core: `apt-get install -y npm`.")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([npm, "pack", f"axe-core@{AXE_VERSION}", "--pack-destination", tmp, "--silent"],
                       check=True, stdout=subprocess.DEVNULL)
        (tarball,) = Path(tmp).glob("axe-core-*.tgz")
        digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
        if digest != AXE_INTEGRITY:
            raise RuntimeError(f"axe-core {AXE_VERSION} from npm does not match its pinned integrity ({digest}).")
        with tarfile.open(tarball) as archive:
            member = archive.extractfile("package/axe.min.js")
            assert member is not None
            code = member.read()
    script.parent.mkdir(parents=True, exist_ok=True)
    partial = script.with_suffix(".part")
    partial.write_bytes(code)
    partial.replace(script)
    return script


if __name__ == "__main__":
    print(axe_core_path())
