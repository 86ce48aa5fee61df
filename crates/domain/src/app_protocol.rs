//! The app protocol's bytes: what the device signs on every call, and how the app PIN
//! travels to the server. Server and app both use these functions, so the two sides
//! cannot drift apart. `docs/protocol.md` describes them with test vectors.
//!
//! **Device-signed requests.** Every app API call carries the device id, a timestamp, a
//! fresh nonce and an ECDSA P-256 signature over [`request_signing_bytes`]. The server
//! stores only public keys, so nothing in its database can impersonate a device; the
//! timestamp window and the nonce register make a captured request useless.
//!
//! **App PIN proof.** The PIN never travels as a reusable value. The app encrypts it to the
//! server's PIN key (ECIES: ephemeral P-256 ECDH → HKDF-SHA256 → ChaCha20-Poly1305), bound
//! to the one request it authorises (`binding`): a captured proof opens for that request
//! only, and the request is single-use. The server compares a keyed hash of the PIN (key
//! derived from the master key, not in the database), so a database copy does not allow
//! an offline search of the 10^6 PINs; the 3-attempt lockout limits online guessing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hkdf::Hkdf;
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::{PublicKey, SecretKey};
use sha2::{Digest, Sha256};
use thiserror::Error;
use uuid::Uuid;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::random::Random;

pub const HEADER_DEVICE: &str = "sesam-device";
pub const HEADER_TIMESTAMP: &str = "sesam-timestamp";
pub const HEADER_NONCE: &str = "sesam-nonce";
pub const HEADER_SIGNATURE: &str = "sesam-signature";
/// How far a request's timestamp may be from the server's clock.
pub const MAX_CLOCK_SKEW_MS: i64 = 60_000;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    #[error("the app PIN must be exactly 6 digits")]
    PinFormat,
    #[error("the PIN proof is malformed")]
    MalformedPinProof,
    #[error("the PIN proof does not open: it was made for another request or server")]
    PinProofMismatch,
    #[error("malformed base64url: {0}")]
    Base64(&'static str),
}

/// A 6-digit app PIN. Wiped on drop, redacted in `Debug`.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct AppPin([u8; 6]);

impl AppPin {
    pub fn parse(s: &str) -> Result<Self, ProtocolError> {
        let b = s.as_bytes();
        if b.len() != 6 || !b.iter().all(u8::is_ascii_digit) {
            return Err(ProtocolError::PinFormat);
        }
        let mut out = [0u8; 6];
        out.copy_from_slice(b);
        Ok(Self(out))
    }

    pub fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }
}

impl std::fmt::Debug for AppPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppPin(<redacted>)")
    }
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(s: &str, what: &'static str) -> Result<Vec<u8>, ProtocolError> {
    if s.len() > 4096 {
        return Err(ProtocolError::Base64(what));
    }
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| ProtocolError::Base64(what))
}

/// The bytes a device signs for one API call.
///
/// ```text
/// sesam-app-request/v1\n{METHOD}\n{path?query}\n{timestamp ms}\n{nonce}\n{device id}\n{hex sha256(body)}
/// ```
pub fn request_signing_bytes(
    method: &str,
    path_and_query: &str,
    timestamp_ms: i64,
    nonce: &str,
    device_id: Uuid,
    body: &[u8],
) -> Vec<u8> {
    format!(
        "sesam-app-request/v1\n{}\n{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        path_and_query,
        timestamp_ms,
        nonce,
        device_id.hyphenated(),
        hex::encode(Sha256::digest(body)),
    )
    .into_bytes()
}

/// Whether a nonce has the shape the protocol requires: 16–64 base64url characters.
pub fn nonce_is_well_formed(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Why the signature headers of a device-signed request were refused (before any key or
/// database is consulted).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignatureHeaderError {
    #[error("the device id is not a UUID")]
    DeviceId,
    #[error("the timestamp is not a number of milliseconds")]
    Timestamp,
    #[error("the signature is not base64url")]
    Signature,
    #[error("the nonce must be 16 to 64 base64url characters")]
    Nonce,
    #[error("the request's timestamp is more than 60 seconds off; check the device clock")]
    Skew,
}

/// The four signature headers of a device-signed request, read and shape-checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    pub device_id: Uuid,
    pub timestamp_ms: i64,
    pub nonce: String,
    pub signature: Vec<u8>,
}

