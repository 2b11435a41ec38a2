"""The project's metadata agrees with itself: pyproject.toml's version, CHANGELOG.md and LICENSE."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
CHANGELOG = (ROOT / "CHANGELOG.md").read_text()


def release(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_the_version_is_the_next_release_after_the_last_one_in_the_changelog():
    version = re.fullmatch(r"(\d+\.\d+\.\d+)(\.dev\d+)?", PROJECT["version"])
    assert version, PROJECT["version"]
    released = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", CHANGELOG, re.MULTILINE)
    assert released and released == sorted(released, key=release, reverse=True)  # newest first
    if version[2]:  # in development: newer than every release, and changes are written under Unreleased
        assert release(version[1]) > release(released[0])
        assert "## [Unreleased]" in CHANGELOG.split(f"## [{released[0]}]")[0]
    else:
        assert version[1] == released[0]


def test_the_license_file_is_the_declared_license():
    assert PROJECT["license"] == "Apache-2.0" and PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
