//! Digest authentication (RFC 3261 §22, RFC 7616, RFC 8760). Being written.
