from models.errors import (
    ApplicationNameTaken,
    ApplicationNotFound,
    ConfigurationNameTaken,
    ConfigurationNotFound,
    Conflict,
    NotFound,
    RevisionNotFound,
)


def test_errors_say_what_is_wrong_and_of_what_kind():
    cases = [
        (ApplicationNotFound("A1"), NotFound, 'Application "A1" does not exist'),
        (ConfigurationNotFound("C1"), NotFound, 'Configuration "C1" does not exist'),
        (ApplicationNameTaken("pay"), Conflict, 'An application named "pay" already exists'),
        (ConfigurationNameTaken("db"), Conflict, 'already has a configuration named "db"'),
    ]
    for error, kind, text in cases:
        assert isinstance(error, kind)
        assert text in error.detail
        assert str(error) == error.detail


def test_unprintable_input_is_escaped_in_the_detail():
    assert ApplicationNotFound("a\u0000\ud800").detail == 'Application "a\\u0000\\ud800" does not exist'


def test_names_are_quoted_one_way_whatever_they_contain():
    assert ApplicationNameTaken("it's").detail == 'An application named "it\'s" already exists'
    assert ApplicationNameTaken('say "hi"').detail == 'An application named "say \\"hi\\"" already exists'
    assert ApplicationNameTaken("café").detail == 'An application named "café" already exists'


def test_a_version_is_a_number_and_a_path_segment_is_text():
    assert RevisionNotFound("C1", 3).detail == 'Configuration "C1" has no version 3'
    assert RevisionNotFound("C1", "x").detail == 'Configuration "C1" has no version "x"'
