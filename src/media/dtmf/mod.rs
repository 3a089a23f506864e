//! DTMF: RFC 4733 events and in-band detection. Being written.
