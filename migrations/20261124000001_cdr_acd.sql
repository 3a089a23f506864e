-- ACD on the CDR (issue 5): the queue a caller waited in, how long, the agent who took the
-- call, and the agent's wrap-up (disposition and notes, written after the call ends).
-- Columns only added, one per statement (SQLite), so older rows read back as NULL.

ALTER TABLE calls ADD COLUMN queue TEXT;
ALTER TABLE calls ADD COLUMN queue_wait_s BIGINT;
ALTER TABLE calls ADD COLUMN agent TEXT;
ALTER TABLE calls ADD COLUMN disposition TEXT;
ALTER TABLE calls ADD COLUMN notes TEXT;

-- A caller's earlier calls (shown to the agent who takes the next one) use the existing
-- calls_from_started index.
