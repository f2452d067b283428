"""The Pythons the service supports: stated once in the Pipfile, where `pipenv install` enforces
them, and kept in step with the lock, the README, and the image."""

import json
import platform
import re
import tomllib
from pathlib import Path

from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parent.parent
PIPFILE = tomllib.loads((ROOT / "Pipfile").read_text())
REQUIRED = SpecifierSet(PIPFILE["requires"]["python_version"])
CANDIDATES = ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14")


def supported() -> list[str]:
    return [version for version in CANDIDATES if REQUIRED.contains(version)]


def test_the_pipfile_requires_the_pythons_the_readme_names():
    named = re.search(r"Needs Python (\d+\.\d+) or (\d+\.\d+)", (ROOT / "README.md").read_text())
    assert named is not None
    assert supported() == list(named.groups()) == ["3.11", "3.12"]


def test_pgserver_is_required_everywhere_so_an_unsupported_python_fails_at_install():
    # A marker would skip it quietly on 3.13, and the service would fail later at start-up.
    assert PIPFILE["packages"]["pgserver"] == "*"


def test_the_lock_was_made_from_this_requirement():
    lock = json.loads((ROOT / "Pipfile.lock").read_text())
    assert lock["_meta"]["requires"] == PIPFILE["requires"]
    assert (
        "markers" not in lock["default"]["pgserver"] or "3.13" not in lock["default"]["pgserver"]["markers"]
    )


def test_the_image_and_ruff_target_a_supported_python():
    image = re.search(r"^FROM python:(\d+\.\d+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    ruff = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["target-version"]
    assert image is not None and image.group(1) in supported()
    assert f"{ruff[2]}.{ruff[3:]}" == supported()[0]


def test_the_suite_runs_on_a_supported_python():
    assert REQUIRED.contains(platform.python_version())
