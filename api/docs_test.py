import re
from urllib.parse import urlsplit

import pytest

# src="...", href="...", and url(...) in inline styles: everything a browser would fetch.
_REFERENCES = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\(\s*["']?([^"')]+)""")


def referenced_urls(html: str) -> list[str]:
    return [first or second for first, second in _REFERENCES.findall(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_every_asset_from_the_service(client, page):
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    urls = referenced_urls(response.text)
    assert urls, "the page references no assets"

    for url in urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"{page} fetches {url} from another host"
        asset = client.get(url)
        assert asset.status_code == 200, url
    assert "/openapi.json" in response.text
    assert "fonts.googleapis" not in response.text


def test_swagger_ui_sends_the_document_to_no_validator(client):
    assert '"validatorUrl": null' in client.get("/docs").text


def test_the_vendored_assets_are_served_with_their_types(client):
    script = client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert client.get("/static/swagger-ui/swagger-ui.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/redoc/redoc.standalone.js").status_code == 200


@pytest.mark.parametrize("licence", ["swagger-ui/LICENSE", "swagger-ui/NOTICE", "redoc/LICENSE"])
def test_the_vendored_assets_come_with_their_licences(client, licence):
    assert client.get(f"/static/{licence}").status_code == 200


def test_nothing_outside_the_static_folder_is_served(client):
    assert client.get("/static/../docs.py").status_code == 404
    assert client.get("/static/%2e%2e/docs.py").status_code == 404
