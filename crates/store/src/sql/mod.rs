//! The SQL adapter, written once and compiled once per backend: `sqlite/mod.rs` and
//! `postgres/mod.rs` each include this module with their own `db` (the small database API
//! it is written against: sqlx for PostgreSQL, rusqlite behind the same names for SQLite)
//! and `dialect`. Both backends accept `$n` placeholders and the same DML, so only the
//! few statements that really differ (write-transaction start, row locks, migrations)
//! live in `dialect`. This keeps the adapters concrete (no generic trait-bound plumbing)
//! while making it impossible for the two to drift apart.

use super::{db, dialect};

mod activation;
mod audit;
mod auth_requests;
mod bulk;
mod channels;
mod chips;
mod code_displays;
mod devices;
mod effects;
mod grants;
mod identities;
mod meta;
mod oidc;
mod outbox;
mod pairings;
mod passwords;
mod push;
mod rows;
mod self_service;
mod service_providers;
mod signals;
mod signing_keys;
mod store;
mod sweep;

pub use store::SqlStore;
