//! The sesam server and operator CLI: configuration, wiring, HTTP endpoints and the
//! `sesam serve` / `sesam admin` commands. Rules live in `sesam-domain`, storage in
//! `sesam-store`; this crate only connects them to the outside world.
#![forbid(unsafe_code)]

pub mod admin;
mod admin_import;
pub mod cli;
pub mod config;
pub mod context;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod limits;
pub mod master_key;
pub mod password_pool;
pub mod serve;
pub mod services;
pub mod transport;
