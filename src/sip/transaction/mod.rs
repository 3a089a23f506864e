//! Sans-IO transaction layer (RFC 3261 §17, RFC 6026). Being written.
