//! Micro benchmarks of the functions on the app login's hot path: transaction-text
//! validation, approval-signature verification, ID-token signing, the PIN proof check,
//! the access-token check at userinfo, the waiting page's QR code, and storing one
//! completed login (SQLite). `cargo bench -p sesam-bench`.
// A benchmark measures real time and fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use sesam_domain::app_protocol::{AppPin, seal_enrolment_pin};
use sesam_domain::auth_request::{
    ApprovalFields, Decision, approval_pin_binding, approval_signing_bytes,
};
use sesam_domain::authorization::{
    Action, Authentication, AuthorizationGrant, AuthorizationRequest, LoginMethod,
};
use sesam_domain::device::DevicePublicKey;
use sesam_domain::transaction_text::TransactionText;
use sesam_domain::{AuditKey, Level, MasterKey, OsRandom, SecretKeys, Timestamp};
use sesam_oidc::id_token::{IdTokenClaims, TokenSigner};
use sesam_store::{Effects, Store};
use uuid::Uuid;

fn keys() -> SecretKeys {
    MasterKey::from_hex(&"5a".repeat(32)).unwrap().keys()
}

const TEXT: &str = "Overfør 1.500,00 kr. til Jens Hansen, konto DK50 0040 0440 1162 43 — husleje for december, Æblevej 7, 2. tv., København Ø";

fn transaction_text(c: &mut Criterion) {
    c.bench_function("transaction_text_parse_130", |b| {
        b.iter(|| TransactionText::parse(black_box(TEXT)).unwrap())
    });
}

fn approval_fields(text_sha256: [u8; 32], device: Uuid) -> Vec<u8> {
    approval_signing_bytes(&ApprovalFields {
        request_id: Uuid::from_u128(1),
        client_id: "sp_0123456789abcdef",
        sp_name: "Demo Bank",
        action: Action::LogOn,
        text_sha256,
        binding_code: Some("4821"),
        decision: Decision::Approve,
        device_id: device,
        timestamp_ms: 1_764_000_000_000,
    })
}

fn approval_signature(c: &mut Criterion) {
    let key = SigningKey::from_slice(&[7; 32]).unwrap();
    let public =
        DevicePublicKey::from_sec1(key.verifying_key().to_sec1_point(false).as_bytes()).unwrap();
    let text = TransactionText::parse("Log på hos Demo Bank").unwrap();
    let bytes = approval_fields(text.sha256(), Uuid::from_u128(2));
    let sig: Signature = key.sign(&bytes);
    let sig = sig.to_bytes();
    c.bench_function("approval_signature_verify", |b| {
        b.iter(|| public.verify(black_box(&bytes), black_box(&sig)).unwrap())
    });
}

fn id_token_signing(c: &mut Criterion) {
    let signer = TokenSigner::from_scalar("k1", &[9; 32]).unwrap();
    let claims = IdTokenClaims {
        iss: "https://sesam.example".into(),
        sub: "3f1c9e4b2a7d4c0e9b8a6f5e4d3c2b1a".into(),
        aud: "sp_0123456789abcdef".into(),
        exp: 1_764_000_300,
        iat: 1_764_000_000,
        auth_time: 1_764_000_000,
        nonce: Some("n-0S6_WzA2Mj".into()),
        acr: "http://eidas.europa.eu/LoA/substantial".into(),
        amr: vec!["swk".into(), "pin".into(), "mfa".into()],
        authorization_details: None,
        sid: None,
    };
    c.bench_function("id_token_sign_es256", |b| {
        b.iter(|| signer.sign(black_box(&claims)).unwrap())
    });
}

/// The server's check of a login's PIN proof (a device proof): the device PIN key
/// derived from the master key and the device id, the proof opened, the keyed hash
/// compared. And, once per app, the enrolment proof (one ECDH).
fn pin_proof(c: &mut Criterion) {
    let keys = keys();
    let device = Uuid::from_u128(3);
    let binding = approval_pin_binding(Uuid::from_u128(1), device);
    let pin = AppPin::parse("258013").unwrap();
    let stored = keys.app_pin_hash(device, &pin);
    let proof = keys.device_pin_key(device).seal(&pin, &binding, &OsRandom);
    c.bench_function("pin_proof_open_and_check", |b| {
        b.iter(|| {
            let pin = keys
                .device_pin_key(black_box(device))
                .open(black_box(&proof), &binding)
                .unwrap();
            let hash = keys.app_pin_hash(device, &pin);
            assert!(bool::from(subtle::ConstantTimeEq::ct_eq(
                &hash[..],
                &stored[..]
            )));
        })
    });
    let pin_key = keys.pin_key();
    let (enrolment, _) =
        seal_enrolment_pin(&pin_key.public_sec1(), &pin, &binding, &OsRandom).unwrap();
    c.bench_function("pin_proof_enrolment_open", |b| {
        b.iter(|| {
            let (pin, wrap) = pin_key
                .open_enrolment(black_box(&enrolment), &binding)
                .unwrap();
            black_box(wrap.wrap(&keys.device_pin_key(device), &binding, &OsRandom));
            pin
        })
    });
}

