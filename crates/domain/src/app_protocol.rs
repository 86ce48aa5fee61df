//! The app protocol's bytes: what the device signs on every call, and how the app PIN
//! travels to the server. Server and app both use these functions, so the two sides
//! cannot drift apart. `docs/protocol.md` describes them with test vectors.
//!
//! **Device-signed requests.** Every app API call carries the device id, a timestamp, a
//! fresh nonce and an ECDSA P-256 signature over [`request_signing_bytes`]. The server
//! stores only public keys, so nothing in its database can impersonate a device; the
//! timestamp window and the nonce register make a captured request useless.
//!
//! **App PIN proof (v2).** The PIN never travels as a reusable value, and every step is
//! computable with a browser's WebCrypto alone (ECDH P-256, HKDF-SHA256, AES-256-GCM).
//! At enrolment (first activation, pairing) the app seals the PIN to the server's PIN key
//! (ephemeral ECDH → HKDF → AES-GCM) and the server answers with the device's own PIN key,
//! wrapped under a key of the same exchange. Every later proof seals the PIN under that
//! device key, bound to the one request it authorises (`binding`), so the server's check
//! is symmetric: it re-derives the device key from the master key and the device id,
//! opens the proof and compares a keyed hash of the PIN (key derived from the master key,
//! not in the database) in constant time. A database copy allows no offline search of
//! the 10^6 PINs; the 3-attempt lockout limits online guessing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::{PublicKey, SecretKey};
use ring::aead;
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
    #[error("the PIN proof does not open: it was made for another request, device or server")]
    PinProofMismatch,
    #[error("the server's PIN key is not a P-256 public key")]
    MalformedServerKey,
    #[error("the wrapped device PIN key does not open: it was made for another enrolment")]
    MalformedDeviceKey,
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

/// What the PIN proof for changing the person's user ID is bound to: the new user ID
/// exactly as sent, so a proof cannot be reused for another ID.
pub fn user_id_change_binding(new_user_id: &str, acting: Uuid) -> Vec<u8> {
    format!("sesam-user-id/v1\n{new_user_id}\n{}", acting.hyphenated()).into_bytes()
}

/// What the PIN proof for "block my ID" is bound to.
pub fn block_binding(acting: Uuid) -> Vec<u8> {
    format!("sesam-block/v1\n{}", acting.hyphenated()).into_bytes()
}

/// Length of an enrolment proof: the ephemeral public key, the sealed PIN and its tag.
pub const ENROLMENT_PROOF_LEN: usize = 65 + PIN_CIPHERTEXT_LEN;
/// Length of a device proof: the random salt, the sealed PIN and its tag.
pub const DEVICE_PROOF_LEN: usize = PROOF_SALT_LEN + PIN_CIPHERTEXT_LEN;
/// Length of the wrapped device PIN key an enrolment answers with.
pub const WRAPPED_DEVICE_KEY_LEN: usize = 12 + 32 + 16;
const PIN_CIPHERTEXT_LEN: usize = 6 + 16;
const PROOF_SALT_LEN: usize = 16;
/// HKDF salt of the enrolment exchange, and the label of device proofs.
const ENROLMENT_SALT: &[u8] = b"sesam-pin/v2";
const DEVICE_PROOF_INFO: &[u8] = b"sesam-pin/v2 proof";

/// The server's static key for enrolment proofs (derived from the master key: see
/// `SecretKeys`). Only first activations and pairings use it: one ECDH each.
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

    /// Opens an enrolment proof made for `binding`: the PIN, and the one-time key that
    /// carries the new device's PIN key back to the app.
    pub fn open_enrolment(
        &self,
        proof: &[u8],
        binding: &[u8],
    ) -> Result<(AppPin, EnrolmentKey), ProtocolError> {
        if proof.len() != ENROLMENT_PROOF_LEN {
            return Err(ProtocolError::MalformedPinProof);
        }
        let (epk, ct) = proof.split_at(65);
        let ephemeral =
            PublicKey::from_sec1_bytes(epk).map_err(|_| ProtocolError::MalformedPinProof)?;
        let shared = p256::ecdh::diffie_hellman(self.0.to_nonzero_scalar(), ephemeral.as_affine());
        let keys =
            EnrolmentKeys::derive(shared.raw_secret_bytes(), epk, &self.public_sec1(), binding);
        let pin = open_pin(&keys.seal, ct, binding)?;
        Ok((pin, EnrolmentKey(keys.wrap)))
    }
}

/// The two keys of one enrolment exchange: one seals the PIN (once, with a zero nonce:
/// the app's ephemeral key is fresh), the other wraps the device PIN key in the answer
/// (under a random nonce: a replayed pairing start is answered again, with another key).
struct EnrolmentKeys {
    seal: [u8; 32],
    wrap: [u8; 32],
}

