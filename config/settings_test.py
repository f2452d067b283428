import pytest

from config.secret_keys import new_key_text
from config.settings import Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in list(Settings.model_fields):
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)  # away from any .env of the developer's


def test_defaults_are_safe_for_development():
    settings = load_settings()
    assert settings.database_url is None
    assert (settings.db_min_connections, settings.db_max_connections) == (1, 10)
    assert settings.max_body_bytes == 1024 * 1024
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.migrate_on_start is True
    assert settings.unknown_fields == "reject"


def test_values_come_from_the_environment_and_a_dotenv_file(monkeypatch, tmp_path):
    (tmp_path / ".env").write_text("DB_MAX_CONNECTIONS=20\nLOG_LEVEL=debug\n")
    monkeypatch.setenv("PORT", "9000")
    monkeypatch.setenv("MIGRATE_ON_START", "false")

    settings = load_settings()

    assert settings.db_max_connections == 20
    assert settings.log_level == "DEBUG"
    assert settings.port == 9000
    assert settings.migrate_on_start is False


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORT", "0"),
        ("PORT", "http"),
        ("DB_MAX_CONNECTIONS", "0"),
        ("DB_STATEMENT_TIMEOUT_MS", "-5"),
        ("MAX_BODY_BYTES", "0"),
        ("LOG_LEVEL", "loud"),
        ("LOG_FORMAT", "xml"),
        ("DATABASE_URL", "mysql://db/x"),
        ("ENVIRONMENT", "staging"),
        ("UNKNOWN_FIELDS", "ignore"),
    ],
)
def test_a_bad_setting_is_refused_by_its_name(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=f"invalid setting {variable}:"):
        load_settings()


def test_minimum_connections_may_not_exceed_the_maximum(monkeypatch):
    monkeypatch.setenv("DB_MIN_CONNECTIONS", "5")
    monkeypatch.setenv("DB_MAX_CONNECTIONS", "2")
    with pytest.raises(SettingsError, match="DB_MIN_CONNECTIONS must not exceed DB_MAX_CONNECTIONS"):
        load_settings()


def test_production_refuses_the_embedded_database(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(SettingsError, match="DATABASE_URL is required"):
        load_settings()
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/config")
    monkeypatch.setenv("SECRETS_KEY", new_key_text())
    assert load_settings().environment == "production"


def test_production_refuses_to_start_without_a_key_for_secrets(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/config")
    with pytest.raises(
        SettingsError, match="SECRETS_KEY or SECRETS_KEY_FILE is required when ENVIRONMENT=production"
    ):
        load_settings()


def test_a_bad_secrets_key_is_named_but_never_shown(monkeypatch):
    monkeypatch.setenv("SECRETS_KEY", "c2hvcnQ=")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "SECRETS_KEY" in str(raised.value) and "c2hvcnQ=" not in str(raised.value)


def test_an_empty_database_url_means_embedded(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "")
    assert load_settings().database_url is None


def test_a_rule_across_settings_reads_as_one_plain_sentence(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value) == "DATABASE_URL is required when ENVIRONMENT=production."


def test_a_field_check_of_ours_reads_without_pydantics_prefix(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://db/x")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value) == "invalid setting DATABASE_URL: must be a postgresql:// URL."


def test_slow_and_many_clients_are_bounded_by_default(monkeypatch):
    settings = load_settings()
    assert (settings.request_read_timeout_s, settings.max_connections) == (30, 10_000)
    assert settings.allowed_hosts == ""  # the local names and HOST only (api/hosts.py)
    monkeypatch.setenv("MAX_CONNECTIONS", "0")
    with pytest.raises(SettingsError, match="invalid setting MAX_CONNECTIONS"):
        load_settings()


def test_the_admin_key_is_a_secret_that_must_fit_a_bearer_header():
    settings = load_settings(_env_file=None, admin_api_key="cs_some-operator-secret")
    assert settings.admin_api_key.get_secret_value() == "cs_some-operator-secret"
    assert "cs_some-operator-secret" not in repr(settings)
    assert load_settings(_env_file=None, admin_api_key="").admin_api_key is None
    with pytest.raises(SettingsError) as refused:
        load_settings(_env_file=None, admin_api_key="two words-secret")
    assert "ADMIN_API_KEY" in str(refused.value) and "two words" not in str(refused.value)


def test_anonymous_scopes_and_cors_origins_are_comma_separated():
    settings = load_settings(
        _env_file=None, anonymous_scopes=" read, write ", cors_origins="https://a, https://b"
    )
    assert settings.anonymous_scope_list == ("read", "write")
    assert settings.cors_origin_list == ("https://a", "https://b")
    assert load_settings(_env_file=None).anonymous_scope_list == ()
    with pytest.raises(SettingsError, match=r"ANONYMOUS_SCOPES.*'root'"):
        load_settings(_env_file=None, anonymous_scopes="read,root")
