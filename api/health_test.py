def test_liveness_needs_nothing(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"]


def test_readiness_reports_the_database_round_trip_and_pool(client):
    body = client.get("/health/db").json()
    assert body["status"] == "ok"
    assert body["round_trip_ms"] > 0
    pool = body["pool"]
    assert set(pool) == {"max_connections", "in_use", "idle", "waiting"}
    assert (pool["max_connections"], pool["waiting"]) == (5, 0)
    # the change feed may be reading at this very moment: count, don't pin
    assert 1 <= pool["in_use"] + pool["idle"] <= 5


def test_readiness_fails_with_503_while_the_database_is_down(client, stoppable_postgres):
    stoppable_postgres.stop()

    response = client.get("/health/db")
    liveness = client.get("/health")

    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert response.json()["type"].endswith(":database-unavailable")
    assert liveness.status_code == 200
