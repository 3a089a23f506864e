-- Agents (issue 5): the people who take calls, per tenant, and the last state each was in,
-- so a restart puts every agent back where they were instead of losing them.
--
-- Portable SQL as in the first migration: times are UTC milliseconds in BIGINT columns.

CREATE TABLE agents (
    tenant        TEXT NOT NULL,
    login         TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    -- PHC string of an Argon2id hash ($argon2id$v=19$...); never the password itself.
    password_hash TEXT NOT NULL,
    -- Skills with levels 1-10, e.g. "lang:zh=5,dialect:sichuan=4,product:orders=3".
    skills        TEXT NOT NULL DEFAULT '',
    -- The SIP user (a [[users]] entry of a SIP profile) whose registered phone rings for
    -- this agent; NULL for an agent who works only in the browser softphone.
    sip_user      TEXT,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (tenant, login)
);

CREATE TABLE agent_states (
    tenant      TEXT NOT NULL,
    login       TEXT NOT NULL,
    -- logged-out, available, away, ringing, on-call, wrap-up
    state       TEXT NOT NULL,
    -- Away reason code (lunch, training, no-answer...) or wrap-up disposition.
    reason      TEXT,
    since_ms    BIGINT NOT NULL,
    PRIMARY KEY (tenant, login)
);
