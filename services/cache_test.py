from datetime import UTC, datetime

from models.changes import ChangeEvent
from services import cache as cache_module
from services.cache import Representation, RepresentationCache


def rep(version: int = 1, application_id: str = "APP") -> Representation:
    return Representation(
        body=b'{"v": %d}' % version, version=version, etag=f'"{version}"', application_id=application_id
    )


def change(action: str, entity_id: str, application_id: str = "APP") -> ChangeEvent:
    return ChangeEvent(
        seq=1,
        action=action,
        entity_type=action.split(".")[0],
        entity_id=entity_id,
        application_id=application_id,
        name=None,
        version=1,
        occurred_at=datetime.now(UTC),
        actor="a",
    )


def test_a_filled_entry_is_served():
    cache = RepresentationCache()
    assert cache.get(("configuration", "C")) is None
    cache.put(("configuration", "C"), rep(), cache.read_started())
    assert cache.get(("configuration", "C")) == rep()


def test_a_read_that_began_before_a_change_cannot_put_the_old_state_back():
    cache = RepresentationCache()
    began = cache.read_started()  # a reader goes to the database...
    cache.drop(("configuration", "C"))  # ...meanwhile a writer commits and drops the key...
    cache.put(("configuration", "C"), rep(1), began)  # ...and the reader comes back with what it read
    assert cache.get(("configuration", "C")) is None

    cache.put(("configuration", "C"), rep(2), cache.read_started())  # a read that began after the change
    assert cache.get(("configuration", "C")) == rep(2)


def test_a_drop_of_another_key_does_not_refuse_a_fill():
    cache = RepresentationCache()
    began = cache.read_started()
    cache.drop(("configuration", "OTHER"))
    cache.put(("configuration", "C"), rep(), began)
    assert cache.get(("configuration", "C")) == rep()


def test_the_least_recently_used_entry_goes_first():
    cache = RepresentationCache(capacity=2)
    for key in ("A", "B"):
        cache.put(("configuration", key), rep(), cache.read_started())
    cache.get(("configuration", "A"))
    cache.put(("configuration", "C"), rep(), cache.read_started())
    assert (
        cache.get(("configuration", "A")),
        cache.get(("configuration", "B")),
        cache.get(("configuration", "C")),
    ) == (rep(), None, rep())
    assert len(cache) == 2


def test_changes_drop_the_resource_and_its_application():
    cache = RepresentationCache()
    for key in (("configuration", "C"), ("application", "APP"), ("configuration", "OTHER")):
        cache.put(key, rep(), cache.read_started())
    cache.apply(change("configuration.updated", "C"))
    assert (
        cache.get(("configuration", "C")),
        cache.get(("application", "APP")),
        cache.get(("configuration", "OTHER")),
    ) == (None, None, rep())


def test_deleting_an_application_drops_all_of_its_configurations():
    cache = RepresentationCache()
    keys = [("configuration", "C1"), ("configuration", "C2"), ("application", "APP"), ("configuration", "X")]
    for key, owner in zip(keys, ("APP", "APP", "APP", "OTHER"), strict=True):
        cache.put(key, rep(application_id=owner), cache.read_started())
    cache.apply(change("application.deleted", "APP"))
    assert [cache.get(key) is None for key in keys] == [True, True, True, False]


def test_a_read_that_began_before_its_application_was_deleted_cannot_put_a_configuration_back():
    cache = RepresentationCache()
    began = cache.read_started()  # a reader of configuration C goes to the database...
    cache.drop_application("APP")  # ...meanwhile APP is deleted, C with it, and C was not cached...
    cache.put(("configuration", "C"), rep(application_id="APP"), began)  # ...and the reader comes back
    assert cache.get(("configuration", "C")) is None


