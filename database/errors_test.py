from database.errors import DatabaseBusy, DatabaseUnavailable


def test_unavailable_suggests_when_to_retry():
    error = DatabaseUnavailable("down")
    assert (error.detail, error.retry_after_s) == ("down", 5)


def test_busy_is_unavailable_for_a_moment():
    error = DatabaseBusy(2.5)
    assert isinstance(error, DatabaseUnavailable)
    assert error.detail == "All database connections stayed busy for 2.5s"
    assert error.retry_after_s == 1
