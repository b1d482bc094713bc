"""The locked dependencies: every package pinned with its hashes, the locks covering
pyproject.toml (a stale lock fails `make test` loudly), and the audit's policy (a known
vulnerability fails; no reachable vulnerability service is said, not failed)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _script(name: str) -> ModuleType:
    """A script of requirements/ (a folder of scripts, not a package) as a module."""
    qualified = f"requirements_{name}"
    spec = importlib.util.spec_from_file_location(
        qualified, ROOT / "requirements" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


check_lock = _script("check_lock")
audit = _script("audit")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's pyproject.toml and lock files."""
    (tmp_path / "requirements").mkdir()
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    for lock in ("lock.txt", "dev-lock.txt"):
        shutil.copy(ROOT / "requirements" / lock, tmp_path / "requirements")
    return tmp_path


def _add_dependency(project: Path, requirement: str) -> None:
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(
        text.replace("dependencies = [\n", f'dependencies = [\n    "{requirement}",\n', 1))


def test_the_locks_pin_everything_pyproject_asks_for():
    assert check_lock.problems(ROOT) == []


@pytest.mark.parametrize("lock", ["lock.txt", "dev-lock.txt"])
def test_every_locked_package_is_pinned_to_one_version_with_hashes(lock):
    text = (ROOT / "requirements" / lock).read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    requirements = [block for block in blocks if block.strip() and not block.startswith("#")]
    assert requirements
    unpinned = [block.split()[0] for block in requirements
                if "==" not in block.split()[0] or "--hash=sha256:" not in block]
    assert unpinned == []


def test_a_dependency_missing_from_the_locks_is_reported(project):
    _add_dependency(project, "django-unlocked-example>=1")
    assert check_lock.problems(project) == [
        "django-unlocked-example is not in requirements/lock.txt",
        "django-unlocked-example is not in requirements/dev-lock.txt",
    ]


def test_a_pin_outside_the_range_pyproject_allows_is_reported(project):
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"Django>=5.2,<5.3"', '"Django>=6"'))
    problems = check_lock.problems(project)
    assert len(problems) == 2
    assert all("pins Django==5.2." in problem and ">=6" in problem for problem in problems)


def test_a_stale_lock_fails_the_check_with_what_to_run(project):
    _add_dependency(project, "django-unlocked-example>=1")
    result = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, str(ROOT / "requirements" / "check_lock.py"), str(project)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 1
    assert "Run `make lock`" in result.stderr


def _report(*dependencies: dict) -> audit.Audit:
    return audit.read_report({"dependencies": list(dependencies), "fixes": []})


CLEAN = {"name": "django", "version": "5.2.8", "vulns": []}
VULNERABLE = {"name": "django", "version": "5.2.1", "vulns": [
    {"id": "PYSEC-2025-1", "fix_versions": ["5.2.2"], "aliases": [], "description": "..."}]}
UNKNOWN = {"name": "amqp", "skip_reason": "Dependency not found and could not be audited"}


def test_the_audit_fails_on_a_known_vulnerability():
    status, lines = audit.decide(Path("dev-lock.txt"), [("pypi", _report(VULNERABLE, CLEAN))],
                                 required=False)
    assert status == 1
    assert "  django==5.2.1: PYSEC-2025-1 (fixed in 5.2.2)" in lines


def test_the_audit_passes_when_every_package_is_clean():
    status, lines = audit.decide(Path("dev-lock.txt"), [("pypi", _report(CLEAN, UNKNOWN))],
                                 required=False)
    assert status == 0
    assert "No known vulnerabilities." in lines


def test_the_next_service_decides_when_the_first_answered_for_no_version():
    answers = [("pypi", _report(UNKNOWN)), ("osv", _report(VULNERABLE))]
    assert audit.decide(Path("dev-lock.txt"), answers, required=False)[0] == 1


def test_no_reachable_service_is_said_loudly_without_failing():
    status, lines = audit.decide(Path("dev-lock.txt"), [("pypi", _report(UNKNOWN)), ("osv", None)],
                                 required=False)
    assert status == 0
    assert any("DEPENDENCY AUDIT NOT DONE" in line for line in lines)


def test_no_reachable_service_fails_when_an_audit_is_required():
    status, _ = audit.decide(Path("dev-lock.txt"), [("pypi", None), ("osv", None)], required=True)
    assert status == 1
