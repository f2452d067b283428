from prometheus_client.parser import text_string_to_metric_families


def samples(client) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_requests_are_counted_by_route_template_method_and_status(client):
    application = client.post("/api/v1/applications", json={"name": "payments"}).json()
    before = samples(client)
    for _ in range(3):
        client.get(f"/api/v1/applications/{application['id']}")
    client.get("/api/v1/applications/01ARZ3NDEKTSV4RRFFQ69G5FAV")
    client.get("/nowhere")

    after = samples(client)

    def delta(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    route = "/api/v1/applications/{application_id}"
    assert delta("configsvc_http_requests_total", method="GET", route=route, status="200") == 3
    assert delta("configsvc_http_requests_total", method="GET", route=route, status="404") == 1
    assert delta("configsvc_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert (
        delta("configsvc_http_request_duration_seconds_count", method="GET", route=route, status="200") == 3
    )


def test_the_data_path_is_measured(client):
    application = client.post("/api/v1/applications", json={"name": "payments"}).json()
    for _ in range(3):
        client.get(f"/api/v1/applications/{application['id']}")

    found = samples(client)
    names = {name for name, _ in found}

    assert {
        "configsvc_db_unit_duration_seconds_count",
        "configsvc_cache_hits_total",
        "configsvc_cache_misses_total",
        "configsvc_change_notification_lag_seconds_count",
        "configsvc_listener_reconnects_total",
        "configsvc_db_pool_connections",
        "configsvc_db_pool_waiting",
    } <= names
    assert found[("configsvc_db_pool_connections", (("state", "max"),))] == 5
    assert found[("configsvc_db_unit_duration_seconds_count", (("kind", "write"),))] >= 1


def test_the_documentation_is_counted_by_route_not_as_unmatched(client):
    pages = ("/docs", "/redoc", "/openapi.json", "/static/swagger-ui/swagger-ui.css")
    before = samples(client)
    for path in pages:
        assert client.get(path).status_code == 200
    after = samples(client)

    def counted(route):
        key = ("configsvc_http_requests_total", (("method", "GET"), ("route", route), ("status", "200")))
        return after.get(key, 0) - before.get(key, 0)

    routes = ("/docs", "/redoc", "/openapi.json", "/static/{path}")
    assert [counted(route) for route in routes] == [1, 1, 1, 1]
    assert counted("unmatched") == 0


def test_no_created_series_are_exposed(client):
    client.get("/health")

    text = client.get("/metrics").text

    assert "_created" not in text
