-- Queue statistics (issue 5) survive a restart: every queue event (offered, answered with
-- its wait, abandoned, overflowed, handled with its talk + wrap-up time) is saved as it
-- happens, and today's come back at start, so "today" and the rolling 15 minutes do not
-- restart from zero. Portable SQL as in the first migration: UTC milliseconds in BIGINT.

CREATE TABLE queue_events (
    tenant  TEXT NOT NULL,
    queue   TEXT NOT NULL,
    at_ms   BIGINT NOT NULL,
    -- offered, answered, abandoned, overflowed, handled
    kind    TEXT NOT NULL,
    -- The wait (answered, abandoned) or handle time (handled), seconds; NULL otherwise.
    secs    DOUBLE PRECISION
);

CREATE INDEX queue_events_at ON queue_events (at_ms);
