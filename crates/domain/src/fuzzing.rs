//! The bodies of the fuzz targets in `fuzz/` (cargo-fuzz, nightly) for the parsers of this
//! crate that read attacker input. They live here, not in `fuzz/`, so that an ordinary
//! test (the server crate's `tests/fuzz_corpus.rs`) replays every committed corpus entry
//! and every minimised crash through exactly the code the fuzzer ran, on stable, in every
//! CI run.
//!
//! Each function takes arbitrary bytes, must never panic, and asserts the invariants the
//! parser promises on the inputs it accepts.

use crate::app_protocol::{self, DevicePinKey, PinKey, SignatureHeaders};
use crate::authorization_details::AuthorizationDetail;
use crate::device::{DeviceName, DevicePublicKey};
use crate::locale::Locale;
use crate::pskc::PskcContainer;
use crate::transaction_text::{MAX_CHARS, TransactionText};

/// A fuzz target: the name of its directory under `fuzz/corpus`, and its body.
pub type Target = (&'static str, fn(&[u8]));

/// Every fuzz target of this crate.
pub const TARGETS: &[Target] = &[
    ("transaction_text", transaction_text),
    ("authorization_details", authorization_details),
    ("pin_proof", pin_proof),
    ("device_key", device_key),
    ("signature_headers", signature_headers),
    ("pskc", pskc),
    ("accept_language", accept_language),
];

/// `TransactionText::parse_bytes`: an accepted text is NFC, at most 130 characters, and
/// parses to itself again.
pub fn transaction_text(data: &[u8]) {
    if let Ok(t) = TransactionText::parse_bytes(data) {
        assert!(t.as_str().chars().count() <= MAX_CHARS);
        assert_eq!(TransactionText::parse(t.as_str()).as_ref(), Ok(&t));
    }
}

/// `AuthorizationDetail::parse`: an accepted detail renders a valid text in both
/// languages and survives its own JSON form unchanged.
pub fn authorization_details(data: &[u8]) {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = AuthorizationDetail::parse(json) {
        for locale in [Locale::Da, Locale::En] {
            assert!(d.text(locale).is_ok(), "accepted, but its words do not fit");
        }
        let again = AuthorizationDetail::parse(&d.to_json().to_string());
        assert_eq!(again.as_ref(), Ok(&d));
    }
}

/// The server key of the protocol's test vector (`docs/protocol.md` §8).
fn vector_pin_key() -> PinKey {
    PinKey::from_material([0x22; 32])
}

/// The device PIN key of the protocol's test vector (`docs/protocol.md` §8).
fn vector_device_key() -> DevicePinKey {
    DevicePinKey::from_bytes([
        0x6b, 0x44, 0x5c, 0x6c, 0xb6, 0x60, 0x3b, 0xe3, 0xf7, 0x54, 0x36, 0x95, 0xa4, 0xbc, 0xd8,
        0xbf, 0xe7, 0x16, 0xe8, 0x99, 0xf2, 0xab, 0x70, 0xe0, 0xea, 0xae, 0x5b, 0xff, 0x1a, 0xcf,
        0xc4, 0x4c,
    ])
}

/// `PinKey::open_enrolment` and `DevicePinKey::open`: the first byte splits the input
/// into a binding and a proof, which is tried as both kinds. An opened enrolment's key
/// also tries to unwrap the proof as a wrapped device key.
pub fn pin_proof(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (binding, proof) = rest.split_at(usize::from(n).min(rest.len()));
    if let Ok((pin, key)) = vector_pin_key().open_enrolment(proof, binding) {
        assert!(pin.as_bytes().iter().all(u8::is_ascii_digit));
        let _ = key.unwrap(proof, binding);
    }
    if let Ok(pin) = vector_device_key().open(proof, binding) {
        assert!(pin.as_bytes().iter().all(u8::is_ascii_digit));
    }
}

/// `DevicePublicKey::from_sec1` and `verify`, and `DeviceName::parse`: the first byte
/// splits the input into a key and a signature; the whole input is also tried as a key
/// and, as text, as a device name.
pub fn device_key(data: &[u8]) {
    if let Ok(k) = DevicePublicKey::from_sec1(data) {
        assert_eq!(DevicePublicKey::from_sec1(&k.to_sec1()).as_ref(), Ok(&k));
    }
    if let Some((&n, rest)) = data.split_first() {
        let (key, signature) = rest.split_at(usize::from(n).min(rest.len()));
        if let Ok(k) = DevicePublicKey::from_sec1(key) {
            let _ = k.verify(b"sesam-fuzz", signature);
        }
    }
    if let Ok(name) = std::str::from_utf8(data)
        && let Ok(n) = DeviceName::parse(name)
    {
        assert!(!n.as_str().is_empty() && n.as_str().chars().count() <= 40);
    }
}

/// `SignatureHeaders::parse`: the input's lines are the device id, timestamp, nonce and
/// signature headers, checked against a fixed clock.
pub fn signature_headers(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let mut next = || lines.next().unwrap_or_default();
    let (device, timestamp, nonce, signature) = (next(), next(), next(), next());
    let now = 1_767_225_600_000;
    if let Ok(h) = SignatureHeaders::parse(device, timestamp, nonce, signature, now) {
        assert!(app_protocol::nonce_is_well_formed(&h.nonce));
        assert!(h.timestamp_ms.abs_diff(now) <= app_protocol::MAX_CLOCK_SKEW_MS.unsigned_abs());
    }
}

/// The pre-shared key of the RFC 6030 examples (the encrypted fixtures use it).
const RFC_PSK: [u8; 16] = [
    0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56, 0x78, 0x90, 0x12,
];

/// `PskcContainer::parse`, with and without the pre-shared key.
pub fn pskc(data: &[u8]) {
    let _ = PskcContainer::parse(data, None);
    let _ = PskcContainer::parse(data, Some(&RFC_PSK));
}

/// `Locale::first_supported` on an `Accept-Language` or `ui_locales` value.
pub fn accept_language(data: &[u8]) {
    if let Ok(v) = std::str::from_utf8(data) {
        let _ = Locale::first_supported(v.split(','));
        let _ = Locale::first_supported(v.split(' '));
    }
}
