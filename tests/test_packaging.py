"""The package's metadata: one version, written once, and a licence file that matches.

Oracle: setuptools' own reading of ``pyproject.toml`` (what a build would write), and
the licence file's text.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from setuptools.config.pyprojecttoml import read_configuration

import cnnbook

ROOT = Path(__file__).resolve().parents[1]


def test_the_version_is_written_once_and_read_by_the_build() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project, "the version lives in cnnbook.__version__ only"
    assert "version" in project["dynamic"]
    built = read_configuration(ROOT / "pyproject.toml", expand=True)["project"]
    assert built["version"] == cnnbook.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", cnnbook.__version__)


def test_the_licence_file_matches_the_declared_licence() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.splitlines()[0] == "MIT License"
    assert "Permission is hereby granted, free of charge" in text
