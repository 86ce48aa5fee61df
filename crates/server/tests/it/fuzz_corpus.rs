//! Replays every fuzz target's committed corpus (`fuzz/corpus/<target>`) and every
//! minimised crash (`fuzz/regressions/<target>`) through the function the fuzzer calls, on
//! stable, so a parser that panics again fails an ordinary `cargo test`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// The inputs of `target`: its corpus (which must exist and not be empty) and its crashes.
fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut out = vec![];
    for (dir, required) in [("corpus", true), ("regressions", false)] {
        let d = fuzz.join(dir).join(target);
        match std::fs::read_dir(&d) {
            Ok(entries) => out.extend(entries.map(|e| e.expect("a directory entry").path())),
            Err(e) => assert!(!required, "{}: {e}", d.display()),
        }
    }
    assert!(!out.is_empty(), "fuzz target {target} has no corpus");
    out.sort();
    out
}

/// Runs `f` on every input of `target`; lists every input that panicked.
fn replay(target: &str, f: fn(&[u8])) -> usize {
    let files = inputs(target);
    let panicked: Vec<String> = files
        .iter()
        .filter(|p| match std::fs::read(p) {
            Ok(data) => catch_unwind(AssertUnwindSafe(|| f(&data))).is_err(),
            // A fuzzer running on this corpus replaces files as it goes.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => panic!("{}: {e}", p.display()),
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(panicked.is_empty(), "{target} panicked on {panicked:#?}");
    files.len()
}

/// One replay for the targets of every crate (domain, oidc, server): the server crate
/// sees them all, so one copy of the harness serves them.
#[test]
fn every_corpus_replays_without_panic() {
    for targets in [
        sesam_domain::fuzzing::TARGETS,
        sesam_oidc::fuzzing::TARGETS,
        sesam_http::fuzzing::TARGETS,
    ] {
        for (target, f) in targets {
            assert!(replay(target, *f) > 0);
        }
    }
}

/// The corpus holds a valid assertion, so the fuzzer starts past the signature check.
#[test]
fn the_client_assertion_corpus_reaches_a_valid_assertion() {
    use sesam_oidc::fuzzing::*;
    let valid = inputs("client_assertion").iter().any(|p| {
        let a = String::from_utf8(std::fs::read(p).unwrap()).unwrap_or_default();
        sesam_oidc::private_key_jwt::verify(
            &a,
            ASSERTION_CLIENT,
            assertion_jwks(),
            &[ASSERTION_AUDIENCE],
            ASSERTION_NOW,
        )
        .is_ok()
    });
    assert!(valid);
}

/// The corpus holds a valid access token, so the fuzzer starts past the signature check.
#[test]
fn the_access_token_corpus_reaches_a_valid_token() {
    use sesam_oidc::access_token::{PublishedKey, verify};
    use sesam_oidc::fuzzing::*;
    let keys = [PublishedKey {
        kid: ACCESS_KID,
        public_sec1: access_token_key(),
    }];
    let valid = inputs("access_token").iter().any(|p| {
        let t = String::from_utf8(std::fs::read(p).unwrap()).unwrap_or_default();
        verify(&t, &keys, ACCESS_ISSUER, ACCESS_AUDIENCE, ACCESS_NOW).is_ok()
    });
    assert!(valid);
}
