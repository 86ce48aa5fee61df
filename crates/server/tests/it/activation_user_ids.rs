//! Choosing a user ID at activation is not an oracle of which user IDs exist (issue 12,
//! item 8): with one letter and its SMS code, at most 5 user IDs may be refused per SMS
//! code; the fifth ends that code (not the letter), so starting again sends a new one,
//! at most 3 per letter. A person whose first choice clashes just picks another.
//! Real HTTP server, real SMS gateway sink, SQLite and PostgreSQL.

use crate::inproc;

use inproc::*;
use sesam_app::AppClient;
use sesam_domain::OsRandom;
use sesam_domain::activation::{MAX_SMS_PER_GRANT, MAX_USER_ID_CHOICES};

const PHONE: &str = "+4522334455";

#[tokio::test]
async fn refused_user_ids_are_limited_per_sms_code_on_sqlite() {
    refused_user_ids_are_limited(Backend::Sqlite).await;
}

#[tokio::test]
async fn refused_user_ids_are_limited_per_sms_code_on_postgres() {
    refused_user_ids_are_limited(Backend::Postgres).await;
}

async fn refused_user_ids_are_limited(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Someone who already has the user ID the newcomer will try.
    activated_app(
        &h,
        &sink,
        dir.path(),
        "0101901234",
        "+4512345678",
        "anna.hansen",
        "111111",
    )
    .await;
    let letter = enrol(&h, "0202901234", PHONE, None).await;
    let client = AppClient::new(&h.base).unwrap();
    let app = new_app(dir.path(), &h.base, "newcomer");
    let mut sms_sent = 0;

    // Probing: taken (in any case) and against the rules both count; the fifth refusal
    // ends the SMS code, and the next choice needs a new one.
    let mut refused = 0;
    for round in 0..MAX_SMS_PER_GRANT {
        let started = client.start_activation(&letter).await.unwrap();
        sms_sent += 1;
        let sms = sink.wait_for_code(PHONE, sms_sent).await;
        for i in 1..MAX_USER_ID_CHOICES {
            let probe = if i % 2 == 0 { "ANNA.HANSEN" } else { "x" };
            let e = try_id(&client, &app, &started, &letter, &sms, probe)
                .await
                .unwrap_err();
            assert_ne!(
                e.code(),
                Some("user_id_choices_used_up"),
                "{round}/{i}: {e}"
            );
            refused += 1;
        }
        let e = try_id(&client, &app, &started, &letter, &sms, "anna.hansen")
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("user_id_choices_used_up"), "{e}");
        refused += 1;
        let e = try_id(&client, &app, &started, &letter, &sms, "free.choice")
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("sms_code_expired"), "{e}");
    }
    assert_eq!(refused, MAX_USER_ID_CHOICES * MAX_SMS_PER_GRANT);
    let e = client.start_activation(&letter).await.unwrap_err();
    assert_eq!(
        e.code(),
        Some("too_many_sms"),
        "the letter allows no more: {e}"
    );
    let actions = audit_actions(&h).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "activation.user_id_refused")
            .count() as i32,
        refused
    );

    // An honest person: the first choice clashes, the second works with the same code.
    let letter = enrol(&h, "0303901234", "+4533445566", None).await;
    let started = client.start_activation(&letter).await.unwrap();
    let sms = sink.wait_for_code("+4533445566", 1).await;
    let honest = new_app(dir.path(), &h.base, "honest");
    let e = try_id(&client, &honest, &started, &letter, &sms, "anna.hansen")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("taken"), "{e}");
    let done = try_id(&client, &honest, &started, &letter, &sms, "bent.jensen")
        .await
        .unwrap();
    assert_eq!(done.user_id, "bent.jensen");
}

async fn try_id(
    client: &AppClient,
    app: &sesam_app::AppState,
    started: &sesam_app::ActivationStarted,
    letter: &str,
    sms: &str,
    user_id: &str,
) -> Result<sesam_app::Activated, sesam_app::AppError> {
    client
        .complete_activation(
            app,
            started,
            letter,
            sms,
            "222222",
            "Newcomer",
            None,
            Some(user_id),
            &OsRandom,
        )
        .await
}
