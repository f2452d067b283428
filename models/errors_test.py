from models.errors import (
    ApplicationNameTaken,
    ApplicationNotFound,
    ConfigurationNameTaken,
    ConfigurationNotFound,
    Conflict,
    NotFound,
)


def test_errors_say_what_is_wrong_and_of_what_kind():
    cases = [
        (ApplicationNotFound("A1"), NotFound, "Application 'A1' does not exist"),
        (ConfigurationNotFound("C1"), NotFound, "Configuration 'C1' does not exist"),
        (ApplicationNameTaken("pay"), Conflict, "An application named 'pay' already exists"),
        (ConfigurationNameTaken("db"), Conflict, "already has a configuration named 'db'"),
    ]
    for error, kind, text in cases:
        assert isinstance(error, kind)
        assert text in error.detail
        assert str(error) == error.detail


def test_unprintable_input_is_escaped_in_the_detail():
    assert ApplicationNotFound("a\u0000\ud800").detail == "Application 'a\\x00\\ud800' does not exist"
