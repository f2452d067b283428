import os
from decimal import Decimal

import pytest

from models.errors import SecretUnreadable
from models.sealed import MASK, is_sealed
from services.secrets import SecretBox, key_id, opened, sealed, unmasked

A, B = os.urandom(32), os.urandom(32)


def test_a_sealed_value_opens_to_itself_with_its_type():
    box = SecretBox([A])
    for value in ("s3cret", 42, 1.5, True, None, {"user": "u", "pass": ["p"]}, Decimal("1E+400")):
        sealed_value = box.seal(value, "CFG", "/db/password")
        assert is_sealed(sealed_value)
        assert sealed_value["$secret"].startswith(f"v1:{key_id(A)}:")
        assert box.open(sealed_value, "CFG", "/db/password") == value


def test_each_sealing_is_different():
    box = SecretBox([A])
    assert box.seal("x", "CFG", "/p") != box.seal("x", "CFG", "/p")


@pytest.mark.parametrize(("configuration_id", "path"), [("OTHER", "/db/password"), ("CFG", "/db/user")])
def test_a_sealed_value_opens_only_where_it_was_sealed(configuration_id, path):
    box = SecretBox([A])
    sealed_value = box.seal("s3cret", "CFG", "/db/password")
    with pytest.raises(SecretUnreadable):
        box.open(sealed_value, configuration_id, path)


@pytest.mark.parametrize("token", ["v1:zzzz:AAAA", "v2:x:y", "nonsense", "v1:abc:!!!"])
def test_a_damaged_or_foreign_sealing_does_not_open(token):
    with pytest.raises(SecretUnreadable):
        SecretBox([A]).open({"$secret": token}, "CFG", "/p")


def test_the_first_key_seals_and_every_key_opens():
    old = SecretBox([A]).seal("s3cret", "CFG", "/p")
    both = SecretBox([B, A])

    assert both.open(old, "CFG", "/p") == "s3cret"
    assert not both.sealed_with_first_key(old)
    assert both.sealed_with_first_key(both.seal("s3cret", "CFG", "/p"))
    with pytest.raises(SecretUnreadable):
        SecretBox([B]).open(old, "CFG", "/p")


def test_opened_opens_every_sealed_value_and_names_where():
    box = SecretBox([A])
    document = {"a": box.seal(1, "C", "/a"), "b": [{"c": box.seal("x", "C", "/b/0/c")}], "d": 2}
    plain, paths = opened(document, box, "C")
    assert plain == {"a": 1, "b": [{"c": "x"}], "d": 2}
    assert paths == ["/a", "/b/0/c"]
    assert opened({"d": 2}, box, "C") == ({"d": 2}, [])


def test_a_mask_keeps_only_a_stored_secret():
    stored_plain = {"password": "p", "host": "h"}
    sent = {"password": MASK, "host": MASK, "new": MASK}
    assert unmasked(sent, stored_plain, ["/password"]) == {"password": "p", "host": MASK, "new": MASK}


def test_sealing_keeps_an_unchanged_secrets_sealing_and_seals_a_changed_one():
    box = SecretBox([A])
    stored = {"password": box.seal("p", "C", "/password"), "token": box.seal("t", "C", "/token")}

    result = sealed({"password": "p", "token": "t2", "host": "h"}, ["/password", "/token"], box, "C", stored)

    assert result["password"] == stored["password"]
    assert result["token"] != stored["token"] and box.open(result["token"], "C", "/token") == "t2"
    assert result["host"] == "h"


def test_a_secret_object_is_sealed_whole_and_the_root_never():
    box = SecretBox([A])
    result = sealed({"db": {"user": "u", "pass": "p"}}, ["", "/db", "/db/pass"], box, "C", None)
    assert set(result) == {"db"} and is_sealed(result["db"])
    assert box.open(result["db"], "C", "/db") == {"user": "u", "pass": "p"}
