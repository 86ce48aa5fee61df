//! The server's integration tests, in one test binary: the helpers are compiled and the
//! binary linked once. `common` runs the real `sesam` binary; `inproc` serves in-process with
//! a clock the test moves, a real SMS gateway sink and the `sesam-app` library as the app;
//! `oidc` adds a browser and the `openidconnect` crate as the relying party.
// Tests may unwrap (a panic is the failure report), and the tests of the real binary wait
// for it against a wall-clock deadline.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;
mod inproc;
mod oidc;

mod activation;
mod activation_user_ids;
mod admin_cli;
mod browser_cookie;
mod catalogue;
mod channels;
mod chips;
mod code_displays;
mod connections;
mod crash;
mod dev_outbox;
mod devices;
mod fuzz_corpus;
mod identity_import;
mod lockout;
mod login_pages;
mod nodes;
mod notifications;
mod oidc_app_login;
mod oidc_ciba;
mod oidc_edges;
mod oidc_flows;
mod oidc_refusals;
mod own_identity;
mod push;
mod rate_limits;
mod request_ids;
mod self_service;
mod serve;
mod webapp;
