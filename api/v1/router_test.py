from fastapi import FastAPI

from api.v1.router import include_api_v1


def test_every_resource_is_under_api_v1():
    app = FastAPI()
    include_api_v1(app)
    assert set(app.openapi()["paths"]) == {
        "/api/v1/applications",
        "/api/v1/applications/{application_id}",
        "/api/v1/applications/{application_id}/configurations",
        "/api/v1/applications/{application_id}/flags",
        "/api/v1/applications/{application_id}/flags/evaluate",
        "/api/v1/applications/{application_id}/flags/{key}",
        "/api/v1/applications/{application_id}/flags/{key}/rollback",
        "/api/v1/applications/{application_id}/flags/{key}/versions",
        "/api/v1/applications/{application_id}/flags/{key}/versions/{version}",
        "/api/v1/applications/{application_id}/flags/{key}/diff",
        "/api/v1/applications/{application_id}/ofrep/v1/evaluate/flags",
        "/api/v1/applications/{application_id}/ofrep/v1/evaluate/flags/{key}",
        "/api/v1/configurations",
        "/api/v1/configurations/{configuration_id}",
        "/api/v1/configurations/{configuration_id}/rollback",
        "/api/v1/configurations/{configuration_id}/versions",
        "/api/v1/configurations/{configuration_id}/versions/{version}",
        "/api/v1/configurations/{configuration_id}/diff",
        "/api/v1/configurations/{configuration_id}/validate",
        "/api/v1/schemas",
        "/api/v1/schemas/{name}",
        "/api/v1/schemas/{name}/versions",
        "/api/v1/schemas/{name}/versions/{version}",
        "/api/v1/schemas/{name}/validate",
        "/api/v1/audit-events",
        "/api/v1/api-keys",
        "/api/v1/api-keys/{key_id}",
        "/api/v1/events",
    }
