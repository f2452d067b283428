import os

import psycopg2
import pytest

from models.audit import AuditContext
from models.ids import new_id
from models.sealed import is_sealed
from repositories import applications, configurations, secret_rows
from services.secret_history import seal_everywhere, sealed_at
from services.secrets import SecretBox

BOX = SecretBox([os.urandom(32)])


def test_sealed_at_seals_what_is_plain_and_counts_it():
    document = {"a": "x", "b": BOX.seal("y", "C", "/b"), "c": [1, 2]}
    sealed, count = sealed_at(document, ["/a", "/b", "/c/1", "/missing", ""], BOX, "C")
    assert count == 2
    assert BOX.open(sealed["a"], "C", "/a") == "x" and sealed["b"] == document["b"]
    assert BOX.open(sealed["c"][1], "C", "/c/1") == 2
    assert document["a"] == "x"  # a copy


def test_a_value_sealed_whole_holds_what_was_sealed_inside_it_in_plain():
    inner = BOX.seal("p", "C", "/db/password")
    sealed, _ = sealed_at({"db": {"user": "u", "password": inner}}, ["/db"], BOX, "C")
    assert BOX.open(sealed["db"], "C", "/db") == {"user": "u", "password": "p"}


def test_history_is_sealed_only_by_a_transaction_that_says_so(conn):
    application = applications.insert(conn, id=new_id(), name="app", comments=None)
    configuration_id = new_id()
    fields = {"application_id": application["id"], "name": "c", "comments": None, "config": {"password": "p"}}
    configurations.insert(conn, AuditContext("a"), id=configuration_id, event_id=new_id(), **fields)
    conn.commit()

    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        secret_rows.set_revision(conn, configuration_id, 1, {})
    conn.rollback()
    assert seal_everywhere(conn, BOX, configuration_id, ["/password"]) == 3  # revision, event, itself
    conn.commit()

    [revision] = secret_rows.revisions(conn, configuration_id)
    [event] = secret_rows.events(conn, configuration_id)
    assert is_sealed(revision["config"]["password"]) and is_sealed(event["after"]["config"]["password"])
    assert is_sealed(secret_rows.config(conn, configuration_id)["password"])
    conn.rollback()
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        secret_rows.set_revision(conn, configuration_id, 1, {})  # the permission ended with its transaction
    conn.rollback()
