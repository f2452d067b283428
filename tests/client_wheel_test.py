"""The client as its users get it: a wheel built from client/, installed into a clean
virtualenv of another Python than the suite's own where there is one, with nothing of the
server. It imports, and its command runs."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.server import ROOT

# Building and installing fetches hatchling and the client's dependencies from the index.
STEP_TIMEOUT_S = 600


def run(*command: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=STEP_TIMEOUT_S)
    assert result.returncode == 0, (
        f"{command} exited with {result.returncode}:\n{result.stdout}\n{result.stderr}"
    )
    return result


def other_python() -> str:
    """The system's Python when it differs from the suite's (3.11 beside pipenv's 3.12 here)."""
    system = shutil.which("python3", path="/usr/bin:/usr/local/bin")
    return system or sys.executable


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", out, ROOT / "client")
    (found,) = out.glob("config_service_client-*.whl")
    return found


def test_the_wheel_holds_the_package_and_its_type_marker_but_no_tests(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "config_service_client/py.typed" in names
    assert "config_service_client/client.py" in names
    assert not [name for name in names if name.endswith("_test.py") or name.endswith("conftest.py")]


def test_the_wheel_installs_into_a_clean_virtualenv_and_its_command_runs(wheel, tmp_path):
    venv = tmp_path / "venv"
    run(other_python(), "-m", "venv", venv)
    python, command = venv / "bin" / "python", venv / "bin" / "config-service"
    run(python, "-m", "pip", "install", "--quiet", wheel)
    # Away from the repository, so that nothing of it can be imported by accident.
    imported = run(
        python,
        "-c",
        "import sys, config_service_client as c; from config_service_client import ConfigClient;"
        "assert 'main' not in sys.modules and 'services' not in sys.modules; print(c.__file__)",
        cwd=tmp_path,
    )
    assert str(venv) in imported.stdout
    helped = run(command, "--help", cwd=tmp_path)
    assert "Usage: config-service" in helped.stdout
    for group in ("apps", "get", "set", "edit", "diff", "history", "rollback", "watch", "export", "import"):
        assert group in helped.stdout
