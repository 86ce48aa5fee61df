//! The test vectors of `docs/protocol.md`: fixed keys and inputs give exactly these bytes.
//! An app implementation in another language can check itself against the same values.
//! The expected values are read from the document itself (every fenced block of its "Test
//! vectors" section, named by the paragraph before it), so the document cannot drift from
//! the code, and every block there must be checked by a test here.
// A test fails by panicking: unwrapping is how it reports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use sesam_domain::Random;
use sesam_domain::app_protocol::{self, AppPin, DevicePinKey, PinKey};
use sesam_domain::auth_request::approval_pin_binding;
use uuid::Uuid;

/// Returns the same 32 bytes on every call: a fixed ephemeral key (or salt) for the PIN
/// proof vectors.
struct Fixed([u8; 32]);

impl Random for Fixed {
    fn fill(&self, dest: &mut [u8]) {
        for (d, s) in dest.iter_mut().zip(self.0.iter().cycle()) {
            *d = *s;
        }
    }
}

fn device_key() -> SigningKey {
    SigningKey::from_slice(&[0x11; 32]).unwrap()
}

fn device_public() -> Vec<u8> {
    device_key()
        .verifying_key()
        .to_sec1_point(false)
        .as_bytes()
        .to_vec()
}

const DEVICE_ID: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0001);
const ACTIVATION_ID: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_00aa);

/// Every fenced block of the "Test vectors" section(s) of `docs/protocol.md`, with the
/// paragraph before it (joined to one line). Other sections, and headings below `##`
/// inside the section, are skipped, so new sections do not disturb this.
fn doc_blocks() -> Vec<(String, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/protocol.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (mut out, mut paragraph, mut block) = (vec![], Vec::<&str>::new(), None::<Vec<&str>>);
    let (mut in_section, mut paragraph_ended) = (false, false);
    for line in doc.lines() {
        if let Some(b) = block.as_mut() {
            if line.trim_start().starts_with("```") {
                out.push((paragraph.join(" "), b.join("\n")));
                block = None;
                paragraph.clear();
            } else {
                b.push(line);
            }
        } else if line.starts_with("# ") || line.starts_with("## ") {
            in_section = line.to_ascii_lowercase().contains("test vectors");
            paragraph.clear();
        } else if !in_section || line.starts_with('#') {
        } else if line.trim_start().starts_with("```") {
            block = Some(vec![]);
        } else if line.trim().is_empty() {
            paragraph_ended = true;
        } else {
            if paragraph_ended {
                paragraph.clear();
                paragraph_ended = false;
            }
            paragraph.push(line.trim());
        }
    }
    assert!(
        !out.is_empty(),
        "no test vectors found in {}",
        path.display()
    );
    out
}

/// The labels (starts of the paragraph before each block) this file checks.
const LABELS: &[&str] = &[
    "Device public key (SEC1, hex)",
    "Request signing bytes",
    "Signature over them",
    "Activation binding",
    "Pairing approval binding",
    "Server PIN public key",
    "Enrolment PIN proof",
    "Device PIN key",
    "Wrapped device PIN key",
    "Approval of request",
    "Signature (",
    "PIN binding of that approval",
    "Device PIN proof",
    "The same request rejected",
];

/// The one block of the document whose paragraph starts with `label`, and the paragraph.
fn doc_vector(label: &str) -> (String, String) {
    assert!(LABELS.contains(&label), "{label} is not listed in LABELS");
    let mut found: Vec<(String, String)> = doc_blocks()
        .into_iter()
        .filter(|(p, _)| p.starts_with(label))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "docs/protocol.md: one vector starting {label:?}"
    );
    found.remove(0)
}

/// Checks one value against the document's vector named `label`.
fn vector(label: &str, value: &str) {
    assert_eq!(value, doc_vector(label).1, "docs/protocol.md: {label}");
}

#[test]
fn every_vector_of_the_document_is_checked_here() {
    for (paragraph, block) in doc_blocks() {
        let n = LABELS.iter().filter(|l| paragraph.starts_with(**l)).count();
        assert_eq!(
            n, 1,
            "docs/protocol.md vector not checked exactly once: {paragraph:?}\n{block}"
        );
    }
}

#[test]
fn device_key_and_request_signature() {
    vector(
        "Device public key (SEC1, hex)",
        &hex::encode(device_public()),
    );
    let bytes = app_protocol::request_signing_bytes(
        "GET",
        "/app/v1/approvals",
        1_767_225_600_000,
        "bm9uY2Utbm9uY2Utbm9uY2U",
        DEVICE_ID,
        b"",
    );
    vector(
        "Request signing bytes",
        &String::from_utf8(bytes.clone()).unwrap(),
    );
    let sig: Signature = device_key().sign(&bytes);
    vector("Signature over them", &hex::encode(sig.to_bytes()));
    let pk = sesam_domain::device::DevicePublicKey::from_sec1(&device_public()).unwrap();
    pk.verify(&bytes, &sig.to_bytes()).unwrap();
}

