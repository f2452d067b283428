"""Small builders shared by API tests."""

APPLICATIONS = "/api/v1/applications"
CONFIGURATIONS = "/api/v1/configurations"


def create_application(client, name: str = "payments", **fields) -> dict:
    response = client.post(APPLICATIONS, json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def create_configuration(client, application_id: str, name: str = "database", config=None, **fields) -> dict:
    body = {"application_id": application_id, "name": name, "config": {"a": 1} if config is None else config}
    response = client.post(CONFIGURATIONS, json=body | fields)
    assert response.status_code == 201, response.text
    return response.json()
