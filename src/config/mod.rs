//! Configuration: hotline.toml, sip-profiles/*.toml. Being written.
