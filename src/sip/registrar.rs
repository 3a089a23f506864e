//! Registrar for agents' SIP phones (RFC 3261 §10). Being written.
