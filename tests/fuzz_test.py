"""Schemathesis over openapi.json, against the service as users run it: every check, for a
bounded time. A mismatch between what the document promises and what the service does (a
value it allows and the service refuses, or the other way round, a 500, an undocumented
status) fails the test with schemathesis' report and the curl commands that reproduce it.

The budget is small (FUZZ_SECONDS, 75 s by default), to fit CI on two cores; the seed is new
each run, so over many runs the search goes wide. Run it longer by hand with FUZZ_SECONDS.
"""

import os
import subprocess
import sys
from pathlib import Path

from tests.apps import ADMIN_KEY
from tests.server import running_service

CONFIG = Path(__file__).with_name("schemathesis.toml")
BUDGET_S = int(os.environ.get("FUZZ_SECONDS", "75"))


def test_the_service_does_what_its_openapi_document_says(database_url, tmp_path):
    # Long polls held for a second at most (a fuzzer asking ?wait=1e300 must not time out),
    # and the admin key's rate well above what one fuzzer sends.
    env = {
        "DATABASE_URL": database_url,
        "MAX_WAIT_SECONDS": "1",
        "RATE_LIMIT_PER_SECOND": "1000000",
        "LOG_LEVEL": "WARNING",
    }
    with running_service(env) as base_url:
        command = [
            sys.executable,
            "-c",
            "from schemathesis.cli import schemathesis; schemathesis()",
            "--config-file",
            str(CONFIG),
            "run",
            f"{base_url}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            "25",
            "--max-time",
            str(BUDGET_S),
            # One: with two, hypothesis parsing source in both threads at once failed on
            # Python 3.11.7 ("AST constructor recursion depth mismatch"), an error of the
            # tool and not a finding.
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--no-color",
            # As the suite's admin (tests/server.py gives the service this key), so that
            # every operation is reached, not answered 401.
            "--header",
            f"Authorization: Bearer {ADMIN_KEY}",
        ]
        # In a directory of its own: schemathesis keeps its state (.schemathesis/) where it runs.
        run = subprocess.run(command, capture_output=True, text=True, timeout=BUDGET_S + 120, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5_000:]
