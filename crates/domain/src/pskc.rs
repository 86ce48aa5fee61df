//! Reading code-display seeds from a manufacturer's PSKC file (RFC 6030, DESIGN §3).
//!
//! The operator imports these files; the person later activates a token by its serial
//! number and two codes ([`crate::totp`]). A file is one batch of tokens, and one bad token
//! must not hold up the rest, so problems with a single `<KeyPackage>` are reported per
//! package while the good ones are imported. Problems with the file as a whole (not XML,
//! too big, wrong key) refuse the file.
//!
//! What is accepted:
//! - UTF-8 XML without a DTD, at most [`MAX_FILE_BYTES`] and [`MAX_KEY_PACKAGES`] packages;
//! - keys with algorithm `urn:ietf:params:xml:ns:keyprov:pskc:totp`, an optional `<Suite>`
//!   of HMAC-SHA1, 6 decimal digits and a 30-second `<TimeInterval>` (both the defaults when
//!   absent);
//! - a non-empty, unique `<DeviceInfo><SerialNo>` of printable characters;
//! - a secret of 16–64 bytes, either as `<PlainValue>` or as an AES-128-CBC
//!   `<EncryptedValue>` under a pre-shared key (RFC 6030 §6.1), with an HMAC-SHA1
//!   `<ValueMAC>` over IV‖ciphertext that is checked before anything is decrypted.
//!
//! Elements sesam does not need (`<Time>`, `<TimeDrift>`, `<Counter>`, `<Policy>`,
//! `<Issuer>`, extensions) are ignored: drift is learnt at activation instead.

use std::collections::HashMap;
use std::fmt;

use aes::Aes128;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, KeyIvInit};
use hmac::{Hmac, KeyInit, Mac};
use roxmltree::{Document, Node, ParsingOptions};
use sha1::Sha1;
use thiserror::Error;
use zeroize::Zeroizing;

use crate::text::hidden_character;

/// Larger files are refused before parsing. That is room for tens of thousands of tokens;
/// manufacturers deliver batches of hundreds or thousands.
pub const MAX_FILE_BYTES: usize = 16 * 1024 * 1024;
/// More key packages than this in one file are refused.
pub const MAX_KEY_PACKAGES: usize = 100_000;
/// Bounds the parser's memory (about 70 bytes a node). A real PSKC file has at most one node
/// per 8 bytes or so, i.e. about 2 million in 16 MiB; only a flood of empty elements has more.
const MAX_XML_NODES: u32 = 2_000_000;
/// Shortest accepted seed: 128 bits, RFC 4226's minimum.
pub const MIN_SECRET_BYTES: usize = 16;
/// Longest accepted seed: a SHA-1 HMAC key is hashed down beyond one 64-byte block anyway.
pub const MAX_SECRET_BYTES: usize = 64;
/// A serial number is typed by the person at activation; longer ones are not serials.
pub const MAX_SERIAL_CHARS: usize = 64;
/// The only digits and step sesam's code displays use (DESIGN §3).
pub const DIGITS: u8 = 6;
pub const PERIOD_SECONDS: u32 = 30;

const PSKC_NS: &str = "urn:ietf:params:xml:ns:keyprov:pskc";
const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const XENC_NS: &str = "http://www.w3.org/2001/04/xmlenc#";
pub const TOTP_ALGORITHM: &str = "urn:ietf:params:xml:ns:keyprov:pskc:totp";
const AES128_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
const HMAC_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#hmac-sha1";
const BLOCK: usize = 16;
const MAC_LEN: usize = 20;

/// Why a whole file was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PskcError {
    #[error("the file has {0} bytes; PSKC files larger than 16 MiB are refused")]
    TooLarge(usize),
    #[error("the file is not UTF-8 text; PSKC files must be UTF-8 XML")]
    NotUtf8,
    #[error(
        "the file contains a DTD (<!DOCTYPE …>); PSKC files must not, as entity expansion is refused"
    )]
    Dtd,
    #[error("the file has more than {MAX_XML_NODES} XML nodes")]
    TooManyXmlNodes,
    #[error("the file is not well-formed XML: {0}")]
    NotXml(String),
    #[error(
        "the file is XML but not a PSKC key container: expected <KeyContainer> in namespace {PSKC_NS}, found {0}"
    )]
    NotPskc(String),
    #[error("the key container has version {0}; only version 1.0 (RFC 6030) is supported")]
    UnsupportedVersion(String),
    #[error("the key container has no <KeyPackage>")]
    NoKeyPackages,
    #[error("the file has {0} key packages; at most {MAX_KEY_PACKAGES} are accepted per file")]
    TooManyKeyPackages(usize),
    #[error("the key container has more than one <{0}>")]
    DuplicateElement(&'static str),
    #[error(
        "the secrets are protected with {0}; sesam accepts only a pre-shared AES-128 key (<EncryptionKey><ds:KeyName>)"
    )]
    UnsupportedKeyProtection(String),
    #[error("the file's secrets are encrypted; the pre-shared key is needed to import it")]
    KeyRequired,
    #[error(
        "the file has encrypted secrets but no <MACMethod>; unauthenticated secrets are refused"
    )]
    MacMethodMissing,
    #[error("the MAC algorithm {0} is not supported; sesam accepts only {HMAC_SHA1}")]
    UnsupportedMacAlgorithm(String),
    #[error("the <MACMethod> has no encrypted <MACKey>")]
    MacKeyMissing,
    #[error("the <MACKey> is encrypted with {0}; sesam accepts only {AES128_CBC}")]
    UnsupportedMacKeyEncryption(String),
    #[error("the <MACKey> is not valid base64")]
    MacKeyBase64,
    #[error(
        "the encrypted <MACKey> has {0} bytes; it must be a 16-byte IV followed by whole 16-byte blocks"
    )]
    MacKeyLength(usize),
    #[error(
        "the pre-shared key does not open this file: the MAC key or every secret's MAC failed to check"
    )]
    WrongKey,
}

