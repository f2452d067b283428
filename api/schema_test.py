import json

from api.schema import OPENAPI_PATH, build_openapi, render
from main import create_app


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
            for status, response in responses.items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], (method, path, status)
    create = schema["paths"]["/api/v1/applications"]["post"]["responses"]["400"]
    assert create["content"]["application/problem+json"]["schema"]["$ref"].endswith("/ValidationProblem")


def test_rendering_is_stable(settings):
    assert render(create_app(settings)) == render(create_app(settings))
