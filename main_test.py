import logging
from concurrent.futures import ThreadPoolExecutor

import pytest

import main
from main import app_from_environment, create_app
from tests.apps import settings_for, sync_client
from tests.postgres import admin_connection


def test_the_app_describes_itself(settings):
    app = create_app(settings)
    assert (app.title, app.version) == ("Config Service", main.VERSION)


def test_startup_applies_migrations_to_an_empty_database(postgres):
    name = postgres.new_database(migrated=False)
    try:
        app = create_app(settings_for(postgres.url(name), migrate_on_start=True))
        with sync_client(app) as client:
            response = client.post("/api/v1/applications", json={"name": "payments"})
        assert response.status_code == 201
    finally:
        postgres.drop(name)


def test_every_response_has_a_request_id_even_errors(client):
    for response in (
        client.get("/nowhere"),
        client.post("/api/v1/applications", content=b"x" * (1024 * 1024 + 1)),
        client.get("/api/v1/applications/unknown"),
    ):
        assert response.headers["x-request-id"], response.status_code
        assert response.headers["content-type"] == "application/problem+json"


def test_docs_are_served(client):
    assert client.get("/docs").status_code == 200
    assert client.get("/openapi.json").json()["info"]["title"] == "Config Service"


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = False


def test_the_factory_reads_the_environment(monkeypatch, database_url, restore_logging, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("LOG_LEVEL", "warning")
    main.get_settings.cache_clear()
    try:
        app = app_from_environment()
    finally:
        main.get_settings.cache_clear()
    assert app.state.settings.database_url == database_url
    assert logging.getLogger().level == logging.WARNING


def test_bad_settings_stop_the_command_with_a_message(monkeypatch, capsys):
    monkeypatch.setenv("DB_MAX_CONNECTIONS", "none")
    assert main.main([]) == 2
    assert "invalid setting DB_MAX_CONNECTIONS" in capsys.readouterr().err


def test_production_without_a_database_stops_the_command_with_one_sentence(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)  # away from any .env of the developer's
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("ENVIRONMENT", "production")

    assert main.main([]) == 2

    assert (
        capsys.readouterr().err == "config-service: DATABASE_URL is required when ENVIRONMENT=production.\n"
    )


def test_production_without_a_key_for_secrets_stops_the_command_with_one_sentence(
    monkeypatch, capsys, tmp_path
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/config")
    monkeypatch.delenv("SECRETS_KEY", raising=False)
    monkeypatch.delenv("SECRETS_KEY_FILE", raising=False)
    monkeypatch.setenv("ENVIRONMENT", "production")

    assert main.main([]) == 2

    error = capsys.readouterr().err
    assert error.startswith(
        "config-service: SECRETS_KEY or SECRETS_KEY_FILE is required when ENVIRONMENT=production"
    )
    assert not (tmp_path / ".data").exists()  # no key was made up on the spot


def service_connections(database_url: str) -> int:
    with admin_connection(database_url) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'config-service'"
        )
        return cursor.fetchone()[0]


def test_a_start_up_that_fails_midway_closes_what_it_had_opened(monkeypatch, database_url):
    async def refuse(self) -> None:
        raise RuntimeError("the listener cannot start")

    monkeypatch.setattr(main.Listener, "start", refuse)
    app = create_app(settings_for(database_url, db_min_connections=2))
    with pytest.raises(RuntimeError, match="listener"), sync_client(app):
        pass
    assert service_connections(database_url) == 0


def test_main_app_is_made_from_the_environment_once_on_first_use(monkeypatch, database_url, restore_logging):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delitem(main.__dict__, "app", raising=False)
    main.get_settings.cache_clear()
    try:
        assert "app" in dir(main)  # how `fastapi run` finds it
        with ThreadPoolExecutor(4) as pool:
            apps = list(pool.map(lambda _: main.app, range(4)))
    finally:
        main.get_settings.cache_clear()
        monkeypatch.delitem(main.__dict__, "app", raising=False)
    assert all(app is apps[0] for app in apps)
    assert apps[0].state.settings.database_url == database_url
