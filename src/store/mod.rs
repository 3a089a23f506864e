//! CDR store (sqlx). Being written.
