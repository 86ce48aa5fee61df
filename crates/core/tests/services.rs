//! The services of `sesam-core` in-process, without HTTP: a real SQLite file, a clock the
//! test sets, OS randomness. Fast checks of use cases whose HTTP side the server's tests
//! cover; here the services' own answers and what they store are asserted.
// A test fails by panicking: unwrapping is how it reports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use sesam_core::context::Sesam;
use sesam_core::error::AppError;
use sesam_core::services::Actor;
use sesam_core::services::identities::EnrolRequest;
use sesam_domain::identity::IdentityState;
use sesam_domain::signing_keys::{KeyState, SigningKey};
use sesam_domain::{AuditKey, FixedClock, MasterKey, OsRandom, Timestamp};
use sesam_store::Location;

/// 2026-12-01 12:00 UTC.
const START: Timestamp = Timestamp::from_millis(1_796_126_400_000);

struct Core {
    sesam: Sesam,
    clock: Arc<FixedClock>,
    _dir: tempfile::TempDir,
}

async fn core() -> Core {
    let (dir, path) = sesam_testkit::sqlite_path();
    let keys = MasterKey::from_hex(&"5a".repeat(32)).unwrap().keys();
    let store = sesam_store::open(&Location::Sqlite(path), AuditKey::from(&keys))
        .await
        .unwrap();
    let clock = Arc::new(FixedClock::at(START));
    let sesam = Sesam::assemble(store, keys, clock.clone(), Arc::new(OsRandom));
    Core {
        sesam,
        clock,
        _dir: dir,
    }
}

fn anna() -> EnrolRequest {
    EnrolRequest {
        national_id: "0101901234".into(),
        name: "Anna Hansen".into(),
        birthdate: "1990-01-01".into(),
        phone: "+4512345678".into(),
        email: Some("anna@example.dk".into()),
        user_id: Some("anna.hansen".into()),
        ial: None,
        language: None,
    }
}

#[tokio::test]
async fn an_identity_is_enrolled_suspended_and_reopened_with_every_step_audited() {
    let c = core().await;
    let operator = Actor::operator("counter 7").unwrap();
    let enrolled = c.sesam.enrol(&operator, &anna()).await.unwrap();
    assert_eq!(enrolled.identity.state, IdentityState::Pending);
    assert!(enrolled.activation_code_expires_at.millis() > START.millis());

    // The same person again is refused.
    assert!(c.sesam.enrol(&operator, &anna()).await.is_err());

    let shown = c
        .sesam
        .show_identity(&operator, "ANNA.HANSEN")
        .await
        .unwrap();
    assert_eq!(shown.identity.id, enrolled.identity.id);
    assert_eq!(shown.open_grants.len(), 1);

    // A suspension needs a reason; with one it takes effect, and a second is refused.
    assert!(matches!(
        c.sesam.suspend(&operator, "anna.hansen", "  ").await,
        Err(AppError::BadInput(_))
    ));
    c.clock.advance_seconds(60);
    let suspended = c
        .sesam
        .suspend(&operator, "anna.hansen", "lost phone")
        .await
        .unwrap();
    assert_eq!(suspended.state, IdentityState::Suspended);
    assert!(
        c.sesam
            .suspend(&operator, "anna.hansen", "lost phone")
            .await
            .is_err()
    );
    let reopened = c
        .sesam
        .reopen(&operator, "anna.hansen", "found it")
        .await
        .unwrap();
    assert_eq!(reopened.state, IdentityState::Pending);

    assert!(matches!(
        c.sesam.show_identity(&operator, "nobody.here").await,
        Err(AppError::UnknownUserId(_))
    ));

    // Enrol, view, suspend, reopen: each left an entry, and the chain verifies.
    let report = c.sesam.verify_audit().await.unwrap();
    assert!(report.entries >= 4, "{}", report.entries);
}

fn active(keys: &[SigningKey]) -> String {
    keys.iter()
        .find(|k| k.state == KeyState::Active)
        .map(|k| k.kid.clone())
        .unwrap()
}

#[tokio::test]
async fn signing_keys_are_created_once_and_rotate_the_published_next_key_into_use() {
    let c = core().await;
    let first = c.sesam.signing_keys().await.unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(
        c.sesam.signing_keys().await.unwrap().len(),
        2,
        "created once"
    );
    let next = first
        .iter()
        .find(|k| k.state == KeyState::Next)
        .map(|k| k.kid.clone())
        .unwrap();

    c.clock.advance_seconds(3600);
    let operator = Actor::operator("keys").unwrap();
    let rotated = c.sesam.rotate_signing_keys(&operator).await.unwrap();
    assert_eq!(active(&rotated), next, "the published next key signs now");

    // The JWKS publishes the new signing key and still the one it replaced.
    let jwks = c.sesam.jwks().await.unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert!(kids.contains(&next.as_str()), "{kids:?}");
    assert!(kids.contains(&active(&first).as_str()), "{kids:?}");
}

/// Changes leave their audit entries waiting; the sequencer chains them, and readiness
/// reports an entry that waited longer than the window as the chain being behind.
#[tokio::test]
async fn the_audit_sequencer_chains_waiting_entries_and_readiness_reports_a_backlog() {
    let c = core().await;
    let operator = Actor::operator("counter 7").unwrap();
    c.sesam.enrol(&operator, &anna()).await.unwrap();
    let r = c.sesam.readiness().await.unwrap();
    assert!(r.audit.waiting > 0);
    assert!(!r.audit.behind);
    // Two seconds later, nothing chained yet: behind.
    c.clock.advance_seconds(2);
    let r = c.sesam.readiness().await.unwrap();
    assert!(r.audit.behind, "{r:?}");
    assert!(r.audit.oldest_seconds >= 2.0);
    let after = c.sesam.chain_audit().await.unwrap();
    assert_eq!(after.waiting, 0);
    assert!(!after.behind);
    assert!(c.sesam.verify_audit().await.unwrap().entries >= 1);
}
