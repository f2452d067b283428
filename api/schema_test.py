import json

from api.schema import OPENAPI_PATH, build_openapi, render
from main import create_app

PROBLEM = "application/problem+json"


def test_the_committed_openapi_json_matches_the_code(settings):
    served = create_app(settings).openapi()
    committed = json.loads(OPENAPI_PATH.read_text())
    assert served == committed, "openapi.json is stale: run `pipenv run openapi` and commit it"


def test_errors_are_documented_as_problem_json_and_400_not_422(settings):
    schema = build_openapi(create_app(settings))
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" not in responses, (method, path)
            # OFREP's own errors are its JSON bodies; the key's (401, 403, 429) are ours.
            ofrep = "ofrep" in operation["tags"]
            for status, response in responses.items():
                if int(status) >= 400:
                    media = "application/json" if ofrep and status not in ("401", "403", "429") else PROBLEM
                    assert list(response["content"]) == [media], (method, path, status)
    create = schema["paths"]["/api/v1/applications"]["post"]["responses"]["400"]
    assert create["content"]["application/problem+json"]["schema"]["$ref"].endswith("/ValidationProblem")


def test_rendering_is_stable(settings):
    assert render(create_app(settings)) == render(create_app(settings))


def test_writes_document_x_actor_and_single_resources_their_etag(settings):
    paths = build_openapi(create_app(settings))["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            names = [parameter["name"] for parameter in operation.get("parameters", [])]
            reads = method == "get" or path.endswith("/evaluate") or "/ofrep/v1/evaluate/" in path
            assert ("X-Actor" in names) == (not reads), (method, path)
    one = paths["/api/v1/configurations/{configuration_id}"]
    for method, status in (("get", "200"), ("put", "200"), ("patch", "200")):
        assert "ETag" in one[method]["responses"][status]["headers"], method
    assert "ETag" in paths["/api/v1/applications"]["post"]["responses"]["201"]["headers"]
    assert "headers" not in paths["/api/v1/applications"]["get"]["responses"]["200"]
