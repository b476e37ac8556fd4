"""constraints.txt pins every package the project installs, within pyproject.toml's ranges."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and re.fullmatch(r"[\w.+!-]+", version), f"not an exact pin: {line!r}"
        found[canonicalize_name(name)] = version
    return found


def test_every_dependency_is_pinned_within_its_range() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    pinned = pins()
    for spec in map(Requirement, wanted):
        name = canonicalize_name(spec.name)
        assert name in pinned, f"{spec.name} is not pinned in constraints.txt"
        assert spec.specifier.contains(pinned[name], prereleases=True), (
            f"{spec.name}=={pinned[name]} is outside pyproject's {spec.specifier}"
        )


def test_every_install_uses_the_pins() -> None:
    makefile = (ROOT / "Makefile").read_text()
    install = re.search(r"^\$\(STAMP\):.*?^\t@touch", makefile, re.M | re.S)
    assert install and "-c constraints.txt" in install.group(0)
    assert "constraints.txt" in install.group(0).splitlines()[0], "a new pin reinstalls"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^COPY .*\bconstraints\.txt\b", dockerfile, re.M)
    assert "'-c', 'constraints.txt'" in dockerfile
    assert "make test" in (ROOT / ".ci" / "run").read_text()