/// Why one `<KeyPackage>` was refused. The rest of the file is still imported.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyPackageError {
    #[error("it has no <DeviceInfo><SerialNo>")]
    MissingSerial,
    #[error("its <SerialNo> is empty")]
    EmptySerial,
    #[error(
        "its <SerialNo> is not usable: at most {MAX_SERIAL_CHARS} printable characters without control or invisible characters"
    )]
    InvalidSerial,
    #[error("another key package in this file has the same serial number (ignoring case)")]
    DuplicateSerial,
    #[error("it has more than one <{0}>")]
    DuplicateElement(&'static str),
    #[error("it has no <Key>")]
    MissingKey,
    #[error("its <Key> has no Algorithm")]
    MissingAlgorithm,
    #[error("its algorithm is {0}; sesam accepts only TOTP ({TOTP_ALGORITHM})")]
    WrongAlgorithm(String),
    #[error("its <Suite> is {0}; sesam accepts only HMAC-SHA1")]
    UnsupportedSuite(String),
    #[error("its response encoding is {0}; sesam accepts only DECIMAL")]
    UnsupportedEncoding(String),
    #[error("its codes have {0} digits; sesam's code displays show {DIGITS}")]
    Digits(String),
    #[error("its time step is {0} seconds; sesam's code displays use {PERIOD_SECONDS}")]
    TimeStep(String),
    #[error("its <{0}> is encrypted; only the secret may be")]
    EncryptedParameter(&'static str),
    #[error("it has no <Data><Secret>")]
    MissingSecret,
    #[error("its <Secret> has neither a <PlainValue> nor an <EncryptedValue>")]
    EmptySecret,
    #[error("its <Secret> has both a <PlainValue> and an <EncryptedValue>")]
    AmbiguousSecret,
    #[error("its <{0}> is not valid base64")]
    Base64(&'static str),
    #[error("its secret has {0} bytes; sesam accepts {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES}")]
    SecretLength(usize),
    #[error("its secret is encrypted with {0}; sesam accepts only {AES128_CBC}")]
    UnsupportedEncryption(String),
    #[error("its encrypted secret has no <ValueMAC>")]
    MissingValueMac,
    #[error("its <ValueMAC> has {0} bytes; an HMAC-SHA1 has {MAC_LEN}")]
    ValueMacLength(usize),
    #[error(
        "its encrypted secret has {0} bytes; it must be a 16-byte IV followed by whole 16-byte blocks"
    )]
    CiphertextLength(usize),
    #[error("its <ValueMAC> does not match: the secret was altered or encrypted with another key")]
    MacMismatch,
    #[error(
        "its secret decrypts to invalid padding although its MAC matched; the file was made wrongly"
    )]
    BadPadding,
}

/// The file format; see [`PskcContainer::parse`].
#[derive(Debug)]
pub enum PskcContainer {}

/// The hash and code type of an imported token. Only one is accepted today; the enum says
/// so in the type and leaves room for more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpAlgorithm {
    /// RFC 6238 TOTP with HMAC-SHA1.
    TotpSha1,
}

/// One importable token. `Debug` does not show the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct PskcToken {
    /// 1-based position of its `<KeyPackage>` in the file.
    pub position: usize,
    /// As written in the file, without surrounding white space.
    pub serial: String,
    pub secret: Zeroizing<Vec<u8>>,
    pub digits: u8,
    pub period_seconds: u32,
    pub algorithm: OtpAlgorithm,
}

impl fmt::Debug for PskcToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PskcToken")
            .field("position", &self.position)
            .field("serial", &self.serial)
            .field(
                "secret",
                &format_args!("<{} bytes redacted>", self.secret.len()),
            )
            .field("digits", &self.digits)
            .field("period_seconds", &self.period_seconds)
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

/// A `<KeyPackage>` that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedKeyPackage {
    /// 1-based position of the `<KeyPackage>` in the file.
    pub position: usize,
    /// The serial number, when the package has a usable one.
    pub serial: Option<String>,
    pub error: KeyPackageError,
}

impl fmt::Display for RejectedKeyPackage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.serial {
            Some(serial) => write!(
                f,
                "key package {} (serial {serial}): {}",
                self.position, self.error
            ),
            None => write!(f, "key package {}: {}", self.position, self.error),
        }
    }
}

/// The result of reading a file: the tokens to import and the packages that were refused,
/// both in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PskcImport {
    pub tokens: Vec<PskcToken>,
    pub rejected: Vec<RejectedKeyPackage>,
    /// The `<ds:KeyName>` of the pre-shared key, if the file names one, so the operator can
    /// tell which key was meant.
    pub encryption_key_name: Option<String>,
}

impl PskcContainer {
    /// Reads a PSKC file. `pre_shared_key` is the AES-128 key the manufacturer delivered
    /// separately; it is needed only if the file's secrets are encrypted.
    pub fn parse(xml: &[u8], pre_shared_key: Option<&[u8; 16]>) -> Result<PskcImport, PskcError> {
        if xml.len() > MAX_FILE_BYTES {
            return Err(PskcError::TooLarge(xml.len()));
        }
        let text = std::str::from_utf8(xml).map_err(|_| PskcError::NotUtf8)?;
        let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
        let options = ParsingOptions {
            allow_dtd: false,
            nodes_limit: MAX_XML_NODES,
            ..ParsingOptions::default()
        };
        let doc = Document::parse_with_options(text, options).map_err(|e| match e {
            roxmltree::Error::DtdDetected => PskcError::Dtd,
            roxmltree::Error::NodesLimitReached => PskcError::TooManyXmlNodes,
            other => PskcError::NotXml(shown(&other.to_string())),
        })?;

        let root = doc.root_element();
        if !is(root, PSKC_NS, "KeyContainer") {
            let found = match root.tag_name().namespace() {
                Some(ns) => format!("<{}> in namespace {ns}", root.tag_name().name()),
                None => format!("<{}> without a namespace", root.tag_name().name()),
            };
            return Err(PskcError::NotPskc(shown(&found)));
        }
        if let Some(version) = root.attribute("Version")
            && version.trim() != "1.0"
        {
            return Err(PskcError::UnsupportedVersion(shown(version)));
        }

        let packages: Vec<Node> = children(root, PSKC_NS, "KeyPackage").collect();
        if packages.is_empty() {
            return Err(PskcError::NoKeyPackages);
        }
        if packages.len() > MAX_KEY_PACKAGES {
            return Err(PskcError::TooManyKeyPackages(packages.len()));
        }

        let any_encrypted = packages.iter().any(|p| {
            p.descendants().any(|n| {
                is(n, PSKC_NS, "EncryptedValue")
                    && n.parent().is_some_and(|s| is(s, PSKC_NS, "Secret"))
            })
        });
        // How the key is described matters only if something is encrypted with it.
        let encryption_key_name = match encryption_key_name(root) {
            Ok(name) => name,
            Err(e) if any_encrypted => return Err(e),
            Err(_) => None,
        };
        let keys = if any_encrypted {
            let psk = pre_shared_key.ok_or(PskcError::KeyRequired)?;
            let mac_key = mac_key(root, psk)?;
            Some(Keys { psk, mac_key })
        } else {
            None
        };

        // Serial numbers first, so that duplicates refuse every package that claims one.
        let serials: Vec<Result<String, KeyPackageError>> =
            packages.iter().map(|&p| serial_of(p)).collect();
        let mut counts: HashMap<String, usize> = HashMap::new();
        for serial in serials.iter().flatten() {
            *counts.entry(serial.to_lowercase()).or_default() += 1;
        }

        let mut import = PskcImport {
            tokens: Vec::new(),
            rejected: Vec::new(),
            encryption_key_name,
        };
        let mut encrypted_tried = 0usize;
        let mut mac_failures = 0usize;
        for (i, (&package, serial)) in packages.iter().zip(serials).enumerate() {
            let position = i + 1;
            let serial = match serial {
                Ok(s) => s,
                Err(error) => {
                    import.rejected.push(RejectedKeyPackage {
                        position,
                        serial: None,
                        error,
                    });
                    continue;
                }
            };
            let result = if counts.get(&serial.to_lowercase()).copied().unwrap_or(0) > 1 {
                Err(KeyPackageError::DuplicateSerial)
            } else {
                token_of(package, keys.as_ref(), &mut encrypted_tried)
            };
            match result {
                Ok((secret, digits, period_seconds)) => import.tokens.push(PskcToken {
                    position,
                    serial,
                    secret,
                    digits,
                    period_seconds,
                    algorithm: OtpAlgorithm::TotpSha1,
                }),
                Err(error) => {
                    if error == KeyPackageError::MacMismatch {
                        mac_failures += 1;
                    }
                    import.rejected.push(RejectedKeyPackage {
                        position,
                        serial: Some(serial),
                        error,
                    });
                }
            }
        }
        // When no encrypted secret at all checks out, the key is wrong: one clear answer
        // beats a list of identical per-package errors.
        if encrypted_tried > 0 && mac_failures == encrypted_tried {
            return Err(PskcError::WrongKey);
        }
        Ok(import)
    }
}