/// The userinfo endpoint's check of an access token: the published keys as the server
/// holds them, header, ES256 signature, issuer, audience and expiry.
fn access_token_check(c: &mut Criterion) {
    use p256::elliptic_curve::sec1::ToSec1Point;
    use sesam_oidc::access_token::{self, AccessTokenClaims};
    let signer = TokenSigner::from_scalar("2026-01-01-0a0b0c0d", &[9; 32]).unwrap();
    let public = p256::SecretKey::from_slice(&[9; 32]).unwrap().public_key();
    let key = sesam_domain::signing_keys::SigningKey {
        kid: "2026-01-01-0a0b0c0d".into(),
        state: sesam_domain::signing_keys::KeyState::Active,
        public_sec1: public.to_sec1_point(false).as_bytes().to_vec(),
        private_sealed: vec![],
        created_at: Timestamp::from_millis(1_764_000_000_000),
        retire_after: None,
    };
    let claims = AccessTokenClaims {
        iss: "https://sesam.example".into(),
        sub: "3f1c9e4b2a7d4c0e9b8a6f5e4d3c2b1a".into(),
        aud: "https://sesam.example/userinfo".into(),
        client_id: "sp_0123456789abcdef".into(),
        scope: "openid profile".into(),
        exp: 1_764_000_300,
        iat: 1_764_000_000,
        jti: Uuid::from_u128(5).to_string(),
        grant: Uuid::from_u128(6),
    };
    let token = access_token::sign(&signer, &claims).unwrap();
    c.bench_function("access_token_verify", |b| {
        b.iter(|| {
            let keys = [access_token::PublishedKey {
                kid: &key.kid,
                public_sec1: &key.public_sec1,
            }];
            access_token::verify(
                black_box(&token),
                &keys,
                "https://sesam.example",
                "https://sesam.example/userinfo",
                1_764_000_100,
            )
            .unwrap()
        })
    });
}

/// The waiting page's QR code of the binding code (an SVG data URL).
fn binding_qr(c: &mut Criterion) {
    let request = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_00bb);
    c.bench_function("binding_qr_svg", |b| {
        b.iter(|| sesam_http::qr::binding_qr(black_box(request), black_box("4821")).unwrap())
    });
}

fn completed_login_storage(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = runtime.block_on(async {
        sesam_store::open(
            &sesam_store::Location::Sqlite(dir.path().join("bench.db")),
            AuditKey::from(&keys()),
        )
        .await
        .unwrap()
    });
    let t0 = Timestamp::from_millis(1_764_000_000_000);
    // The person whose logins are stored (grants refer to an identity).
    let identity_id = runtime.block_on(async {
        let k = keys();
        let national_id = sesam_domain::NationalId::parse("0101901234").unwrap();
        let enrolment = sesam_domain::identity::Enrolment::new(
            national_id.clone(),
            sesam_domain::PersonName::parse("Anna Hansen").unwrap(),
            national_id.birth_date().unwrap(),
            sesam_domain::PhoneNumber::parse("+4512345678").unwrap(),
            None,
            None,
            Level::Substantial,
        )
        .unwrap();
        let id = Uuid::now_v7();
        let new = sesam_store::NewIdentity {
            id,
            national_id_sealed: k.seal_national_id(&national_id, id, &OsRandom),
            national_id_index: k.national_id_index(&national_id),
            enrolment,
            created_at: t0,
        };
        let grant = sesam_domain::ActivationGrant::issue(
            id,
            sesam_domain::ActivationPurpose::FirstActivation,
            [3; 32],
            t0,
        );
        let audit = sesam_domain::AuditDraft::new("operator:bench", "identity.enrolled");
        store.enrol(&new, &grant, &audit.into()).await.unwrap();
        id
    });
    let request = AuthorizationRequest {
        client_id: "sp_1".into(),
        redirect_uri: "https://bank.example/cb".into(),
        scope: vec!["openid".into(), "profile".into()],
        state: Some("st".into()),
        nonce: Some("n".into()),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        force_login: false,
        no_prompt: false,
        max_age: None,
        min_level: Some(Level::Substantial),
        ui_locale: None,
        login_hint: None,
        action: Action::LogOn,
        details: None,
        pushed: true,
    };
    let mut n = 0u64;
    c.bench_function("store_completed_login_sqlite", |b| {
        b.iter(|| {
            n += 1;
            let mut code_hash = [0u8; 32];
            code_hash[..8].copy_from_slice(&n.to_be_bytes());
            let grant = AuthorizationGrant {
                id: Uuid::now_v7(),
                code_hash,
                request: request.clone(),
                authentication: Authentication {
                    identity_id,
                    method: LoginMethod::App,
                    level: Level::Substantial,
                    auth_time: t0,
                    approval: None,
                    approval_receipt: None,
                },
                created_at: t0,
                code_expires_at: t0.plus_seconds(60),
                code_used_at: None,
                revoked_at: None,
            };
            let audit = sesam_domain::AuditDraft::new("person", "login.completed")
                .subject(identity_id.to_string());
            let effects = Effects {
                audit: vec![audit],
                messages: vec![],
            };
            runtime
                .block_on(store.complete_login(None, &grant, None, effects))
                .unwrap();
        })
    });
}

criterion_group!(
    hot,
    transaction_text,
    approval_signature,
    id_token_signing,
    pin_proof,
    access_token_check,
    binding_qr,
    completed_login_storage
);
criterion_main!(hot);
