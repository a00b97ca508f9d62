#!/usr/bin/env python3
"""Set up a working RedStar checkout from nothing but Python and pip.

    python3 tools/bootstrap.py          # .venv with every package (CPU torch) + system tools
    python3 tools/bootstrap.py --dev    # the same plus the test tools

Creates ``.venv`` beside this repository's root, installs ``requirements.txt`` (or
``requirements-dev.txt``) into it, and installs bubblewrap (the code sandbox) when it is missing
and we are root. Re-running is cheap: pip is skipped when the requirement files and package
manifests have not changed since the last successful install.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"


def manifest_digest(requirements: Path) -> str:
    h = hashlib.sha256()
    files = [requirements, ROOT / "requirements.txt", *sorted(ROOT.glob("packages/*/pyproject.toml"))]
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def run(cmd: list[str], **kw) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, **kw)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev", action="store_true", help="also install the test tools")
    args = parser.parse_args()

    if sys.version_info < (3, 10):  # noqa: UP036 - bootstrap runs under whatever python3 a machine has
        sys.exit("RedStar needs Python 3.10 or newer")
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    requirements = ROOT / ("requirements-dev.txt" if args.dev else "requirements.txt")
    stamp = VENV / f".redstar-installed-{'dev' if args.dev else 'run'}"
    digest = manifest_digest(requirements)
    if stamp.exists() and stamp.read_text() == digest:
        print(f"{requirements.name}: already installed", flush=True)
    else:
        env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
        run([str(python), "-m", "pip", "install", "-q", "-r", str(requirements)], env=env)
        stamp.write_text(digest)

    if shutil.which("bwrap") is None:
        script = ROOT / "tools" / "install_system_deps.sh"
        if os.geteuid() == 0:
            run(["sh", str(script)])
        else:
            print("warning: bubblewrap (bwrap) is missing, so code verification will refuse to run; "
                  f"install it with `sudo sh {script.relative_to(ROOT)}`", file=sys.stderr)
    print(f"ready: {VENV}/bin/redstar", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
