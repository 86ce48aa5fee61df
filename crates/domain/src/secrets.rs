//! Secrets at rest: the master key and the keys derived from it.
//!
//! One 32-byte master key is held outside the database (environment or a 0600 key file).
//! Every use gets its own key through HKDF-SHA256 with a purpose label, so a key that
//! leaks through one use does not open the others. Data keys never touch the database.

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;
use uuid::Uuid;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::national_id::NationalId;
use crate::random::Random;

const SEAL_VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SecretError {
    #[error("the master key must be 64 hexadecimal characters (32 bytes)")]
    MalformedMasterKey,
    #[error("encrypted data could not be opened: wrong master key or tampered data")]
    CannotOpen,
}

/// The root secret. Redacted in `Debug`, wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterKey([u8; 32]);

impl MasterKey {
    pub fn generate(random: &dyn Random) -> Self {
        let mut k = [0u8; 32];
        random.fill(&mut k);
        Self(k)
    }

    /// Reads 64 hex characters; surrounding white space (a trailing newline in a file) is ignored.
    pub fn from_hex(s: &str) -> Result<Self, SecretError> {
        let mut k = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut k).map_err(|_| SecretError::MalformedMasterKey)?;
        Ok(Self(k))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    fn derive(&self, label: &str) -> [u8; 32] {
        let hk = Hkdf::<Sha256>::new(Some(b"sesam master key v1"), &self.0);
        let mut okm = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so expand cannot fail.
        if hk.expand(label.as_bytes(), &mut okm).is_err() {
            unreachable!("HKDF output length is fixed and valid");
        }
        okm
    }

    /// Derives the purpose keys the rest of the system uses.
    pub fn keys(&self) -> SecretKeys {
        SecretKeys {
            national_id_seal: self.derive("national-id/seal"),
            national_id_index: self.derive("national-id/blind-index"),
            activation_code: self.derive("activation-code/hash"),
            client_secret: self.derive("client-secret/hash"),
            audit_chain: self.derive("audit/chain"),
            key_check: self.derive("key-check"),
            data_seal: self.derive("data/seal"),
            app_pin: self.derive("app-pin/hash"),
            sms_pin: self.derive("sms-pin/hash"),
            pin_proof: self.derive("app-pin/ecies"),
            device_pin: self.derive("app-pin/device-key"),
            seed_check: self.derive("code-display/seed-check"),
            channel_code: self.derive("channel/confirmation-code"),
            pairwise: self.derive("oidc/pairwise-subject"),
            flow_token: self.derive("oidc/flow-token"),
            browser_cookie: self.derive("web/browser-cookie"),
        }
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// Purpose keys derived from the master key.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKeys {
    national_id_seal: [u8; 32],
    national_id_index: [u8; 32],
    activation_code: [u8; 32],
    client_secret: [u8; 32],
    audit_chain: [u8; 32],
    key_check: [u8; 32],
    data_seal: [u8; 32],
    app_pin: [u8; 32],
    sms_pin: [u8; 32],
    pin_proof: [u8; 32],
    device_pin: [u8; 32],
    seed_check: [u8; 32],
    channel_code: [u8; 32],
    pairwise: [u8; 32],
    flow_token: [u8; 32],
    browser_cookie: [u8; 32],
}

impl fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKeys(<redacted>)")
    }
}