struct Keys<'a> {
    psk: &'a [u8; 16],
    mac_key: Zeroizing<Vec<u8>>,
}

/// The `<EncryptionKey>`, which may only name a pre-shared key.
fn encryption_key_name(root: Node) -> Result<Option<String>, PskcError> {
    let Some(ek) = container_child(root, PSKC_NS, "EncryptionKey")? else {
        return Ok(None);
    };
    let mut name = None;
    for child in ek.children().filter(Node::is_element) {
        if is(child, DS_NS, "KeyName") {
            if name.is_some() {
                return Err(PskcError::DuplicateElement("KeyName"));
            }
            name = Some(shown(text_of(child).trim()));
        } else {
            return Err(PskcError::UnsupportedKeyProtection(shown(&format!(
                "<{}>",
                child.tag_name().name()
            ))));
        }
    }
    match name {
        Some(n) => Ok(Some(n)),
        None => Err(PskcError::UnsupportedKeyProtection(
            "an empty <EncryptionKey>".into(),
        )),
    }
}

/// Decrypts the container's `<MACMethod><MACKey>` with the pre-shared key. The MAC key has
/// no MAC of its own, so wrong padding here almost always means a wrong pre-shared key.
fn mac_key(root: Node, psk: &[u8; 16]) -> Result<Zeroizing<Vec<u8>>, PskcError> {
    let method = container_child(root, PSKC_NS, "MACMethod")?.ok_or(PskcError::MacMethodMissing)?;
    let algorithm = method.attribute("Algorithm").unwrap_or("").trim();
    if algorithm != HMAC_SHA1 {
        return Err(PskcError::UnsupportedMacAlgorithm(shown(algorithm)));
    }
    let key = container_child(method, PSKC_NS, "MACKey")?.ok_or(PskcError::MacKeyMissing)?;
    let enc_algorithm = container_child(key, XENC_NS, "EncryptionMethod")?
        .and_then(|m| m.attribute("Algorithm"))
        .unwrap_or("")
        .trim();
    if enc_algorithm != AES128_CBC {
        return Err(PskcError::UnsupportedMacKeyEncryption(shown(enc_algorithm)));
    }
    let data = container_child(key, XENC_NS, "CipherData")?.ok_or(PskcError::MacKeyMissing)?;
    let value = container_child(data, XENC_NS, "CipherValue")?.ok_or(PskcError::MacKeyMissing)?;
    let data = base64(&text_of(value)).ok_or(PskcError::MacKeyBase64)?;
    if !is_iv_and_blocks(data.len()) {
        return Err(PskcError::MacKeyLength(data.len()));
    }
    let mac_key = aes128_cbc_decrypt(psk, &data).ok_or(PskcError::WrongKey)?;
    if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&mac_key.len()) {
        // Valid padding by chance under a wrong key gives an arbitrary length.
        return Err(PskcError::WrongKey);
    }
    Ok(mac_key)
}

fn serial_of(package: Node) -> Result<String, KeyPackageError> {
    let info =
        unique_child(package, PSKC_NS, "DeviceInfo")?.ok_or(KeyPackageError::MissingSerial)?;
    let serial = unique_child(info, PSKC_NS, "SerialNo")?.ok_or(KeyPackageError::MissingSerial)?;
    let text = text_of(serial);
    let serial = text.trim();
    if serial.is_empty() {
        return Err(KeyPackageError::EmptySerial);
    }
    if serial.chars().count() > MAX_SERIAL_CHARS
        || serial
            .chars()
            .any(|c| hidden_character(c).is_some() || (c.is_whitespace() && c != ' '))
    {
        return Err(KeyPackageError::InvalidSerial);
    }
    Ok(serial.to_owned())
}

type TokenParts = (Zeroizing<Vec<u8>>, u8, u32);