impl EnrolmentKeys {
    fn derive(shared: &[u8], epk: &[u8], server_pk: &[u8], binding: &[u8]) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(ENROLMENT_SALT), shared);
        let binding_hash = Sha256::digest(binding);
        let expand = |label: &[u8]| {
            let mut okm = [0u8; 32];
            if hk
                .expand_multi_info(&[label, epk, server_pk, &binding_hash], &mut okm)
                .is_err()
            {
                unreachable!("32 bytes is a valid HKDF-SHA256 output length");
            }
            okm
        };
        Self {
            seal: expand(b"seal"),
            wrap: expand(b"wrap"),
        }
    }
}

impl Drop for EnrolmentKeys {
    fn drop(&mut self) {
        self.seal.zeroize();
        self.wrap.zeroize();
    }
}

/// The one-time key an enrolment shares between the app and the server; it carries the
/// device PIN key to the app (wrapped under it, bound to the enrolment's binding).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct EnrolmentKey([u8; 32]);

impl EnrolmentKey {
    /// The server side: the device PIN key as the enrolment's answer carries it, a random
    /// nonce (12 bytes) ‖ ciphertext and tag (48 bytes). The nonce is random because the
    /// same proof may be presented again (a pairing start is not single-use) and would
    /// then be answered with another device's key under the same wrap key.
    pub fn wrap(&self, key: &DevicePinKey, binding: &[u8], random: &dyn Random) -> Vec<u8> {
        let nonce: [u8; 12] = crate::random::random_bytes(random);
        let mut out = Vec::with_capacity(WRAPPED_DEVICE_KEY_LEN);
        out.extend_from_slice(&nonce);
        out.extend(aes_gcm_seal(&self.0, nonce, &key.0, binding));
        out
    }

    /// The app side: the device PIN key from the enrolment's answer.
    pub fn unwrap(&self, wrapped: &[u8], binding: &[u8]) -> Result<DevicePinKey, ProtocolError> {
        if wrapped.len() != WRAPPED_DEVICE_KEY_LEN {
            return Err(ProtocolError::MalformedDeviceKey);
        }
        let (nonce, sealed) = wrapped.split_at(12);
        let nonce: [u8; 12] = nonce
            .try_into()
            .map_err(|_| ProtocolError::MalformedDeviceKey)?;
        let plain = aes_gcm_open(&self.0, nonce, sealed, binding)
            .map_err(|()| ProtocolError::MalformedDeviceKey)?;
        let bytes: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| ProtocolError::MalformedDeviceKey)?;
        Ok(DevicePinKey(bytes))
    }
}

impl std::fmt::Debug for EnrolmentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnrolmentKey(<redacted>)")
    }
}

/// A device's own PIN key (32 bytes), agreed at its enrolment. The server re-derives it
/// from the master key and the device id (nothing stored); the app keeps it (in a
/// browser: imported as a non-extractable HKDF key). Every PIN proof after enrolment is
/// sealed under it, so checking one costs the server a few hashes and one AES-GCM
/// decryption instead of an ECDH.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DevicePinKey([u8; 32]);

impl PartialEq for DevicePinKey {
    fn eq(&self, other: &Self) -> bool {
        crate::secrets::ct_eq(&self.0, &other.0)
    }
}

impl Eq for DevicePinKey {}

impl DevicePinKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw key, for the app to store (as it stores its signing key).
    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The app side: seals `pin` for `binding` under a fresh random salt.
    /// Output: salt (16 bytes) ‖ ciphertext and tag (22 bytes).
    pub fn seal(&self, pin: &AppPin, binding: &[u8], random: &dyn Random) -> Vec<u8> {
        let salt: [u8; PROOF_SALT_LEN] = crate::random::random_bytes(random);
        let mut key = self.proof_key(&salt, binding);
        let ct = aes_gcm_seal(&key, [0; 12], pin.as_bytes(), binding);
        key.zeroize();
        let mut out = Vec::with_capacity(DEVICE_PROOF_LEN);
        out.extend_from_slice(&salt);
        out.extend_from_slice(&ct);
        out
    }

    /// The server side: opens a device proof made for `binding`.
    pub fn open(&self, proof: &[u8], binding: &[u8]) -> Result<AppPin, ProtocolError> {
        if proof.len() != DEVICE_PROOF_LEN {
            return Err(ProtocolError::MalformedPinProof);
        }
        let (salt, ct) = proof.split_at(PROOF_SALT_LEN);
        let mut key = self.proof_key(salt, binding);
        let pin = open_pin(&key, ct, binding);
        key.zeroize();
        pin
    }

    /// The per-proof key: HKDF-SHA256 of the device key, salted with the proof's random
    /// salt, with the binding's hash in the info, so every proof has its own key and a
    /// zero nonce is safe even if a salt repeats.
    fn proof_key(&self, salt: &[u8], binding: &[u8]) -> [u8; 32] {
        let mut okm = [0u8; 32];
        if Hkdf::<Sha256>::new(Some(salt), &self.0)
            .expand_multi_info(&[DEVICE_PROOF_INFO, &Sha256::digest(binding)], &mut okm)
            .is_err()
        {
            unreachable!("32 bytes is a valid HKDF-SHA256 output length");
        }
        okm
    }
}

