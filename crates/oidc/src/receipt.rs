//! Checking an approval receipt the way `docs/integrating.md` tells a service provider to:
//! sesam's signature, the audience, the text's hash, and the person's device signature over
//! the approval bytes of `docs/protocol.md` §7. The demo relying party shows a receipt only
//! after this has passed, so the demo teaches what a receipt proves.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use thiserror::Error;

/// The JWS `typ` of a receipt.
pub const RECEIPT_TYP: &str = "sesam-receipt+jwt";
const APPROVAL_MAGIC: &str = "sesam-approval/v1";

/// A receipt whose every signature and hash was checked.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedReceipt {
    pub request_id: String,
    pub sp_name: String,
    pub action: String,
    pub text: String,
    pub authorization_details: Option<Value>,
    /// Seconds since the Unix epoch.
    pub approved_at: i64,
    pub acr: Option<String>,
    /// The device that signed, from the signed bytes.
    pub device_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReceiptError {
    #[error("the receipt is not a JWS")]
    NotJws,
    #[error("the receipt's typ is not {RECEIPT_TYP}")]
    WrongType,
    #[error("the receipt's key is not in the JWKS")]
    KeyNotPublished,
    #[error("sesam's signature on the receipt does not verify: {0}")]
    ServerSignature(String),
    #[error("text_sha256 is not the SHA-256 of the text")]
    TextHash,
    #[error("the device's signed bytes are not approval bytes: {0}")]
    SignedBytes(&'static str),
    #[error("the device's signed bytes do not match the receipt ({0})")]
    Mismatch(&'static str),
    #[error("the device's public key is not a P-256 JWK")]
    DeviceKey,
    #[error("the device's signature does not verify")]
    DeviceSignature,
}

#[derive(Deserialize)]
struct Claims {
    request_id: String,
    sp_name: String,
    action: String,
    text: String,
    text_sha256: String,
    #[serde(default)]
    authorization_details: Option<Value>,
    approved_at: i64,
    #[serde(default)]
    acr: Option<String>,
    device: DeviceProof,
}

#[derive(Deserialize)]
struct DeviceProof {
    public_key: Value,
    signature: String,
    signed_bytes: String,
}

/// The lines of `docs/protocol.md` §7's approval bytes.
struct ApprovalBytes<'a> {
    request_id: &'a str,
    client_id: &'a str,
    sp_name: &'a str,
    action: &'a str,
    text_hash_hex: &'a str,
    answer: &'a str,
    device_id: &'a str,
}

impl<'a> ApprovalBytes<'a> {
    fn parse(bytes: &'a str) -> Result<Self, ReceiptError> {
        let bad = ReceiptError::SignedBytes;
        let rest = bytes
            .strip_prefix(APPROVAL_MAGIC)
            .and_then(|r| r.strip_prefix('\n'))
            .ok_or(bad("no sesam-approval/v1 line"))?;
        let (request_id, rest) = rest.split_once('\n').ok_or(bad("no request id"))?;
        let (client_id, rest) = rest.split_once('\n').ok_or(bad("no client id"))?;
        // The SP name is length-prefixed, so a name cannot forge the lines after it.
        let (len, rest) = rest.split_once(':').ok_or(bad("no SP name length"))?;
        let len: usize = len.parse().map_err(|_| bad("the SP name length"))?;
        let sp_name = rest.get(..len).ok_or(bad("the SP name is cut short"))?;
        let rest = rest
            .get(len..)
            .and_then(|r| r.strip_prefix('\n'))
            .ok_or(bad("no line after the SP name"))?;
        let mut lines = rest.split('\n');
        let mut next = |what| lines.next().ok_or(bad(what));
        let action = next("no action")?;
        let text_hash_hex = next("no text hash")?;
        let _binding_code = next("no binding code")?;
        let answer = next("no answer")?;
        let device_id = next("no device id")?;
        let _timestamp = next("no timestamp")?;
        if lines.next().is_some() {
            return Err(bad("extra lines"));
        }
        Ok(Self {
            request_id,
            client_id,
            sp_name,
            action,
            text_hash_hex,
            answer,
            device_id,
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn device_key(jwk: &Value) -> Result<VerifyingKey, ReceiptError> {
    let coordinate = |name: &str| {
        jwk[name]
            .as_str()
            .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
            .filter(|b| b.len() == 32)
            .ok_or(ReceiptError::DeviceKey)
    };
    if jwk["kty"] != "EC" || jwk["crv"] != "P-256" {
        return Err(ReceiptError::DeviceKey);
    }
    let mut point = vec![4u8];
    point.extend(coordinate("x")?);
    point.extend(coordinate("y")?);
    VerifyingKey::from_sec1_bytes(&point).map_err(|_| ReceiptError::DeviceKey)
}

/// Verifies `receipt` against the issuer's `jwks` for the SP `client_id`.
pub fn verify_receipt(
    receipt: &str,
    jwks: &Value,
    issuer: &str,
    client_id: &str,
) -> Result<VerifiedReceipt, ReceiptError> {
    let header = jsonwebtoken::decode_header(receipt).map_err(|_| ReceiptError::NotJws)?;
    if header.typ.as_deref() != Some(RECEIPT_TYP) {
        return Err(ReceiptError::WrongType);
    }
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|keys| {
            keys.iter()
                .find(|k| k["kid"].as_str() == header.kid.as_deref())
        })
        .ok_or(ReceiptError::KeyNotPublished)?;
    let jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(jwk.clone()).map_err(|_| ReceiptError::KeyNotPublished)?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| ReceiptError::KeyNotPublished)?;
    let mut validation = Validation::new(Algorithm::ES256);
    // A receipt is evidence kept for years: it has no expiry.
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[client_id]);
    let claims = jsonwebtoken::decode::<Claims>(receipt, &key, &validation)
        .map_err(|e| ReceiptError::ServerSignature(e.to_string()))?
        .claims;

    let text_hash = Sha256::digest(claims.text.as_bytes());
    if URL_SAFE_NO_PAD.encode(text_hash) != claims.text_sha256 {
        return Err(ReceiptError::TextHash);
    }
    let signed = URL_SAFE_NO_PAD
        .decode(&claims.device.signed_bytes)
        .map_err(|_| ReceiptError::SignedBytes("not base64url"))?;
    let signed_text =
        std::str::from_utf8(&signed).map_err(|_| ReceiptError::SignedBytes("not UTF-8"))?;
    let bytes = ApprovalBytes::parse(signed_text)?;
    let checks = [
        (bytes.request_id == claims.request_id, "request id"),
        (bytes.client_id == client_id, "client id"),
        (bytes.sp_name == claims.sp_name, "SP name"),
        (bytes.action == claims.action, "action"),
        (bytes.text_hash_hex == hex(&text_hash), "text hash"),
        (bytes.answer == "approve", "answer"),
    ];
    if let Some((_, what)) = checks.iter().find(|(ok, _)| !ok) {
        return Err(ReceiptError::Mismatch(what));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(&claims.device.signature)
        .map_err(|_| ReceiptError::DeviceSignature)?;
    let signature = Signature::from_slice(&signature)
        .or_else(|_| Signature::from_der(&signature))
        .map_err(|_| ReceiptError::DeviceSignature)?;
    device_key(&claims.device.public_key)?
        .verify(&signed, &signature)
        .map_err(|_| ReceiptError::DeviceSignature)?;
    Ok(VerifiedReceipt {
        device_id: bytes.device_id.to_owned(),
        request_id: claims.request_id,
        sp_name: claims.sp_name,
        action: claims.action,
        text: claims.text,
        authorization_details: claims.authorization_details,
        approved_at: claims.approved_at,
        acr: claims.acr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id_token::TokenSigner;
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::Signer;
    use serde_json::json;

    const ISSUER: &str = "https://login.example.dk";
    const CLIENT: &str = "sp_4f1e2d3c4b5a69788796a5b4";
    const TEXT: &str = "Overfør 1.500,00 kr. til Jens Hansen";

    fn b64(b: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(b)
    }

    fn jwk_of(key: &VerifyingKey, kid: &str) -> Value {
        let point = key.to_sec1_point(false);
        json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
               "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())})
    }

    fn server_key() -> ([u8; 32], Value) {
        let scalar = [7u8; 32];
        let key = SigningKey::from_slice(&scalar).unwrap();
        (scalar, json!({"keys": [jwk_of(key.verifying_key(), "k1")]}))
    }

    fn approval_bytes(sp_name: &str, text: &str, answer: &str) -> String {
        format!(
            "sesam-approval/v1\n01920000-0000-7000-8000-0000000000bb\n{CLIENT}\n{}:{sp_name}\nAPPROVE\n{}\n0042\n{answer}\n01920000-0000-7000-8000-000000000001\n1767225600000",
            sp_name.len(),
            hex(&Sha256::digest(text.as_bytes()))
        )
    }

    /// A receipt as the server makes one; `edit` changes the claims before sesam signs.
    fn receipt(signed_bytes: &str, edit: impl FnOnce(&mut Value)) -> String {
        let device = SigningKey::from_slice(&[9u8; 32]).unwrap();
        let signature: Signature = device.sign(signed_bytes.as_bytes());
        let mut claims = json!({
            "iss": ISSUER, "aud": CLIENT, "sub": "OA9E", "jti": "j",
            "request_id": "01920000-0000-7000-8000-0000000000bb", "sp_name": "Demo Bank",
            "action": "APPROVE", "text": TEXT, "text_sha256": b64(&Sha256::digest(TEXT.as_bytes())),
            "authorization_details": null, "approved_at": 1_767_225_600,
            "acr": "http://eidas.europa.eu/LoA/substantial",
            "device": {"alg": "ES256", "public_key": jwk_of(device.verifying_key(), "d"),
                       "signature": b64(&signature.to_bytes()), "signed_bytes": b64(signed_bytes.as_bytes())}
        });
        edit(&mut claims);
        let (scalar, _) = server_key();
        TokenSigner::from_scalar("k1", &scalar)
            .unwrap()
            .sign_typed(&claims, Some(RECEIPT_TYP))
            .unwrap()
    }

    fn check(receipt: &str) -> Result<VerifiedReceipt, ReceiptError> {
        verify_receipt(receipt, &server_key().1, ISSUER, CLIENT)
    }

    #[test]
    fn an_honest_receipt_verifies_and_says_what_was_approved() {
        let r = check(&receipt(
            &approval_bytes("Demo Bank", TEXT, "approve"),
            |_| {},
        ))
        .unwrap();
        assert_eq!((r.text.as_str(), r.action.as_str()), (TEXT, "APPROVE"));
        assert_eq!(r.sp_name, "Demo Bank");
        assert_eq!(r.device_id, "01920000-0000-7000-8000-000000000001");
        assert_eq!(r.approved_at, 1_767_225_600);
    }

    #[test]
    fn a_receipt_for_another_sp_or_from_another_issuer_is_refused() {
        let r = receipt(&approval_bytes("Demo Bank", TEXT, "approve"), |_| {});
        assert!(matches!(
            verify_receipt(&r, &server_key().1, ISSUER, "sp_other"),
            Err(ReceiptError::ServerSignature(_))
        ));
        assert!(matches!(
            verify_receipt(&r, &server_key().1, "https://evil.example", CLIENT),
            Err(ReceiptError::ServerSignature(_))
        ));
        let other_keys = json!({"keys": [jwk_of(SigningKey::from_slice(&[8u8; 32]).unwrap().verifying_key(), "k1")]});
        assert!(matches!(
            verify_receipt(&r, &other_keys, ISSUER, CLIENT),
            Err(ReceiptError::ServerSignature(_))
        ));
        assert_eq!(
            verify_receipt(&r, &json!({"keys": []}), ISSUER, CLIENT),
            Err(ReceiptError::KeyNotPublished)
        );
    }

    #[test]
    fn a_text_other_than_the_one_the_device_signed_is_refused() {
        let bytes = approval_bytes("Demo Bank", TEXT, "approve");
        // The text edited but its hash left: the hash check catches it.
        let edited = receipt(&bytes, |c| c["text"] = json!("Overfør 9.500,00 kr."));
        assert_eq!(check(&edited), Err(ReceiptError::TextHash));
        // Text and hash edited consistently: the device never signed that hash.
        let other = "Overfør 9.500,00 kr.";
        let edited = receipt(&bytes, |c| {
            c["text"] = json!(other);
            c["text_sha256"] = json!(b64(&Sha256::digest(other.as_bytes())));
        });
        assert_eq!(check(&edited), Err(ReceiptError::Mismatch("text hash")));
    }

    #[test]
    fn a_rejection_or_a_forged_device_signature_is_refused() {
        let rejected = receipt(&approval_bytes("Demo Bank", TEXT, "reject"), |_| {});
        assert_eq!(check(&rejected), Err(ReceiptError::Mismatch("answer")));
        let forged = receipt(&approval_bytes("Demo Bank", TEXT, "approve"), |c| {
            c["device"]["signed_bytes"] = json!(b64(approval_bytes("Demo Bank", TEXT, "approve")
                .replace("0042", "0043")
                .as_bytes()));
        });
        assert_eq!(check(&forged), Err(ReceiptError::DeviceSignature));
        let wrong_sp = receipt(&approval_bytes("Evil Bank", TEXT, "approve"), |_| {});
        assert_eq!(check(&wrong_sp), Err(ReceiptError::Mismatch("SP name")));
    }

    #[test]
    fn an_sp_name_cannot_forge_the_lines_after_it() {
        let name = "Demo Bank\nAPPROVE";
        let bytes = approval_bytes(name, TEXT, "approve");
        let r = receipt(&bytes, |c| c["sp_name"] = json!(name));
        assert_eq!(check(&r).unwrap().sp_name, name);
        let cut = bytes.replacen(&format!("{}:", name.len()), "99:", 1);
        assert!(matches!(
            ApprovalBytes::parse(&cut),
            Err(ReceiptError::SignedBytes(_))
        ));
        assert!(matches!(
            ApprovalBytes::parse("sesam-approval/v1\nx"),
            Err(ReceiptError::SignedBytes(_))
        ));
    }
}