fn token_of(
    package: Node,
    keys: Option<&Keys>,
    encrypted_tried: &mut usize,
) -> Result<TokenParts, KeyPackageError> {
    let key = unique_child(package, PSKC_NS, "Key")?.ok_or(KeyPackageError::MissingKey)?;
    let algorithm = key
        .attribute("Algorithm")
        .ok_or(KeyPackageError::MissingAlgorithm)?
        .trim();
    if algorithm != TOTP_ALGORITHM {
        return Err(KeyPackageError::WrongAlgorithm(shown(algorithm)));
    }

    let mut digits = DIGITS;
    if let Some(params) = unique_child(key, PSKC_NS, "AlgorithmParameters")? {
        if let Some(suite) = unique_child(params, PSKC_NS, "Suite")? {
            let suite = text_of(suite);
            let s = suite.trim();
            if !["HMAC-SHA1", "SHA1", "SHA-1"]
                .iter()
                .any(|ok| s.eq_ignore_ascii_case(ok))
            {
                return Err(KeyPackageError::UnsupportedSuite(shown(s)));
            }
        }
        if let Some(format) = unique_child(params, PSKC_NS, "ResponseFormat")? {
            if let Some(encoding) = format.attribute("Encoding")
                && !encoding.trim().eq_ignore_ascii_case("DECIMAL")
            {
                return Err(KeyPackageError::UnsupportedEncoding(shown(encoding)));
            }
            if let Some(length) = format.attribute("Length") {
                digits = match length.trim().parse::<u8>() {
                    Ok(DIGITS) => DIGITS,
                    _ => return Err(KeyPackageError::Digits(shown(length.trim()))),
                };
            }
        }
    }

    let data = unique_child(key, PSKC_NS, "Data")?.ok_or(KeyPackageError::MissingSecret)?;
    let mut period = PERIOD_SECONDS;
    if let Some(interval) = unique_child(data, PSKC_NS, "TimeInterval")? {
        if unique_child(interval, PSKC_NS, "EncryptedValue")?.is_some() {
            return Err(KeyPackageError::EncryptedParameter("TimeInterval"));
        }
        if let Some(value) = unique_child(interval, PSKC_NS, "PlainValue")? {
            let value = text_of(value);
            period = match value.trim().parse::<u32>() {
                Ok(PERIOD_SECONDS) => PERIOD_SECONDS,
                _ => return Err(KeyPackageError::TimeStep(shown(value.trim()))),
            };
        }
    }

    let secret = unique_child(data, PSKC_NS, "Secret")?.ok_or(KeyPackageError::MissingSecret)?;
    let plain = unique_child(secret, PSKC_NS, "PlainValue")?;
    let encrypted = unique_child(secret, PSKC_NS, "EncryptedValue")?;
    let value = match (plain, encrypted) {
        (Some(_), Some(_)) => return Err(KeyPackageError::AmbiguousSecret),
        (None, None) => return Err(KeyPackageError::EmptySecret),
        (Some(plain), None) => {
            base64(&text_of(plain)).ok_or(KeyPackageError::Base64("PlainValue"))?
        }
        (None, Some(encrypted)) => {
            // `keys` is present whenever any secret is encrypted; see `parse`.
            let Some(keys) = keys else {
                return Err(KeyPackageError::MacMismatch);
            };
            *encrypted_tried += 1;
            decrypt_secret(secret, encrypted, keys)?
        }
    };
    if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&value.len()) {
        return Err(KeyPackageError::SecretLength(value.len()));
    }
    Ok((value, digits, period))
}

/// RFC 6030 §6.1.1: check HMAC-SHA1(MAC key, IV‖ciphertext) in constant time, then decrypt.
fn decrypt_secret(
    secret: Node,
    encrypted: Node,
    keys: &Keys,
) -> Result<Zeroizing<Vec<u8>>, KeyPackageError> {
    let algorithm = unique_child(encrypted, XENC_NS, "EncryptionMethod")?
        .and_then(|m| m.attribute("Algorithm"))
        .unwrap_or("")
        .trim();
    if algorithm != AES128_CBC {
        return Err(KeyPackageError::UnsupportedEncryption(shown(algorithm)));
    }
    let cipher_value = unique_child(encrypted, XENC_NS, "CipherData")?
        .map(|d| unique_child(d, XENC_NS, "CipherValue"))
        .transpose()?
        .flatten()
        .ok_or(KeyPackageError::Base64("CipherValue"))?;
    let data = base64(&text_of(cipher_value)).ok_or(KeyPackageError::Base64("CipherValue"))?;
    let mac_node =
        unique_child(secret, PSKC_NS, "ValueMAC")?.ok_or(KeyPackageError::MissingValueMac)?;
    let mac = base64(&text_of(mac_node)).ok_or(KeyPackageError::Base64("ValueMAC"))?;
    if mac.len() != MAC_LEN {
        return Err(KeyPackageError::ValueMacLength(mac.len()));
    }
    if !is_iv_and_blocks(data.len()) {
        return Err(KeyPackageError::CiphertextLength(data.len()));
    }
    let mut hmac = <Hmac<Sha1> as KeyInit>::new_from_slice(&keys.mac_key)
        .map_err(|_| KeyPackageError::MacMismatch)?;
    hmac.update(&data);
    hmac.verify_slice(&mac)
        .map_err(|_| KeyPackageError::MacMismatch)?;
    aes128_cbc_decrypt(keys.psk, &data).ok_or(KeyPackageError::BadPadding)
}

/// IV‖ciphertext → plaintext, or `None` for invalid PKCS#7 padding. The caller has checked
/// that the length is an IV plus at least one whole block.
fn aes128_cbc_decrypt(key: &[u8; 16], data: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let (iv, ciphertext) = data.split_at_checked(BLOCK)?;
    let decryptor = cbc::Decryptor::<Aes128>::new_from_slices(key, iv).ok()?;
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    let plain = decryptor.decrypt_padded::<Pkcs7>(&mut buf).ok()?;
    Some(Zeroizing::new(plain.to_vec()))
}

fn is_iv_and_blocks(len: usize) -> bool {
    len >= 2 * BLOCK && len.is_multiple_of(BLOCK)
}

/// XML Schema base64Binary: white space anywhere is allowed and ignored.
fn base64(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let compact: Zeroizing<String> =
        Zeroizing::new(text.chars().filter(|c| !c.is_ascii_whitespace()).collect());
    BASE64.decode(compact.as_bytes()).ok().map(Zeroizing::new)
}

fn is(node: Node, ns: &str, name: &str) -> bool {
    node.is_element() && node.tag_name().name() == name && node.tag_name().namespace() == Some(ns)
}

fn children<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    ns: &'static str,
    name: &'static str,
) -> impl Iterator<Item = Node<'a, 'input>> {
    node.children().filter(move |&n| is(n, ns, name))
}

/// The one child element with this name, `None` if absent; two of them is an error, since
/// which one counts would be a guess.
fn unique_child<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    ns: &'static str,
    name: &'static str,
) -> Result<Option<Node<'a, 'input>>, KeyPackageError> {
    let mut found = children(node, ns, name);
    let first = found.next();
    if found.next().is_some() {
        return Err(KeyPackageError::DuplicateElement(name));
    }
    Ok(first)
}

/// [`unique_child`] outside a key package, where a duplicate refuses the file.
fn container_child<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    ns: &'static str,
    name: &'static str,
) -> Result<Option<Node<'a, 'input>>, PskcError> {
    unique_child(node, ns, name).map_err(|_| PskcError::DuplicateElement(name))
}