pub(crate) fn hmac_sha256(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    for p in parts {
        mac.update(&(p.len() as u32).to_be_bytes());
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

fn seal(key: &[u8; 32], random: &dyn Random, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut nonce = [0u8; NONCE_LEN];
    random.fill(&mut nonce);
    let ct = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .unwrap_or_else(|_| unreachable!("XChaCha20-Poly1305 encryption of a short message"));
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
    out.push(SEAL_VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

fn open(key: &[u8; 32], sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, SecretError> {
    let (version, rest) = sealed.split_first().ok_or(SecretError::CannotOpen)?;
    if *version != SEAL_VERSION || rest.len() < NONCE_LEN {
        return Err(SecretError::CannotOpen);
    }
    let (nonce, ct) = rest.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SecretError::CannotOpen)?;
    XChaCha20Poly1305::new(key.into())
        .decrypt(&XNonce::from(nonce), Payload { msg: ct, aad })
        .map_err(|_| SecretError::CannotOpen)
}

impl SecretKeys {
    /// Encrypts a national ID number, bound to the identity it belongs to (the identity id is
    /// authenticated data, so a ciphertext copied to another row does not open).
    pub fn seal_national_id(
        &self,
        id: &NationalId,
        identity: Uuid,
        random: &dyn Random,
    ) -> Vec<u8> {
        seal(
            &self.national_id_seal,
            random,
            id.expose_digits().as_bytes(),
            identity.as_bytes(),
        )
    }

    pub fn open_national_id(
        &self,
        sealed: &[u8],
        identity: Uuid,
    ) -> Result<NationalId, SecretError> {
        let plain = open(&self.national_id_seal, sealed, identity.as_bytes())?;
        let s = String::from_utf8(plain).map_err(|_| SecretError::CannotOpen)?;
        NationalId::parse(&s).map_err(|_| SecretError::CannotOpen)
    }

    /// Keyed blind index: equal numbers give equal indexes, and without the master key the
    /// index cannot be recomputed from the (small) space of possible numbers.
    pub fn national_id_index(&self, id: &NationalId) -> [u8; 32] {
        hmac_sha256(&self.national_id_index, &[id.expose_digits().as_bytes()])
    }

    pub fn activation_code_hash(&self, normalized_code: &str) -> [u8; 32] {
        hmac_sha256(&self.activation_code, &[normalized_code.as_bytes()])
    }

    /// Recognises a code display's seed on a repeated import without opening stored seeds.
    pub fn seed_check(&self, serial: &str, seed: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.seed_check, &[serial.as_bytes(), seed])
    }

    /// The keyed hash under which a bearer value of the login and token flows is stored
    /// or compared (`kind` names it: "code", "refresh", "par", "session", "browser",
    /// "csrf"): the values carry 256 random bits, so a fast keyed hash suffices, and a
    /// database copy holds nothing that can be presented.
    pub fn flow_token_hash(&self, kind: &str, parts: &[&[u8]]) -> [u8; 32] {
        let mut all: Vec<&[u8]> = Vec::with_capacity(parts.len() + 1);
        all.push(kind.as_bytes());
        all.extend_from_slice(parts);
        hmac_sha256(&self.flow_token, &all)
    }

    /// A new value for the browser cookie: 32 random bytes and their MAC, hex. Only values
    /// the server issued are accepted back ([`Self::browser_cookie_is_ours`]), so a value
    /// an attacker made up is never bound to a login.
    pub fn issue_browser_cookie(&self, random: &dyn Random) -> String {
        let nonce: [u8; 32] = crate::random::random_bytes(random);
        let mac = hmac_sha256(&self.browser_cookie, &[&nonce]);
        format!("{}.{}", hex::encode(nonce), hex::encode(mac))
    }

    /// Whether `value` is a browser cookie this server issued (MAC compared in constant
    /// time; anything malformed is simply not ours).
    pub fn browser_cookie_is_ours(&self, value: &str) -> bool {
        let Some((nonce, mac)) = value.split_once('.') else {
            return false;
        };
        let (Ok(nonce), Ok(mac)) = (hex::decode(nonce), hex::decode(mac)) else {
            return false;
        };
        nonce.len() == 32 && ct_eq(&hmac_sha256(&self.browser_cookie, &[&nonce]), &mac)
    }

    pub fn client_secret_hash(&self, client_id: &str, secret: &str) -> [u8; 32] {
        hmac_sha256(
            &self.client_secret,
            &[client_id.as_bytes(), secret.as_bytes()],
        )
    }

    /// The keyed hash of a device's app PIN: without the master key, a database copy does
    /// not allow trying the 10^6 possible PINs offline.
    pub fn app_pin_hash(&self, device_id: Uuid, pin: &crate::app_protocol::AppPin) -> [u8; 32] {
        hmac_sha256(&self.app_pin, &[device_id.as_bytes(), pin.as_bytes()])
    }

    /// The keyed hash of a temporary PIN, bound to its grant.
    pub fn sms_pin_hash(&self, grant_id: Uuid, pin: &str) -> [u8; 32] {
        hmac_sha256(&self.sms_pin, &[grant_id.as_bytes(), pin.as_bytes()])
    }

    /// The keyed hash of a code that confirms a new notification channel.
    pub fn channel_code_hash(&self, channel_id: Uuid, code: &str) -> [u8; 32] {
        hmac_sha256(
            &self.channel_code,
            &[channel_id.as_bytes(), code.as_bytes()],
        )
    }

    /// The pairwise subject (`sub`) of an identity at one service provider: stable for the
    /// same person and SP, unrelated across SPs, and not derivable from the national ID
    /// number (it is keyed, and computed from the random identity id).
    pub fn pairwise_subject(&self, sector: &str, identity_id: Uuid) -> String {
        use base64::Engine;
        let mac = hmac_sha256(&self.pairwise, &[sector.as_bytes(), identity_id.as_bytes()]);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac)
    }

    /// The server's key for enrolment PIN proofs (first activation, pairing).
    pub fn pin_key(&self) -> crate::app_protocol::PinKey {
        crate::app_protocol::PinKey::from_material(self.pin_proof)
    }

    /// A device's own PIN key, under which its PIN proofs after enrolment are sealed:
    /// derived from the master key and the device id, so it is never stored, and a key
    /// that leaks opens one device's proofs only.
    pub fn device_pin_key(&self, device_id: Uuid) -> crate::app_protocol::DevicePinKey {
        crate::app_protocol::DevicePinKey::from_bytes(hmac_sha256(
            &self.device_pin,
            &[device_id.as_bytes()],
        ))
    }

    pub(crate) fn audit_key(&self) -> [u8; 32] {
        self.audit_chain
    }

    /// A value stored with the data so that a start with a different master key is refused
    /// before anything is written.
    pub fn key_check(&self) -> [u8; 32] {
        hmac_sha256(&self.key_check, &[b"sesam key check v1"])
    }

    /// Encrypts other secrets at rest (signing keys, token seeds) under a purpose label.
    pub fn seal_data(&self, purpose: &str, plaintext: &[u8], random: &dyn Random) -> Vec<u8> {
        seal(&self.data_seal, random, plaintext, purpose.as_bytes())
    }

    pub fn open_data(&self, purpose: &str, sealed: &[u8]) -> Result<Vec<u8>, SecretError> {
        open(&self.data_seal, sealed, purpose.as_bytes())
    }
}

/// Compares two secrets' hashes in constant time.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::testing::SeqRandom;

    fn key() -> MasterKey {
        MasterKey::from_hex(&"11".repeat(32)).unwrap()
    }

    #[test]
    fn hex_round_trip_and_redaction() {
        let k = key();
        assert_eq!(
            MasterKey::from_hex(&format!("{}\n", k.to_hex()))
                .unwrap()
                .to_hex(),
            k.to_hex()
        );
        assert_eq!(format!("{k:?}"), "MasterKey(<redacted>)");
        assert!(MasterKey::from_hex("abc").is_err());
        assert!(MasterKey::from_hex(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn national_id_seals_and_binds_to_identity() {
        let keys = key().keys();
        let nid = NationalId::parse("0101901234").unwrap();
        let a = Uuid::from_u128(1);
        let sealed = keys.seal_national_id(&nid, a, &SeqRandom::new(1));
        assert!(!sealed.windows(10).any(|w| w == b"0101901234"));
        assert_eq!(keys.open_national_id(&sealed, a).unwrap(), nid);
        assert_eq!(
            keys.open_national_id(&sealed, Uuid::from_u128(2)),
            Err(SecretError::CannotOpen)
        );
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(
            keys.open_national_id(&tampered, a),
            Err(SecretError::CannotOpen)
        );
        let other = MasterKey::from_hex(&"22".repeat(32)).unwrap().keys();
        assert_eq!(
            other.open_national_id(&sealed, a),
            Err(SecretError::CannotOpen)
        );
        assert_eq!(keys.open_national_id(&[], a), Err(SecretError::CannotOpen));
    }

    #[test]
    fn derived_keys_are_distinct_and_stable() {
        let keys = key().keys();
        let nid = NationalId::parse("0101901234").unwrap();
        assert_eq!(
            keys.national_id_index(&nid),
            key().keys().national_id_index(&nid)
        );
        assert_ne!(
            keys.national_id_index(&nid),
            keys.activation_code_hash(nid.expose_digits())
        );
        assert_ne!(
            keys.key_check(),
            MasterKey::from_hex(&"22".repeat(32))
                .unwrap()
                .keys()
                .key_check()
        );
        // Test vector computed independently (Python hmac/hashlib: HKDF-SHA256, then
        // HMAC-SHA256 over the length-prefixed label): fixes the derivation so stored data
        // stays readable across versions.
        assert_eq!(
            hex::encode(keys.key_check()),
            "12355f1cbc6ac83786ae13745e9c53b00aa59a36021d9f58e4b4768cbbb60fb1"
        );
    }

    #[test]
    fn only_issued_browser_cookies_are_accepted() {
        let keys = key().keys();
        let random = SeqRandom::new(7);
        let a = keys.issue_browser_cookie(&random);
        let b = keys.issue_browser_cookie(&random);
        assert_ne!(a, b);
        assert!(keys.browser_cookie_is_ours(&a));
        assert!(keys.browser_cookie_is_ours(&b));
        // Under another master key it is not ours.
        let other = MasterKey::from_hex(&"22".repeat(32)).unwrap().keys();
        assert!(!other.browser_cookie_is_ours(&a));
        // Tampered, swapped, truncated, made up, malformed.
        let (nonce, mac) = a.split_once('.').unwrap();
        let (nonce_b, _) = b.split_once('.').unwrap();
        let mut flipped = mac.to_owned().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        for forged in [
            format!("{nonce_b}.{mac}"),
            format!("{nonce}.{}", String::from_utf8(flipped).unwrap()),
            format!("{nonce}.{}", &mac[..62]),
            "a".repeat(64),
            format!("{}.{}", "0".repeat(64), "0".repeat(64)),
            String::new(),
            ".".into(),
            "zz.zz".into(),
            "é.é".into(),
        ] {
            assert!(!keys.browser_cookie_is_ours(&forged), "{forged}");
        }
    }

    #[test]
    fn pairwise_subjects_are_stable_per_sp_and_differ_across_sps() {
        let keys = key().keys();
        let id = Uuid::from_u128(42);
        let a = keys.pairwise_subject("sp_bank", id);
        assert_eq!(a, key().keys().pairwise_subject("sp_bank", id));
        assert_ne!(a, keys.pairwise_subject("sp_tax", id));
        assert_ne!(a, keys.pairwise_subject("sp_bank", Uuid::from_u128(43)));
        assert_ne!(
            a,
            MasterKey::from_hex(&"22".repeat(32))
                .unwrap()
                .keys()
                .pairwise_subject("sp_bank", id)
        );
        assert_eq!(a.len(), 43);
    }

    /// Pins the derivation of `sub`: a change would give every person a new `sub` at every
    /// SP. Computed independently (Python hmac/hashlib): HKDF-SHA256 of the master key with
    /// salt `sesam master key v1` and info `oidc/pairwise-subject`, then HMAC-SHA256 over
    /// the length-prefixed client id and the identity id's 16 bytes, base64url.
    #[test]
    fn pairwise_subject_test_vector() {
        let id = Uuid::parse_str("01920000-0000-7000-8000-0000000000aa").unwrap();
        assert_eq!(
            key()
                .keys()
                .pairwise_subject("sp_4f1e2d3c4b5a69788796a5b4", id),
            "o9sGOVyWwYkMKnx3p58ZK5pNC4mLnaC-jayZ6ZxngDc"
        );
    }

    /// Pins the device PIN key derivation (`docs/protocol.md` §8): apps hold these keys,
    /// so a change would lock every app out. Computed independently (Python hmac/hashlib):
    /// HKDF-SHA256 of the master key with salt `sesam master key v1` and info
    /// `app-pin/device-key`, then HMAC-SHA256 over the length-prefixed device id's 16 bytes.
    #[test]
    fn device_pin_key_test_vector() {
        let master = MasterKey::from_hex(&"44".repeat(32)).unwrap();
        let device = Uuid::parse_str("01920000-0000-7000-8000-000000000001").unwrap();
        let key = master.keys().device_pin_key(device);
        assert_eq!(
            hex::encode(key.expose_bytes()),
            "6b445c6cb6603be3f7543695a4bcd8bfe716e899f2ab70e0eaae5bff1acfc44c"
        );
        assert_ne!(master.keys().device_pin_key(Uuid::from_u128(2)), key);
        assert_ne!(key_of(&"45".repeat(32)).device_pin_key(device), key);
    }

    fn key_of(hex: &str) -> SecretKeys {
        MasterKey::from_hex(hex).unwrap().keys()
    }

    #[test]
    fn length_prefixing_separates_fields() {
        let k = [7u8; 32];
        assert_ne!(
            hmac_sha256(&k, &[b"ab", b"c"]),
            hmac_sha256(&k, &[b"a", b"bc"])
        );
    }
}
