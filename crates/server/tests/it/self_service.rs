//! Self-service ("Min sesam", issue 16, item 1) through HTTP, on both backends: a person
//! with only a code display and a password logs in through the ordinary login pages,
//! sees their profile and every use, revokes the code display, changes the password; forms
//! need the session's CSRF token; the session ends when idle and after an hour; ids of
//! another person's authenticators or channels are refused; every change is audited with
//! the person as the actor and notified.

use crate::inproc;
use crate::oidc;

use std::time::Duration;

use inproc::*;
use oidc::*;
use sesam_domain::Clock;
use sesam_domain::code_display::CodeDisplayState;
use sesam_domain::device::DeviceState;
use uuid::Uuid;

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(Backend::Postgres).await;
                }
            }
        )*
    };
}

on_both_backends!(
    a_code_display_and_a_password_log_in_and_show_profile_and_every_use,
    forms_without_the_session_csrf_token_change_nothing,
    the_session_ends_when_idle_and_after_an_hour,
    revoking_the_code_display_is_audited_and_notified,
    a_wrong_current_password_is_refused_and_counted,
    the_password_is_changed_with_the_current_one,
    another_persons_authenticators_and_channels_are_refused,
    channels_user_id_and_block_are_audited_with_the_person_as_actor,
    a_low_level_login_may_look_and_block_but_change_nothing,
    the_login_answer_works_once_and_only_in_its_browser,
    the_app_and_the_chip_log_in_too,
);

/// One person with an app, the RFC 6238 code display and a password; and the SMS sink.
async fn setup(backend: Backend) -> Option<(Harness, SmsSink, Person, tempfile::TempDir)> {
    let (sink, url) = SmsSink::start().await;
    let h = harness(backend, Some(&url)).await?;
    let dir = tempfile::tempdir().unwrap();
    let anna = person(&h, &sink, dir.path(), ANNA).await;
    Some((h, sink, anna, dir))
}

/// The login to Min sesam with code display + password, through the ordinary pages;
/// returns the browser with its session, on the profile page.
async fn portal_login_with(h: &Harness, user_id: &str, password: &str) -> (Browser, Page) {
    let b = Browser::new(&h.base);
    let start = b.get("/min-sesam").await;
    assert_eq!(start.status, 200, "{start:?}");
    assert!(start.body.contains("/min-sesam/login"), "{}", start.body);
    let r = b.get("/min-sesam/login").await;
    assert_eq!(r.status, 303, "{r:?}");
    let authorize = r.location.clone().unwrap();
    assert!(authorize.starts_with("/authorize?"), "{authorize}");
    assert!(authorize.contains("prompt=login"), "{authorize}");
    let flow = open_login(&b, &authorize).await;
    let r = give_user_id(&b, &flow, user_id).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = code_display_step(&b, &flow, &totp_now(h, 0), password).await;
    h.clock.advance_seconds(30);
    if r.status != 303 {
        return (b, r);
    }
    let callback = r.location.clone().unwrap();
    assert!(
        callback.starts_with(&format!("{}/min-sesam/callback?", h.base)),
        "{callback}"
    );
    let r = b.get(&callback).await;
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(r.location.as_deref(), Some("/min-sesam"));
    let set = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("sesam_self="))
        .expect("a session cookie");
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    let profile = b.get("/min-sesam").await;
    (b, profile)
}

async fn portal_login(h: &Harness) -> (Browser, Page) {
    let (b, profile) = portal_login_with(h, ANNA.user_id, PASSWORD).await;
    assert_eq!(profile.status, 200, "{profile:?}");
    assert!(
        profile
            .body
            .contains("data-testid=\"profile-user-id\">anna.hansen<")
    );
    (b, profile)
}

/// The audit entries about `identity` with `action`: (actor, details).
async fn audited(h: &Harness, identity: Uuid, action: &str) -> Vec<(String, serde_json::Value)> {
    h.db.audit_entries(0, 5000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == action && e.subject.as_deref() == Some(&identity.to_string()))
        .map(|e| (e.actor, serde_json::from_str(&e.details).unwrap()))
        .collect()
}

