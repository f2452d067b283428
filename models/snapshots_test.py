from models.snapshots import Snapshot


def test_parses_the_text_form():
    assert Snapshot.parse("10:20:12,15") == Snapshot(10, 20, frozenset({12, 15}))
    assert Snapshot.parse("7:7:") == Snapshot(7, 7, frozenset())


def test_a_transaction_has_finished_below_xmin_and_when_not_listed_below_xmax():
    snapshot = Snapshot.parse("10:20:12,15")
    assert snapshot.finished(9)
    assert snapshot.finished(13)
    assert not snapshot.finished(12)
    assert not snapshot.finished(20)  # unfinished, listed or not


def test_everything_below_a_bound_has_finished_only_once_xmin_has_reached_it():
    assert Snapshot.parse("10:20:12,15").finished_below(10)
    assert not Snapshot.parse("10:20:12,15").finished_below(11)
    # Nothing listed, yet 20 and beyond may be in progress: only xmin says otherwise.
    assert not Snapshot.parse("20:20:").finished_below(21)
    assert Snapshot.parse("21:21:").finished_below(21)
    assert Snapshot.parse("10:20:12,15").unfinished_below(15) == [12]


def test_reads_a_real_snapshot(conn):
    with conn.cursor() as cursor:
        cursor.execute("SELECT pg_current_snapshot()::text AS s, pg_current_xact_id()::text::bigint AS mine")
        row = cursor.fetchone()
    snapshot = Snapshot.parse(row["s"])
    # Our own transaction took its id after the snapshot: it has not finished in it.
    assert not snapshot.finished(row["mine"])
