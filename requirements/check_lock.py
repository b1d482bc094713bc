"""Fails loudly when the lock files no longer cover pyproject.toml.

`make test` and `make run` install only what requirements/lock.txt and dev-lock.txt pin, by hash
and without dependencies, then the project itself with `--no-deps`: a dependency added to
pyproject.toml but not locked would be silently missing (or, installed some other way,
unpinned). This compares every requirement of pyproject.toml (the runtime ones against both
locks, the dev extra against dev-lock.txt) with the pinned versions and says what to run.

    python requirements/check_lock.py [project folder]
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)


def pinned(lock: Path) -> dict[str, str]:
    """Package name (canonical) → pinned version, from a lock file."""
    return {canonicalize_name(name): version for name, version in PIN.findall(lock.read_text())}


def problems(project: Path) -> list[str]:
    """What in pyproject.toml the locks do not pin, or pin at a version it does not allow."""
    metadata = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    runtime = metadata.get("dependencies", [])
    dev = metadata.get("optional-dependencies", {}).get("dev", [])
    found = []
    for lock_name, requirements in (("lock.txt", runtime), ("dev-lock.txt", runtime + dev)):
        lock = project / "requirements" / lock_name
        if not lock.exists():
            found.append(f"requirements/{lock_name} is missing")
            continue
        pins = pinned(lock)
        for text in requirements:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate():
                continue
            version = pins.get(canonicalize_name(requirement.name))
            if version is None:
                found.append(f"{requirement.name} is not in requirements/{lock_name}")
            elif not requirement.specifier.contains(version, prereleases=True):
                found.append(f"requirements/{lock_name} pins {requirement.name}=={version}, "
                             f"outside {requirement.specifier}")
    return found


def main() -> int:
    project = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
    found = problems(project)
    if found:
        print("The lock files are stale: pyproject.toml asks for what they do not pin.",
              file=sys.stderr)
        for problem in found:
            print(f"  - {problem}", file=sys.stderr)
        print("Run `make lock` and commit requirements/*.txt.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
