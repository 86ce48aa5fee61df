//! sesam's application core: the running system's context (`Sesam`) and its services, one
//! use case each. Rules live in `sesam-domain`, storage in `sesam-store`; HTTP, the CLI and
//! templates live in the crates that use this one, so none of their types appear here.
#![forbid(unsafe_code)]

pub mod context;
pub mod error;
pub mod limits;
pub mod master_key;
pub mod password_pool;
pub mod services;

pub use context::Sesam;
pub use error::AppError;

/// The store's own counters (statements, units of work, commits) since the process started.
pub fn store_stats() -> sesam_store::StoreStats {
    sesam_store::stats::snapshot()
}
