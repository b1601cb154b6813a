"""The constraints file pins every dependency pyproject.toml declares, at an accepted version.

`make constraints` regenerates it from the environment; this catches a dependency added (or a
range moved) without regenerating, which would leave pip to backtrack again.
"""

from __future__ import annotations

import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.fixtures.shared import REPO_ROOT

CONSTRAINTS = REPO_ROOT / "constraints" / "constraints-3.11.txt"


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{CONSTRAINTS.name}: {line!r} is not name==version"
            pins[canonicalize_name(name)] = version
    return pins


def test_every_declared_dependency_is_pinned_at_an_accepted_version() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared += extra
    pins = _pins()
    wrong = []
    for text in declared:
        req = Requirement(text)
        version = pins.get(canonicalize_name(req.name))
        if version is None or not req.specifier.contains(version, prereleases=True):
            wrong.append(f"{text}: pinned {version}")
    assert wrong == [], f"run `make constraints` after installing: {wrong}"


def test_the_constraints_leave_out_the_project_and_the_installers() -> None:
    assert not {"clova-etl", "pip", "setuptools"} & set(_pins())
