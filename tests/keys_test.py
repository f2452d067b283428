"""End to end, across processes: a revoked key is refused by every replica at once."""

import time

import httpx

from tests.server import api_client, running_service
from tests.waiting import wait_until

KEYS = "/api/v1/api-keys"
APPLICATIONS = "/api/v1/applications"


def test_a_key_revoked_through_one_process_is_refused_by_another_within_a_second(database_url):
    env = {"DATABASE_URL": database_url}
    with running_service(env) as one, running_service(env) as two, api_client() as admin:
        created = admin.post(f"{one}{KEYS}", json={"name": "ci", "scopes": ["read"]}).json()
        with httpx.Client(headers={"Authorization": f"Bearer {created['key']}"}) as ci:
            # The second process has now read the key once and keeps it in memory.
            assert ci.get(f"{two}{APPLICATIONS}").status_code == 200
            assert ci.get(f"{two}{APPLICATIONS}").status_code == 200

            assert admin.delete(f"{one}{KEYS}/{created['id']}").status_code == 204
            revoked_at = time.monotonic()
            wait_until(lambda: ci.get(f"{two}{APPLICATIONS}").status_code == 401, what="the revocation")
            took = time.monotonic() - revoked_at

    assert took < 1.0, f"the second process took {took:.3f} s to refuse a revoked key"
