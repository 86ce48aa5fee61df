//! The `sesam` binary as a library: CLI parsing, configuration and wiring of `sesam serve`
//! and `sesam admin`. The services live in `sesam-core`, the HTTP layer in `sesam-http`.
#![forbid(unsafe_code)]

pub mod admin;
mod admin_import;
pub mod cli;
pub mod config;
pub mod serve;
