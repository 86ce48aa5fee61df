//! Code displays end to end: PSKC import (service and operator CLI), activation from an
//! active app with two consecutive codes and a password, code checks with replay refusal
//! and a lockout that leaves the app usable.

use crate::common;
use crate::inproc;

use std::path::PathBuf;

use inproc::*;
use sesam_core::services::Actor;
use sesam_domain::code_display::CodeDisplayKind;
use sesam_domain::totp::TotpVerifier;
use sesam_domain::{Clock, OsRandom};

const RFC_SEED: &[u8] = b"12345678901234567890";
const DISPLAY: CodeDisplayKind = CodeDisplayKind::Display;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../domain/tests/fixtures/pskc")
        .join(name)
}

fn key_file(dir: &std::path::Path) -> PathBuf {
    let p = dir.join("psk.hex");
    std::fs::write(&p, "12345678901234567890123456789012\n").unwrap();
    p
}

/// Two consecutive codes of the RFC 6238 seed, as the display shows them now.
fn two_codes(h: &Harness) -> (String, String) {
    let step = (h.clock.now().millis() / 1000 / 30) as u64;
    let v = TotpVerifier::new(RFC_SEED);
    (
        v.code_for_step(step).as_str().to_owned(),
        v.code_for_step(step + 1).as_str().to_owned(),
    )
}

#[tokio::test]
async fn import_is_idempotent_and_reports_every_token() {
    let h = harness(Backend::Sqlite, None).await.unwrap();
    let actor = Actor::operator("importer").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = sesam_core::services::code_displays::read_key_file(&key_file(dir.path())).unwrap();

    let r = h
        .sesam
        .import_code_displays(&actor, &fixture("rfc6238-seed.pskcxml"), None, DISPLAY)
        .await
        .unwrap();
    assert_eq!(r.imported, ["RFC6238-SHA1", "SESAM-0002"]);
    let r = h
        .sesam
        .import_code_displays(&actor, &fixture("rfc6238-seed.pskcxml"), None, DISPLAY)
        .await
        .unwrap();
    assert!(r.imported.is_empty());
    assert_eq!(r.already_present.len(), 2);

    let r = h
        .sesam
        .import_code_displays(
            &actor,
            &fixture("encrypted-batch.pskcxml"),
            Some(key),
            DISPLAY,
        )
        .await
        .unwrap();
    assert_eq!(r.imported.len(), 3);
    let e = h
        .sesam
        .import_code_displays(&actor, &fixture("encrypted-batch.pskcxml"), None, DISPLAY)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("key"), "{e}");
    let e = h
        .sesam
        .import_code_displays(&actor, &fixture("refuse-not-xml.pskcxml"), None, DISPLAY)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("refuse-not-xml.pskcxml"), "{e}");

    let r = h
        .sesam
        .import_code_displays(
            &actor,
            &fixture("refuse-duplicate-serial.pskcxml"),
            None,
            DISPLAY,
        )
        .await
        .unwrap();
    assert_eq!(r.imported, ["GOOD-0001"]);
    assert_eq!(r.rejected.len(), 2);

    let stored = h.db.code_display("RFC6238-SHA1").await.unwrap().unwrap();
    assert_eq!(stored.state.as_str(), "unassigned");
    assert!(h.sesam.verify_audit().await.is_ok());
}