async fn messages_with(h: &Harness, identity: Uuid, event: &str) -> usize {
    h.db.recent_messages(Some(identity), 500)
        .await
        .unwrap()
        .iter()
        .filter(|m| m.event == event)
        .count()
}

async fn a_code_display_and_a_password_log_in_and_show_profile_and_every_use(backend: Backend) {
    let Some((h, _sink, anna, _dir)) = setup(backend).await else {
        return;
    };
    let (b, profile) = portal_login(&h).await;
    // The national ID is shown masked, never in full.
    assert!(profile.body.contains("010190-****"), "{}", profile.body);
    assert!(!profile.body.contains("0101901234"));
    assert!(!profile.body.contains("010190-1234"));
    // The login pages' strict headers.
    let csp = profile.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(profile.headers["cache-control"], "no-store");
    assert_eq!(profile.headers["x-frame-options"], "DENY");
    // Every use: the login to Min sesam itself is one, with the method.
    let activity = b.get("/min-sesam/activity").await;
    assert_eq!(activity.status, 200, "{}", activity.body);
    let uses = &activity.body[activity.body.find("data-testid=\"uses\"").unwrap()..];
    assert!(uses.contains("Min sesam"), "{uses}");
    assert!(
        uses.contains("Kodeviser eller kodeoplæser og adgangskode"),
        "{uses}"
    );
    // Every message with its delivery status (the activation's, at least).
    assert!(activity.body.contains("data-testid=\"messages\""));
    // The session's start is audited with the method and level.
    let logins = audited(&h, anna.identity_id, "self_service.login").await;
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].0, format!("person:{}", anna.identity_id));
    assert_eq!(logins[0].1["method"], "code_display");
    assert_eq!(logins[0].1["level"], "substantial");
    // English on request, like the login pages.
    let en = b.get("/language?to=en&back=/min-sesam/activity").await;
    assert_eq!(en.location.as_deref(), Some("/min-sesam/activity"));
    let activity = b.get("/min-sesam/activity").await;
    assert!(
        activity
            .body
            .contains("Code display or audio code reader and password")
    );
    // Logging out ends the session on the server.
    let r = b
        .post("/min-sesam/logout", &[("csrf", &profile.csrf())])
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = b.get("/min-sesam/activity").await;
    assert_eq!(r.status, 303);
    assert_eq!(
        audited(&h, anna.identity_id, "self_service.logout")
            .await
            .len(),
        1
    );
}

async fn forms_without_the_session_csrf_token_change_nothing(backend: Backend) {
    let Some((h, _sink, anna, _dir)) = setup(backend).await else {
        return;
    };
    let (b, profile) = portal_login(&h).await;
    for form in [
        vec![],
        vec![("csrf", "made-up")],
        // A token of a login page (another scope) is not this session's.
        vec![("csrf", &h.sesam.csrf_token("x", "self-service") as &str)],
    ] {
        let r = b.post("/min-sesam/block", &form).await;
        assert_eq!(r.status, 403, "{r:?}");
        let mut revoke = form.clone();
        revoke.extend([("kind", "code_display"), ("id", "RFC6238-SHA1")]);
        let r = b.post("/min-sesam/authenticators/revoke", &revoke).await;
        assert_eq!(r.status, 403, "{r:?}");
    }
    let identity = h.db.identity(anna.identity_id).await.unwrap().unwrap();
    assert_eq!(identity.state, sesam_domain::IdentityState::Active);
    let display = h.db.code_display("RFC6238-SHA1").await.unwrap().unwrap();
    assert_eq!(display.state, CodeDisplayState::Active);
    // Without a session, a form (even with a token) only leads to the start page.
    let stranger = Browser::new(&h.base);
    let r = stranger
        .post("/min-sesam/block", &[("csrf", &profile.csrf())])
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location.as_deref(), Some("/min-sesam"));
    assert!(
        audited(&h, anna.identity_id, "identity.suspended")
            .await
            .is_empty()
    );
}

