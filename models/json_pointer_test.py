from models.json_pointer import along, at, parts, pointer, set_at

SEALED = {"$secret": "v1:k:AAAA"}


def test_pointers_escape_tilde_and_slash():
    assert pointer([]) == ""
    assert pointer(["pool", "max"]) == "/pool/max"
    assert pointer(["a/b", "c~d", 3]) == "/a~1b/c~0d/3"
    assert parts("/a~1b/c~0d/3") == ["a/b", "c~d", "3"]


def test_a_value_is_found_at_its_pointer_or_not_at_all():
    document = {"a/b": {"~c": SEALED}, "l": [SEALED]}
    assert at(document, "/a~1b/~0c") == (True, SEALED)
    assert at(document, "") == (True, document)
    assert at(document, "/l/1") == (False, None)
    assert at(document, "/l/x") == (False, None)
    assert list(along(document, "/a~1b/missing")) == [document, document["a/b"]]
    set_at(document, "/l/0", 5)
    set_at(document, "/a~1b/~0c", 6)
    assert document == {"a/b": {"~c": 6}, "l": [5]}
