-- Call detail records: one row per call, written by the store task (call started, answered,
-- ended) and read by `hotline calls list` and GET /api/v1/calls.
--
-- The same SQL runs on SQLite and PostgreSQL: times are UTC milliseconds since the Unix
-- epoch in BIGINT columns (portable, exact, sortable), floats are DOUBLE PRECISION, and no
-- backend-specific types or functions are used.
CREATE TABLE calls (
    call_id        TEXT PRIMARY KEY,
    tenant         TEXT NOT NULL,
    node_id        TEXT NOT NULL,
    from_number    TEXT NOT NULL,
    to_number      TEXT NOT NULL,
    started_at_ms  BIGINT NOT NULL,
    answered_at_ms BIGINT,
    ended_at_ms    BIGINT,
    duration_s     BIGINT,
    billable_s     BIGINT,
    hangup_cause   TEXT,
    hangup_side    TEXT,
    digits         TEXT NOT NULL DEFAULT '',
    codec          TEXT,
    loss_pct       DOUBLE PRECISION,
    jitter_ms      DOUBLE PRECISION,
    mos            DOUBLE PRECISION,
    recording      TEXT,
    state          TEXT NOT NULL,
    CHECK (state IN ('ringing', 'up', 'ended', 'interrupted')),
    CHECK (hangup_side IS NULL OR hangup_side IN ('caller', 'hotline', 'system'))
);

-- Listing newest first, optionally per tenant or per number.
CREATE INDEX calls_started ON calls (started_at_ms);
CREATE INDEX calls_tenant_started ON calls (tenant, started_at_ms);
CREATE INDEX calls_to_started ON calls (to_number, started_at_ms);
CREATE INDEX calls_from_started ON calls (from_number, started_at_ms);
-- Startup: this node's calls still ringing or up become interrupted.
CREATE INDEX calls_node_state ON calls (node_id, state);

-- Each node's last heartbeat from its store task: after a crash it is the best known end
-- time of the calls the node carried.
CREATE TABLE nodes (
    node_id      TEXT PRIMARY KEY,
    last_seen_ms BIGINT NOT NULL
);