#[test]
fn operator_cli_imports_and_reports_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let data = common::Data::Dir(dir.path().join("data"));
    let key = key_file(dir.path());
    let run = common::admin(
        &data,
        &[
            "--json",
            "codedisplay",
            "import",
            fixture("encrypted-batch.pskcxml").to_str().unwrap(),
            "--key-file",
            key.to_str().unwrap(),
        ],
    );
    assert_eq!(run.ok().json()["imported"], 3);
    let run = common::admin(
        &data,
        &[
            "--json",
            "codedisplay",
            "import",
            fixture("encrypted-batch.pskcxml").to_str().unwrap(),
            "--key-file",
            key.to_str().unwrap(),
        ],
    );
    assert_eq!(run.ok().json()["already_present"], 3);

    let run = common::admin(
        &data,
        &[
            "--json",
            "codedisplay",
            "import",
            fixture("refuse-hotp-algorithm.pskcxml").to_str().unwrap(),
        ],
    );
    run.fails_with("refused; the others were imported");
    let report = run.json();
    assert_eq!(report["refused"], 1);
    assert!(
        report["rejected"][0]
            .as_str()
            .unwrap()
            .contains("key package 2"),
        "{report}"
    );

    common::admin(
        &data,
        &[
            "codedisplay",
            "import",
            fixture("refuse-dtd-entities.pskcxml").to_str().unwrap(),
        ],
    )
    .fails_with("refuse-dtd-entities.pskcxml");
    common::admin(&data, &["codedisplay", "import", "/nonexistent.pskc"])
        .fails_with("cannot read /nonexistent.pskc");
    let bad_key = dir.path().join("bad.key");
    std::fs::write(&bad_key, "not a key").unwrap();
    common::admin(
        &data,
        &[
            "codedisplay",
            "import",
            fixture("encrypted-batch.pskcxml").to_str().unwrap(),
            "--key-file",
            bad_key.to_str().unwrap(),
        ],
    )
    .fails_with("32 hexadecimal characters");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn activation_with_two_codes_then_logins_with_replay_and_lockout_on_sqlite() {
    activation_with_two_codes_then_logins_with_replay_and_lockout(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn activation_with_two_codes_then_logins_with_replay_and_lockout_on_postgres() {
    activation_with_two_codes_then_logins_with_replay_and_lockout(Backend::Postgres).await;
}

async fn activation_with_two_codes_then_logins_with_replay_and_lockout(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let actor = Actor::operator("importer").unwrap();
    h.sesam
        .import_code_displays(&actor, &fixture("rfc6238-seed.pskcxml"), None, DISPLAY)
        .await
        .unwrap();
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

    let (c1, c2) = two_codes(&h);
    let e = client
        .activate_code_display(
            &app,
            "RFC6238-SHA1",
            &c2,
            &c1,
            "Blue river 77 sky",
            "111111",
            &OsRandom,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("code_display_codes_wrong"), "{e}");
    let e = client
        .activate_code_display(
            &app,
            "NO-SUCH",
            &c1,
            &c2,
            "Blue river 77 sky",
            "111111",
            &OsRandom,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("code_display_unknown"));
    let e = client
        .activate_code_display(&app, "RFC6238-SHA1", &c1, &c2, "short", "111111", &OsRandom)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("password_refused"));
    assert!(e.to_string().contains("8"), "{e}");
    let e = client
        .activate_code_display(
            &app,
            "RFC6238-SHA1",
            &c1,
            &c2,
            "anna.hansen-secret",
            "111111",
            &OsRandom,
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("user ID"), "{e}");
    let e = client
        .activate_code_display(
            &app,
            "RFC6238-SHA1",
            &c1,
            &c2,
            "Blue river 77 sky",
            "999999",
            &OsRandom,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("pin_wrong"));

    client
        .activate_code_display(
            &app,
            "RFC6238-SHA1",
            &c1,
            &c2,
            "Blue river 77 sky",
            "111111",
            &OsRandom,
        )
        .await
        .unwrap();
    let identity =
        h.db.identity_by_user_id(&sesam_domain::UserIdKey::of_input("anna.hansen"))
            .await
            .unwrap()
            .unwrap();
    assert!(
        h.db.password_of(identity.id)
            .await
            .unwrap()
            .unwrap()
            .starts_with("$argon2id$")
    );
    let e = client
        .activate_code_display(
            &app,
            "SESAM-0002",
            &c1,
            &c2,
            "Blue river 77 sky",
            "111111",
            &OsRandom,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("code_display_limit"));

    // The codes used for activation cannot log in again; the next one can, once.
    let e = h
        .sesam
        .check_code_display(identity.id, &c2)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("2 attempts left"), "{e}");
    h.clock.advance_seconds(60);
    let (next, _) = two_codes(&h);
    h.sesam
        .check_code_display(identity.id, &next)
        .await
        .unwrap();
    let e = h
        .sesam
        .check_code_display(identity.id, &next)
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("2 attempts left"),
        "a replay counts as a wrong code: {e}"
    );
    let far = TotpVerifier::new(RFC_SEED)
        .code_for_step(7)
        .as_str()
        .to_owned();
    let e = h
        .sesam
        .check_code_display(identity.id, &far)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("1 attempts left"), "{e}");
    let e = h
        .sesam
        .check_code_display(identity.id, &far)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("locked until"), "{e}");

    // Locked code display: even the right code is not evaluated; the app still works.
    h.clock.advance_seconds(30);
    let (right, _) = two_codes(&h);
    let e = h
        .sesam
        .check_code_display(identity.id, &right)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("locked until"), "{e}");
    let me = client.me(&app, &OsRandom).await.unwrap();
    assert_eq!(me.state, "active");
    let mut new = new_app(dir.path(), &h.base, "second");
    let p = client
        .start_pairing(&new, "anna.hansen", "222222", "Second", &OsRandom)
        .await
        .unwrap();
    new.set_pin_key(&p.device_pin_key);
    let r = client.requests(&app, &OsRandom).await.unwrap().remove(0);
    client
        .approve(&app, &r, "111111", Some(&p.pairing_code), &OsRandom)
        .await
        .unwrap();

    // The person removes the code display with the app's PIN.
    client
        .revoke_other(&app, "code_display:RFC6238-SHA1", "111111", &OsRandom)
        .await
        .unwrap();
    assert_eq!(
        h.db.code_display("RFC6238-SHA1")
            .await
            .unwrap()
            .unwrap()
            .state
            .as_str(),
        "revoked"
    );
    let e = h
        .sesam
        .check_code_display(identity.id, &right)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no active code display"), "{e}");

    let actions = audit_actions(&h).await;
    for a in [
        "code_display.imported",
        "authenticator.code_display_activated",
        "authenticator.password_set",
        "authenticator.code_display_locked",
        "authenticator.code_display_revoked",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} missing: {actions:?}");
    }
    for _ in 0..200 {
        if sink
            .texts_to("+4512345678")
            .iter()
            .any(|t| t.contains("RFC6238-SHA1"))
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no activation notice: {:?}", sink.texts_to("+4512345678"));
}

