"""Known vulnerabilities in the locked dependencies, with pip-audit: `make audit`, run by CI.

    python requirements/audit.py requirements/dev-lock.txt

pip-audit reads the lock file only (--disable-pip --require-hashes: nothing is installed or
resolved) and asks a vulnerability service about each pinned version: first the package index's
own advisories, then OSV's database. The policy, decided for CI:

- a known vulnerability in any locked package fails (exit 1), listing each with its fix;
- no service answering for the locked versions (a machine without that network; the index
  mirror here answers for packages but not for their versions) is said loudly and does not
  fail, because a build must not go red for a network it does not have; AUDIT_REQUIRED=1
  makes it fail (a release build that must have been audited);
- some packages unknown to the service (answered for the others) are listed, and do not fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

SERVICES = ("pypi", "osv")


@dataclass
class Audit:
    """One service's answer about one lock file."""

    audited: int = 0
    skipped: list[str] = field(default_factory=list)
    vulnerable: list[str] = field(default_factory=list)


def read_report(report: dict) -> Audit:
    """pip-audit's JSON report → what was audited, skipped, and found."""
    audit = Audit()
    for dependency in report.get("dependencies", []):
        if "skip_reason" in dependency:
            audit.skipped.append(dependency["name"])
            continue
        audit.audited += 1
        for vuln in dependency.get("vulns", []):
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            audit.vulnerable.append(
                f"{dependency['name']}=={dependency['version']}: {vuln['id']} (fixed in {fixes})"
            )
    return audit


def pip_audit(lock: Path, service: str) -> Audit | None:
    """The service's answer, or None when pip-audit could not reach it."""
    result = subprocess.run(  # noqa: S603 - our own tool, fixed arguments
        [sys.executable, "-m", "pip_audit", "-r", str(lock), "--require-hashes", "--disable-pip",
         "--vulnerability-service", service, "--format", "json", "--progress-spinner", "off"],
        capture_output=True, text=True, check=False, timeout=600,
    )
    try:
        return read_report(json.loads(result.stdout))
    except ValueError:
        return None


def decide(lock: Path, answers: list[tuple[str, Audit | None]], *, required: bool
           ) -> tuple[int, list[str]]:
    """The exit status and what to print, from each service's answer in order of preference:
    the first service that audited anything decides."""
    for service, audit in answers:
        if audit is None or audit.audited == 0:
            continue
        lines = [f"{lock}: {audit.audited} packages audited ({service})."]
        if audit.skipped:
            lines.append(f"Not known to {service}, so not audited: {', '.join(audit.skipped)}")
        if audit.vulnerable:
            lines += ["KNOWN VULNERABILITIES:", *(f"  {line}" for line in audit.vulnerable),
                      "Raise the range in pyproject.toml, run `make lock UPGRADE=1`, commit."]
            return 1, lines
        lines.append("No known vulnerabilities.")
        return 0, lines
    tried = ", ".join(
        f"{service}: {'unreachable' if audit is None else 'no answer for any version'}"
        for service, audit in answers
    )
    lines = [
        "!" * 78,
        f"DEPENDENCY AUDIT NOT DONE for {lock}: no vulnerability service answered ({tried}).",
        "Nothing was checked. Run `make audit` where one is reachable"
        + ("." if required else "; AUDIT_REQUIRED=1 makes this fail."),
        "!" * 78,
    ]
    return (1 if required else 0), lines


def main(locks: list[str]) -> int:
    required = os.environ.get("AUDIT_REQUIRED", "") not in ("", "0", "false")
    status = 0
    for lock in map(Path, locks):
        answers: list[tuple[str, Audit | None]] = []
        for service in SERVICES:
            audit = pip_audit(lock, service)
            answers.append((service, audit))
            if audit is not None and audit.audited:
                break
        code, lines = decide(lock, answers, required=required)
        print("\n".join(lines), file=sys.stderr if code else sys.stdout)
        status = max(status, code)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