impl SignatureHeaders {
    /// Reads the header values as sent and checks the timestamp against `now_ms`. Pure, so
    /// the whole header parser can be fuzzed; the timestamp is the sender's number and may
    /// be anything, so the distance is taken without overflow.
    pub fn parse(
        device: &str,
        timestamp: &str,
        nonce: &str,
        signature: &str,
        now_ms: i64,
    ) -> Result<Self, SignatureHeaderError> {
        let device_id: Uuid = device.parse().map_err(|_| SignatureHeaderError::DeviceId)?;
        let timestamp_ms: i64 = timestamp
            .parse()
            .map_err(|_| SignatureHeaderError::Timestamp)?;
        let signature =
            unb64(signature, "signature").map_err(|_| SignatureHeaderError::Signature)?;
        if !nonce_is_well_formed(nonce) {
            return Err(SignatureHeaderError::Nonce);
        }
        if now_ms.abs_diff(timestamp_ms) > MAX_CLOCK_SKEW_MS.unsigned_abs() {
            return Err(SignatureHeaderError::Skew);
        }
        Ok(Self {
            device_id,
            timestamp_ms,
            nonce: nonce.to_owned(),
            signature,
        })
    }
}

/// What a first activation's PIN proof and proof of possession are bound to.
pub fn activation_binding(activation_id: Uuid, device_public_key_sec1: &[u8]) -> Vec<u8> {
    let mut out = b"sesam-activation/v1\n".to_vec();
    out.extend_from_slice(activation_id.hyphenated().to_string().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(hex::encode(device_public_key_sec1).as_bytes());
    out
}

/// What the PIN proof for removing an authenticator from device `acting` is bound to.
/// `target` names it: `app:<device id>`, `code_display:<serial>` or `chip:<chip id>`.
pub fn revoke_binding(target: &str, acting: Uuid) -> Vec<u8> {
    format!("sesam-revoke/v1\n{target}\n{}", acting.hyphenated()).into_bytes()
}

/// What the PIN proof for removing notification channel `channel` is bound to.
pub fn channel_remove_binding(channel: Uuid, acting: Uuid) -> Vec<u8> {
    format!(
        "sesam-channel-remove/v1\n{}\n{}",
        channel.hyphenated(),
        acting.hyphenated()
    )
    .into_bytes()
}

/// What the PIN proof for adding a notification channel is bound to: the kind and the
/// address exactly as sent, so a proof cannot be reused for another address.
pub fn channel_add_binding(kind: &str, address: &str, acting: Uuid) -> Vec<u8> {
    format!(
        "sesam-channel-add/v1\n{kind}:{address}\n{}",
        acting.hyphenated()
    )
    .into_bytes()
}

/// What the PIN proof for confirming notification channel `channel` is bound to.
pub fn channel_confirm_binding(channel: Uuid, acting: Uuid) -> Vec<u8> {
    format!(
        "sesam-channel-confirm/v1\n{}\n{}",
        channel.hyphenated(),
        acting.hyphenated()
    )
    .into_bytes()
}

/// What the PIN proof for a new channel order is bound to: the ids in the new order.
pub fn channel_order_binding(order: &[Uuid], acting: Uuid) -> Vec<u8> {
    let ids: Vec<String> = order.iter().map(|id| id.hyphenated().to_string()).collect();
    format!(
        "sesam-channel-order/v1\n{}\n{}",
        ids.join(","),
        acting.hyphenated()
    )
    .into_bytes()
}

/// What the PIN proof for the every-use choice is bound to (`on` or `off`).
pub fn channel_every_use_binding(enabled: bool, acting: Uuid) -> Vec<u8> {
    format!(
        "sesam-channel-every-use/v1\n{}\n{}",
        if enabled { "on" } else { "off" },
        acting.hyphenated()
    )
    .into_bytes()
}

/// The server's key for PIN proofs (derived from the master key: see `SecretKeys`).
pub struct PinKey(SecretKey);

impl PinKey {
    /// Builds the key from 32 bytes of key material; HKDF output outside the curve order
    /// (probability about 2^-32) is re-hashed until it fits.
    pub fn from_material(material: [u8; 32]) -> Self {
        let mut m = material;
        loop {
            if let Ok(k) = SecretKey::from_slice(&m) {
                m.zeroize();
                return Self(k);
            }
            m = Sha256::digest(m).into();
        }
    }

    pub fn public_sec1(&self) -> Vec<u8> {
        self.0.public_key().to_sec1_point(false).as_bytes().to_vec()
    }

    /// Opens a PIN proof made for `binding`.
    pub fn open(&self, proof: &[u8], binding: &[u8]) -> Result<AppPin, ProtocolError> {
        if proof.len() != 65 + 6 + 16 {
            return Err(ProtocolError::MalformedPinProof);
        }
        let (epk, ct) = proof.split_at(65);
        let ephemeral =
            PublicKey::from_sec1_bytes(epk).map_err(|_| ProtocolError::MalformedPinProof)?;
        let shared = p256::ecdh::diffie_hellman(self.0.to_nonzero_scalar(), ephemeral.as_affine());
        let key = pin_key(shared.raw_secret_bytes(), epk, &self.public_sec1(), binding);
        let pt = ChaCha20Poly1305::new(&key.into())
            .decrypt(
                &Nonce::default(),
                Payload {
                    msg: ct,
                    aad: binding,
                },
            )
            .map_err(|_| ProtocolError::PinProofMismatch)?;
        let s = std::str::from_utf8(&pt).map_err(|_| ProtocolError::PinProofMismatch)?;
        AppPin::parse(s)
    }
}

fn pin_key(shared: &[u8], epk: &[u8], server_pk: &[u8], binding: &[u8]) -> [u8; 32] {
    let mut info = Vec::with_capacity(65 + 65 + 32);
    info.extend_from_slice(epk);
    info.extend_from_slice(server_pk);
    info.extend_from_slice(&Sha256::digest(binding));
    let mut okm = [0u8; 32];
    if Hkdf::<Sha256>::new(Some(b"sesam-pin/v1"), shared)
        .expand(&info, &mut okm)
        .is_err()
    {
        unreachable!("32 bytes is a valid HKDF-SHA256 output length");
    }
    okm
}

/// The app side: encrypts `pin` to the server's PIN key, bound to `binding`.
/// Output: ephemeral public key (65 bytes) ‖ ciphertext and tag (22 bytes).
pub fn seal_pin(
    server_pin_key_sec1: &[u8],
    pin: &AppPin,
    binding: &[u8],
    random: &dyn Random,
) -> Result<Vec<u8>, ProtocolError> {
    let server = PublicKey::from_sec1_bytes(server_pin_key_sec1)
        .map_err(|_| ProtocolError::MalformedPinProof)?;
    let ephemeral = loop {
        let mut m = [0u8; 32];
        random.fill(&mut m);
        if let Ok(k) = SecretKey::from_slice(&m) {
            m.zeroize();
            break k;
        }
    };
    let epk = ephemeral
        .public_key()
        .to_sec1_point(false)
        .as_bytes()
        .to_vec();
    let shared = p256::ecdh::diffie_hellman(ephemeral.to_nonzero_scalar(), server.as_affine());
    let key = pin_key(
        shared.raw_secret_bytes(),
        &epk,
        server_pin_key_sec1,
        binding,
    );
    let ct = ChaCha20Poly1305::new(&key.into())
        .encrypt(
            &Nonce::default(),
            Payload {
                msg: pin.as_bytes(),
                aad: binding,
            },
        )
        .map_err(|_| ProtocolError::MalformedPinProof)?;
    let mut out = epk;
    out.extend_from_slice(&ct);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::testing::SeqRandom;

    fn server() -> PinKey {
        PinKey::from_material([42u8; 32])
    }

    #[test]
    fn pin_round_trip_bound_to_request() {
        let s = server();
        let pin = AppPin::parse("123456").unwrap();
        let proof = seal_pin(&s.public_sec1(), &pin, b"request-1", &SeqRandom::new(1)).unwrap();
        assert_eq!(proof.len(), 87);
        assert_eq!(s.open(&proof, b"request-1").unwrap(), pin);
        assert_eq!(
            s.open(&proof, b"request-2"),
            Err(ProtocolError::PinProofMismatch)
        );
        let other = PinKey::from_material([43u8; 32]);
        assert_eq!(
            other.open(&proof, b"request-1"),
            Err(ProtocolError::PinProofMismatch)
        );
        let mut tampered = proof.clone();
        tampered[70] ^= 1;
        assert_eq!(
            s.open(&tampered, b"request-1"),
            Err(ProtocolError::PinProofMismatch)
        );
        assert_eq!(
            s.open(&proof[..80], b"request-1"),
            Err(ProtocolError::MalformedPinProof)
        );
    }

    #[test]
    fn proofs_of_one_pin_differ_each_time() {
        let s = server();
        let pin = AppPin::parse("000000").unwrap();
        let r = SeqRandom::new(9);
        let a = seal_pin(&s.public_sec1(), &pin, b"x", &r).unwrap();
        let b = seal_pin(&s.public_sec1(), &pin, b"x", &r).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn pins_are_six_digits() {
        for bad in ["12345", "1234567", "12345a", "１２３４５６", ""] {
            assert_eq!(AppPin::parse(bad), Err(ProtocolError::PinFormat), "{bad}");
        }
        assert_eq!(
            format!("{:?}", AppPin::parse("123456").unwrap()),
            "AppPin(<redacted>)"
        );
    }

    /// The channel bindings as docs/protocol.md §3 writes them; each change has its own.
    #[test]
    fn channel_bindings_are_fixed() {
        let device = Uuid::parse_str("01920000-0000-7000-8000-000000000001").unwrap();
        let a = Uuid::parse_str("01920000-0000-7000-8000-0000000000aa").unwrap();
        let b = Uuid::parse_str("01920000-0000-7000-8000-0000000000bb").unwrap();
        let text = |v: Vec<u8>| String::from_utf8(v).unwrap();
        assert_eq!(
            text(channel_add_binding("sms", "+4512345678", device)),
            "sesam-channel-add/v1\nsms:+4512345678\n01920000-0000-7000-8000-000000000001"
        );
        assert_eq!(
            text(channel_confirm_binding(a, device)),
            "sesam-channel-confirm/v1\n01920000-0000-7000-8000-0000000000aa\n01920000-0000-7000-8000-000000000001"
        );
        assert_eq!(
            text(channel_order_binding(&[b, a], device)),
            "sesam-channel-order/v1\n01920000-0000-7000-8000-0000000000bb,01920000-0000-7000-8000-0000000000aa\n01920000-0000-7000-8000-000000000001"
        );
        assert_eq!(
            text(channel_every_use_binding(true, device)),
            "sesam-channel-every-use/v1\non\n01920000-0000-7000-8000-000000000001"
        );
        assert_ne!(
            channel_every_use_binding(true, device),
            channel_every_use_binding(false, device)
        );
    }

    #[test]
    fn signature_headers_are_checked_without_overflow() {
        let now = 1_767_225_600_000;
        let ok = |ts: &str| {
            SignatureHeaders::parse(
                "01920000-0000-7000-8000-000000000001",
                ts,
                "AAAAAAAAAAAAAAAAAAAAAA",
                "AAAA",
                now,
            )
        };
        assert_eq!(ok(&now.to_string()).unwrap().timestamp_ms, now);
        assert!(ok(&(now - MAX_CLOCK_SKEW_MS).to_string()).is_ok());
        assert_eq!(
            ok(&(now + MAX_CLOCK_SKEW_MS + 1).to_string()),
            Err(SignatureHeaderError::Skew)
        );
        // `now - timestamp` overflowed for these (a panic in debug builds, a wrap in release).
        for extreme in [i64::MIN, i64::MIN + 1, i64::MAX] {
            assert_eq!(
                ok(&extreme.to_string()),
                Err(SignatureHeaderError::Skew),
                "{extreme}"
            );
        }
        assert_eq!(ok("1e3"), Err(SignatureHeaderError::Timestamp));
        assert_eq!(
            SignatureHeaders::parse("x", "0", "AAAAAAAAAAAAAAAAAAAAAA", "AAAA", now),
            Err(SignatureHeaderError::DeviceId)
        );
    }

    #[test]
    fn signing_bytes_are_fixed() {
        let b = request_signing_bytes(
            "post",
            "/app/v1/x?a=1",
            1_700_000_000_000,
            "AAAAAAAAAAAAAAAAAAAAAA",
            Uuid::nil(),
            b"{}",
        );
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "sesam-app-request/v1\nPOST\n/app/v1/x?a=1\n1700000000000\nAAAAAAAAAAAAAAAAAAAAAA\n00000000-0000-0000-0000-000000000000\n44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert!(nonce_is_well_formed("AAAAAAAAAAAAAAAAAAAAAA"));
        assert!(!nonce_is_well_formed("short"));
        assert!(!nonce_is_well_formed("AAAAAAAAAAAAAAAAAAAA/A"));
    }
}