/// A person without the app activates a code display with the letter and the SMS code.
async fn letter_activation(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let actor = Actor::operator("importer").unwrap();
    h.sesam
        .import_code_displays(&actor, &fixture("rfc6238-seed.pskcxml"), None, DISPLAY)
        .await
        .unwrap();
    let code = enrol(&h, "0101901234", "+4512345678", None).await;
    let client = h.client();
    let started = client.start_activation(&code).await.unwrap();
    let sms = sink.wait_for_code("+4512345678", 1).await;
    let (c1, c2) = two_codes(&h);
    let http = reqwest::Client::new();
    let post = |body: serde_json::Value| {
        let http = http.clone();
        let url = format!("{}/code-displays/activate-with-letter", h.base);
        async move {
            let r = http.post(url).json(&body).send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    let body = serde_json::json!({
        "activation_id": started.activation_id, "activation_code": code, "sms_code": sms,
        "serial": "RFC6238-SHA1", "code1": c1, "code2": c2, "password": "Blue river 77 sky",
        "new_user_id": "anna.hansen",
    });
    let mut wrong = body.clone();
    wrong["sms_code"] = serde_json::json!(if sms == "11111111" {
        "22222222"
    } else {
        "11111111"
    });
    let (status, b) = post(wrong).await;
    assert_eq!(
        (status, b["error"].as_str()),
        (400, Some("sms_code_wrong")),
        "{b}"
    );
    let mut no_user = body.clone();
    no_user["new_user_id"] = serde_json::Value::Null;
    assert_eq!(post(no_user).await.1["error"], "user_id_required");
    let (status, b) = post(body.clone()).await;
    assert_eq!(status, 200, "{b}");
    let identity =
        h.db.identity_by_user_id(&sesam_domain::UserIdKey::of_input("anna.hansen"))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(identity.state, sesam_domain::IdentityState::Active);
    assert!(h.db.password_of(identity.id).await.unwrap().is_some());
    // The letter is used up.
    assert_eq!(post(body).await.1["error"], "activation_closed");
    h.clock.advance_seconds(60);
    let (next, _) = two_codes(&h);
    h.sesam
        .check_code_display(identity.id, &next)
        .await
        .unwrap();
    let actions = audit_actions(&h).await;
    for a in [
        "authenticator.code_display_activated",
        "authenticator.password_set",
        "identity.user_id_chosen",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} missing");
    }
}

#[tokio::test]
async fn a_code_display_can_be_activated_with_the_letter_on_sqlite() {
    letter_activation(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_code_display_can_be_activated_with_the_letter_on_postgres() {
    letter_activation(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_audio_code_reader_is_named_as_one_in_the_app_and_in_messages() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The operator says what the batch is: the same PSKC file, read-aloud devices.
    let run = common::admin(
        &common::Data::Dir(dir.path().join("cli")),
        &[
            "codedisplay",
            "import",
            fixture("rfc6238-seed.pskcxml").to_str().unwrap(),
            "--kind",
            "sound",
        ],
    );
    run.fails_with("invalid value 'sound'");
    h.sesam
        .import_code_displays(
            &Actor::operator("importer").unwrap(),
            &fixture("rfc6238-seed.pskcxml"),
            None,
            CodeDisplayKind::AudioReader,
        )
        .await
        .unwrap();
    let phone = "+4512345678";
    let app = activated_app(
        &h,
        &sink,
        dir.path(),
        "0101901234",
        phone,
        "anna.hansen",
        "111111",
    )
    .await;
    let client = h.client();
    let (c1, c2) = two_codes(&h);
    client
        .activate_code_display(
            &app,
            "RFC6238-SHA1",
            &c1,
            &c2,
            "Blue river 77 sky",
            "111111",
            &OsRandom,
        )
        .await
        .unwrap();
    let me = client.me(&app, &OsRandom).await.unwrap();
    assert_eq!(
        (
            me.code_displays[0].kind.as_str(),
            me.code_displays[0].state.as_str()
        ),
        ("audio_reader", "active")
    );
    let told = |what: &'static str| {
        let sink = &sink;
        async move {
            for _ in 0..200 {
                if let Some(t) = sink.texts_to(phone).into_iter().find(|t| t.contains(what)) {
                    return t;
                }
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            panic!("no SMS with {what:?}: {:?}", sink.texts_to(phone));
        }
    };
    let text = told("serienummer RFC6238-SHA1 blev aktiveret").await;
    assert!(
        text.starts_with("sesam: Kodeoplæseren med serienummer RFC6238-SHA1 blev aktiveret"),
        "{text}"
    );
    client
        .revoke_other(&app, "code_display:RFC6238-SHA1", "111111", &OsRandom)
        .await
        .unwrap();
    let text = told("serienummer RFC6238-SHA1 blev fjernet").await;
    assert!(
        text.contains("Kodeoplæseren med serienummer RFC6238-SHA1"),
        "{text}"
    );
}
