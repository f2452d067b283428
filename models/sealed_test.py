from models.sealed import MASK, masked, masked_for_diff, sealed_paths

SEALED = {"$secret": "v1:k:AAAA"}
OTHER = {"$secret": "v1:k:BBBB"}


def test_masking_hides_every_sealed_value_and_copies_only_when_it_must():
    document = {"a": SEALED, "b": [{"c": SEALED}], "d": {"$secret": 1, "x": 2}}
    assert masked(document) == {"a": MASK, "b": [{"c": MASK}], "d": {"$secret": 1, "x": 2}}
    assert document["a"] == SEALED
    plain = {"a": 1}
    assert masked(plain) is plain
    assert masked(None) is None


def test_paths_are_json_pointers():
    document = {"a/b": {"~c": SEALED}, "l": [SEALED]}
    assert sorted(sealed_paths(document)) == ["/a~1b/~0c", "/l/0"]


def test_a_diff_sees_that_a_secret_changed_never_what_it_was():
    source, target = masked_for_diff({"p": SEALED, "q": SEALED}, {"p": OTHER, "q": SEALED})
    assert target == {"p": MASK, "q": MASK}
    assert source["q"] == MASK and source["p"] not in (MASK, SEALED, OTHER)