def test_the_feed_telling_of_a_deleted_application_refuses_its_configurations_too():
    cache = RepresentationCache()
    began = cache.read_started()
    cache.apply(change("application.deleted", "APP"))  # names no configuration
    cache.put(("configuration", "C"), rep(application_id="APP"), began)
    cache.put(("configuration", "D"), rep(application_id="OTHER"), began)
    assert cache.get(("configuration", "C")) is None
    assert cache.get(("configuration", "D")) == rep(application_id="OTHER")


def test_remembered_deletions_are_bounded_with_the_drops(monkeypatch):
    monkeypatch.setattr(cache_module, "DROPPED_KEYS_REMEMBERED", 3)
    cache = RepresentationCache()
    for application_id in ("A", "B"):
        cache.drop_application(application_id)
    assert len(cache._dropped_at) + len(cache._deleted_at) == 0  # two keys and two deletions: forgotten
    began = cache.read_started()
    cache.put(("configuration", "C"), rep(application_id="A"), began)  # a read after it: nothing to fear
    assert cache.get(("configuration", "C")) == rep(application_id="A")


def test_while_suspended_nothing_is_served_or_kept():
    cache = RepresentationCache()
    cache.put(("configuration", "C"), rep(), cache.read_started())
    began = cache.read_started()

    cache.suspend()
    cache.put(("configuration", "D"), rep(), cache.read_started())
    assert (cache.get(("configuration", "C")), cache.get(("configuration", "D"))) == (None, None)

    cache.resume()
    cache.put(("configuration", "C"), rep(1), began)  # a read from before the outage is not trusted
    assert cache.get(("configuration", "C")) is None
    cache.put(("configuration", "C"), rep(2), cache.read_started())
    assert cache.get(("configuration", "C")) == rep(2)


def test_a_cache_of_no_entries_is_never_used():
    cache = RepresentationCache(capacity=0)
    cache.put(("configuration", "C"), rep(), cache.read_started())
    cache.resume()
    cache.put(("configuration", "C"), rep(), cache.read_started())
    assert cache.get(("configuration", "C")) is None


def test_remembered_drops_are_bounded(monkeypatch):
    monkeypatch.setattr(cache_module, "DROPPED_KEYS_REMEMBERED", 3)
    cache = RepresentationCache()
    began = cache.read_started()
    for key in ("A", "B", "C", "D"):
        cache.drop(("configuration", key))
    assert len(cache._dropped_at) == 0  # forgotten at once...
    cache.put(("configuration", "E"), rep(), began)  # ...so every read from before that moment is refused
    assert cache.get(("configuration", "E")) is None


def test_an_applications_update_drops_only_the_application():
    cache = RepresentationCache()
    cache.put(("application", "APP"), rep(), cache.read_started())
    cache.put(("configuration", "C"), rep(), cache.read_started())
    cache.apply(change("application.updated", "APP"))
    assert (cache.get(("application", "APP")), cache.get(("configuration", "C"))) == (None, rep())


def test_keys_of_different_kinds_never_meet():
    cache = RepresentationCache()
    cache.put(("application", "SAME"), rep(), cache.read_started())
    assert cache.get(("configuration", "SAME")) is None


def test_the_response_head_is_ready():
    assert rep(3).headers == [
        (b"content-type", b"application/json"),
        (b"content-length", b"8"),
        (b"etag", b'"3"'),
    ]


def test_a_new_schema_version_drops_everything_even_what_is_being_read():
    cache = RepresentationCache()
    cache.put(("configuration", "C"), rep(), cache.read_started())
    began = cache.read_started()
    cache.apply(change("schema.versioned", "SCHEMA", application_id=None))
    cache.put(("configuration", "D"), rep(), began)
    assert (cache.get(("configuration", "C")), cache.get(("configuration", "D"))) == (None, None)
    cache.put(("configuration", "D"), rep(), cache.read_started())
    assert cache.get(("configuration", "D")) == rep()


def test_a_reveal_drops_nothing():
    cache = RepresentationCache()
    cache.put(("configuration", "C"), rep(), cache.read_started())
    cache.apply(change("configuration.revealed", "C"))
    assert cache.get(("configuration", "C")) == rep()
