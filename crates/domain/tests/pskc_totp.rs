//! From the manufacturer's file to a login: seeds imported from PSKC fixtures produce the
//! RFC 6238 test codes, activate with two consecutive codes and then log in.
// A test fails by panicking: unwrapping is how it reports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sesam_domain::clock::Timestamp;
use sesam_domain::pskc::{PskcContainer, PskcImport, PskcToken};
use sesam_domain::totp::{TotpError, TotpState, TotpVerifier};

/// RFC 6030 section 6.1's pre-shared key.
const RFC_PSK: [u8; 16] = [
    0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56, 0x78, 0x90, 0x12,
];

/// RFC 6238 Appendix B, SHA-1: Unix time and the 8-digit code; a 6-digit display shows the
/// last six digits.
const RFC_6238_SHA1: [(i64, &str); 6] = [
    (59, "94287082"),
    (1_111_111_109, "07081804"),
    (1_111_111_111, "14050471"),
    (1_234_567_890, "89005924"),
    (2_000_000_000, "69279037"),
    (20_000_000_000, "65353130"),
];

fn import(name: &str, key: Option<&[u8; 16]>) -> PskcImport {
    let path = format!("{}/tests/fixtures/pskc/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    PskcContainer::parse(&bytes, key).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn token<'a>(import: &'a PskcImport, serial: &str) -> &'a PskcToken {
    import
        .tokens
        .iter()
        .find(|t| t.serial == serial)
        .unwrap_or_else(|| panic!("no token {serial} in {import:?}"))
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_millis(seconds * 1000)
}

#[test]
fn imported_rfc_6238_seed_produces_the_rfc_codes() {
    let import = import("rfc6238-seed.pskcxml", None);
    let token = token(&import, "RFC6238-SHA1");
    let verifier = TotpVerifier::new(&token.secret);
    for (t, eight) in RFC_6238_SHA1 {
        let six = &eight[2..];
        let m = verifier
            .verify(six, at(t), TotpState::default())
            .unwrap_or_else(|e| panic!("time {t}: {e}"));
        assert_eq!(m.step, u64::try_from(t / 30).unwrap());
    }
}

#[test]
fn plain_and_encrypted_rfc_6030_examples_hold_the_same_seed() {
    let plain = import("rfc6030-figure2-totp.pskcxml", None);
    let encrypted = import("rfc6030-preshared-key-totp.pskcxml", Some(&RFC_PSK));
    let a = token(&plain, "987654321");
    let b = token(&encrypted, "987654321");
    assert_eq!(a.secret, b.secret);
    // Both are RFC 6238's seed, so the code at time 59 is the RFC's.
    let m = TotpVerifier::new(&b.secret)
        .verify("287082", at(59), TotpState::default())
        .unwrap();
    assert_eq!(m.step, 1);
}

#[test]
fn activation_then_login_then_replay() {
    let import = import("encrypted-batch.pskcxml", Some(&RFC_PSK));
    let token = token(&import, "ENC-0002");
    let display = TotpVerifier::new(&token.secret);
    let server = TotpVerifier::new(&token.secret);

    // The token's clock runs 3 steps (90 s) ahead of the server's.
    let now = at(1_700_000_000);
    let token_now = now.plus_seconds(90);
    let code1 = display.code_at(token_now).unwrap();
    let code2 = display.code_at(token_now.plus_seconds(30)).unwrap();
    let activated = server
        .activate_with_two_codes(code1.as_str(), code2.as_str(), now.plus_seconds(30))
        .unwrap();
    assert_eq!(activated.state.drift_steps, 3);

    // Two minutes later the next code logs in through the learnt drift.
    let later = now.plus_seconds(150);
    let code = display.code_at(later.plus_seconds(90)).unwrap();
    let login = server
        .verify(code.as_str(), later, activated.state)
        .unwrap();
    assert_eq!(login.state.drift_steps, 3);
    assert_eq!(
        server.verify(code.as_str(), later, login.state),
        Err(TotpError::Replayed)
    );
    // A code from another token in the same file does not work.
    let other = TotpVerifier::new(&import.tokens[0].secret)
        .code_at(later.plus_seconds(120))
        .unwrap();
    assert!(server.verify(other.as_str(), later, login.state).is_err());
}
