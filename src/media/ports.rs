//! RTP port allocator. Being written.