impl std::fmt::Debug for DevicePinKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DevicePinKey(<redacted>)")
    }
}

/// AES-256-GCM with the binding as associated data (ring's, with AES-NI where there is).
fn aes_gcm_seal(key: &[u8; 32], nonce: [u8; 12], plain: &[u8], aad: &[u8]) -> Vec<u8> {
    let key = aead_key(key);
    let mut buf = plain.to_vec();
    if key
        .seal_in_place_append_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(aad),
            &mut buf,
        )
        .is_err()
    {
        unreachable!("AES-GCM seals any message this short");
    }
    buf
}

fn aes_gcm_open(key: &[u8; 32], nonce: [u8; 12], sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, ()> {
    let key = aead_key(key);
    let mut buf = sealed.to_vec();
    let len = key
        .open_in_place(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(aad),
            &mut buf,
        )
        .map_err(|_| ())?
        .len();
    buf.truncate(len);
    Ok(buf)
}

fn aead_key(key: &[u8; 32]) -> aead::LessSafeKey {
    match aead::UnboundKey::new(&aead::AES_256_GCM, key) {
        Ok(k) => aead::LessSafeKey::new(k),
        Err(_) => unreachable!("32 bytes is an AES-256 key"),
    }
}

/// Opens a sealed PIN; anything but 6 ASCII digits under a valid tag is a mismatch.
fn open_pin(key: &[u8; 32], ct: &[u8], binding: &[u8]) -> Result<AppPin, ProtocolError> {
    let mut pt =
        aes_gcm_open(key, [0; 12], ct, binding).map_err(|()| ProtocolError::PinProofMismatch)?;
    let pin = std::str::from_utf8(&pt)
        .map_err(|_| ProtocolError::PinProofMismatch)
        .and_then(|s| AppPin::parse(s).map_err(|_| ProtocolError::PinProofMismatch));
    pt.zeroize();
    pin
}

/// The app side of an enrolment (first activation, pairing): seals `pin` to the server's
/// PIN key, bound to `binding`. Returns the proof — ephemeral public key (65 bytes) ‖
/// ciphertext and tag (22 bytes) — and the one-time key that opens the answer's wrapped
/// device PIN key.
pub fn seal_enrolment_pin(
    server_pin_key_sec1: &[u8],
    pin: &AppPin,
    binding: &[u8],
    random: &dyn Random,
) -> Result<(Vec<u8>, EnrolmentKey), ProtocolError> {
    let server = PublicKey::from_sec1_bytes(server_pin_key_sec1)
        .map_err(|_| ProtocolError::MalformedServerKey)?;
    let server_sec1 = server.to_sec1_point(false).as_bytes().to_vec();
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
    let keys = EnrolmentKeys::derive(shared.raw_secret_bytes(), &epk, &server_sec1, binding);
    let ct = aes_gcm_seal(&keys.seal, [0; 12], pin.as_bytes(), binding);
    let mut out = epk;
    out.extend_from_slice(&ct);
    Ok((out, EnrolmentKey(keys.wrap)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::testing::SeqRandom;

    fn server() -> PinKey {
        PinKey::from_material([42u8; 32])
    }

    fn device_key(byte: u8) -> DevicePinKey {
        DevicePinKey::from_bytes([byte; 32])
    }

    #[test]
    fn enrolment_round_trip_bound_to_binding_and_server() {
        let s = server();
        let pin = AppPin::parse("123456").unwrap();
        let (proof, app_key) =
            seal_enrolment_pin(&s.public_sec1(), &pin, b"enrol-1", &SeqRandom::new(1)).unwrap();
        assert_eq!(proof.len(), ENROLMENT_PROOF_LEN);
        let (opened, server_key) = s.open_enrolment(&proof, b"enrol-1").unwrap();
        assert_eq!(opened, pin);
        // The server's answer opens with the app's enrolment key, for that binding only.
        let device = device_key(7);
        let wrapped = server_key.wrap(&device, b"enrol-1", &SeqRandom::new(3));
        assert_eq!(wrapped.len(), WRAPPED_DEVICE_KEY_LEN);
        // Answered again (a replayed start), the same key is wrapped under another nonce.
        let again = server_key.wrap(&device, b"enrol-1", &SeqRandom::new(4));
        assert_ne!(again[..12], wrapped[..12]);
        assert_eq!(app_key.unwrap(&again, b"enrol-1").unwrap(), device);
        assert_eq!(app_key.unwrap(&wrapped, b"enrol-1").unwrap(), device);
        assert_eq!(
            app_key.unwrap(&wrapped, b"enrol-2"),
            Err(ProtocolError::MalformedDeviceKey)
        );
        assert_eq!(
            app_key.unwrap(&wrapped[..40], b"enrol-1"),
            Err(ProtocolError::MalformedDeviceKey)
        );
        assert!(matches!(
            s.open_enrolment(&proof, b"enrol-2"),
            Err(ProtocolError::PinProofMismatch)
        ));
        let other = PinKey::from_material([43u8; 32]);
        assert!(matches!(
            other.open_enrolment(&proof, b"enrol-1"),
            Err(ProtocolError::PinProofMismatch)
        ));
        let mut tampered = proof.clone();
        tampered[70] ^= 1;
        assert!(matches!(
            s.open_enrolment(&tampered, b"enrol-1"),
            Err(ProtocolError::PinProofMismatch)
        ));
        assert!(matches!(
            s.open_enrolment(&proof[..80], b"enrol-1"),
            Err(ProtocolError::MalformedPinProof)
        ));
        // A device proof is not an enrolment proof.
        let device_proof = device.seal(&pin, b"enrol-1", &SeqRandom::new(2));
        assert!(matches!(
            s.open_enrolment(&device_proof, b"enrol-1"),
            Err(ProtocolError::MalformedPinProof)
        ));
        assert_eq!(
            seal_enrolment_pin(b"not a key", &pin, b"x", &SeqRandom::new(1)).err(),
            Some(ProtocolError::MalformedServerKey)
        );
    }

    #[test]
    fn device_proof_round_trip_bound_to_binding_and_device() {
        let key = device_key(7);
        let pin = AppPin::parse("123456").unwrap();
        let proof = key.seal(&pin, b"request-1", &SeqRandom::new(1));
        assert_eq!(proof.len(), DEVICE_PROOF_LEN);
        assert_eq!(key.open(&proof, b"request-1").unwrap(), pin);
        // Replayed for another action, or presented for another device: it does not open.
        assert_eq!(
            key.open(&proof, b"request-2"),
            Err(ProtocolError::PinProofMismatch)
        );
        assert_eq!(
            device_key(8).open(&proof, b"request-1"),
            Err(ProtocolError::PinProofMismatch)
        );
        for at in [0, 15, 16, 21, 37] {
            let mut tampered = proof.clone();
            tampered[at] ^= 1;
            assert_eq!(
                key.open(&tampered, b"request-1"),
                Err(ProtocolError::PinProofMismatch),
                "byte {at}"
            );
        }
        for len in [0, 22, 37, 39, 87] {
            let mut p = proof.clone();
            p.resize(len, 0);
            assert_eq!(
                key.open(&p, b"request-1"),
                Err(ProtocolError::MalformedPinProof),
                "{len} bytes"
            );
        }
        // Something sealed under the key that is not six digits is no PIN.
        let salt = [9u8; 16];
        let mut k = key.proof_key(&salt, b"request-1");
        let mut not_a_pin = salt.to_vec();
        not_a_pin.extend(aes_gcm_seal(&k, [0; 12], b"12345a", b"request-1"));
        k.zeroize();
        assert_eq!(
            key.open(&not_a_pin, b"request-1"),
            Err(ProtocolError::PinProofMismatch)
        );
    }

    #[test]
    fn proofs_of_one_pin_differ_each_time() {
        let s = server();
        let pin = AppPin::parse("000000").unwrap();
        let r = SeqRandom::new(9);
        let (a, _) = seal_enrolment_pin(&s.public_sec1(), &pin, b"x", &r).unwrap();
        let (b, _) = seal_enrolment_pin(&s.public_sec1(), &pin, b"x", &r).unwrap();
        assert_ne!(a, b);
        let key = device_key(1);
        assert_ne!(key.seal(&pin, b"x", &r), key.seal(&pin, b"x", &r));
        assert_eq!(format!("{key:?}"), "DevicePinKey(<redacted>)");
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

    /// The identity bindings as docs/protocol.md §3 writes them.
    #[test]
    fn identity_bindings_are_fixed() {
        let device = Uuid::parse_str("01920000-0000-7000-8000-000000000001").unwrap();
        let text = |v: Vec<u8>| String::from_utf8(v).unwrap();
        assert_eq!(
            text(user_id_change_binding("Anna.New", device)),
            "sesam-user-id/v1\nAnna.New\n01920000-0000-7000-8000-000000000001"
        );
        assert_ne!(
            user_id_change_binding("anna.new", device),
            user_id_change_binding("anna.other", device)
        );
        assert_eq!(
            text(block_binding(device)),
            "sesam-block/v1\n01920000-0000-7000-8000-000000000001"
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