/// All text directly inside an element (split by comments or CDATA sections or not).
fn text_of(node: Node) -> Zeroizing<String> {
    Zeroizing::new(
        node.children()
            .filter(Node::is_text)
            .filter_map(|n| n.text())
            .collect(),
    )
}

/// Text from the file as an error message may show it: at most 80 characters, with control
/// and invisible characters replaced by their code points.
fn shown(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == 80 {
            out.push('…');
            break;
        }
        if hidden_character(c).is_some() {
            out.push_str(&format!("U+{:04X}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const RFC_PSK: [u8; 16] = [
        0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56, 0x78, 0x90,
        0x12,
    ];

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/pskc/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn parse(name: &str, key: Option<&[u8; 16]>) -> Result<PskcImport, PskcError> {
        PskcContainer::parse(&fixture(name), key)
    }

    #[test]
    fn rfc_6030_figure_2_as_totp() {
        let import = parse("rfc6030-figure2-totp.pskcxml", None).unwrap();
        assert_eq!(import.rejected, vec![]);
        assert_eq!(import.encryption_key_name, None);
        let [token] = import.tokens.as_slice() else {
            panic!("{import:?}")
        };
        assert_eq!(token.position, 1);
        assert_eq!(token.serial, "987654321");
        assert_eq!(token.secret.as_slice(), b"12345678901234567890");
        assert_eq!(token.digits, 6);
        assert_eq!(token.period_seconds, 30);
        assert_eq!(token.algorithm, OtpAlgorithm::TotpSha1);
        // A key is ignored when nothing is encrypted.
        assert_eq!(
            parse("rfc6030-figure2-totp.pskcxml", Some(&[0; 16])).unwrap(),
            import
        );
    }

    #[test]
    fn rfc_6030_pre_shared_key_example() {
        let import = parse("rfc6030-preshared-key-totp.pskcxml", Some(&RFC_PSK)).unwrap();
        assert_eq!(import.rejected, vec![]);
        assert_eq!(
            import.encryption_key_name.as_deref(),
            Some("Pre-shared-key")
        );
        let [token] = import.tokens.as_slice() else {
            panic!("{import:?}")
        };
        assert_eq!(token.serial, "987654321");
        assert_eq!(token.secret.as_slice(), b"12345678901234567890");
        assert_eq!((token.digits, token.period_seconds), (6, 30));
    }

    #[test]
    fn encrypted_file_needs_the_right_key() {
        let name = "rfc6030-preshared-key-totp.pskcxml";
        assert_eq!(parse(name, None), Err(PskcError::KeyRequired));
        let mut wrong = RFC_PSK;
        wrong[0] ^= 1;
        assert_eq!(parse(name, Some(&wrong)), Err(PskcError::WrongKey));
        assert_eq!(parse(name, Some(&[0; 16])), Err(PskcError::WrongKey));
        assert_eq!(
            parse("encrypted-batch.pskcxml", Some(&[7; 16])),
            Err(PskcError::WrongKey)
        );
    }

    #[test]
    fn encrypted_batch_imports_every_token() {
        let import = parse("encrypted-batch.pskcxml", Some(&RFC_PSK)).unwrap();
        assert_eq!(import.rejected, vec![]);
        let got: Vec<(&str, usize)> = import
            .tokens
            .iter()
            .map(|t| (t.serial.as_str(), t.secret.len()))
            .collect();
        assert_eq!(got, [("ENC-0001", 16), ("ENC-0002", 20), ("ENC-0003", 64)]);
    }

    #[test]
    fn vendor_style_prefixes_and_defaults() {
        let import = parse("rfc6238-seed.pskcxml", None).unwrap();
        assert_eq!(import.rejected, vec![]);
        assert_eq!(import.tokens.len(), 2);
        assert_eq!(import.tokens[0].serial, "RFC6238-SHA1");
        assert_eq!(import.tokens[0].secret.as_slice(), b"12345678901234567890");
        assert_eq!(import.tokens[1].serial, "SESAM-0002");
        assert_eq!(import.tokens[1].secret.len(), 32);
        assert_eq!(import.tokens[1].position, 2);
        assert_eq!(
            (import.tokens[1].digits, import.tokens[1].period_seconds),
            (6, 30)
        );
    }

    #[test]
    fn whole_file_refusals() {
        use PskcError::*;
        let cases: &[(&str, Option<&[u8; 16]>, PskcError)] = &[
            ("refuse-utf16.pskcxml", None, NotUtf8),
            ("refuse-dtd-entities.pskcxml", None, Dtd),
            (
                "refuse-not-pskc.pskcxml",
                None,
                NotPskc("<KeyContainer> without a namespace".into()),
            ),
            ("refuse-no-key-packages.pskcxml", None, NoKeyPackages),
            (
                "refuse-encrypted-without-mac.pskcxml",
                Some(&RFC_PSK),
                MacMethodMissing,
            ),
            (
                "refuse-mac-algorithm.pskcxml",
                Some(&RFC_PSK),
                UnsupportedMacAlgorithm(
                    "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256".into(),
                ),
            ),
            (
                "refuse-derived-key.pskcxml",
                Some(&RFC_PSK),
                UnsupportedKeyProtection("<DerivedKey>".into()),
            ),
        ];
        for (name, key, want) in cases {
            assert_eq!(parse(name, *key).as_ref().err(), Some(want), "{name}");
        }
        let Err(NotXml(msg)) = parse("refuse-not-xml.pskcxml", None) else {
            panic!("CSV accepted as XML")
        };
        assert!(msg.contains("1:1"), "{msg}");
    }

    #[test]
    fn oversized_files_are_refused_before_parsing() {
        let mut big = fixture("rfc6030-figure2-totp.pskcxml");
        big.resize(MAX_FILE_BYTES + 1, b' ');
        assert_eq!(
            PskcContainer::parse(&big, None),
            Err(PskcError::TooLarge(MAX_FILE_BYTES + 1))
        );
        // Trailing white space up to the limit is fine.
        big.truncate(MAX_FILE_BYTES);
        assert_eq!(PskcContainer::parse(&big, None).unwrap().tokens.len(), 1);
    }

    #[test]
    fn too_many_key_packages_are_refused() {
        let package = "<KeyPackage/>";
        let head = format!("<KeyContainer Version=\"1.0\" xmlns=\"{PSKC_NS}\">");
        let many = format!(
            "{head}{}</KeyContainer>",
            package.repeat(MAX_KEY_PACKAGES + 1)
        );
        assert!(many.len() < MAX_FILE_BYTES);
        assert_eq!(
            PskcContainer::parse(many.as_bytes(), None),
            Err(PskcError::TooManyKeyPackages(MAX_KEY_PACKAGES + 1))
        );
        // Exactly the limit is read (and each empty package reported).
        let limit = format!("{head}{}</KeyContainer>", package.repeat(MAX_KEY_PACKAGES));
        let import = PskcContainer::parse(limit.as_bytes(), None).unwrap();
        assert_eq!(import.rejected.len(), MAX_KEY_PACKAGES);
        assert_eq!(import.rejected[0].error, KeyPackageError::MissingSerial);
    }

    #[test]
    fn too_many_nodes_are_refused() {
        let head = format!("<KeyContainer xmlns=\"{PSKC_NS}\">");
        let flood = format!(
            "{head}{}</KeyContainer>",
            "<x/>".repeat(MAX_XML_NODES as usize)
        );
        assert!(flood.len() < MAX_FILE_BYTES);
        assert_eq!(
            PskcContainer::parse(flood.as_bytes(), None),
            Err(PskcError::TooManyXmlNodes)
        );
    }

    /// Each of these files holds the good token GOOD-0001 first and bad packages after it.
    #[test]
    fn per_package_refusals_keep_the_good_tokens() {
        use KeyPackageError::*;
        type Rejections = Vec<(usize, Option<&'static str>, KeyPackageError)>;
        let cases: &[(&str, Rejections)] = &[
            (
                "refuse-hotp-algorithm.pskcxml",
                vec![(
                    2,
                    Some("HOTP-0001"),
                    WrongAlgorithm("urn:ietf:params:xml:ns:keyprov:pskc:hotp".into()),
                )],
            ),
            (
                "refuse-missing-serial.pskcxml",
                vec![(2, None, MissingSerial)],
            ),
            ("refuse-empty-serial.pskcxml", vec![(2, None, EmptySerial)]),
            (
                "refuse-duplicate-serial.pskcxml",
                vec![
                    (2, Some("DUP-0001"), DuplicateSerial),
                    (3, Some("dup-0001"), DuplicateSerial),
                ],
            ),
            (
                "refuse-digits-8.pskcxml",
                vec![(2, Some("EIGHT-001"), Digits("8".into()))],
            ),
            (
                "refuse-time-step-60.pskcxml",
                vec![(2, Some("SLOW-0001"), TimeStep("60".into()))],
            ),
            (
                "refuse-suite-sha256.pskcxml",
                vec![(2, Some("SHA2-0001"), UnsupportedSuite("HMAC-SHA256".into()))],
            ),
            (
                "refuse-secret-too-short.pskcxml",
                vec![(2, Some("SHORT-001"), SecretLength(15))],
            ),
            (
                "refuse-secret-too-long.pskcxml",
                vec![(2, Some("LONG-0001"), SecretLength(65))],
            ),
            (
                "refuse-bad-base64.pskcxml",
                vec![(2, Some("B64-0001"), Base64("PlainValue"))],
            ),
            (
                "refuse-ciphertext-length.pskcxml",
                vec![(2, Some("CUT-0001"), CiphertextLength(44))],
            ),
            (
                "refuse-mac-mismatch.pskcxml",
                vec![(2, Some("MAC-0001"), MacMismatch)],
            ),
            (
                "refuse-bad-padding.pskcxml",
                vec![(2, Some("PAD-0001"), BadPadding)],
            ),
        ];
        for (name, want) in cases {
            let import = parse(name, Some(&RFC_PSK)).unwrap_or_else(|e| panic!("{name}: {e}"));
            let serials: Vec<&str> = import.tokens.iter().map(|t| t.serial.as_str()).collect();
            assert_eq!(serials, ["GOOD-0001"], "{name}");
            let got: Vec<(usize, Option<&str>, KeyPackageError)> = import
                .rejected
                .iter()
                .map(|r| (r.position, r.serial.as_deref(), r.error.clone()))
                .collect();
            assert_eq!(&got, want, "{name}");
        }
    }

    #[test]
    fn rejected_packages_read_well() {
        let import = parse("refuse-digits-8.pskcxml", None).unwrap();
        assert_eq!(
            import.rejected[0].to_string(),
            "key package 2 (serial EIGHT-001): its codes have 8 digits; sesam's code displays show 6"
        );
        let import = parse("refuse-missing-serial.pskcxml", None).unwrap();
        assert_eq!(
            import.rejected[0].to_string(),
            "key package 2: it has no <DeviceInfo><SerialNo>"
        );
    }

    #[test]
    fn token_debug_hides_the_secret() {
        let import = parse("rfc6030-figure2-totp.pskcxml", None).unwrap();
        let debug = format!("{import:?}");
        assert!(debug.contains("<20 bytes redacted>"), "{debug}");
        assert!(!debug.contains("49, 50, 51"), "{debug}");
    }

    /// Small hand-made containers for the rules that need no crypto.
    fn container(packages: &str) -> Vec<u8> {
        format!("<KeyContainer Version=\"1.0\" xmlns=\"{PSKC_NS}\">{packages}</KeyContainer>")
            .into_bytes()
    }

    fn package(serial: &str, key: &str) -> String {
        format!(
            "<KeyPackage><DeviceInfo><SerialNo>{serial}</SerialNo></DeviceInfo>{key}</KeyPackage>"
        )
    }

    const SEED_B64: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=";

    fn only_error(xml: &[u8]) -> KeyPackageError {
        let import = PskcContainer::parse(xml, None).unwrap();
        assert!(import.tokens.is_empty(), "{import:?}");
        let [rejected] = import.rejected.as_slice() else {
            panic!("{import:?}")
        };
        rejected.error.clone()
    }

    #[test]
    fn structural_rules() {
        use KeyPackageError::*;
        let totp = format!("Algorithm=\"{TOTP_ALGORITHM}\"");
        let secret = format!("<Data><Secret><PlainValue>{SEED_B64}</PlainValue></Secret></Data>");
        let cases: Vec<(String, KeyPackageError)> = vec![
            (package("A1", ""), MissingKey),
            (
                package("A1", &format!("<Key>{secret}</Key>")),
                MissingAlgorithm,
            ),
            (package("A1", &format!("<Key {totp}/>")), MissingSecret),
            (
                package("A1", &format!("<Key {totp}><Data/></Key>")),
                MissingSecret,
            ),
            (
                package("A1", &format!("<Key {totp}><Data><Secret/></Data></Key>")),
                EmptySecret,
            ),
            (
                package(
                    "A1",
                    &format!(
                        "<Key {totp}><Data><Secret><PlainValue>{SEED_B64}</PlainValue><PlainValue>{SEED_B64}</PlainValue></Secret></Data></Key>"
                    ),
                ),
                DuplicateElement("PlainValue"),
            ),
            (
                package(
                    "A1",
                    &format!("<Key {totp}>{secret}</Key><Key {totp}>{secret}</Key>"),
                ),
                DuplicateElement("Key"),
            ),
            (
                "<KeyPackage><DeviceInfo><SerialNo>A1</SerialNo><SerialNo>A2</SerialNo></DeviceInfo></KeyPackage>".to_string(),
                DuplicateElement("SerialNo"),
            ),
            (
                package(
                    "A1",
                    &format!(
                        "<Key {totp}><AlgorithmParameters><ResponseFormat Length=\"6\" Encoding=\"HEXADECIMAL\"/></AlgorithmParameters>{secret}</Key>"
                    ),
                ),
                UnsupportedEncoding("HEXADECIMAL".into()),
            ),
            (
                package(
                    "A1",
                    &format!(
                        "<Key {totp}><AlgorithmParameters><ResponseFormat Length=\"six\"/></AlgorithmParameters>{secret}</Key>"
                    ),
                ),
                Digits("six".into()),
            ),
            (
                package(
                    "A1",
                    &format!(
                        "<Key {totp}><AlgorithmParameters><ResponseFormat Length=\"300\"/></AlgorithmParameters>{secret}</Key>"
                    ),
                ),
                Digits("300".into()),
            ),
            (
                package(
                    "A1",
                    &format!(
                        "<Key {totp}><Data><Secret><PlainValue>{SEED_B64}</PlainValue></Secret><TimeInterval><EncryptedValue/></TimeInterval></Data></Key>"
                    ),
                ),
                EncryptedParameter("TimeInterval"),
            ),
            (
                package(
                    "A1",
                    &format!(
                        "<Key {totp}><Data><Secret><PlainValue>{SEED_B64}</PlainValue></Secret><TimeInterval><PlainValue>-30</PlainValue></TimeInterval></Data></Key>"
                    ),
                ),
                TimeStep("-30".into()),
            ),
            (
                package(
                    "A1",
                    &format!(
                        "<Key Algorithm=\"urn:ietf:params:xml:ns:keyprov:pskc#totp\">{secret}</Key>"
                    ),
                ),
                WrongAlgorithm("urn:ietf:params:xml:ns:keyprov:pskc#totp".into()),
            ),
            (
                package(
                    "A1",
                    &format!("<Key Algorithm=\"x&#x202E;y\">{secret}</Key>"),
                ),
                WrongAlgorithm("xU+202Ey".into()),
            ),
            (
                package("a\u{202E}b", &format!("<Key {totp}>{secret}</Key>")),
                InvalidSerial,
            ),
            (
                package("a&#9;b", &format!("<Key {totp}>{secret}</Key>")),
                InvalidSerial,
            ),
            (
                package(&"9".repeat(65), &format!("<Key {totp}>{secret}</Key>")),
                InvalidSerial,
            ),
            (
                package("", &format!("<Key {totp}>{secret}</Key>")),
                EmptySerial,
            ),
            (
                format!("<KeyPackage><DeviceInfo/><Key {totp}>{secret}</Key></KeyPackage>"),
                MissingSerial,
            ),
            (
                "<KeyPackage><DeviceInfo><SerialNo xmlns=\"urn:other\">A1</SerialNo></DeviceInfo></KeyPackage>".to_string(),
                MissingSerial,
            ),
        ];
        for (p, want) in cases {
            assert_eq!(only_error(&container(&p)), want, "{p}");
        }
    }

    #[test]
    fn lenient_where_rfc_6030_allows() {
        let totp = format!("Algorithm=\" {TOTP_ALGORITHM} \"");
        // Serial and values with surrounding white space, base64 split over lines, a comment
        // inside a value, a BOM, lower-case suite and encoding.
        let key = format!(
            "<Key {totp}><AlgorithmParameters><Suite>hmac-sha1</Suite><ResponseFormat Length=\" 6 \" Encoding=\"decimal\"/></AlgorithmParameters>\
             <Data><Secret><PlainValue>\n  MTIzNDU2Nzg5\n<!-- split -->MDEyMzQ1Njc4OTA=\n</PlainValue></Secret>\
             <TimeInterval><PlainValue> 30 </PlainValue></TimeInterval><Counter><PlainValue>0</PlainValue></Counter></Data></Key>"
        );
        let mut xml = "\u{FEFF}".as_bytes().to_vec();
        xml.extend(container(&package("  SN 42  ", &key)));
        let import = PskcContainer::parse(&xml, None).unwrap();
        assert_eq!(import.rejected, vec![]);
        assert_eq!(import.tokens[0].serial, "SN 42");
        assert_eq!(import.tokens[0].secret.as_slice(), b"12345678901234567890");
    }

    #[test]
    fn key_protection_matters_only_when_something_is_encrypted() {
        let plain = String::from_utf8(fixture("rfc6030-figure2-totp.pskcxml")).unwrap();
        let odd_key = "<EncryptionKey><X509Data/></EncryptionKey><KeyPackage>";
        let xml = plain.replacen("<KeyPackage>", odd_key, 1);
        let import = PskcContainer::parse(xml.as_bytes(), None).unwrap();
        assert_eq!(import.tokens.len(), 1);
        assert_eq!(import.encryption_key_name, None);

        let encrypted = String::from_utf8(fixture("rfc6030-preshared-key-totp.pskcxml")).unwrap();
        let two_names = encrypted.replacen(
            "<ds:KeyName>Pre-shared-key</ds:KeyName>",
            "<ds:KeyName>a</ds:KeyName><ds:KeyName>b</ds:KeyName>",
            1,
        );
        assert_eq!(
            PskcContainer::parse(two_names.as_bytes(), Some(&RFC_PSK)),
            Err(PskcError::DuplicateElement("KeyName"))
        );
        let empty = encrypted.replacen("<ds:KeyName>Pre-shared-key</ds:KeyName>", "", 1);
        assert_eq!(
            PskcContainer::parse(empty.as_bytes(), Some(&RFC_PSK)),
            Err(PskcError::UnsupportedKeyProtection(
                "an empty <EncryptionKey>".into()
            ))
        );
    }

    #[test]
    fn unsupported_versions_are_refused() {
        let xml = format!(
            "<KeyContainer Version=\"2.0\" xmlns=\"{PSKC_NS}\"><KeyPackage/></KeyContainer>"
        );
        assert_eq!(
            PskcContainer::parse(xml.as_bytes(), None),
            Err(PskcError::UnsupportedVersion("2.0".into()))
        );
    }

    #[test]
    fn encrypted_value_structure_errors() {
        // Take the RFC example and break one thing at a time.
        let good = String::from_utf8(fixture("rfc6030-preshared-key-totp.pskcxml")).unwrap();
        let cases: &[(&str, &str, Result<KeyPackageError, PskcError>)] = &[
            (
                "<ValueMAC>Su+NvtQfmvfJzF6bmQiJqoLRExc=\n                    </ValueMAC>",
                "",
                Ok(KeyPackageError::MissingValueMac),
            ),
            (
                "Su+NvtQfmvfJzF6bmQiJqoLRExc=",
                "Su+NvtQfmvfJzF6bmQiJqoLREw==",
                Ok(KeyPackageError::ValueMacLength(19)),
            ),
            (
                "Su+NvtQfmvfJzF6bmQiJqoLRExc=",
                "Su+NvtQfmvfJzF6bmQiJqoLRExc",
                Ok(KeyPackageError::Base64("ValueMAC")),
            ),
            (
                "AAECAwQFBgcICQoLDA0OD+cIHItlB3Wra1DUpxVvOx2lef1VmNPCMl8jwZqIUqGv",
                "AAECAwQFBgcICQoLDA0ODw==",
                Ok(KeyPackageError::CiphertextLength(16)),
            ),
            (
                "<xenc:EncryptionMethod\n            Algorithm=\"http://www.w3.org/2001/04/xmlenc#aes128-cbc\"/>",
                "<xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#aes256-cbc\"/>",
                Ok(KeyPackageError::UnsupportedEncryption(
                    "http://www.w3.org/2001/04/xmlenc#aes256-cbc".into(),
                )),
            ),
            (
                "ESIzRFVmd4iZABEiM0RVZgKn6WjLaTC1sbeBMSvIhRejN9vJa2BOlSaMrR7I5wSX",
                "ESIzRFVmd4iZABEiM0RVZgKn6WjLaTC1sbeBMSvIhRej",
                Err(PskcError::MacKeyLength(33)),
            ),
            (
                "ESIzRFVmd4iZABEiM0RVZgKn6WjLaTC1sbeBMSvIhRejN9vJa2BOlSaMrR7I5wSX",
                "%%%",
                Err(PskcError::MacKeyBase64),
            ),
            (
                "<Secret>",
                "<Secret><PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue>",
                Ok(KeyPackageError::AmbiguousSecret),
            ),
            (
                "<MACKey>",
                "<MACKey><xenc:EncryptionMethod Algorithm=\"urn:x\"/>",
                Err(PskcError::DuplicateElement("EncryptionMethod")),
            ),
        ];
        for (from, to, want) in cases {
            assert!(good.contains(from), "{from}");
            let xml = good.replacen(from, to, 1);
            let got = PskcContainer::parse(xml.as_bytes(), Some(&RFC_PSK));
            match want {
                Ok(e) => {
                    let import = got.unwrap_or_else(|err| panic!("{from}: {err}"));
                    assert_eq!(import.rejected[0].error, *e, "{from}");
                }
                Err(e) => assert_eq!(got.as_ref().err(), Some(e), "{from}"),
            }
        }
    }

    fn fixture_names() -> Vec<String> {
        let dir = format!("{}/tests/fixtures/pskc", env!("CARGO_MANIFEST_DIR"));
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".pskcxml"))
            .collect();
        names.sort();
        names
    }

    /// Every fixture's bytes, read once for the property tests.
    static FIXTURES: std::sync::LazyLock<Vec<Vec<u8>>> =
        std::sync::LazyLock::new(|| fixture_names().iter().map(|n| fixture(n)).collect());

    fn some_fixture(which: usize) -> &'static [u8] {
        &FIXTURES[which % FIXTURES.len()]
    }

    #[test]
    fn every_fixture_is_covered() {
        // Every fixture parses to some answer; none panics (also with the wrong key).
        let names = fixture_names();
        assert!(names.len() >= 25, "{names:?}");
        for name in names {
            for key in [None, Some(&RFC_PSK), Some(&[0u8; 16])] {
                let _ = parse(&name, key);
            }
        }
    }

    proptest! {
        // At least 512 cases; more with PROPTEST_CASES for a longer fuzzing run.
        #![proptest_config(ProptestConfig {
            cases: ProptestConfig::default().cases.max(512),
            ..ProptestConfig::default()
        })]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = PskcContainer::parse(&bytes, None);
            let _ = PskcContainer::parse(&bytes, Some(&RFC_PSK));
        }

        #[test]
        fn mutated_fixtures_never_panic(
            which in 0usize..64,
            edits in proptest::collection::vec(
                (any::<prop::sample::Index>(), 0u8..4, any::<u8>(), 0usize..24),
                1..6,
            ),
        ) {
            let mut bytes = some_fixture(which).to_vec();
            for (at, kind, byte, len) in edits {
                if bytes.is_empty() {
                    break;
                }
                let i = at.index(bytes.len());
                match kind {
                    0 => bytes[i] = byte,
                    1 => bytes.insert(i, byte),
                    2 => {
                        let end = (i + len).min(bytes.len());
                        bytes.drain(i..end);
                    }
                    _ => {
                        // Duplicate a slice: repeats elements, attributes and values.
                        let end = (i + len).min(bytes.len());
                        let copy = bytes[i..end].to_vec();
                        bytes.splice(i..i, copy);
                    }
                }
            }
            for key in [None, Some(&RFC_PSK)] {
                if let Ok(import) = PskcContainer::parse(&bytes, key) {
                    for t in &import.tokens {
                        let len = t.secret.len();
                        prop_assert!((MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&len));
                        prop_assert!(!t.serial.trim().is_empty());
                        prop_assert_eq!((t.digits, t.period_seconds), (6, 30));
                    }
                }
            }
        }

        #[test]
        fn mutated_fixture_text_never_panics(
            which in 0usize..64,
            at in any::<prop::sample::Index>(),
            // Free text, start and end tags (with an attribute) and entity references.
            insert in concat!(
                "\\PC{0,40}",
                "|<[A-Za-z:]{1,12}( [A-Za-z]{1,8}=\"[^\"]{0,20}\")?/?>",
                "|</[A-Za-z:]{1,12}>",
                "|&[a-z#0-9]{0,6};?",
            ),
        ) {
            let text = String::from_utf8_lossy(some_fixture(which)).into_owned();
            let mut i = at.index(text.len() + 1);
            while !text.is_char_boundary(i) {
                i -= 1;
            }
            let mutated = format!("{}{insert}{}", &text[..i], &text[i..]);
            let _ = PskcContainer::parse(mutated.as_bytes(), None);
            let _ = PskcContainer::parse(mutated.as_bytes(), Some(&RFC_PSK));
        }
    }
}
