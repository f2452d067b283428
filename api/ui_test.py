from api.ui import CONTENT_SECURITY_POLICY, UI_DIR


def test_the_page_is_served_with_a_policy_that_allows_only_this_origin(client):
    response = client.get("/ui/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert client.get("/ui/app.js").headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_the_page_needs_no_key_and_asks_for_none(client):
    anonymous = client.get("/ui/", headers={"authorization": ""})
    assert anonymous.status_code == 200
    assert client.get("/ui/nope.js").status_code == 404


def test_no_inline_script_no_other_origin_and_under_100_kb():
    files = [path for path in UI_DIR.rglob("*") if path.is_file() and path.suffix in (".html", ".js", ".css")]
    assert files
    for path in files:
        text = path.read_text()
        assert "http://" not in text and "https://" not in text, path  # nothing from a CDN
        assert ".innerHTML" not in text, path  # text is text (components/dom.js)
    index = (UI_DIR / "index.html").read_text()
    assert "<script>" not in index and "<script " in index and 'src="app.js"' in index
    assert sum(path.stat().st_size for path in files) < 100_000
