//! Web push for the apps: a subscription per device (RFC 8030), the message encryption of
//! RFC 8291 (`aes128gcm`, RFC 8188) and the VAPID authorization of RFC 8292.
//!
//! A push says only that something waits ([`PAYLOAD`]): no name, no text, no service
//! provider. The app fetches the pending requests over its signed API when woken.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::{PublicKey, SecretKey};
use ring::aead;
use sha2::Sha256;
use thiserror::Error;
use uuid::Uuid;

use crate::Timestamp;

/// The longest endpoint URL accepted.
pub const MAX_ENDPOINT_LEN: usize = 2048;
/// The record size written in the content coding header (one record is all we send).
pub const RECORD_SIZE: u32 = 4096;
/// How long a push service keeps an undelivered push: a request waits 3 minutes.
pub const TTL_SECONDS: u32 = 180;
/// How long a VAPID token is valid (RFC 8292 allows at most 24 hours).
pub const VAPID_LIFETIME_SECONDS: i64 = 12 * 3600;
/// The event name of a push in the outbox.
pub const EVENT: &str = "app.request_pending";
/// What every push carries: something waits; nothing else.
pub const PAYLOAD: &str = r#"{"type":"pending"}"#;

/// One device's push subscription: where its push service takes messages, and the keys
/// the device's browser decrypts them with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSubscription {
    pub id: Uuid,
    pub device_id: Uuid,
    pub identity_id: Uuid,
    pub endpoint: String,
    /// The browser's P-256 public key, uncompressed (65 bytes).
    pub p256dh: Vec<u8>,
    /// The browser's authentication secret (16 bytes).
    pub auth: Vec<u8>,
    pub created_at: Timestamp,
}

/// Why a subscription is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SubscriptionError {
    #[error("the push endpoint is not a valid absolute URL")]
    EndpointInvalid,
    #[error("the push endpoint must be an https URL")]
    EndpointNotHttps,
    #[error("the push endpoint is longer than {MAX_ENDPOINT_LEN} characters")]
    EndpointTooLong,
    #[error("the push endpoint must not contain a user name, a password or a fragment")]
    EndpointCredentials,
    #[error("the push endpoint names a loopback, private or link-local address")]
    EndpointPrivate,
    #[error(
        "keys.p256dh must be an uncompressed P-256 public key (65 bytes, base64url) on the curve"
    )]
    KeyInvalid,
    #[error("keys.auth must be a 16-byte authentication secret (base64url)")]
    AuthInvalid,
}

impl SubscriptionError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::EndpointInvalid
            | Self::EndpointNotHttps
            | Self::EndpointTooLong
            | Self::EndpointCredentials
            | Self::EndpointPrivate => "push_endpoint_refused",
            Self::KeyInvalid | Self::AuthInvalid => "push_keys_invalid",
        }
    }
}

/// Which endpoints are accepted. By default only https URLs whose host is not a loopback,
/// private or link-local address; `allow_local` (development and tests) also accepts
/// those, and plain http to a loopback host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointPolicy {
    pub allow_local: bool,
}

impl EndpointPolicy {
    /// Checks an endpoint URL the browser gave.
    pub fn check(&self, endpoint: &str) -> Result<url::Url, SubscriptionError> {
        if endpoint.len() > MAX_ENDPOINT_LEN {
            return Err(SubscriptionError::EndpointTooLong);
        }
        let url = url::Url::parse(endpoint).map_err(|_| SubscriptionError::EndpointInvalid)?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(SubscriptionError::EndpointNotHttps);
        }
        let host = url.host().ok_or(SubscriptionError::EndpointInvalid)?;
        if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
            return Err(SubscriptionError::EndpointCredentials);
        }
        let local = match &host {
            url::Host::Domain(d) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                d == "localhost" || d.ends_with(".localhost")
            }
            url::Host::Ipv4(ip) => !is_public_ip(IpAddr::V4(*ip)),
            url::Host::Ipv6(ip) => !is_public_ip(IpAddr::V6(*ip)),
        };
        let loopback = match &host {
            url::Host::Domain(_) => local,
            url::Host::Ipv4(ip) => ip.is_loopback(),
            url::Host::Ipv6(ip) => ip.is_loopback(),
        };
        match url.scheme() {
            "https" => {}
            "http" if self.allow_local && loopback => {}
            _ => return Err(SubscriptionError::EndpointNotHttps),
        }
        if local && !self.allow_local {
            return Err(SubscriptionError::EndpointPrivate);
        }
        Ok(url)
    }

    /// Whether the push sender may connect to `ip` (host names are checked again after
    /// they are resolved, so a name cannot lead to an internal address).
    pub fn allows_address(&self, ip: IpAddr) -> bool {
        self.allow_local || is_public_ip(ip)
    }
}

