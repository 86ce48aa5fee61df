//! Chips (FIDO2 security keys) with a software security key: registration started from an
//! active app with the PIN and the password, finished with the key's answer; sign-in with
//! the key; refusal of replays, other origins and a second chip.

use crate::inproc;

use inproc::*;
use serde_json::{Value, json};
use sesam_domain::{OsRandom, UserIdKey};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

async fn finish(h: &Harness, registration_id: uuid::Uuid, credential: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/chips/register/finish", h.base))
        .json(&json!({ "registration_id": registration_id, "credential": credential }))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// A security key's answer to `options` with clientDataJSON naming `origin`, whatever the
/// RP ID: what a browser that lies about the origin (or a phishing proxy) would send.
fn answer_for_origin(token: &mut SoftToken, origin: &Url, options: Value) -> Value {
    use sha2::{Digest, Sha256};
    use webauthn_authenticator_rs::AuthenticatorBackendHashedClientData;
    let client_data = serde_json::to_vec(&json!({
        "type": "webauthn.get",
        "challenge": options["publicKey"]["challenge"],
        "origin": origin.origin().ascii_serialization(),
        "crossOrigin": false,
    }))
    .unwrap();
    let rcr: RequestChallengeResponse = serde_json::from_value(options).unwrap();
    let mut answer = AuthenticatorBackendHashedClientData::perform_auth(
        token,
        Sha256::digest(&client_data).to_vec(),
        rcr.public_key,
        60_000,
    )
    .unwrap();
    answer.response.client_data_json = client_data;
    serde_json::to_value(answer).unwrap()
}

async fn chip_flow(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = activated_app(
        &h,
        &sink,
        dir.path(),
        "0101901234",
        "+4512345678",
        "anna.hansen",
        "111111",
    )
    .await;
    let client = h.client();
    let origin = Url::parse(&h.base).unwrap();
    let (mut token, _) = SoftToken::new(true).unwrap();

    let e = client
        .start_chip_registration(&app, "111111", "short", &OsRandom)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("password_refused"), "{e}");
    let (id, options) = client
        .start_chip_registration(&app, "111111", "Blue river 77 sky", &OsRandom)
        .await
        .unwrap();
    assert!(
        options["publicKey"]["extensions"]
            .get("credentialProtectionPolicy")
            .is_none(),
        "{options}"
    );
    let ccr: CreationChallengeResponse = serde_json::from_value(options).unwrap();
    let answer = token.do_registration(origin.clone(), ccr).unwrap();
    let answer = serde_json::to_value(&answer).unwrap();
    let (status, body) = finish(&h, id, answer.clone()).await;
    assert_eq!(status, 200, "{body}");
    // The registration id works once.
    let (status, body) = finish(&h, id, answer).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("chip_ceremony_expired"))
    );

    let identity =
        h.db.identity_by_user_id(&UserIdKey::of_input("anna.hansen"))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(h.db.chips_of(identity.id).await.unwrap().len(), 1);
    assert!(h.db.password_of(identity.id).await.unwrap().is_some());

    // A second chip is refused; the password is now proven, not set.
    let e = client
        .start_chip_registration(&app, "111111", "Blue river 77 sky", &OsRandom)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("chip_limit"));

    // Sign-in with the key.
    let (ceremony, options) = h
        .sesam
        .start_chip_authentication(identity.id)
        .await
        .unwrap();
    let rcr: RequestChallengeResponse = serde_json::from_value(options).unwrap();
    let assertion =
        serde_json::to_value(token.do_authentication(origin.clone(), rcr).unwrap()).unwrap();
    assert_eq!(
        h.sesam
            .finish_chip_authentication(ceremony, &assertion)
            .await
            .unwrap(),
        identity.id
    );
    let e = h
        .sesam
        .finish_chip_authentication(ceremony, &assertion)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("expired or was already used"), "{e}");
    let chip = h.db.chips_of(identity.id).await.unwrap().remove(0);
    assert!(chip.last_used_at.is_some());

    // An answer made for another origin is refused by the server. The software key, like a
    // browser, will not sign for an origin outside the RP ID, so the answer is made below
    // that check: clientDataJSON written here with the origin, the key signing its hash.
    // The same construction with the right origin is accepted, so the refusal is the
    // origin's and not the construction's.
    let evil = Url::parse("http://evil.example:1234").unwrap();
    let (ceremony, options) = h
        .sesam
        .start_chip_authentication(identity.id)
        .await
        .unwrap();
    let forged = answer_for_origin(&mut token, &evil, options);
    let e = h
        .sesam
        .finish_chip_authentication(ceremony, &forged)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not accepted"), "{e}");
    let (ceremony, options) = h
        .sesam
        .start_chip_authentication(identity.id)
        .await
        .unwrap();
    let honest = answer_for_origin(&mut token, &origin, options);
    assert_eq!(
        h.sesam
            .finish_chip_authentication(ceremony, &honest)
            .await
            .unwrap(),
        identity.id
    );
    // An answer to another challenge is refused.
    let (_c1, o1) = h
        .sesam
        .start_chip_authentication(identity.id)
        .await
        .unwrap();
    let (c2, _o2) = h
        .sesam
        .start_chip_authentication(identity.id)
        .await
        .unwrap();
    let a1 = token
        .do_authentication(origin.clone(), serde_json::from_value(o1).unwrap())
        .unwrap();
    let e = h
        .sesam
        .finish_chip_authentication(c2, &serde_json::to_value(a1).unwrap())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not accepted"), "{e}");

    // The person removes the chip from their app, with the PIN.
    let e = client
        .revoke_other(&app, &format!("chip:{}", chip.id), "999999", &OsRandom)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("pin_wrong"));
    let v = client
        .revoke_other(&app, &format!("chip:{}", chip.id), "111111", &OsRandom)
        .await
        .unwrap();
    let v = serde_json::to_value(v).unwrap();
    assert!(v["warning"].is_null(), "the app still works: {v}");
    assert_eq!(
        h.db.chips_of(identity.id).await.unwrap()[0].state.as_str(),
        "revoked"
    );
    let e = client
        .revoke_other(&app, &format!("chip:{}", chip.id), "111111", &OsRandom)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("not_found"));
    assert!(
        h.sesam
            .start_chip_authentication(identity.id)
            .await
            .is_err()
    );

    let actions = audit_actions(&h).await;
    assert!(actions.iter().any(|a| a == "authenticator.chip_activated"));
    assert!(actions.iter().any(|a| a == "authenticator.chip_revoked"));
    assert!(h.sesam.verify_audit().await.is_ok());
    for _ in 0..200 {
        if sink
            .texts_to("+4512345678")
            .iter()
            .any(|t| t.contains("chip"))
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no chip notification");
}

#[tokio::test]
async fn chip_registration_and_sign_in_on_sqlite() {
    chip_flow(Backend::Sqlite).await;
}

#[tokio::test]
async fn chip_registration_and_sign_in_on_postgres() {
    chip_flow(Backend::Postgres).await;
}
