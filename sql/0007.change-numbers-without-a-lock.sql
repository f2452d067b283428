-- Change numbers come from a sequence. Before, a single counter row handed them out, and each
-- write held that row's lock until it committed: every write in the service committed one at
-- a time, and commits could not be grouped. Now a write takes its number without waiting for
-- any other, so writes to different things never wait for each other.
--
-- Numbers are still unique and increasing, but no longer gapless (a write that rolls back
-- after taking one leaves it unused) nor made visible strictly in order (two writes may
-- commit in the opposite order to their numbers). The change feed (services/change_feed.py)
-- therefore holds a number back until every number below it is committed or known to be
-- unused: a reader who has seen N has still seen everything below N.
-- depends: 0006.api-keys

CREATE SEQUENCE change_seq AS bigint OWNED BY audit_events.seq;
DO $$ BEGIN PERFORM setval('change_seq', last_seq + 1, false) FROM change_sequence; END $$;
DROP TABLE change_sequence;

-- Commits are no longer told by a trigger. A transaction that sends NOTIFY takes a lock,
-- shared by the whole server, from before its commit until the commit is durable, so every
-- notifying write committed one at a time again. The writing process tells of its commits
-- after they are made instead, from a connection of its own (database/notifier.py).
DROP TRIGGER audit_events_notify ON audit_events;
DROP FUNCTION notify_change();