/// Whether an address is reachable on the public internet (not loopback, private,
/// link-local, shared, documentation, multicast or unspecified).
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
                || v6 == Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1))
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || a >= 240)
}

/// Decodes and checks the browser's keys (`keys.p256dh`, `keys.auth`, base64url with or
/// without padding).
pub fn parse_keys(p256dh: &str, auth: &str) -> Result<(Vec<u8>, Vec<u8>), SubscriptionError> {
    let unb64 = |s: &str| URL_SAFE_NO_PAD.decode(s.trim().trim_end_matches('='));
    let key = unb64(p256dh).map_err(|_| SubscriptionError::KeyInvalid)?;
    if key.len() != 65 || key[0] != 4 || PublicKey::from_sec1_bytes(&key).is_err() {
        return Err(SubscriptionError::KeyInvalid);
    }
    let auth = unb64(auth).map_err(|_| SubscriptionError::AuthInvalid)?;
    if auth.len() != 16 {
        return Err(SubscriptionError::AuthInvalid);
    }
    Ok((key, auth))
}

/// Why a message could not be encrypted (only with keys that were not checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PushCryptoError {
    #[error("the subscription's public key is not a P-256 point")]
    BadKey,
    #[error("the message does not fit one record")]
    TooLong,
    #[error("the encryption failed")]
    Failed,
}

/// Encrypts `plaintext` for a subscription (RFC 8291 section 3, one `aes128gcm` record of
/// RFC 8188): `as_secret` is a fresh key pair of the sender's, `salt` 16 fresh random
/// bytes. Returns the body to send: the content coding header (salt, record size, the
/// sender's public key) and the record.
pub fn encrypt(
    plaintext: &[u8],
    ua_public: &[u8],
    auth_secret: &[u8],
    as_secret: &SecretKey,
    salt: &[u8; 16],
) -> Result<Vec<u8>, PushCryptoError> {
    if plaintext.len() + 1 + 16 > RECORD_SIZE as usize {
        return Err(PushCryptoError::TooLong);
    }
    let ua = PublicKey::from_sec1_bytes(ua_public).map_err(|_| PushCryptoError::BadKey)?;
    let as_public = as_secret.public_key().to_sec1_point(false);
    let as_public = as_public.as_bytes();
    let shared = p256::ecdh::diffie_hellman(as_secret.to_nonzero_scalar(), ua.as_affine());
    // IKM = HKDF(auth_secret, ecdh_secret, "WebPush: info" || 0x00 || ua_public || as_public, 32)
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth_secret), shared.raw_secret_bytes())
        .expand_multi_info(&[b"WebPush: info\0", ua_public, as_public], &mut ikm)
        .map_err(|_| PushCryptoError::Failed)?;
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let mut cek = [0u8; 16];
    let mut nonce = [0u8; 12];
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
        .map_err(|_| PushCryptoError::Failed)?;
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
        .map_err(|_| PushCryptoError::Failed)?;
    let key = aead::UnboundKey::new(&aead::AES_128_GCM, &cek)
        .map(aead::LessSafeKey::new)
        .map_err(|_| PushCryptoError::Failed)?;
    // The only (so the last) record: the text, then the delimiter 0x02, no padding.
    let mut record = Vec::with_capacity(plaintext.len() + 17);
    record.extend_from_slice(plaintext);
    record.push(2);
    key.seal_in_place_append_tag(
        aead::Nonce::assume_unique_for_key(nonce),
        aead::Aad::empty(),
        &mut record,
    )
    .map_err(|_| PushCryptoError::Failed)?;
    let mut body = Vec::with_capacity(16 + 4 + 1 + as_public.len() + record.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(as_public.len() as u8);
    body.extend_from_slice(as_public);
    body.extend_from_slice(&record);
    Ok(body)
}