#[test]
fn bindings() {
    let b = app_protocol::activation_binding(ACTIVATION_ID, &device_public());
    vector("Activation binding", &String::from_utf8(b).unwrap());
    let b =
        sesam_domain::pairing::pairing_approval_binding(ACTIVATION_ID, DEVICE_ID, &device_public());
    vector("Pairing approval binding", &String::from_utf8(b).unwrap());
}

/// The master key of the device PIN key vector.
const MASTER_KEY: &str = "4444444444444444444444444444444444444444444444444444444444444444";

fn device_pin_key() -> DevicePinKey {
    sesam_domain::MasterKey::from_hex(MASTER_KEY)
        .unwrap()
        .keys()
        .device_pin_key(DEVICE_ID)
}

#[test]
fn enrolment_pin_proof_and_device_key() {
    let server = PinKey::from_material([0x22; 32]);
    vector("Server PIN public key", &hex::encode(server.public_sec1()));
    let binding = app_protocol::activation_binding(ACTIVATION_ID, &device_public());
    let pin = AppPin::parse("123456").unwrap();
    let (proof, app_key) =
        app_protocol::seal_enrolment_pin(&server.public_sec1(), &pin, &binding, &Fixed([0x33; 32]))
            .unwrap();
    vector("Enrolment PIN proof", &hex::encode(&proof));
    let (opened, server_key) = server.open_enrolment(&proof, &binding).unwrap();
    assert_eq!(opened, pin);
    // The paragraph names the master key the device key is derived from.
    let (paragraph, _) = doc_vector("Device PIN key");
    assert!(paragraph.contains("32 bytes `0x44`"), "{paragraph}");
    let device_key = device_pin_key();
    vector("Device PIN key", &hex::encode(device_key.expose_bytes()));
    let wrapped = server_key.wrap(&device_key, &binding, &Fixed([0x66; 32]));
    vector("Wrapped device PIN key", &hex::encode(&wrapped));
    assert_eq!(app_key.unwrap(&wrapped, &binding).unwrap(), device_key);
}

const REQUEST_ID: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_00bb);

#[test]
fn approval_signature() {
    use sesam_domain::auth_request::{ApprovalFields, Decision, approval_signing_bytes};
    use sesam_domain::authorization::Action;
    use sesam_domain::transaction_text::TransactionText;
    let text = TransactionText::parse("Overfør 1.500,00 kr. til Jens Hansen").unwrap();
    // The paragraph names the text and its hash: "text `…` (SHA-256 `…`)".
    let (paragraph, _) = doc_vector("Approval of request");
    let after = |word: &str| {
        let at = paragraph
            .find(word)
            .unwrap_or_else(|| panic!("{word} in {paragraph}"));
        paragraph[at..]
            .split('`')
            .nth(1)
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(after("text "), text.as_str(), "{paragraph}");
    assert_eq!(after("SHA-256"), hex::encode(text.sha256()), "{paragraph}");
    let fields = ApprovalFields {
        request_id: REQUEST_ID,
        client_id: "sp_4f1e2d3c4b5a69788796a5b4",
        sp_name: "Demo Bank",
        action: Action::Approve,
        text_sha256: text.sha256(),
        binding_code: Some("0042"),
        decision: Decision::Approve,
        device_id: DEVICE_ID,
        timestamp_ms: 1_767_225_600_000,
    };
    let bytes = approval_signing_bytes(&fields);
    vector("Approval of request", std::str::from_utf8(&bytes).unwrap());
    let sig: Signature = device_key().sign(&bytes);
    vector("Signature (", &hex::encode(sig.to_bytes()));
    let binding = approval_pin_binding(REQUEST_ID, DEVICE_ID);
    vector(
        "PIN binding of that approval",
        std::str::from_utf8(&binding).unwrap(),
    );
    let pin = AppPin::parse("123456").unwrap();
    let proof = device_pin_key().seal(&pin, &binding, &Fixed([0x55; 32]));
    vector("Device PIN proof", &hex::encode(&proof));
    assert_eq!(device_pin_key().open(&proof, &binding).unwrap(), pin);
    // A rejection of a CIBA request (no browser, no binding code).
    let reject = approval_signing_bytes(&ApprovalFields {
        binding_code: None,
        decision: Decision::Reject,
        ..fields
    });
    vector(
        "The same request rejected",
        std::str::from_utf8(&reject).unwrap(),
    );
}
