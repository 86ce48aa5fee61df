//! The test vectors of `docs/protocol.md`: fixed keys and inputs give exactly these bytes.
//! An app implementation in another language can check itself against the same values.

use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use sesam_domain::Random;
use sesam_domain::app_protocol::{self, AppPin, PinKey};
use uuid::Uuid;

/// Returns the same 32 bytes on every call: a fixed ephemeral key for the PIN proof vector.
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

/// Checks one vector (`PRINT_VECTORS=1` prints them instead, to regenerate the docs).
fn vector(name: &str, value: &str, expected: &str) {
    if std::env::var("PRINT_VECTORS").is_ok() {
        println!("VECTOR {name} = {value:?}");
        return;
    }
    assert_eq!(value, expected, "{name}");
}

#[test]
fn device_key_and_request_signature() {
    vector(
        "device public key (SEC1, hex)",
        &hex::encode(device_public()),
        DEVICE_PUBLIC,
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
        "request signing bytes",
        &String::from_utf8(bytes.clone()).unwrap(),
        REQUEST_BYTES,
    );
    let sig: Signature = device_key().sign(&bytes);
    vector(
        "request signature (r||s, hex)",
        &hex::encode(sig.to_bytes()),
        REQUEST_SIGNATURE,
    );
    let pk = sesam_domain::device::DevicePublicKey::from_sec1(&device_public()).unwrap();
    pk.verify(&bytes, &sig.to_bytes()).unwrap();
}

#[test]
fn bindings() {
    let b = app_protocol::activation_binding(ACTIVATION_ID, &device_public());
    vector(
        "activation binding",
        &String::from_utf8(b).unwrap(),
        ACTIVATION_BINDING,
    );
    let b =
        sesam_domain::pairing::pairing_approval_binding(ACTIVATION_ID, DEVICE_ID, &device_public());
    vector(
        "pairing approval binding",
        &String::from_utf8(b).unwrap(),
        PAIRING_APPROVAL_BINDING,
    );
}

#[test]
fn pin_proof() {
    let server = PinKey::from_material([0x22; 32]);
    vector(
        "server PIN key (SEC1, hex)",
        &hex::encode(server.public_sec1()),
        SERVER_PIN_KEY,
    );
    let binding = app_protocol::activation_binding(ACTIVATION_ID, &device_public());
    let pin = AppPin::parse("123456").unwrap();
    let proof =
        app_protocol::seal_pin(&server.public_sec1(), &pin, &binding, &Fixed([0x33; 32])).unwrap();
    vector("PIN proof (hex)", &hex::encode(&proof), PIN_PROOF);
    assert_eq!(server.open(&proof, &binding).unwrap(), pin);
}

const DEVICE_PUBLIC: &str = "040217e617f0b6443928278f96999e69a23a4f2c152bdf6d6cdf66e5b80282d4ed194a7debcb97712d2dda3ca85aa8765a56f45fc758599652f2897c65306e5794";
const REQUEST_BYTES: &str = "sesam-app-request/v1\nGET\n/app/v1/approvals\n1767225600000\nbm9uY2Utbm9uY2Utbm9uY2U\n01920000-0000-7000-8000-000000000001\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const REQUEST_SIGNATURE: &str = "a99a9bf06a454f7be645f2447ca327f799bd82ff52d12ad5f364886b41e4d7212fdc4a93c4599919ade4f864b59fee9668d3dbb2f02f7f673e5399c3be553715";
const ACTIVATION_BINDING: &str = "sesam-activation/v1\n01920000-0000-7000-8000-0000000000aa\n040217e617f0b6443928278f96999e69a23a4f2c152bdf6d6cdf66e5b80282d4ed194a7debcb97712d2dda3ca85aa8765a56f45fc758599652f2897c65306e5794";
const PAIRING_APPROVAL_BINDING: &str = "sesam-pairing-approval/v1\n01920000-0000-7000-8000-0000000000aa\n01920000-0000-7000-8000-000000000001\n2bad0fd610d99eae443e932a26142bca1e5fa995b4518452827e78ef1f317ff0";
const SERVER_PIN_KEY: &str = "04d65a93977caa3d1b081852ff57a79e465f1660577304baead505dd3a48589cf350185e895372df6221ea3a137557e473fddb6755f05bd507c3c533fce9c91285";
const PIN_PROOF: &str = "0451a7580833898ea1b183cbd7350a4099078c6ef1c1e18e970cd7683035f25e7d0110522712b0b5a7cff081685486984a94e6831edac46e7360fa9d834a7a81a18dfee41d08af9185281e11cd66332eb3e82c79375372";

const REQUEST_ID: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_00bb);

#[test]
fn approval_signature() {
    use sesam_domain::auth_request::{
        ApprovalFields, Decision, approval_pin_binding, approval_signing_bytes,
    };
    use sesam_domain::authorization::Action;
    use sesam_domain::transaction_text::TransactionText;
    let text = TransactionText::parse("Overfør 1.500,00 kr. til Jens Hansen").unwrap();
    vector(
        "text sha256 (hex)",
        &hex::encode(text.sha256()),
        APPROVAL_TEXT_SHA256,
    );
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
    vector(
        "approval signing bytes",
        std::str::from_utf8(&bytes).unwrap(),
        APPROVAL_BYTES,
    );
    let sig: Signature = device_key().sign(&bytes);
    vector(
        "approval signature (r||s, hex)",
        &hex::encode(sig.to_bytes()),
        APPROVAL_SIGNATURE,
    );
    let binding = approval_pin_binding(REQUEST_ID, DEVICE_ID);
    vector(
        "approval PIN binding",
        std::str::from_utf8(&binding).unwrap(),
        APPROVAL_PIN_BINDING,
    );
    // A rejection of a CIBA request (no browser, no binding code).
    let reject = approval_signing_bytes(&ApprovalFields {
        binding_code: None,
        decision: Decision::Reject,
        ..fields
    });
    vector(
        "rejection signing bytes",
        std::str::from_utf8(&reject).unwrap(),
        REJECTION_BYTES,
    );
}

const APPROVAL_TEXT_SHA256: &str =
    "3b135ea6342143e022241af368735e53b469c2cf8a29ad568d6cc6ab133a48d2";
const APPROVAL_BYTES: &str = "sesam-approval/v1\n01920000-0000-7000-8000-0000000000bb\nsp_4f1e2d3c4b5a69788796a5b4\n9:Demo Bank\nAPPROVE\n3b135ea6342143e022241af368735e53b469c2cf8a29ad568d6cc6ab133a48d2\n0042\napprove\n01920000-0000-7000-8000-000000000001\n1767225600000";
const APPROVAL_SIGNATURE: &str = "226fa3d92a72784af6333ecbe99e212f2a17881848cadef79cf5ad61a54c4e888538a0d97f93eefebd81b8c79eaf4111f36a18ff18199d6c721d420aee11c4ca";
const APPROVAL_PIN_BINDING: &str = "sesam-approval-pin/v1\n01920000-0000-7000-8000-0000000000bb\n01920000-0000-7000-8000-000000000001";
const REJECTION_BYTES: &str = "sesam-approval/v1\n01920000-0000-7000-8000-0000000000bb\nsp_4f1e2d3c4b5a69788796a5b4\n9:Demo Bank\nAPPROVE\n3b135ea6342143e022241af368735e53b469c2cf8a29ad568d6cc6ab133a48d2\n-\nreject\n01920000-0000-7000-8000-000000000001\n1767225600000";
