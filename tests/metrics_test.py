"""End to end: metrics of several worker processes, summed."""

import httpx

from config.metrics_test import KNOWN_SERIES, labelled
from tests.server import api_client, running_service, scraped


def request_count(base_url: str, route: str) -> float:
    return scraped(base_url, "configsvc_http_requests_total", route=route)


def test_two_workers_report_one_sum(database_url):
    env = {"DATABASE_URL": database_url, "WEB_CONCURRENCY": "2", "LOG_LEVEL": "warning"}
    with running_service(env) as url, api_client(url) as client:
        app_id = client.post("/api/v1/applications", json={"name": "payments"}).json()["id"]
        for _ in range(40):  # new connections, so both workers get some
            client.get(f"/api/v1/applications/{app_id}", headers={"Connection": "close"})

        route = "/api/v1/applications/{application_id}"
        assert request_count(url, route) == 40
        assert request_count(url, route) == 40  # whichever worker answers the scrape
        # Series never written to are there too, at zero: no stream was opened, nothing evicted.
        exposed = labelled(httpx.get(f"{url}/metrics").content)
        assert exposed == {name: values for name, (_, values) in KNOWN_SERIES.items()}