async fn the_session_ends_when_idle_and_after_an_hour(backend: Backend) {
    let Some((h, _sink, anna, _dir)) = setup(backend).await else {
        return;
    };
    let (b, _) = portal_login(&h).await;
    // 14 minutes idle: still in.
    h.clock.advance_seconds(14 * 60);
    assert_eq!(b.get("/min-sesam/activity").await.status, 200);
    // 15 minutes idle: out, and the start page says why.
    h.clock.advance_seconds(15 * 60);
    let r = b.get("/min-sesam/activity").await;
    assert_eq!(r.status, 303);
    let start = b.get("/min-sesam").await;
    assert!(start.body.contains("/min-sesam/login"));
    assert!(!start.body.contains("profile-user-id"));
    assert_eq!(
        audited(&h, anna.identity_id, "self_service.session_expired")
            .await
            .len(),
        1
    );
    // Busy all along: still ends an hour after the login.
    let (b, _) = portal_login(&h).await;
    for _ in 0..5 {
        h.clock.advance_seconds(10 * 60);
        assert_eq!(b.get("/min-sesam/authenticators").await.status, 200);
    }
    h.clock.advance_seconds(10 * 60);
    assert_eq!(b.get("/min-sesam/authenticators").await.status, 303);
}

async fn revoking_the_code_display_is_audited_and_notified(backend: Backend) {
    let Some((h, _sink, anna, _dir)) = setup(backend).await else {
        return;
    };
    let (b, _) = portal_login(&h).await;
    let page = b.get("/min-sesam/authenticators").await;
    assert!(
        page.body.contains("data-id=\"RFC6238-SHA1\""),
        "{}",
        page.body
    );
    let before = messages_with(&h, anna.identity_id, "authenticator.revoked").await;
    let r = b
        .post(
            "/min-sesam/authenticators/revoke",
            &[
                ("csrf", &page.csrf()),
                ("kind", "code_display"),
                ("id", "RFC6238-SHA1"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(
        r.location.as_deref(),
        Some("/min-sesam/authenticators?ok=revoked")
    );
    let display = h.db.code_display("RFC6238-SHA1").await.unwrap().unwrap();
    assert_eq!(display.state, CodeDisplayState::Revoked);
    let entries = audited(&h, anna.identity_id, "authenticator.code_display_revoked").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].0, format!("person:{}", anna.identity_id));
    assert!(messages_with(&h, anna.identity_id, "authenticator.revoked").await > before);
    // Twice: it is no longer an active one of hers.
    let r = b
        .post(
            "/min-sesam/authenticators/revoke",
            &[
                ("csrf", &page.csrf()),
                ("kind", "code_display"),
                ("id", "RFC6238-SHA1"),
            ],
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    // And the revoked display no longer logs in.
    let (_, r) = portal_login_with(&h, ANNA.user_id, PASSWORD).await;
    assert_eq!(r.status, 200, "refused on the page: {r:?}");
    assert!(r.body.contains("role=\"alert\""), "{}", r.body);
}

async fn a_wrong_current_password_is_refused_and_counted(backend: Backend) {
    let Some((h, _sink, anna, _dir)) = setup(backend).await else {
        return;
    };
    let (b, profile) = portal_login(&h).await;
    let csrf = profile.csrf();
    let change = |current: &'static str| {
        let csrf = csrf.clone();
        let b = &b;
        async move {
            b.post(
                "/min-sesam/password",
                &[
                    ("csrf", &csrf),
                    ("current", current),
                    ("new", "Green meadow 42 hill"),
                    ("repeat", "Green meadow 42 hill"),
                ],
            )
            .await
        }
    };
    let r = change("wrong password 1").await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.body.contains("role=\"alert\""));
    let lockout = |h: &Harness| {
        let db = h.db.clone();
        let id = anna.identity_id;
        async move { db.lock_password(id).await.unwrap().unwrap().guard().lockout }
    };
    assert_eq!(lockout(&h).await.failures, 1);
    assert_eq!(change("wrong password 2").await.status, 400);
    assert_eq!(change("wrong password 3").await.status, 400);
    let l = lockout(&h).await;
    assert!(l.locked_until.is_some_and(|t| t > h.clock.now()), "{l:?}");
    // Never the lock that needs a new letter: whoever has the session did not prove it.
    assert!(!l.blocked);
    // Locked: even the right password changes nothing now.
    let r = change(PASSWORD).await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(
        audited(&h, anna.identity_id, "authenticator.password_changed")
            .await
            .is_empty()
    );
    let wrong = audited(&h, anna.identity_id, "authenticator.password_wrong").await;
    assert_eq!(wrong.len(), 3);
    assert!(
        audited(&h, anna.identity_id, "authenticator.password_locked")
            .await
            .len()
            == 1
    );
}

