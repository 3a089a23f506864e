-- IVR flows on the CDR: which flow answered, the caller's path through it, and the
-- voicemail left, if any. Columns only added (never changed), so rows written before this
-- migration read back as flow NULL, ivr_path '', voicemail NULL.
--
-- Portable SQL, as in the first migration: SQLite adds one column per statement and accepts
-- NOT NULL on an added column only with a non-NULL default, so each column is its own
-- statement and ivr_path defaults to ''.

-- The flow (file name without .yaml) that answered the call; NULL for calls no flow
-- answered (before flows existed, or an unknown number).
ALTER TABLE calls ADD COLUMN flow TEXT;

-- The nodes the caller went through with their inputs and outcomes, e.g.
-- hours>greeting>menu[1]>order[12345678#]>lookup(ok)>status>bye
ALTER TABLE calls ADD COLUMN ivr_path TEXT NOT NULL DEFAULT '';

-- Path of the voicemail WAV the caller left, like `recording`.
ALTER TABLE calls ADD COLUMN voicemail TEXT;

-- Listing one flow's calls, newest first.
CREATE INDEX calls_flow_started ON calls (flow, started_at_ms);
