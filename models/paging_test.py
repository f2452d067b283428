from dataclasses import dataclass

from models.paging import Page, PageRequest


@dataclass
class Row:
    id: str


def test_sql_asks_for_one_row_beyond_the_page():
    assert PageRequest(limit=10, offset=5, after="X").sql_params == {"limit": 11, "offset": 5, "after": "X"}


def test_a_page_with_a_row_beyond_the_limit_has_more():
    rows = [Row("a"), Row("b"), Row("c")]
    page = Page.from_rows(rows, PageRequest(limit=2))
    assert page.items == rows[:2]
    assert page.has_more
    assert page.next_after == "b"


def test_the_last_page_has_no_next():
    page = Page.from_rows([Row("a")], PageRequest(limit=2))
    assert page.items == [Row("a")]
    assert not page.has_more
    assert page.next_after is None


def test_pages_may_be_keyed_by_another_attribute():
    @dataclass
    class Version:
        version: int

    page = Page.from_rows([Version(3), Version(2), Version(1)], PageRequest(limit=2), lambda v: v.version)
    assert page.next_after == 2


def test_an_empty_page():
    page = Page.from_rows([], PageRequest())
    assert (page.items, page.has_more, page.next_after) == ([], False, None)