async fn the_password_is_changed_with_the_current_one(backend: Backend) {
    let Some((h, sink, anna, _dir)) = setup(backend).await else {
        return;
    };
    let (b, profile) = portal_login(&h).await;
    let csrf = profile.csrf();
    // Two different new passwords: refused before anything is checked.
    let r = b
        .post(
            "/min-sesam/password",
            &[
                ("csrf", &csrf),
                ("current", PASSWORD),
                ("new", "Green meadow 42 hill"),
                ("repeat", "Green meadow 42 hall"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    // A new password against the rules.
    let r = b
        .post(
            "/min-sesam/password",
            &[
                ("csrf", &csrf),
                ("current", PASSWORD),
                ("new", "short"),
                ("repeat", "short"),
            ],
        )
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    let r = b
        .post(
            "/min-sesam/password",
            &[
                ("csrf", &csrf),
                ("current", PASSWORD),
                ("new", "Green meadow 42 hill"),
                ("repeat", "Green meadow 42 hill"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(
        r.location.as_deref(),
        Some("/min-sesam/password?ok=password")
    );
    let changed = audited(&h, anna.identity_id, "authenticator.password_changed").await;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].0, format!("person:{}", anna.identity_id));
    // Notified on every channel: the SMS arrives.
    let mut told = false;
    for _ in 0..200 {
        h.sesam.wake_outbox();
        if sink
            .texts_to(ANNA.phone)
            .iter()
            .any(|t| t.contains("Adgangskoden til dit sesam blev ændret"))
        {
            told = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(told, "{:?}", sink.texts_to(ANNA.phone));
    // The old password no longer logs in; the new one does.
    let (_, r) = portal_login_with(&h, ANNA.user_id, PASSWORD).await;
    assert_eq!(r.status, 200, "{r:?}");
    let (_, r) = portal_login_with(&h, ANNA.user_id, "Green meadow 42 hill").await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("profile-user-id"), "{}", r.body);
}

async fn another_persons_authenticators_and_channels_are_refused(backend: Backend) {
    let Some((h, sink, anna, dir)) = setup(backend).await else {
        return;
    };
    let bo = person(&h, &sink, dir.path(), BO).await;
    let bo_app = bo.app.device_id.unwrap();
    let bo_channels = h.db.channel_choices(bo.identity_id).await.unwrap();
    let bo_channel = bo_channels[0].id;
    let (b, profile) = portal_login(&h).await;
    let csrf = profile.csrf();
    let r = b
        .post(
            "/min-sesam/authenticators/revoke",
            &[
                ("csrf", &csrf),
                ("kind", "app"),
                ("id", &bo_app.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = b
        .post(
            "/min-sesam/authenticators/revoke",
            &[
                ("csrf", &csrf),
                ("kind", "chip"),
                ("id", &Uuid::now_v7().to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    for path in ["/min-sesam/channels/remove", "/min-sesam/channels/up"] {
        let r = b
            .post(
                path,
                &[("csrf", &csrf), ("channel", &bo_channel.to_string())],
            )
            .await;
        assert_eq!(r.status, 404, "{path}: {r:?}");
    }
    let r = b
        .post(
            "/min-sesam/channels/confirm",
            &[
                ("csrf", &csrf),
                ("channel", &bo_channel.to_string()),
                ("code", "123456"),
            ],
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    let device = h.db.device(bo_app).await.unwrap().unwrap();
    assert_eq!(device.state, DeviceState::Active);
    assert_eq!(
        h.db.channel_choices(bo.identity_id).await.unwrap(),
        bo_channels
    );
    // Nothing about Bo was written by Anna's session.
    let anna_actor = format!("person:{}", anna.identity_id);
    let by_anna =
        h.db.audit_entries(0, 5000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.subject.as_deref() == Some(&bo.identity_id.to_string()))
            .filter(|e| e.actor == anna_actor)
            .count();
    assert_eq!(by_anna, 0);
}

async fn channels_user_id_and_block_are_audited_with_the_person_as_actor(backend: Backend) {
    let Some((h, sink, anna, _dir)) = setup(backend).await else {
        return;
    };
    let actor = format!("person:{}", anna.identity_id);
    let (b, profile) = portal_login(&h).await;
    let csrf = profile.csrf();
    // Add a phone number; the code goes there; confirm it.
    let new_phone = "+4522334455";
    let r = b
        .post(
            "/min-sesam/channels/add",
            &[("csrf", &csrf), ("kind", "sms"), ("address", new_phone)],
        )
        .await;
    assert_eq!(r.status, 303, "{r:?}");
    let mut code = None;
    for _ in 0..200 {
        h.sesam.wake_outbox();
        code = sink.texts_to(new_phone).iter().find_map(|t| {
            t.split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
                .map(str::to_owned)
        });
        if code.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let code = code.expect("a confirmation code");
    let channels = h.db.channel_choices(anna.identity_id).await.unwrap();
    let added = channels.iter().find(|c| c.address == new_phone).unwrap().id;
    let r = b
        .post(
            "/min-sesam/channels/confirm",
            &[
                ("csrf", &csrf),
                ("channel", &added.to_string()),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{r:?}");
    let r = b
        .post(
            "/min-sesam/channels/up",
            &[("csrf", &csrf), ("channel", &added.to_string())],
        )
        .await;
    assert_eq!(r.status, 303, "{r:?}");
    let order = h.db.channel_choices(anna.identity_id).await.unwrap();
    let at = order.iter().position(|c| c.id == added).unwrap();
    assert!(at < channels.iter().position(|c| c.id == added).unwrap());
    let r = b
        .post(
            "/min-sesam/channels/every-use",
            &[("csrf", &csrf), ("enabled", "true")],
        )
        .await;
    assert_eq!(r.status, 303, "{r:?}");
    assert!(
        h.db.identity(anna.identity_id)
            .await
            .unwrap()
            .unwrap()
            .notify_every_use
    );
    let r = b
        .post(
            "/min-sesam/channels/remove",
            &[("csrf", &csrf), ("channel", &added.to_string())],
        )
        .await;
    assert_eq!(r.status, 303, "{r:?}");
    // A new user ID (its rules are the operator's: a national ID number is refused).
    let r = b
        .post(
            "/min-sesam/user-id",
            &[("csrf", &csrf), ("user_id", "010190-1234")],
        )
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    // Said in the page's language.
    assert!(
        r.body.contains("må ikke indeholde dit CPR-nummer"),
        "{}",
        r.body
    );
    let r = b
        .post(
            "/min-sesam/user-id",
            &[("csrf", &csrf), ("user_id", "anna.selv")],
        )
        .await;
    assert_eq!(r.status, 303, "{r:?}");
    let page = b.get("/min-sesam/user-id").await;
    assert!(page.body.contains(">anna.selv<"), "{}", page.body);
    // Block: the identity is suspended and the session ends with it.
    let r = b.post("/min-sesam/block", &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 403, "{r:?}");
    let identity = h.db.identity(anna.identity_id).await.unwrap().unwrap();
    assert_eq!(identity.state, sesam_domain::IdentityState::Suspended);
    assert_ne!(b.get("/min-sesam/activity").await.status, 200);
    for action in [
        "channel.added_unconfirmed",
        "channel.added",
        "channel.reordered",
        "channel.every_use",
        "channel.removed",
        "identity.user_id_changed",
        "identity.suspended",
    ] {
        let entries = audited(&h, anna.identity_id, action).await;
        assert!(
            entries.iter().any(|(a, _)| *a == actor),
            "{action} by {actor}: {entries:?}"
        );
    }
    for event in [
        "channel.added",
        "channel.removed",
        "identity.user_id_changed",
        "identity.suspended",
    ] {
        assert!(
            messages_with(&h, anna.identity_id, event).await > 0,
            "{event} notified"
        );
    }
}

async fn a_low_level_login_may_look_and_block_but_change_nothing(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let anna = person(
        &h,
        &sink,
        dir.path(),
        Who {
            ial: Some("low"),
            ..ANNA
        },
    )
    .await;
    let (b, profile) = portal_login(&h).await;
    assert!(profile.body.contains("(lav)"), "{}", profile.body);
    let csrf = profile.csrf();
    for (path, form) in [
        (
            "/min-sesam/authenticators/revoke",
            vec![("kind", "code_display"), ("id", "RFC6238-SHA1")],
        ),
        (
            "/min-sesam/password",
            vec![
                ("current", PASSWORD),
                ("new", "Green meadow 42 hill"),
                ("repeat", "Green meadow 42 hill"),
            ],
        ),
        ("/min-sesam/user-id", vec![("user_id", "anna.lav")]),
        ("/min-sesam/channels/every-use", vec![("enabled", "true")]),
    ] {
        let mut form = form;
        form.push(("csrf", &csrf));
        let r = b.post(path, &form).await;
        assert_eq!(r.status, 403, "{path}: {r:?}");
        assert!(r.body.contains("betydelig"), "{path}: {}", r.body);
    }
    assert_eq!(
        h.db.code_display("RFC6238-SHA1")
            .await
            .unwrap()
            .unwrap()
            .state,
        CodeDisplayState::Active
    );
    assert!(
        audited(&h, anna.identity_id, "authenticator.password_wrong")
            .await
            .is_empty(),
        "the current password was not even looked at"
    );
    // Reading works; and blocking, which only protects, is allowed.
    assert_eq!(b.get("/min-sesam/activity").await.status, 200);
    let r = b.post("/min-sesam/block", &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 403, "the blocked page: {r:?}");
    assert_eq!(
        h.db.identity(anna.identity_id)
            .await
            .unwrap()
            .unwrap()
            .state,
        sesam_domain::IdentityState::Suspended
    );
}

async fn the_login_answer_works_once_and_only_in_its_browser(backend: Backend) {
    let Some((h, _sink, anna, _dir)) = setup(backend).await else {
        return;
    };
    let a = Browser::new(&h.base);
    let r = a.get("/min-sesam/login").await;
    let login_cookie = a.cookies.lock().unwrap()["sesam_self_login"].clone();
    let flow = open_login(&a, r.location.as_deref().unwrap()).await;
    give_user_id(&a, &flow, ANNA.user_id).await;
    let r = code_display_step(&a, &flow, &totp_now(&h, 0), PASSWORD).await;
    h.clock.advance_seconds(30);
    let callback = r.location.clone().unwrap();
    // Another browser (no login started there) cannot use the answer.
    let other = Browser::new(&h.base);
    let r = other.get(&callback).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("/min-sesam/login"));
    assert!(!other.cookies.lock().unwrap().contains_key("sesam_self"));
    // Its own browser can, once.
    let r = a.get(&callback).await;
    assert_eq!(r.status, 303, "{r:?}");
    assert!(a.cookies.lock().unwrap().contains_key("sesam_self"));
    // A replay of the code (even with the login's state put back) is refused, and
    // revokes what the code issued.
    a.cookies
        .lock()
        .unwrap()
        .insert("sesam_self_login".into(), login_cookie);
    a.cookies.lock().unwrap().remove("sesam_self");
    let r = a.get(&callback).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(!a.cookies.lock().unwrap().contains_key("sesam_self"));
    let revoked =
        h.db.audit_entries(0, 5000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "grant.revoked")
            .filter(|e| e.subject.as_deref() == Some(&anna.identity_id.to_string()))
            .count();
    assert_eq!(revoked, 1);
    // A changed state is refused before the code is spent; the real answer then works.
    let c = Browser::new(&h.base);
    let r = c.get("/min-sesam/login").await;
    let flow = open_login(&c, r.location.as_deref().unwrap()).await;
    give_user_id(&c, &flow, ANNA.user_id).await;
    let r = code_display_step(&c, &flow, &totp_now(&h, 0), PASSWORD).await;
    h.clock.advance_seconds(30);
    let callback = r.location.clone().unwrap();
    let login_cookie = c.cookies.lock().unwrap()["sesam_self_login"].clone();
    let r = c.get(&callback.replace("state=", "state=x")).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(!c.cookies.lock().unwrap().contains_key("sesam_self"));
    c.cookies
        .lock()
        .unwrap()
        .insert("sesam_self_login".into(), login_cookie);
    assert_eq!(c.get(&callback).await.status, 303);
    assert_eq!(
        audited(&h, anna.identity_id, "self_service.login")
            .await
            .len(),
        2
    );
}

/// Starts a login to Min sesam in `b` and gives the user ID; returns the flow path.
async fn portal_flow(b: &Browser, user_id: &str) -> String {
    let r = b.get("/min-sesam/login").await;
    assert_eq!(r.status, 303, "{r:?}");
    let flow = open_login(b, r.location.as_deref().unwrap()).await;
    give_user_id(b, &flow, user_id).await;
    flow
}

/// Follows the login's answer to Min sesam; returns the profile page.
async fn portal_answer(h: &Harness, b: &Browser, r: &Page) -> Page {
    assert_eq!(r.status, 303, "{r:?}");
    let callback = r.location.clone().unwrap();
    assert!(callback.starts_with(&format!("{}/min-sesam/callback?", h.base)));
    assert_eq!(b.get(&callback).await.status, 303);
    b.get("/min-sesam").await
}

async fn the_app_and_the_chip_log_in_too(backend: Backend) {
    use sesam_app::PendingRequest;
    use sesam_domain::OsRandom;
    use webauthn_rs::prelude::Url;
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut anna = person(
        &h,
        &sink,
        dir.path(),
        Who {
            ial: Some("high"),
            chip: true,
            ..ANNA
        },
    )
    .await;
    // The chip and the password: level high.
    let b = Browser::new(&h.base);
    let flow = portal_flow(&b, ANNA.user_id).await;
    let origin = Url::parse(&h.base).unwrap();
    let r = chip_step(&b, &flow, anna.chip.as_mut().unwrap(), &origin, PASSWORD).await;
    let profile = portal_answer(&h, &b, &r).await;
    assert!(
        profile.body.contains("Chip og adgangskode (høj)"),
        "{}",
        profile.body
    );
    // The app: the request names Min sesam, the binding code is the page's.
    let b = Browser::new(&h.base);
    let flow = portal_flow(&b, ANNA.user_id).await;
    let choose = b.get(&flow).await;
    let r = b
        .post(&format!("{flow}/app"), &[("csrf", &choose.csrf())])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let wait = r.location.unwrap();
    let page = b.get(&wait).await;
    let marker = "data-testid=\"binding-code\">";
    let i = page.body.find(marker).expect("a binding code") + marker.len();
    let code = page.body[i..i + 4].to_owned();
    let client = h.client();
    let requests: Vec<PendingRequest> = client
        .requests(&anna.app, &OsRandom)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == "approval")
        .collect();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(requests[0].text.contains("Min sesam"), "{requests:?}");
    client
        .approve_request(&anna.app, &requests[0], "111111", Some(&code), &OsRandom)
        .await
        .unwrap();
    let r = b.get(&wait).await;
    let profile = portal_answer(&h, &b, &r).await;
    assert!(
        profile.body.contains("sesam-appen (betydelig)"),
        "{}",
        profile.body
    );
    let logins = audited(&h, anna.identity_id, "self_service.login").await;
    let methods: Vec<&str> = logins
        .iter()
        .map(|(_, d)| d["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["chip", "app"]);
}
