import pytest

from repositories import api_keys
from services import key_admin
from services.api_keys import digest


@pytest.fixture
def environment(database_url, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env of a developer's
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("ADMIN_API_KEY", raising=False)
    return database_url


def test_create_prints_the_secret_once_then_list_and_revoke(environment, conn, capsys):
    assert key_admin.main(["create", "rescue", "--scope", "admin"]) == 0
    out, err = capsys.readouterr()
    secret = out.strip()
    assert secret.startswith("cs_") and "shown this once" in err
    row = api_keys.by_secret(conn, digest(secret))
    assert row["name"] == "rescue" and row["scopes"] == ["admin"]

    assert key_admin.main(["list"]) == 0
    listed, _ = capsys.readouterr()
    assert "rescue" in listed and row["prefix"] in listed and secret not in listed

    assert key_admin.main(["revoke", row["id"]]) == 0
    assert api_keys.by_secret(conn, digest(secret)) is None


def test_create_with_scopes_applications_and_expiry(environment, conn, capsys):
    app = "01JD0000000000000000000000"
    code = key_admin.main(
        ["create", "ci", "--scope", "read", "--application", app, "--expires-at", "2099-01-01T00:00:00Z"]
    )
    assert code == 0
    row = api_keys.by_secret(conn, digest(capsys.readouterr().out.strip()))
    assert row["scopes"] == ["read"] and row["application_ids"] == [app]
    assert row["expires_at"].year == 2099


def test_bad_input_is_one_line_and_exit_2(environment, capsys):
    assert key_admin.main(["create", "ci", "--expires-at", "yesterday"]) == 2
    assert "expires_at" in capsys.readouterr().err
    assert key_admin.main(["create", "twice"]) == 0
    assert key_admin.main(["create", "twice"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert key_admin.main(["revoke", "01JD0000000000000000000000"]) == 2
