//! The bodies of the fuzz targets in `fuzz/` (cargo-fuzz, nightly) for the parsers of this
//! crate that read attacker input. They live here so that `tests/fuzz_corpus.rs` replays
//! every committed corpus entry and minimised crash through exactly the code the fuzzer
//! ran, on stable, in every CI run. Each function takes arbitrary bytes and must never
//! panic.

use axum::http::{HeaderMap, HeaderValue, header};
use sesam_domain::authorization::Locale;

use crate::{app_api, pages};
use sesam_core::services::import;

/// A fuzz target: the name of its directory under `fuzz/corpus`, and its body.
pub type Target = (&'static str, fn(&[u8]));

/// Every fuzz target of this crate.
pub const TARGETS: &[Target] = &[
    ("cookies", cookies),
    ("app_api_json", app_api_json),
    ("import_lines", import_lines),
];

/// `pages::cookie` and `pages::locale`: the first line is the `Accept-Language` header,
/// every further line one `Cookie` header.
pub fn cookies(data: &[u8]) {
    let mut headers = HeaderMap::new();
    let mut lines = data.split(|b| *b == b'\n');
    if let Some(v) = lines.next().and_then(|l| HeaderValue::from_bytes(l).ok()) {
        headers.insert(header::ACCEPT_LANGUAGE, v);
    }
    for v in lines.filter_map(|l| HeaderValue::from_bytes(l).ok()) {
        headers.append(header::COOKIE, v);
    }
    for name in [
        pages::SESSION_COOKIE,
        pages::BROWSER_COOKIE,
        pages::LANGUAGE_COOKIE,
        pages::LAST_METHOD_COOKIE,
    ] {
        if let Some(v) = pages::cookie(&headers, name) {
            assert!(!v.is_empty() && v.len() <= 256);
        }
    }
    for requested in [None, Some(Locale::Da), Some(Locale::En)] {
        let _ = pages::locale(&headers, requested);
    }
}

/// `app_api::decode_bodies`: every JSON body type of the app API.
pub fn app_api_json(data: &[u8]) {
    let _ = app_api::decode_bodies(data);
}

/// `import::check_lines`: the import's line reader, JSON and enrolment checks.
pub fn import_lines(data: &[u8]) {
    let _ = import::check_lines(data);
}