/// The VAPID public key as apps take it (`applicationServerKey`): the uncompressed point,
/// base64url.
pub fn vapid_public_key(key: &SigningKey) -> String {
    URL_SAFE_NO_PAD.encode(key.verifying_key().to_sec1_point(false).as_bytes())
}

/// The `Authorization` header of a push to `endpoint` (RFC 8292): `vapid t=<JWT>, k=<key>`,
/// the JWT (ES256) naming the endpoint's origin as `aud`, `expires` as `exp` and the
/// operator's contact as `sub`.
pub fn vapid_authorization(
    key: &SigningKey,
    endpoint: &url::Url,
    expires: Timestamp,
    subject: &str,
) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
    let claims = serde_json::json!({
        "aud": endpoint.origin().ascii_serialization(),
        "exp": expires.millis().div_euclid(1000),
        "sub": subject,
    });
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes());
    let input = format!("{header}.{claims}");
    let signature: Signature = key.sign(input.as_bytes());
    format!(
        "vapid t={input}.{}, k={}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes()),
        vapid_public_key(key)
    )
}

/// Checks the operator's VAPID contact: a `mailto:` address or an https URL.
pub fn check_contact(contact: &str) -> Result<(), String> {
    let ok = match url::Url::parse(contact) {
        Ok(u) if u.scheme() == "mailto" => u.path().contains('@'),
        Ok(u) if u.scheme() == "https" => u.host().is_some(),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the push contact '{contact}' must be a mailto: address or an https URL"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unb64(s: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(s).unwrap()
    }

    /// RFC 8291, Appendix A.
    #[test]
    fn the_rfc_8291_example_encrypts_to_the_published_bytes() {
        let plaintext = b"When I grow up, I want to be a watermelon";
        let as_private = unb64("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw");
        let ua_public = unb64(
            "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
        );
        let auth = unb64("BTBZMqHH6r4Tts7J_aSIgg");
        let salt: [u8; 16] = unb64("DGv6ra1nlYgDCS1FRnbzlw").try_into().unwrap();
        let as_secret = SecretKey::from_slice(&as_private).unwrap();
        let body = encrypt(plaintext, &ua_public, &auth, &as_secret, &salt).unwrap();
        // The RFC's three lines of output, joined.
        let expected = unb64(
            "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml\
             mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT\
             pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
        );
        assert_eq!(
            URL_SAFE_NO_PAD.encode(&body),
            URL_SAFE_NO_PAD.encode(&expected)
        );
    }

    #[test]
    fn endpoints_must_be_public_https_unless_local_ones_are_allowed() {
        let strict = EndpointPolicy::default();
        let local = EndpointPolicy { allow_local: true };
        assert!(
            strict
                .check("https://push.example.net/wpush/v2/abc")
                .is_ok()
        );
        for (url, error) in [
            (
                "http://push.example.net/x",
                SubscriptionError::EndpointNotHttps,
            ),
            (
                "ftp://push.example.net/x",
                SubscriptionError::EndpointNotHttps,
            ),
            ("file:///etc/passwd", SubscriptionError::EndpointNotHttps),
            ("not a url", SubscriptionError::EndpointInvalid),
            (
                "https://user:pw@push.example.net/x",
                SubscriptionError::EndpointCredentials,
            ),
            (
                "https://push.example.net/x#f",
                SubscriptionError::EndpointCredentials,
            ),
            ("https://127.0.0.1/x", SubscriptionError::EndpointPrivate),
            ("https://10.1.2.3/x", SubscriptionError::EndpointPrivate),
            ("https://192.168.1.1/x", SubscriptionError::EndpointPrivate),
            (
                "https://169.254.169.254/latest",
                SubscriptionError::EndpointPrivate,
            ),
            ("https://[::1]/x", SubscriptionError::EndpointPrivate),
            ("https://[fd00::1]/x", SubscriptionError::EndpointPrivate),
            (
                "https://[::ffff:10.0.0.1]/x",
                SubscriptionError::EndpointPrivate,
            ),
            ("https://localhost/x", SubscriptionError::EndpointPrivate),
            (
                "https://push.localhost/x",
                SubscriptionError::EndpointPrivate,
            ),
            ("http://127.0.0.1:9/x", SubscriptionError::EndpointNotHttps),
        ] {
            assert_eq!(strict.check(url).unwrap_err(), error, "{url}");
        }
        let long = format!("https://push.example.net/{}", "a".repeat(MAX_ENDPOINT_LEN));
        assert_eq!(
            strict.check(&long).unwrap_err(),
            SubscriptionError::EndpointTooLong
        );
        assert!(local.check("http://127.0.0.1:9/x").is_ok());
        assert!(local.check("http://localhost:9/x").is_ok());
        assert!(local.check("https://10.1.2.3/x").is_ok());
        // Plain http stays loopback-only even when local endpoints are allowed.
        assert_eq!(
            local.check("http://10.1.2.3/x").unwrap_err(),
            SubscriptionError::EndpointNotHttps
        );
        assert_eq!(
            local.check("http://push.example.net/x").unwrap_err(),
            SubscriptionError::EndpointNotHttps
        );
        assert!(!strict.allows_address("127.0.0.1".parse().unwrap()));
        assert!(strict.allows_address("93.184.216.34".parse().unwrap()));
        assert!(local.allows_address("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn keys_must_be_a_point_on_the_curve_and_a_16_byte_secret() {
        let secret = SecretKey::from_slice(&[7; 32]).unwrap();
        let point = secret.public_key().to_sec1_point(false);
        let good = URL_SAFE_NO_PAD.encode(point.as_bytes());
        let auth = URL_SAFE_NO_PAD.encode([1u8; 16]);
        assert!(parse_keys(&good, &auth).is_ok());
        assert!(parse_keys(&format!("{good}="), &format!("{auth}==")).is_ok());
        let mut off_curve = point.as_bytes().to_vec();
        off_curve[64] ^= 1;
        let compressed = secret.public_key().to_sec1_point(true);
        for bad in [
            URL_SAFE_NO_PAD.encode(&off_curve),
            URL_SAFE_NO_PAD.encode(compressed.as_bytes()),
            URL_SAFE_NO_PAD.encode([4u8; 65]),
            "*not base64*".into(),
            String::new(),
        ] {
            assert_eq!(
                parse_keys(&bad, &auth).unwrap_err(),
                SubscriptionError::KeyInvalid
            );
        }
        for bad in [
            URL_SAFE_NO_PAD.encode([1u8; 15]),
            URL_SAFE_NO_PAD.encode([1u8; 32]),
        ] {
            assert_eq!(
                parse_keys(&good, &bad).unwrap_err(),
                SubscriptionError::AuthInvalid
            );
        }
    }

    #[test]
    fn the_vapid_token_names_the_origin_and_verifies_with_the_published_key() {
        use p256::ecdsa::VerifyingKey;
        use p256::ecdsa::signature::Verifier;
        let key = SigningKey::from_slice(&[9; 32]).unwrap();
        let endpoint = url::Url::parse("https://push.example.net:8443/wpush/abc?x=1").unwrap();
        let header = vapid_authorization(
            &key,
            &endpoint,
            Timestamp::from_millis(1_700_000_000_999),
            "mailto:ops@example.dk",
        );
        let rest = header.strip_prefix("vapid t=").unwrap();
        let (jwt, k) = rest.split_once(", k=").unwrap();
        let verifying = VerifyingKey::from_sec1_bytes(&unb64(k)).unwrap();
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        let sig = Signature::from_slice(&unb64(sig)).unwrap();
        verifying.verify(input.as_bytes(), &sig).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&unb64(input.split('.').nth(1).unwrap())).unwrap();
        assert_eq!(claims["aud"], "https://push.example.net:8443");
        assert_eq!(claims["exp"], 1_700_000_000);
        assert_eq!(claims["sub"], "mailto:ops@example.dk");
        assert_eq!(k, vapid_public_key(&key));
    }

    #[test]
    fn contacts_are_mailto_or_https() {
        assert!(check_contact("mailto:ops@example.dk").is_ok());
        assert!(check_contact("https://sesam.example.dk/").is_ok());
        assert!(check_contact("http://sesam.example.dk/").is_err());
        assert!(check_contact("ops@example.dk").is_err());
        assert!(check_contact("mailto:nobody").is_err());
    }
}
