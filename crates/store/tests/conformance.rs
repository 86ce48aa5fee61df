//! The storage conformance suite: every case is written once against the `Store` port
//! and run against SQLite and PostgreSQL.
// A test fails by panicking: unwrapping is how it reports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use sesam_domain::authorization::{
    Action, Authentication, AuthorizationGrant, AuthorizationRequest, BrowserSession, FlowStep,
    Locale, LoginFlow, LoginMethod, RefreshToken,
};
use sesam_domain::identity::Enrolment;
use sesam_domain::password_guard::PasswordGuard;
use sesam_domain::{
    ActivationGrant, ActivationPurpose, AuditDraft, AuditKey, IdentityState, Level, MasterKey,
    NationalId, OsRandom, PersonName, PhoneNumber, SecretKeys, Timestamp, UserId, UserIdKey,
};
use sesam_store::{
    AuditBacklog, ChainProgress, Effects, NewIdentity, RefreshOutcome, ServiceProviderRecord,
    Store, StoreError, UserIdChange,
};
use uuid::Uuid;

fn keys() -> SecretKeys {
    MasterKey::from_hex(&"5a".repeat(32)).unwrap().keys()
}

async fn sqlite_store() -> (tempfile::TempDir, Arc<dyn Store>) {
    let (dir, path) = sesam_testkit::sqlite_path();
    let store = sesam_store::open(
        &sesam_store::Location::Sqlite(path),
        AuditKey::from(&keys()),
    )
    .await
    .unwrap();
    (dir, store)
}

async fn pg_store() -> Option<Arc<dyn Store>> {
    let url = sesam_testkit::postgres_database().await?;
    Some(
        sesam_store::open(
            &sesam_store::Location::Postgres(url),
            AuditKey::from(&keys()),
        )
        .await
        .unwrap(),
    )
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let (_dir, store) = super::sqlite_store().await;
                    super::cases::$case(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(store) = super::pg_store().await else { return };
                    super::cases::$case(store).await;
                }
            )*
        }
    };
}

conformance!(
    enrol_and_read_back,
    duplicate_national_id_writes_nothing,
    user_ids_are_unique_case_insensitively,
    user_id_change_quarantines_the_old_id,
    state_changes_are_compare_and_set,
    concurrent_enrolments_of_one_person_admit_one,
    concurrent_audit_appends_keep_one_chain,
    audit_entries_wait_unchained_until_the_sequencer_runs,
    service_providers_round_trip,
    meta_keeps_the_first_value,
    pushed_requests_are_single_use_and_expire,
    concurrent_completions_of_one_login_admit_one,
    codes_are_redeemed_once_and_grants_revoke,
    concurrent_refreshes_rotate_once,
    browser_sessions_expire_and_end,
    client_assertion_ids_are_single_use,
    grants_are_swept_once_no_token_can_use_them,
    finished_messages_are_swept_after_their_retention,
    password_guard_round_trips,
    bulk_enrolment_skips_the_enrolled_and_refuses_taken_user_ids,
    concurrent_bulk_enrolments_enrol_everyone_once,
    bulk_enrolment_in_key_order_keeps_each_person_whole,
    bulk_app_activation_is_all_or_nothing,
    grant_units_check_user_ids_and_keep_refusals,
    pairing_starts_are_limited_and_capped,
    binding_failures_and_reports_are_kept,
    push_subscriptions_follow_their_device,
    self_service_sessions_touch_end_and_sweep,
    self_service_changes_touch_only_the_persons_own_rows,
    user_id_reminders_are_counted_and_limited,
    changes_are_signalled_after_commit_and_failed_ones_not,
);

mod cases {
    use super::*;

    pub(super) const T0: Timestamp = Timestamp::from_millis(1_750_000_000_000);

    /// Sweep cutoffs that keep every message.
    pub(super) fn cutoffs(
        now: Timestamp,
        counts_before: Timestamp,
        grants_before: Timestamp,
    ) -> sesam_store::SweepCutoffs {
        sesam_store::SweepCutoffs {
            now,
            counts_before,
            grants_before,
            messages_before: Timestamp::from_millis(0),
        }
    }

    pub(super) fn enrolment(nid: &str, phone: &str, user_id: Option<&str>) -> Enrolment {
        let national_id = NationalId::parse(nid).unwrap();
        let birthdate = national_id.birth_date().unwrap();
        Enrolment::new(
            national_id,
            PersonName::parse("Anna Hansen").unwrap(),
            birthdate,
            PhoneNumber::parse(phone).unwrap(),
            None,
            user_id.map(|u| UserId::parse(u).unwrap()),
            Level::Substantial,
        )
        .unwrap()
    }

    pub(super) fn new_identity(e: Enrolment, at: Timestamp) -> NewIdentity {
        let k = keys();
        let id = Uuid::now_v7();
        NewIdentity {
            id,
            national_id_sealed: k.seal_national_id(&e.national_id, id, &OsRandom),
            national_id_index: k.national_id_index(&e.national_id),
            enrolment: e,
            created_at: at,
        }
    }

    fn grant_for(n: &NewIdentity) -> ActivationGrant {
        let code = sesam_domain::ActivationCode::generate(&OsRandom);
        ActivationGrant::issue(
            n.id,
            ActivationPurpose::FirstActivation,
            keys().activation_code_hash(code.normalized()),
            n.created_at,
        )
    }

    fn audit(action: &str, n: &NewIdentity) -> AuditDraft {
        AuditDraft::new("operator:test", action).subject(n.id.to_string())
    }

    async fn enrol(store: &dyn Store, n: &NewIdentity) -> Result<(), StoreError> {
        store
            .enrol(n, &grant_for(n), &audit("identity.enrolled", n).into())
            .await
    }

    async fn verify_chain(store: &dyn Store) -> i64 {
        let key = AuditKey::from(&keys());
        let mut v = key.verifier();
        let mut after = 0;
        loop {
            let page = store.audit_entries(after, 7).await.unwrap();
            if page.is_empty() {
                break;
            }
            for e in &page {
                v.push(e).unwrap();
                after = e.seq;
            }
        }
        v.finish(store.audit_head().await.unwrap()).unwrap()
    }

    pub(super) async fn enrol_and_read_back(store: Arc<dyn Store>) {
        let n = new_identity(
            enrolment("0101901234", "+4512345678", Some("Anna.Hansen")),
            T0,
        );
        let g = grant_for(&n);
        store
            .enrol(&n, &g, &audit("identity.enrolled", &n).into())
            .await
            .unwrap();

        let by_id = store.identity(n.id).await.unwrap().unwrap();
        assert_eq!(by_id.state, IdentityState::Pending);
        assert_eq!(by_id.national_id_masked, "010190-****");
        assert_eq!(by_id.user_id.as_ref().unwrap().as_str(), "Anna.Hansen");
        assert_eq!(by_id.phone.as_str(), "+4512345678");
        assert_eq!(by_id.created_at, T0);
        assert_eq!(by_id.ial, Level::Substantial);
        assert_eq!(by_id.activated_at, None);

        let by_user = store
            .identity_by_user_id(&UserIdKey::of_input("ANNA.hansen"))
            .await
            .unwrap();
        assert_eq!(by_user.as_ref().map(|i| i.id), Some(n.id));
        let by_nid = store
            .identity_by_national_id(&n.national_id_index)
            .await
            .unwrap();
        assert_eq!(by_nid.map(|i| i.id), Some(n.id));
        assert!(
            store
                .identity_by_user_id(&UserIdKey::of_input("nobody"))
                .await
                .unwrap()
                .is_none()
        );
        assert!(store.identity(Uuid::now_v7()).await.unwrap().is_none());

        let sealed = store.national_id_sealed(n.id).await.unwrap().unwrap();
        assert_eq!(
            keys()
                .open_national_id(&sealed, n.id)
                .unwrap()
                .expose_digits(),
            "0101901234"
        );

        assert_eq!(
            store.grant_by_code_hash(&g.code_hash).await.unwrap(),
            Some(g.clone())
        );
        assert_eq!(store.grants_of(n.id).await.unwrap(), vec![g]);
        assert_eq!(store.count_identities().await.unwrap(), 1);
        assert_eq!(store.user_id_history(n.id).await.unwrap().len(), 1);

        let entries = store.audit_entries(0, 10).await.unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].action, "identity.enrolled");
        assert_eq!(verify_chain(&*store).await, 1);
    }

    pub(super) async fn duplicate_national_id_writes_nothing(store: Arc<dyn Store>) {
        let a = new_identity(
            enrolment("0101901234", "+4512345678", Some("first.one")),
            T0,
        );
        enrol(&*store, &a).await.unwrap();
        let head = store.audit_head().await.unwrap();
        let b = new_identity(
            enrolment("010190-1234", "+4587654321", Some("second.one")),
            T0,
        );
        assert!(matches!(
            enrol(&*store, &b).await,
            Err(StoreError::NationalIdTaken)
        ));
        assert_eq!(store.count_identities().await.unwrap(), 1);
        assert_eq!(store.audit_head().await.unwrap(), head);
        // The refused enrolment's user ID was not claimed either.
        let c = new_identity(
            enrolment("0202901234", "+4587654321", Some("second.one")),
            T0,
        );
        enrol(&*store, &c).await.unwrap();
    }

    pub(super) async fn user_ids_are_unique_case_insensitively(store: Arc<dyn Store>) {
        let a = new_identity(
            enrolment("0101901234", "+4512345678", Some("Søren.Æblegård")),
            T0,
        );
        enrol(&*store, &a).await.unwrap();
        let b = new_identity(
            enrolment("0202901234", "+4587654321", Some("SØREN.æBLEGÅRD")),
            T0,
        );
        assert!(matches!(
            enrol(&*store, &b).await,
            Err(StoreError::UserIdTaken)
        ));
        assert!(
            store
                .identity_by_national_id(&b.national_id_index)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(verify_chain(&*store).await, 1);
    }

    pub(super) async fn user_id_change_quarantines_the_old_id(store: Arc<dyn Store>) {
        let a = new_identity(enrolment("0101901234", "+4512345678", Some("anna.old")), T0);
        enrol(&*store, &a).await.unwrap();
        let b = new_identity(enrolment("0202901234", "+4587654321", None), T0);
        enrol(&*store, &b).await.unwrap();

        let t1 = T0.plus_days(1);
        let change = |who: Uuid, to: &str, at: Timestamp| UserIdChange {
            identity_id: who,
            new: UserId::parse(to).unwrap(),
            at,
            reserved_until: at.plus_days(365),
        };
        let draft = Effects::from(AuditDraft::new("person:x", "identity.user_id_changed"));
        store
            .change_user_id(&change(a.id, "anna.new", t1), &draft)
            .await
            .unwrap();
        assert!(
            store
                .identity_by_user_id(&UserIdKey::of_input("anna.old"))
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            store
                .identity_by_user_id(&UserIdKey::of_input("Anna.New"))
                .await
                .unwrap()
                .map(|i| i.id),
            Some(a.id)
        );

        // Someone else may not take the released ID during its quarantine...
        let err = store
            .change_user_id(&change(b.id, "ANNA.OLD", t1.plus_days(364)), &draft)
            .await;
        assert!(matches!(err, Err(StoreError::UserIdReserved)), "{err:?}");
        // ...nor the one in use...
        let err = store
            .change_user_id(&change(b.id, "anna.new", t1), &draft)
            .await;
        assert!(matches!(err, Err(StoreError::UserIdTaken)), "{err:?}");
        // ...but may after it.
        let t2 = t1.plus_days(366);
        store
            .change_user_id(&change(b.id, "anna.old", t2), &draft)
            .await
            .unwrap();
        assert_eq!(
            store
                .identity_by_user_id(&UserIdKey::of_input("anna.old"))
                .await
                .unwrap()
                .map(|i| i.id),
            Some(b.id)
        );

        // The owner may take back their own released ID within the quarantine.
        store
            .change_user_id(&change(a.id, "anna.third", t2), &draft)
            .await
            .unwrap();
        store
            .change_user_id(&change(a.id, "Anna.New", t2.plus_days(1)), &draft)
            .await
            .unwrap();
        // A change of case only keeps the claim.
        store
            .change_user_id(&change(a.id, "ANNA.NEW", t2.plus_days(2)), &draft)
            .await
            .unwrap();
        assert_eq!(
            store
                .identity(a.id)
                .await
                .unwrap()
                .unwrap()
                .user_id
                .unwrap()
                .as_str(),
            "ANNA.NEW"
        );

        let history = store.user_id_history(a.id).await.unwrap();
        let names: Vec<_> = history.iter().map(|h| h.user_id.as_str()).collect();
        assert_eq!(
            names,
            ["anna.old", "anna.new", "anna.third", "Anna.New", "ANNA.NEW"]
        );
        assert!(history[..4].iter().all(|h| h.to.is_some()));
        assert!(history[4].to.is_none());

        let err = store
            .change_user_id(&change(Uuid::now_v7(), "ghost.user", t2), &draft)
            .await;
        assert!(matches!(err, Err(StoreError::NotFound(_))));
        assert_eq!(verify_chain(&*store).await, 7);
    }

    pub(super) async fn state_changes_are_compare_and_set(store: Arc<dyn Store>) {
        let a = new_identity(enrolment("0101901234", "+4512345678", None), T0);
        enrol(&*store, &a).await.unwrap();
        let d = Effects::from(AuditDraft::new("operator:test", "identity.suspended"));
        store
            .set_state(
                a.id,
                IdentityState::Pending,
                IdentityState::Suspended,
                T0,
                &d,
            )
            .await
            .unwrap();
        let err = store
            .set_state(
                a.id,
                IdentityState::Pending,
                IdentityState::Suspended,
                T0,
                &d,
            )
            .await;
        assert!(matches!(err, Err(StoreError::Conflict(_))));
        let err = store
            .set_state(
                Uuid::now_v7(),
                IdentityState::Pending,
                IdentityState::Suspended,
                T0,
                &d,
            )
            .await;
        assert!(matches!(err, Err(StoreError::NotFound(_))));
        store
            .set_state(
                a.id,
                IdentityState::Suspended,
                IdentityState::Pending,
                T0,
                &d,
            )
            .await
            .unwrap();
        let t = T0.plus_seconds(10);
        store
            .set_state(a.id, IdentityState::Pending, IdentityState::Active, t, &d)
            .await
            .unwrap();
        let i = store.identity(a.id).await.unwrap().unwrap();
        assert_eq!(i.state, IdentityState::Active);
        assert_eq!(i.activated_at, Some(t));
        // Failed changes wrote no audit entries.
        assert_eq!(verify_chain(&*store).await, 4);
    }

    pub(super) async fn concurrent_enrolments_of_one_person_admit_one(store: Arc<dyn Store>) {
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let uid = format!("person.{i}");
                    let n = new_identity(enrolment("0101901234", "+4512345678", Some(&uid)), T0);
                    enrol(&*store, &n).await
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => ok += 1,
                Err(StoreError::NationalIdTaken) => {}
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(ok, 1);
        assert_eq!(store.count_identities().await.unwrap(), 1);
        assert_eq!(verify_chain(&*store).await, 1);
    }

    /// Appends leave the chain alone; the sequencer links them in order, from any number
    /// of callers at once, and reading the log chains what is still waiting.
    pub(super) async fn audit_entries_wait_unchained_until_the_sequencer_runs(
        store: Arc<dyn Store>,
    ) {
        let head = store.audit_head().await.unwrap();
        assert_eq!(
            store.audit_backlog().await.unwrap(),
            AuditBacklog::default()
        );
        for i in 0..5 {
            let d = AuditDraft::new("system", "test.event").details(serde_json::json!({ "i": i }));
            store.append_audit(T0.plus_seconds(i), &d).await.unwrap();
        }
        assert_eq!(
            store.audit_backlog().await.unwrap(),
            AuditBacklog {
                waiting: 5,
                oldest: Some(T0)
            }
        );
        assert_eq!(
            store.chain_pending_audit(2).await.unwrap(),
            ChainProgress::Chained(2)
        );
        assert_eq!(store.audit_backlog().await.unwrap().waiting, 3);
        assert_eq!(
            store.audit_backlog().await.unwrap().oldest,
            Some(T0.plus_seconds(2))
        );
        // Several sequencers at once (one per node): each entry is chained exactly once.
        let racers: Vec<_> = (0..4)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.chain_pending_audit(100).await.unwrap() })
            })
            .collect();
        let mut chained = 0;
        for r in racers {
            if let ChainProgress::Chained(n) = r.await.unwrap() {
                chained += n;
            }
        }
        assert_eq!(chained, 3);
        assert_eq!(store.audit_backlog().await.unwrap().waiting, 0);
        let entries = store.audit_entries(head.seq, 100).await.unwrap();
        let order: Vec<_> = entries.iter().map(|e| e.details.clone()).collect();
        assert_eq!(
            order,
            (0..5).map(|i| format!("{{\"i\":{i}}}")).collect::<Vec<_>>()
        );
        assert_eq!(verify_chain(&*store).await, head.seq + 5);
        // Reading the log chains what is waiting.
        let d = AuditDraft::new("system", "test.late");
        store.append_audit(T0, &d).await.unwrap();
        assert_eq!(store.audit_head().await.unwrap().seq, head.seq + 6);
        assert_eq!(store.audit_backlog().await.unwrap().waiting, 0);
    }

    pub(super) async fn concurrent_audit_appends_keep_one_chain(store: Arc<dyn Store>) {
        let tasks: Vec<_> = (0..24)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let d = AuditDraft::new("system", "test.event")
                        .details(serde_json::json!({ "i": i }));
                    store.append_audit(T0.plus_seconds(i), &d).await.unwrap()
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(verify_chain(&*store).await, 24);
    }

    pub(super) async fn service_providers_round_trip(store: Arc<dyn Store>) {
        let sp = ServiceProviderRecord {
            client_id: "sp_1".into(),
            display_name: "Danske Bank".into(),
            redirect_uris: vec![
                "https://bank.example/cb".into(),
                "https://bank.example/cb2".into(),
            ],
            secret_hash: [9; 32],
            allow_national_id: true,
            require_par: false,
            ciba: true,
            jwks: Some(r#"{"keys":[]}"#.into()),
            created_at: T0,
        };
        let d = AuditDraft::new("operator:test", "sp.added").subject("sp_1");
        store.add_service_provider(&sp, &d).await.unwrap();
        assert_eq!(
            store.service_provider("sp_1").await.unwrap(),
            Some(sp.clone())
        );
        assert_eq!(store.service_provider("sp_2").await.unwrap(), None);
        assert!(matches!(
            store.add_service_provider(&sp, &d).await,
            Err(StoreError::ClientIdTaken)
        ));
        assert_eq!(store.service_providers().await.unwrap(), vec![sp]);
        assert_eq!(verify_chain(&*store).await, 1);
    }

    fn sp_record(client_id: &str) -> ServiceProviderRecord {
        ServiceProviderRecord {
            client_id: client_id.into(),
            display_name: "Danske Bank".into(),
            redirect_uris: vec!["https://bank.example/cb".into()],
            secret_hash: [9; 32],
            allow_national_id: false,
            require_par: false,
            ciba: false,
            jwks: None,
            created_at: T0,
        }
    }

    /// The next signal that is not a probe of [`feed_is_listening`], within 10 s.
    async fn next_signal(
        feed: &mut tokio::sync::broadcast::Receiver<sesam_store::Signal>,
    ) -> Option<sesam_store::Signal> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, feed.recv()).await {
                Ok(Ok(sesam_store::Signal::ServiceProviderChanged { client_id }))
                    if client_id.starts_with("probe_") => {}
                Ok(Ok(s)) => return Some(s),
                Ok(Err(e)) => panic!("the feed failed: {e}"),
                Err(_) => return None,
            }
        }
    }

    /// Commits probes until one comes back: the backend's listener (PostgreSQL's
    /// `LISTEN` connection) is in place.
    async fn feed_is_listening(
        store: &dyn Store,
        feed: &mut tokio::sync::broadcast::Receiver<sesam_store::Signal>,
    ) {
        for n in 0..100 {
            let d = AuditDraft::new("operator:test", "sp.added");
            store
                .add_service_provider(&sp_record(&format!("probe_{n}")), &d)
                .await
                .unwrap();
            if let Ok(Ok(_)) =
                tokio::time::timeout(std::time::Duration::from_millis(200), feed.recv()).await
            {
                return;
            }
        }
        panic!("the change feed never delivered");
    }

    /// Each change that other nodes cache or wait for is signalled, with ids only, once
    /// committed; a change that fails signals nothing.
    pub(super) async fn changes_are_signalled_after_commit_and_failed_ones_not(
        store: Arc<dyn Store>,
    ) {
        use sesam_store::Signal;
        let mut feed = store.signals();
        feed_is_listening(&*store, &mut feed).await;
        let d = AuditDraft::new("operator:test", "sp.added").subject("sp_1");
        store
            .add_service_provider(&sp_record("sp_1"), &d)
            .await
            .unwrap();
        assert_eq!(
            next_signal(&mut feed).await,
            Some(Signal::ServiceProviderChanged {
                client_id: "sp_1".into()
            })
        );
        // Refused (the client id is taken): rolled back, so not signalled; the keys'
        // replacement after it is the next signal.
        assert!(
            store
                .add_service_provider(&sp_record("sp_1"), &d)
                .await
                .is_err()
        );
        store
            .replace_signing_keys(&[], T0, &AuditDraft::new("operator:test", "keys.rotated"))
            .await
            .unwrap();
        assert_eq!(
            next_signal(&mut feed).await,
            Some(Signal::SigningKeysChanged)
        );
    }

    pub(super) async fn meta_keeps_the_first_value(store: Arc<dyn Store>) {
        assert_eq!(store.meta_get("k").await.unwrap(), None);
        assert_eq!(store.meta_get_or_init("k", b"one").await.unwrap(), b"one");
        assert_eq!(store.meta_get_or_init("k", b"two").await.unwrap(), b"one");
        assert_eq!(
            store.meta_get("k").await.unwrap().as_deref(),
            Some(&b"one"[..])
        );
        store.ping().await.unwrap();
    }

    fn authorization_request(client_id: &str) -> AuthorizationRequest {
        AuthorizationRequest {
            client_id: client_id.into(),
            redirect_uri: "https://bank.example/cb".into(),
            scope: vec!["openid".into(), "offline_access".into()],
            state: Some("st".into()),
            nonce: Some("n".into()),
            code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            force_login: false,
            no_prompt: false,
            max_age: Some(600),
            min_level: Some(Level::Substantial),
            ui_locale: Some(Locale::En),
            login_hint: Some("anna.hansen".into()),
            action: Action::LogOn,
            details: None,
            pushed: true,
        }
    }

    async fn enrolled(store: &dyn Store, nid: &str) -> NewIdentity {
        let n = new_identity(enrolment(nid, "+4512345678", None), T0);
        enrol(store, &n).await.unwrap();
        n
    }

    fn login_flow(identity: Option<Uuid>) -> LoginFlow {
        LoginFlow {
            id: Uuid::now_v7(),
            browser_hash: [1; 32],
            request: authorization_request("sp_1"),
            step: FlowStep::UserId,
            user_id_input: None,
            identity_id: identity,
            created_at: T0,
            expires_at: T0.plus_seconds(600),
        }
    }

    fn authentication(identity: Uuid) -> Authentication {
        Authentication {
            identity_id: identity,
            method: LoginMethod::Chip,
            level: Level::High,
            auth_time: T0,
            approval: None,
            approval_receipt: None,
        }
    }

    fn grant(identity: Uuid, code: u8) -> AuthorizationGrant {
        AuthorizationGrant {
            id: Uuid::now_v7(),
            code_hash: [code; 32],
            request: authorization_request("sp_1"),
            authentication: authentication(identity),
            created_at: T0,
            code_expires_at: T0.plus_seconds(60),
            code_used_at: None,
            revoked_at: None,
        }
    }

    pub(super) async fn pushed_requests_are_single_use_and_expire(store: Arc<dyn Store>) {
        let r = authorization_request("sp_1");
        store
            .push_request(&[1; 32], &r, T0.plus_seconds(90))
            .await
            .unwrap();
        store
            .push_request(&[2; 32], &r, T0.plus_seconds(90))
            .await
            .unwrap();
        assert_eq!(
            store.take_pushed_request(&[1; 32], T0).await.unwrap(),
            Some(r.clone())
        );
        assert_eq!(store.take_pushed_request(&[1; 32], T0).await.unwrap(), None);
        assert_eq!(
            store
                .take_pushed_request(&[2; 32], T0.plus_seconds(90))
                .await
                .unwrap(),
            None
        );
        assert_eq!(store.take_pushed_request(&[3; 32], T0).await.unwrap(), None);
    }

    pub(super) async fn concurrent_completions_of_one_login_admit_one(store: Arc<dyn Store>) {
        let n = enrolled(&*store, "0101901234").await;
        let mut flow = login_flow(None);
        store.create_login_flow(&flow).await.unwrap();
        flow.step = FlowStep::Authenticate;
        flow.user_id_input = Some("Anna.Hansen".into());
        flow.identity_id = Some(n.id);
        store.save_login_flow(&flow).await.unwrap();
        assert_eq!(store.login_flow(flow.id).await.unwrap(), Some(flow.clone()));

        let mut tasks = vec![];
        for i in 0..6u8 {
            let (store, flow_id) = (store.clone(), flow.id);
            let g = grant(n.id, 10 + i);
            tasks.push(tokio::spawn(async move {
                let session = BrowserSession {
                    id_hash: [20 + i; 32],
                    authentication: g.authentication.clone(),
                    expires_at: T0.plus_seconds(1800),
                };
                let effects = Effects {
                    audit: vec![AuditDraft::new("person:x", "login.completed")],
                    messages: vec![],
                };
                store
                    .complete_login(Some(flow_id), &g, Some(&session), effects)
                    .await
                    .map(|()| g)
            }));
        }
        let mut won = vec![];
        for t in tasks {
            match t.await.unwrap() {
                Ok(g) => won.push(g),
                Err(StoreError::NotFound(_)) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(won.len(), 1, "exactly one completion wins");
        let g = &won[0];
        assert_eq!(
            store.grant_by_code(&g.code_hash).await.unwrap().as_ref(),
            Some(g)
        );
        assert_eq!(store.login_flow(flow.id).await.unwrap(), None);
        // A completion without pages (from a session) needs no flow.
        store
            .complete_login(None, &grant(n.id, 30), None, Effects::default())
            .await
            .unwrap();
        assert_eq!(verify_chain(&*store).await, 2);
        // Deleting a flow that is gone says so.
        assert!(matches!(
            store.delete_login_flow(flow.id, Effects::default()).await,
            Err(StoreError::NotFound(_))
        ));
    }

    pub(super) async fn codes_are_redeemed_once_and_grants_revoke(store: Arc<dyn Store>) {
        let n = enrolled(&*store, "0101901234").await;
        let g = grant(n.id, 7);
        store
            .complete_login(None, &g, None, Effects::default())
            .await
            .unwrap();
        let mut tasks = vec![];
        for i in 0..6u8 {
            let store = store.clone();
            let refresh = RefreshToken {
                hash: [40 + i; 32],
                grant_id: g.id,
                expires_at: T0.plus_seconds(3600),
                used_at: None,
            };
            tasks.push(tokio::spawn(async move {
                store
                    .redeem_code(g.id, T0, Some(&refresh), Effects::default())
                    .await
                    .unwrap()
            }));
        }
        let mut wins = 0;
        for t in tasks {
            wins += usize::from(t.await.unwrap());
        }
        assert_eq!(wins, 1, "a code is redeemed once");
        let stored = store.grant(g.id).await.unwrap().unwrap();
        assert_eq!(stored.code_used_at, Some(T0));
        store
            .revoke_grant(g.id, T0.plus_seconds(1), Effects::default())
            .await
            .unwrap();
        assert_eq!(
            store.grant(g.id).await.unwrap().unwrap().revoked_at,
            Some(T0.plus_seconds(1))
        );
        // A revoked grant's code cannot be redeemed and its refresh tokens do not rotate.
        let g2 = grant(n.id, 8);
        store
            .complete_login(None, &g2, None, Effects::default())
            .await
            .unwrap();
        store
            .revoke_grant(g2.id, T0, Effects::default())
            .await
            .unwrap();
        assert!(
            !store
                .redeem_code(g2.id, T0, None, Effects::default())
                .await
                .unwrap()
        );
    }

    /// A grant is kept while its code or a refresh token can still be used (the sweep is
    /// told the cutoff, which the service sets an access token's lifetime back); then the
    /// grant and its expired refresh tokens go, and other grants stay.
    pub(super) async fn grants_are_swept_once_no_token_can_use_them(store: Arc<dyn Store>) {
        let n = enrolled(&*store, "0101901234").await;
        let (plain, refreshed) = (grant(n.id, 7), grant(n.id, 8));
        for g in [&plain, &refreshed] {
            store
                .complete_login(None, g, None, Effects::default())
                .await
                .unwrap();
        }
        let refresh = RefreshToken {
            hash: [51; 32],
            grant_id: refreshed.id,
            expires_at: T0.plus_seconds(3600),
            used_at: None,
        };
        assert!(
            store
                .redeem_code(refreshed.id, T0, Some(&refresh), Effects::default())
                .await
                .unwrap()
        );
        let kept = |store: Arc<dyn Store>| async move {
            let mut kept = vec![];
            for g in [plain.id, refreshed.id] {
                kept.push(store.grant(g).await.unwrap().is_some());
            }
            kept
        };
        // Codes still valid at the cutoff: nothing goes.
        store
            .sweep_expired(cutoffs(T0.plus_seconds(60), T0, T0.plus_seconds(59)))
            .await
            .unwrap();
        assert_eq!(kept(store.clone()).await, [true, true]);
        // The codes expired before the cutoff: the grant with a live refresh token stays.
        store
            .sweep_expired(cutoffs(T0.plus_seconds(400), T0, T0.plus_seconds(100)))
            .await
            .unwrap();
        assert_eq!(kept(store.clone()).await, [false, true]);
        assert!(store.grant_of_refresh(&[51; 32]).await.unwrap().is_some());
        // Once its refresh token expired before the cutoff, it goes too.
        store
            .sweep_expired(cutoffs(T0.plus_seconds(4000), T0, T0.plus_seconds(3601)))
            .await
            .unwrap();
        assert_eq!(kept(store.clone()).await, [false, false]);
        assert!(store.grant_of_refresh(&[51; 32]).await.unwrap().is_none());
    }

    /// Finished messages (and their attempts) go once older than the retention; messages
    /// still waiting to be sent stay however old, and newer finished ones stay.
    pub(super) async fn finished_messages_are_swept_after_their_retention(store: Arc<dyn Store>) {
        use sesam_domain::notification::{Channel, Language, OutgoingMessage};
        let n = enrolled(&*store, "0101901234").await;
        let day = 86_400;
        let message = |at: Timestamp| sesam_store::QueuedMessage {
            message: OutgoingMessage {
                message_id: Uuid::now_v7(),
                identity_id: Some(n.id),
                event: "login.used",
                channel: Channel::Sms,
                destination: "+4512345678".into(),
                text: "Dit sesam blev brugt".into(),
                language: Language::Da,
                secret: false,
                delivery: "all",
                position: 0,
                created_at: at,
            },
            sealed_text: None,
        };
        let (old_sent, old_waiting, new_sent) = (
            message(T0),
            message(T0),
            message(T0.plus_seconds(100 * day)),
        );
        let ids = [&old_sent, &old_waiting, &new_sent].map(|m| m.message.message_id);
        let effects = Effects {
            audit: vec![],
            messages: vec![old_sent, old_waiting, new_sent],
        };
        store
            .complete_login(None, &grant(n.id, 1), None, effects)
            .await
            .unwrap();
        let now = T0.plus_seconds(100 * day);
        let claimed = store
            .claim_due(now, now.plus_seconds(60), 10, None)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 3);
        for entry in claimed.iter().filter(|e| e.message_id != ids[1]) {
            store
                .record_attempt(entry, now, &sesam_store::AttemptOutcome::Sent)
                .await
                .unwrap();
        }
        let kept = |store: Arc<dyn Store>| async move {
            let recent = store.recent_messages(Some(n.id), 10).await.unwrap();
            ids.map(|id| recent.iter().any(|m| m.message_id == id))
        };
        assert_eq!(kept(store.clone()).await, [true, true, true]);
        let mut c = cutoffs(now, T0, T0);
        c.messages_before = T0.plus_seconds(50 * day);
        store.sweep_expired(c).await.unwrap();
        assert_eq!(kept(store.clone()).await, [false, true, true]);
        assert!(store.attempts_of(ids[0]).await.unwrap().is_empty());
        assert_eq!(store.attempts_of(ids[2]).await.unwrap().len(), 1);
    }

    pub(super) async fn concurrent_refreshes_rotate_once(store: Arc<dyn Store>) {
        let n = enrolled(&*store, "0101901234").await;
        let g = grant(n.id, 7);
        store
            .complete_login(None, &g, None, Effects::default())
            .await
            .unwrap();
        let first = RefreshToken {
            hash: [50; 32],
            grant_id: g.id,
            expires_at: T0.plus_seconds(3600),
            used_at: None,
        };
        assert!(
            store
                .redeem_code(g.id, T0, Some(&first), Effects::default())
                .await
                .unwrap()
        );
        assert_eq!(
            store
                .grant_of_refresh(&[50; 32])
                .await
                .unwrap()
                .map(|x| x.id),
            Some(g.id)
        );
        let mut tasks = vec![];
        for i in 0..6u8 {
            let store = store.clone();
            let next = RefreshToken {
                hash: [60 + i; 32],
                grant_id: g.id,
                expires_at: T0.plus_seconds(3600),
                used_at: None,
            };
            tasks.push(tokio::spawn(async move {
                store.use_refresh_token(&[50; 32], &next, T0).await.unwrap()
            }));
        }
        let (mut rotated, mut replayed) = (0, 0);
        for t in tasks {
            match t.await.unwrap() {
                RefreshOutcome::Rotated(got) => {
                    assert_eq!(got.id, g.id);
                    rotated += 1;
                }
                RefreshOutcome::AlreadyUsed(id) => {
                    assert_eq!(id, g.id);
                    replayed += 1;
                }
                RefreshOutcome::Invalid => panic!("the token was valid"),
            }
        }
        assert_eq!((rotated, replayed), (1, 5));
        // Unknown, expired.
        let next = RefreshToken {
            hash: [70; 32],
            grant_id: g.id,
            expires_at: T0.plus_seconds(3600),
            used_at: None,
        };
        assert_eq!(
            store.use_refresh_token(&[99; 32], &next, T0).await.unwrap(),
            RefreshOutcome::Invalid
        );
        // Whichever next token was stored, it does not rotate past its expiry.
        for h in 60..66u8 {
            if store
                .use_refresh_token(&[h; 32], &next, T0.plus_seconds(3600))
                .await
                .unwrap()
                != RefreshOutcome::Invalid
            {
                panic!("an expired refresh token rotated");
            }
        }
    }

    pub(super) async fn browser_sessions_expire_and_end(store: Arc<dyn Store>) {
        let n = enrolled(&*store, "0101901234").await;
        let s = BrowserSession {
            id_hash: [3; 32],
            authentication: authentication(n.id),
            expires_at: T0.plus_seconds(1800),
        };
        store
            .complete_login(None, &grant(n.id, 1), Some(&s), Effects::default())
            .await
            .unwrap();
        assert_eq!(
            store.browser_session(&[3; 32], T0).await.unwrap(),
            Some(s.clone())
        );
        assert_eq!(
            store
                .browser_session(&[3; 32], T0.plus_seconds(1800))
                .await
                .unwrap(),
            None
        );
        assert!(
            store
                .end_browser_session(&[3; 32], T0, Effects::default())
                .await
                .unwrap()
        );
        assert!(
            !store
                .end_browser_session(&[3; 32], T0, Effects::default())
                .await
                .unwrap()
        );
        assert_eq!(store.browser_session(&[3; 32], T0).await.unwrap(), None);
    }

    pub(super) async fn client_assertion_ids_are_single_use(store: Arc<dyn Store>) {
        assert!(
            store
                .register_assertion_id("sp_1", "j1", T0.plus_seconds(60))
                .await
                .unwrap()
        );
        assert!(
            !store
                .register_assertion_id("sp_1", "j1", T0.plus_seconds(60))
                .await
                .unwrap()
        );
        assert!(
            store
                .register_assertion_id("sp_2", "j1", T0.plus_seconds(60))
                .await
                .unwrap()
        );
        // Forgotten once expired and swept (the assertion itself is refused by then).
        assert!(
            !store
                .register_assertion_id("sp_1", "j1", T0.plus_seconds(120))
                .await
                .unwrap()
        );
        assert!(
            store
                .sweep_expired(cutoffs(T0.plus_seconds(61), T0, T0))
                .await
                .unwrap()
                >= 2
        );
        assert!(
            store
                .register_assertion_id("sp_1", "j1", T0.plus_seconds(120))
                .await
                .unwrap()
        );
    }

    pub(super) async fn password_guard_round_trips(store: Arc<dyn Store>) {
        use sesam_domain::chip::{Chip, ChipState};
        let n = enrolled(&*store, "0101901234").await;
        assert!(store.lock_password(n.id).await.unwrap().is_none());
        let chip = Chip {
            id: Uuid::now_v7(),
            identity_id: n.id,
            credential_id: vec![1, 2, 3],
            credential: "{}".into(),
            state: ChipState::Revoked,
            created_at: T0,
            last_used_at: None,
        };
        store
            .add_chip(
                &chip,
                Some("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA"),
                Effects::default(),
            )
            .await
            .unwrap();
        let unit = store.lock_password(n.id).await.unwrap().unwrap();
        assert_eq!(*unit.guard(), PasswordGuard::default());
        assert!(unit.phc().starts_with("$argon2id$"));
        let mut g = *unit.guard();
        g.reserve(T0).unwrap();
        g.reserve(T0).unwrap();
        g.fail(T0, sesam_domain::lockout::Attempt::Uninformed);
        unit.save(
            &g,
            T0,
            Effects {
                audit: vec![AuditDraft::new("person:x", "authenticator.password_wrong")],
                messages: vec![],
            },
        )
        .await
        .unwrap();
        let unit = store.lock_password(n.id).await.unwrap().unwrap();
        assert_eq!(*unit.guard(), g);
        assert_eq!((g.pending, g.lockout.failures), (1, 1));
        // Locked until re-activated; a new password (set with a chip) starts afresh.
        g.lockout.blocked = true;
        g.lockout.temporary_locks = 3;
        g.lockout.window_start = Some(T0);
        unit.save(&g, T0, Effects::default()).await.unwrap();
        let unit = store.lock_password(n.id).await.unwrap().unwrap();
        assert!(unit.guard().lockout.blocked);
        drop(unit);
        let second = Chip {
            id: Uuid::now_v7(),
            credential_id: vec![4, 5, 6],
            state: ChipState::Active,
            ..chip
        };
        store
            .add_chip(
                &second,
                Some("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$bmV3"),
                Effects::default(),
            )
            .await
            .unwrap();
        let unit = store.lock_password(n.id).await.unwrap().unwrap();
        assert_eq!(*unit.guard(), PasswordGuard::default());
        assert!(unit.phc().ends_with("bmV3"));
        drop(unit);
        assert_eq!(verify_chain(&*store).await, 2);
    }

    fn bulk(nid: &str, user_id: Option<&str>) -> sesam_store::BulkEnrolment {
        let identity = new_identity(enrolment(nid, "+4512345678", user_id), T0);
        sesam_store::BulkEnrolment {
            grant: grant_for(&identity),
            audit: audit("identity.enrolled", &identity),
            identity,
        }
    }

    fn outcome(o: &sesam_store::BulkOutcome) -> &'static str {
        match o {
            sesam_store::BulkOutcome::Enrolled => "enrolled",
            sesam_store::BulkOutcome::AlreadyEnrolled => "already",
            sesam_store::BulkOutcome::Refused(StoreError::UserIdTaken) => "user id taken",
            sesam_store::BulkOutcome::Refused(_) => "refused",
        }
    }

    pub(super) async fn bulk_enrolment_skips_the_enrolled_and_refuses_taken_user_ids(
        store: Arc<dyn Store>,
    ) {
        enrol(
            &*store,
            &new_identity(enrolment("0101901234", "+4512345678", Some("taken.id")), T0),
        )
        .await
        .unwrap();
        let items = vec![
            bulk("0101901234", None),             // enrolled before
            bulk("0201901234", Some("TAKEN.id")), // someone else's user ID
            bulk("0301901234", Some("new.one")),
            bulk("0301901234", None), // the same person twice in a batch
            bulk("0401901234", Some("NEW.one")), // a user ID taken earlier in the batch
            bulk("0501901234", None),
        ];
        let outcomes = store.enrol_many(&items).await.unwrap();
        let got: Vec<&str> = outcomes.iter().map(outcome).collect();
        assert_eq!(
            got,
            [
                "already",
                "user id taken",
                "enrolled",
                "already",
                "user id taken",
                "enrolled"
            ]
        );
        let new_one = store
            .identity_by_user_id(&UserIdKey::of_input("new.one"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(new_one.id, items[2].identity.id);
        assert_eq!(new_one.state, IdentityState::Pending);
        assert_eq!(store.grants_of(new_one.id).await.unwrap().len(), 1);
        // A refused person left nothing behind, so a corrected line can come later.
        assert!(
            store
                .identity_by_national_id(&items[1].identity.national_id_index)
                .await
                .unwrap()
                .is_none()
        );
        // Running the same batch again (a resumed import) enrols nobody twice.
        let again: Vec<&str> = store
            .enrol_many(&items)
            .await
            .unwrap()
            .iter()
            .map(outcome)
            .collect();
        assert_eq!(
            again,
            [
                "already",
                "user id taken",
                "already",
                "already",
                "user id taken",
                "already"
            ]
        );
        // One audit entry per enrolled person, in one chain.
        assert_eq!(verify_chain(&*store).await, 3);
        assert!(store.enrol_many(&[]).await.unwrap().is_empty());
    }

    pub(super) async fn concurrent_bulk_enrolments_enrol_everyone_once(store: Arc<dyn Store>) {
        let nids: Vec<String> = (0..300)
            .map(|i| format!("0101{:02}{:04}", 50 + i / 100, i % 100))
            .collect();
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let store = store.clone();
            let nids = nids.clone();
            tasks.push(tokio::spawn(async move {
                let items: Vec<_> = nids
                    .iter()
                    .enumerate()
                    .map(|(i, n)| bulk(n, Some(&format!("bulk.{i}"))))
                    .collect();
                store.enrol_many(&items).await.unwrap()
            }));
        }
        let mut enrolled = 0;
        for t in tasks {
            for o in t.await.unwrap() {
                match o {
                    sesam_store::BulkOutcome::Enrolled => enrolled += 1,
                    sesam_store::BulkOutcome::AlreadyEnrolled => {}
                    other => panic!("{other:?}"),
                }
            }
        }
        assert_eq!(enrolled, 300, "everyone once, whichever import got them");
        assert_eq!(verify_chain(&*store).await, 300);
    }

    /// A batch's rows go in in the order of their random keys, not the batch's: each
    /// person still gets their own national ID, user ID and grant, the outcomes stay in
    /// the batch's order, and the audit entries too.
    pub(super) async fn bulk_enrolment_in_key_order_keeps_each_person_whole(store: Arc<dyn Store>) {
        let count = 2_100;
        let mut items: Vec<_> = (0..count)
            .map(|i| {
                let nid = format!("0101{:02}{:04}", 50 + i / 1000, i % 1000);
                bulk(&nid, Some(&format!("sorted.{}", count - i)))
            })
            .collect();
        // A user ID taken earlier in the batch, and a person given twice.
        items[1500] = bulk("0101701234", Some("sorted.2095"));
        items[1700] = bulk("0101500003", None);
        let outcomes = store.enrol_many(&items).await.unwrap();
        for (i, o) in outcomes.iter().enumerate() {
            let expected = match i {
                1500 => "user id taken",
                1700 => "already",
                _ => "enrolled",
            };
            assert_eq!(outcome(o), expected, "item {i}");
        }
        let enrolled: Vec<&sesam_store::BulkEnrolment> = items
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| outcome(o) == "enrolled")
            .map(|(i, _)| i)
            .collect();
        for item in &enrolled {
            let id = item.identity.id;
            let user_id = item.identity.enrolment.user_id.as_ref().unwrap();
            let by_user_id = store.identity_by_user_id(&user_id.key()).await.unwrap();
            assert_eq!(by_user_id.map(|p| p.id), Some(id));
            let index = &item.identity.national_id_index;
            let by_nid = store.identity_by_national_id(index).await.unwrap();
            assert_eq!(by_nid.map(|p| p.id), Some(id));
            let grant = store
                .grant_by_code_hash(&item.grant.code_hash)
                .await
                .unwrap();
            assert_eq!(
                grant.map(|g| (g.id, g.identity_id)),
                Some((item.grant.id, id))
            );
        }
        assert_eq!(verify_chain(&*store).await, enrolled.len() as i64);
        let subjects: Vec<Option<String>> = store
            .audit_entries(0, count as i64)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.subject)
            .collect();
        let expected: Vec<Option<String>> = enrolled
            .iter()
            .map(|i| Some(i.identity.id.to_string()))
            .collect();
        assert_eq!(subjects, expected);
    }

    pub(super) async fn bulk_app_activation_is_all_or_nothing(store: Arc<dyn Store>) {
        use sesam_domain::device::{Device, DeviceName, DevicePublicKey, DeviceState};
        let items = vec![
            bulk("0101901234", Some("a.one")),
            bulk("0201901234", Some("b.two")),
        ];
        store.enrol_many(&items).await.unwrap();
        let device = |item: &sesam_store::BulkEnrolment, key: u8| {
            let secret = p256::ecdsa::SigningKey::from_slice(&[key; 32]).unwrap();
            let mut grant = item.grant.clone();
            grant.consume();
            sesam_store::BulkAppActivation {
                device: Device {
                    id: Uuid::now_v7(),
                    identity_id: item.identity.id,
                    name: DeviceName::parse("phone").unwrap(),
                    public_key: DevicePublicKey::from_sec1(
                        secret.verifying_key().to_sec1_point(false).as_bytes(),
                    )
                    .unwrap(),
                    pin_hash: [1; 32],
                    state: DeviceState::Active,
                    lockout: Default::default(),
                    created_at: T0,
                    last_used_at: None,
                },
                audit: audit("authenticator.app_activated", &item.identity),
                grant,
            }
        };
        let first = device(&items[0], 3);
        store
            .activate_apps_many(std::slice::from_ref(&first))
            .await
            .unwrap();
        let anna = store.identity(items[0].identity.id).await.unwrap().unwrap();
        assert_eq!(anna.state, IdentityState::Active);
        // The first letter is used now: a batch with it again writes nothing at all.
        let again = vec![device(&items[1], 4), device(&items[0], 5)];
        assert!(matches!(
            store.activate_apps_many(&again).await,
            Err(StoreError::Conflict(_))
        ));
        let bo = store.identity(items[1].identity.id).await.unwrap().unwrap();
        assert_eq!(bo.state, IdentityState::Pending);
        assert_eq!(verify_chain(&*store).await, 3);
    }

    /// Inside a locked grant: a user ID in use or in quarantine is refused, one's own and a
    /// free one are not; the count of refused choices survives a save.
    pub(super) async fn grant_units_check_user_ids_and_keep_refusals(store: Arc<dyn Store>) {
        let a = new_identity(enrolment("0101901234", "+4512345678", Some("anna.old")), T0);
        enrol(&*store, &a).await.unwrap();
        let b = new_identity(enrolment("0202901234", "+4587654321", None), T0);
        let grant = grant_for(&b);
        store
            .enrol(&b, &grant, &audit("identity.enrolled", &b).into())
            .await
            .unwrap();
        let t1 = T0.plus_days(1);
        store
            .change_user_id(
                &UserIdChange {
                    identity_id: a.id,
                    new: UserId::parse("anna.new").unwrap(),
                    at: t1,
                    reserved_until: t1.plus_days(365),
                },
                &AuditDraft::new("person:x", "identity.user_id_changed").into(),
            )
            .await
            .unwrap();

        let mut unit = store.lock_grant(grant.id).await.unwrap().unwrap();
        assert_eq!(unit.grant().user_id_refusals, 0);
        let free = |s: &str| UserIdKey::of_input(s);
        assert!(matches!(
            unit.user_id_free(&free("ANNA.NEW"), t1).await,
            Err(StoreError::UserIdTaken)
        ));
        assert!(matches!(
            unit.user_id_free(&free("anna.old"), t1).await,
            Err(StoreError::UserIdReserved)
        ));
        unit.user_id_free(&free("anna.old"), t1.plus_days(366))
            .await
            .unwrap();
        unit.user_id_free(&free("bent.free"), t1).await.unwrap();
        let mut g = unit.grant().clone();
        g.user_id_refusals = 3;
        unit.save(&g, Effects::default()).await.unwrap();
        let unit = store.lock_grant(grant.id).await.unwrap().unwrap();
        assert_eq!(unit.grant().user_id_refusals, 3);
    }

    fn pairing(code: &str, key: u8) -> sesam_domain::pairing::Pairing {
        use sesam_domain::device::{DeviceName, DevicePublicKey};
        let secret = p256::ecdsa::SigningKey::from_slice(&[key.max(1); 32]).unwrap();
        sesam_domain::pairing::Pairing {
            id: Uuid::now_v7(),
            identity_id: None,
            device_id: Uuid::now_v7(),
            public_key: DevicePublicKey::from_sec1(
                secret.verifying_key().to_sec1_point(false).as_bytes(),
            )
            .unwrap(),
            name: DeviceName::parse("Pixel 8").unwrap(),
            pin_hash: [1; 32],
            code: sesam_domain::auth_request::BindingCode::parse(code),
            code_failures: 0,
            state: sesam_domain::pairing::PairingState::Pending,
            created_at: T0,
            expires_at: T0.plus_seconds(300),
        }
    }

    pub(super) async fn pairing_starts_are_limited_and_capped(store: Arc<dyn Store>) {
        use sesam_store::{PairingLimits, PairingStart};
        let limits = PairingLimits {
            max_pending: 3,
            max_per_subject: 5,
            max_per_source: 100,
            window_seconds: 600,
        };
        // 20 starts at once for one subject from 20 addresses: exactly 5 are admitted, and
        // of those at most 3 still wait.
        let tasks: Vec<_> = (0..20u8)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let p = pairing("0042", i + 1);
                    let outcome = store
                        .start_pairing(&p, "subject-1", &[i; 32], limits, Effects::default())
                        .await
                        .unwrap();
                    (p.id, outcome)
                })
            })
            .collect();
        let mut started = vec![];
        for t in tasks {
            let (id, outcome) = t.await.unwrap();
            if matches!(outcome, PairingStart::Started { .. }) {
                started.push(id);
            }
        }
        assert_eq!(started.len(), 5);
        let mut waiting = 0;
        for id in &started {
            let p = store.pairing(*id).await.unwrap().unwrap();
            assert_eq!(p.code.as_ref().map(|c| c.as_str()), Some("0042"));
            if p.is_pending(T0) {
                waiting += 1;
            }
        }
        assert_eq!(waiting, 3, "the oldest were evicted");
        // The next window counts afresh.
        let mut later = pairing("0043", 99);
        later.created_at = T0.plus_seconds(600);
        later.expires_at = later.created_at.plus_seconds(300);
        assert!(matches!(
            store
                .start_pairing(&later, "subject-1", &[0; 32], limits, Effects::default())
                .await
                .unwrap(),
            PairingStart::Started { .. }
        ));
        // One address, for anyone: limited too; a refused start is not stored.
        let per_source = PairingLimits {
            max_per_source: 2,
            ..limits
        };
        let mut outcomes = vec![];
        for (i, subject) in ["a", "b", "c"].iter().enumerate() {
            let p = pairing("0044", 50 + i as u8);
            outcomes.push((
                p.id,
                store
                    .start_pairing(&p, subject, &[200; 32], per_source, Effects::default())
                    .await
                    .unwrap(),
            ));
        }
        assert!(matches!(outcomes[1].1, PairingStart::Started { .. }));
        assert_eq!(outcomes[2].1, PairingStart::TooMany);
        assert!(store.pairing(outcomes[2].0).await.unwrap().is_none());
    }

    fn request(
        identity_id: Uuid,
        source: u8,
        browser: u8,
        at: Timestamp,
    ) -> sesam_domain::auth_request::AuthRequest {
        use sesam_domain::auth_request::{AuthRequest, AuthRequestState, BindingCode};
        AuthRequest {
            id: Uuid::now_v7(),
            identity_id: Some(identity_id),
            client_id: "sp_1".into(),
            sp_name: "Demo Bank".into(),
            action: Action::LogOn,
            text: sesam_domain::transaction_text::TransactionText::parse("Log on").unwrap(),
            binding_code: BindingCode::parse("0042"),
            flow_id: Some(Uuid::now_v7()),
            source_hash: [source; 32],
            browser_hash: Some([browser; 32]),
            state: AuthRequestState::Pending,
            created_at: at,
            expires_at: at.plus_seconds(180),
            decided_at: None,
            device_id: None,
            signature: None,
            not_me: false,
            binding_failures: 0,
            signed_bytes: None,
            details: None,
            ciba: None,
        }
    }

    /// An active device of a freshly enrolled person.
    pub(super) async fn self_service_sessions_touch_end_and_sweep(store: Arc<dyn Store>) {
        use sesam_domain::self_service::{ABSOLUTE_SECONDS, SelfServiceSession};
        let n = enrolled(&*store, "0101901234").await;
        let s = SelfServiceSession::start([7; 32], authentication(n.id), T0);
        let audit = AuditDraft::new(format!("person:{}", n.id), "self_service.login")
            .subject(n.id.to_string());
        store
            .create_self_service_session(&s, audit.into())
            .await
            .unwrap();
        assert_eq!(
            store.self_service_session(&[7; 32], T0).await.unwrap(),
            Some(s.clone())
        );
        assert_eq!(
            store.self_service_session(&[8; 32], T0).await.unwrap(),
            None
        );
        assert!(
            store
                .touch_self_service_session(&[7; 32], T0.plus_seconds(600))
                .await
                .unwrap()
        );
        let touched = store
            .self_service_session(&[7; 32], T0.plus_seconds(600))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(touched.last_seen_at, T0.plus_seconds(600));
        assert_eq!(touched.created_at, T0);
        // Past the absolute end the store does not return it, and the sweep removes it.
        let end = T0.plus_seconds(ABSOLUTE_SECONDS);
        assert_eq!(
            store.self_service_session(&[7; 32], end).await.unwrap(),
            None
        );
        let other = SelfServiceSession::start([9; 32], authentication(n.id), T0);
        store
            .create_self_service_session(&other, Effects::default())
            .await
            .unwrap();
        assert!(
            store
                .end_self_service_session(&[9; 32], T0, Effects::default())
                .await
                .unwrap()
        );
        assert!(
            !store
                .end_self_service_session(&[9; 32], T0, Effects::default())
                .await
                .unwrap()
        );
        assert!(
            !store
                .touch_self_service_session(&[9; 32], T0)
                .await
                .unwrap()
        );
        assert!(store.sweep_expired(cutoffs(end, T0, T0)).await.unwrap() >= 1);
        assert!(
            !store
                .end_self_service_session(&[7; 32], T0, Effects::default())
                .await
                .unwrap()
        );
        // The start's audit entry was written with it.
        let entries = store.audit_entries_of(&n.id.to_string(), 10).await.unwrap();
        assert!(entries.iter().any(|e| e.action == "self_service.login"));
    }

    pub(super) async fn self_service_changes_touch_only_the_persons_own_rows(
        store: Arc<dyn Store>,
    ) {
        use sesam_domain::device::DeviceState;
        let mine = active_device(&*store, "0101901234", 3).await;
        let theirs = active_device(&*store, "0202801234", 4).await;
        // Another person's app: refused, nothing written.
        let draft = AuditDraft::new(
            format!("person:{}", mine.identity_id),
            "authenticator.app_revoked",
        )
        .subject(mine.identity_id.to_string());
        assert!(matches!(
            store
                .revoke_device_of(mine.identity_id, theirs.id, T0, draft.clone().into())
                .await,
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(
            store.device(theirs.id).await.unwrap().unwrap().state,
            DeviceState::Active
        );
        // Renaming: only their own active app.
        let name = sesam_domain::device::DeviceName::parse("work phone").unwrap();
        assert!(matches!(
            store
                .rename_device_of(mine.identity_id, theirs.id, &name, T0, Effects::default())
                .await,
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(
            store
                .device(theirs.id)
                .await
                .unwrap()
                .unwrap()
                .name
                .as_str(),
            "phone"
        );
        store
            .rename_device_of(mine.identity_id, mine.id, &name, T0, Effects::default())
            .await
            .unwrap();
        assert_eq!(
            store.device(mine.id).await.unwrap().unwrap().name.as_str(),
            "work phone"
        );
        // Their own: revoked once, with the audit entry; a second time is NotFound.
        store
            .revoke_device_of(mine.identity_id, mine.id, T0, draft.clone().into())
            .await
            .unwrap();
        assert_eq!(
            store.device(mine.id).await.unwrap().unwrap().state,
            DeviceState::Revoked
        );
        assert!(matches!(
            store
                .revoke_device_of(mine.identity_id, mine.id, T0, draft.into())
                .await,
            Err(StoreError::NotFound(_))
        ));
        let about_me = store
            .audit_entries_of(&mine.identity_id.to_string(), 100)
            .await
            .unwrap();
        assert_eq!(
            about_me
                .iter()
                .filter(|e| e.action == "authenticator.app_revoked")
                .count(),
            1
        );
        // Newest first, and only entries about this subject.
        assert!(about_me.windows(2).all(|w| w[0].seq > w[1].seq));
        assert!(
            about_me
                .iter()
                .all(|e| e.subject.as_deref() == Some(&mine.identity_id.to_string() as &str))
        );
        // A replaced password starts with a clean lockout; the new hash is stored.
        use sesam_domain::chip::{Chip, ChipState};
        let chip = Chip {
            id: Uuid::now_v7(),
            identity_id: mine.identity_id,
            credential_id: vec![1, 2, 3],
            credential: "{}".into(),
            state: ChipState::Revoked,
            created_at: T0,
            last_used_at: None,
        };
        store
            .add_chip(
                &chip,
                Some("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA"),
                Effects::default(),
            )
            .await
            .unwrap();
        let unit = store
            .lock_password(mine.identity_id)
            .await
            .unwrap()
            .unwrap();
        let mut guard = *unit.guard();
        guard.fail(T0, sesam_domain::lockout::Attempt::Uninformed);
        unit.save(&guard, T0, Effects::default()).await.unwrap();
        let unit = store
            .lock_password(mine.identity_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(unit.guard().lockout.failures, 1);
        let hash = "$argon2id$v=19$m=8,t=1,p=1$bmV3c2FsdA$bmV3aGFzaA";
        let draft = AuditDraft::new(
            format!("person:{}", mine.identity_id),
            "authenticator.password_changed",
        )
        .subject(mine.identity_id.to_string());
        unit.replace(hash, T0, draft.into()).await.unwrap();
        let unit = store
            .lock_password(mine.identity_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(unit.phc(), hash);
        assert_eq!(*unit.guard(), PasswordGuard::default());
        drop(unit);
        let entries = store
            .audit_entries_of(&mine.identity_id.to_string(), 10)
            .await
            .unwrap();
        assert_eq!(entries[0].action, "authenticator.password_changed");
    }

    async fn active_device(store: &dyn Store, nid: &str, seed: u8) -> sesam_domain::device::Device {
        use sesam_domain::device::{Device, DeviceName, DevicePublicKey, DeviceState};
        let item = bulk(nid, None);
        store.enrol_many(std::slice::from_ref(&item)).await.unwrap();
        let secret = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap();
        let mut grant = item.grant.clone();
        grant.consume();
        let device = Device {
            id: Uuid::now_v7(),
            identity_id: item.identity.id,
            name: DeviceName::parse("phone").unwrap(),
            public_key: DevicePublicKey::from_sec1(
                secret.verifying_key().to_sec1_point(false).as_bytes(),
            )
            .unwrap(),
            pin_hash: [1; 32],
            state: DeviceState::Active,
            lockout: Default::default(),
            created_at: T0,
            last_used_at: None,
        };
        store
            .activate_apps_many(&[sesam_store::BulkAppActivation {
                device: device.clone(),
                audit: audit("authenticator.app_activated", &item.identity),
                grant,
            }])
            .await
            .unwrap();
        device
    }

    pub(super) async fn push_subscriptions_follow_their_device(store: Arc<dyn Store>) {
        use sesam_domain::web_push::PushSubscription;
        let device = active_device(&*store, "0101901234", 5).await;
        let other = active_device(&*store, "0202902345", 6).await;
        let subscription =
            |device: &sesam_domain::device::Device, endpoint: &str| PushSubscription {
                id: Uuid::now_v7(),
                device_id: device.id,
                identity_id: device.identity_id,
                endpoint: endpoint.into(),
                p256dh: vec![4; 65],
                auth: vec![1; 16],
                created_at: T0,
            };
        // Each change is audited in its own transaction: the audit entry is there exactly
        // when the change is.
        let subscribed: Effects = AuditDraft::new("device:test", "push.subscribed").into();
        let unsubscribed: Effects = AuditDraft::new("device:test", "push.unsubscribed").into();
        async fn waiting(store: &dyn Store) -> i64 {
            store.audit_backlog().await.unwrap().waiting
        }
        let before = waiting(&*store).await;
        let first = subscription(&device, "https://push.example.net/1");
        store
            .save_push_subscription(&first, &subscribed)
            .await
            .unwrap();
        assert_eq!(
            waiting(&*store).await,
            before + 1,
            "audited with the subscription"
        );
        assert_eq!(
            store
                .push_subscriptions_of(device.identity_id)
                .await
                .unwrap(),
            vec![first.clone()]
        );
        // A device has one subscription: a new one replaces it.
        let second = subscription(&device, "https://push.example.net/2");
        store
            .save_push_subscription(&second, &subscribed)
            .await
            .unwrap();
        assert_eq!(
            store
                .push_subscriptions_of(device.identity_id)
                .await
                .unwrap(),
            vec![second.clone()]
        );
        assert_eq!(store.push_subscription(first.id).await.unwrap(), None);
        assert_eq!(
            store.push_subscription(second.id).await.unwrap(),
            Some(second.clone())
        );
        // Another person's device cannot be given a subscription under this identity.
        let mut foreign = subscription(&other, "https://push.example.net/3");
        foreign.identity_id = device.identity_id;
        let before = waiting(&*store).await;
        assert!(matches!(
            store.save_push_subscription(&foreign, &subscribed).await,
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(waiting(&*store).await, before, "refused, nothing audited");
        let theirs = subscription(&other, "https://push.example.net/4");
        store
            .save_push_subscription(&theirs, &subscribed)
            .await
            .unwrap();
        assert_eq!(
            store
                .push_subscriptions_of(other.identity_id)
                .await
                .unwrap(),
            vec![theirs.clone()]
        );
        // Forgotten when the push service no longer knows it; removed on request.
        assert!(store.forget_push_subscription(theirs.id).await.unwrap());
        assert!(!store.forget_push_subscription(theirs.id).await.unwrap());
        assert!(
            store
                .push_subscriptions_of(other.identity_id)
                .await
                .unwrap()
                .is_empty()
        );
        store
            .save_push_subscription(&theirs, &subscribed)
            .await
            .unwrap();
        let before = waiting(&*store).await;
        assert!(
            store
                .remove_push_subscriptions(other.id, T0, &unsubscribed)
                .await
                .unwrap()
        );
        assert_eq!(
            waiting(&*store).await,
            before + 1,
            "audited with the removal"
        );
        assert!(
            !store
                .remove_push_subscriptions(other.id, T0, &unsubscribed)
                .await
                .unwrap()
        );
        assert_eq!(
            waiting(&*store).await,
            before + 1,
            "nothing removed, nothing audited"
        );
        // Revoking the device removes its subscription, and a revoked device gets none.
        let unit = store.lock_device(device.id).await.unwrap().unwrap();
        unit.revoke_device(&device, device.id, T0.plus_seconds(5), Effects::default())
            .await
            .unwrap();
        assert!(
            store
                .push_subscriptions_of(device.identity_id)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.push_subscription(second.id).await.unwrap(), None);
        assert!(matches!(
            store
                .save_push_subscription(
                    &subscription(&device, "https://push.example.net/5"),
                    &subscribed
                )
                .await,
            Err(StoreError::NotFound(_))
        ));
    }

    pub(super) async fn binding_failures_and_reports_are_kept(store: Arc<dyn Store>) {
        use sesam_domain::auth_request::{AuthRequestState, NOT_ME_BLOCK_SECONDS};
        use sesam_store::{AuthAnswer, StartLimits, StartOutcome};
        let device = active_device(&*store, "0101901234", 3).await;
        let identity_id = device.identity_id;
        let subject = identity_id.to_string();
        let at = T0.plus_seconds(10);
        let limits = StartLimits {
            max_pending: 3,
            max_started: 100,
            max_per_source: 100,
            window_seconds: 600,
            reported_since: at.plus_seconds(-NOT_ME_BLOCK_SECONDS),
        };

        // A wrong binding code counted inside the device's unit: read back locked.
        let first = request(identity_id, 1, 1, at);
        store
            .start_auth_request(&first, &subject, limits, Effects::default())
            .await
            .unwrap();
        let mut unit = store.lock_device(device.id).await.unwrap().unwrap();
        let mut locked = unit.lock_auth_request(first.id).await.unwrap().unwrap();
        assert_eq!(locked.binding_failures, 0);
        for _ in 0..3 {
            locked.binding_code_wrong(at);
        }
        unit.record_binding_failure(&device, &locked, Effects::default())
            .await
            .unwrap();
        let stored = store.auth_request(first.id).await.unwrap().unwrap();
        assert_eq!(stored.binding_failures, 3);
        assert_eq!(stored.state, AuthRequestState::Rejected);

        // Reported as "not me": that browser, and any browser at that address, may not ask
        // this person again; another address may.
        let second = request(identity_id, 2, 2, at);
        store
            .start_auth_request(&second, &subject, limits, Effects::default())
            .await
            .unwrap();
        let unit = store.lock_device(device.id).await.unwrap().unwrap();
        let answered = unit
            .answer_auth_request(
                &device,
                &AuthAnswer {
                    request_id: second.id,
                    state: AuthRequestState::Rejected,
                    signature: vec![1],
                    signed_bytes: vec![2],
                    not_me: true,
                    at,
                },
                Effects::default(),
            )
            .await
            .unwrap();
        assert!(answered);
        let outcome = |source: u8, browser: u8| {
            let store = store.clone();
            let subject = subject.clone();
            async move {
                store
                    .start_auth_request(
                        &request(identity_id, source, browser, at),
                        &subject,
                        limits,
                        Effects::default(),
                    )
                    .await
                    .unwrap()
            }
        };
        assert_eq!(outcome(9, 2).await, StartOutcome::BrowserReported);
        assert_eq!(outcome(2, 9).await, StartOutcome::BrowserReported);
        assert!(matches!(outcome(3, 3).await, StartOutcome::Started { .. }));
        // Another person from the reported address is not affected.
        assert!(matches!(
            store
                .start_auth_request(
                    &request(identity_id, 2, 8, at),
                    "someone-else",
                    limits,
                    Effects::default(),
                )
                .await
                .unwrap(),
            StartOutcome::Started { .. }
        ));
    }

    pub(super) async fn user_id_reminders_are_counted_and_limited(store: Arc<dyn Store>) {
        use sesam_domain::rate_limit::WindowLimit;
        // 10 reminders for one number at once from 10 addresses: exactly 3 are written
        // (with their effects); the refused ones write nothing and count nothing.
        let tasks: Vec<_> = (0..10u8)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let source = [b"r:s:".as_slice(), &[i]].concat();
                    let effects = Effects::from(
                        AuditDraft::new("browser", "identity.user_id_reminder")
                            .details(serde_json::json!({ "n": i })),
                    );
                    store
                        .remind_user_id(
                            [
                                (b"r:p:one".as_slice(), WindowLimit::at_most(3)),
                                (&source[..], WindowLimit::at_most(100)),
                            ],
                            T0,
                            T0,
                            &effects,
                        )
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut admitted = 0;
        for t in tasks {
            admitted += usize::from(t.await.unwrap());
        }
        assert_eq!(admitted, 3);
        store.chain_pending_audit(1000).await.unwrap();
        let written = store
            .audit_entries(0, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "identity.user_id_reminder")
            .count();
        assert_eq!(written, 3);
        // Another number from a used address still goes through (refusals counted
        // nothing there); a new window starts again.
        let effects = Effects::default();
        let other = [
            (b"r:p:two".as_slice(), WindowLimit::at_most(3)),
            (b"r:s:\x00".as_slice(), WindowLimit::at_most(100)),
        ];
        assert!(store.remind_user_id(other, T0, T0, &effects).await.unwrap());
        let next = Timestamp::from_millis(T0.millis() + 86_400_000);
        let again = [
            (b"r:p:one".as_slice(), WindowLimit::at_most(3)),
            (b"r:s:\x00".as_slice(), WindowLimit::at_most(100)),
        ];
        assert!(
            store
                .remind_user_id(again, next, next, &effects)
                .await
                .unwrap()
        );
    }
}

/// The two migration sets describe one schema: the same tables with the same columns, of
/// comparable types and the same nullability, so neither backend can drift from the other.
mod schema_parity {
    use std::collections::BTreeMap;

    use sqlx::{Connection as _, Row as _};

    /// Table -> column -> (normalised type, NOT NULL).
    type Schema = BTreeMap<String, BTreeMap<String, (&'static str, bool)>>;

    /// Where the backends store one value differently on purpose: (table, column, why).
    /// Empty: every difference found is a drift to fix with a migration per backend.
    const INTENDED: &[(&str, &str, &str)] = &[];

    /// SQLite declares affinities, so widths cannot be compared (INTEGER holds a BIGINT).
    fn sqlite_type(declared: &str) -> &'static str {
        let t = declared.to_ascii_uppercase();
        if t.contains("INT") {
            "integer"
        } else if t.contains("CHAR") || t.contains("TEXT") || t.contains("CLOB") {
            "text"
        } else if t.contains("BLOB") || t.is_empty() {
            "bytes"
        } else if t.contains("BOOL") {
            "boolean"
        } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
            "real"
        } else {
            "unknown"
        }
    }

    fn postgres_type(data_type: &str) -> &'static str {
        match data_type {
            "smallint" | "integer" | "bigint" => "integer",
            "text" | "character varying" | "character" => "text",
            "bytea" => "bytes",
            "boolean" => "boolean",
            "real" | "double precision" => "real",
            // sqlx stores a `Uuid` as a 16-byte BLOB in SQLite and as `uuid` in PostgreSQL.
            "uuid" => "uuid",
            _ => "unknown",
        }
    }

    fn comparable(sqlite: &str, postgres: &str) -> bool {
        sqlite == postgres || (sqlite, postgres) == ("bytes", "uuid")
    }

    async fn sqlite_schema(path: &std::path::Path) -> Schema {
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        let tables: Vec<String> = sqlx::query(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("name"))
        .collect();
        let mut schema = Schema::new();
        for table in tables {
            let columns = sqlx::query(
                "SELECT name, type, \"notnull\" AS not_null, pk FROM pragma_table_info($1)",
            )
            .bind(&table)
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|r| {
                // A primary key column is NOT NULL in PostgreSQL whether declared or not.
                let not_null = r.get::<i64, _>("not_null") != 0 || r.get::<i64, _>("pk") > 0;
                (
                    r.get::<String, _>("name"),
                    (sqlite_type(&r.get::<String, _>("type")), not_null),
                )
            })
            .collect();
            schema.insert(table, columns);
        }
        schema
    }

    async fn postgres_schema(url: &str) -> Schema {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        let rows = sqlx::query(
            "SELECT c.table_name::text AS table_name, c.column_name::text AS column_name, \
             c.data_type::text AS data_type, c.is_nullable::text AS is_nullable \
             FROM information_schema.columns c JOIN information_schema.tables t \
             ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
             WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' \
             AND c.table_name <> '_sqlx_migrations'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let mut schema = Schema::new();
        for r in rows {
            schema.entry(r.get("table_name")).or_default().insert(
                r.get("column_name"),
                (
                    postgres_type(r.get("data_type")),
                    r.get::<String, _>("is_nullable") == "NO",
                ),
            );
        }
        schema
    }

    /// Every difference between the two schemas, except the intended ones.
    fn differences(sqlite: &Schema, postgres: &Schema) -> Vec<String> {
        let mut found = Vec::new();
        let tables: std::collections::BTreeSet<&String> =
            sqlite.keys().chain(postgres.keys()).collect();
        for table in tables {
            let (Some(lite), Some(pg)) = (sqlite.get(table), postgres.get(table)) else {
                let only = if sqlite.contains_key(table) {
                    "SQLite"
                } else {
                    "PostgreSQL"
                };
                found.push(format!("table {table} exists only in {only}"));
                continue;
            };
            let columns: std::collections::BTreeSet<&String> =
                lite.keys().chain(pg.keys()).collect();
            for column in columns {
                if INTENDED.iter().any(|(t, c, _)| t == table && c == column) {
                    continue;
                }
                match (lite.get(column), pg.get(column)) {
                    (Some((lt, lnn)), Some((pt, pnn))) => {
                        if !comparable(lt, pt) {
                            found.push(format!("{table}.{column}: SQLite {lt}, PostgreSQL {pt}"));
                        }
                        if lnn != pnn {
                            found.push(format!(
                                "{table}.{column}: NOT NULL in SQLite {lnn}, in PostgreSQL {pnn}"
                            ));
                        }
                    }
                    (Some(_), None) => found.push(format!("{table}.{column} only in SQLite")),
                    (None, _) => found.push(format!("{table}.{column} only in PostgreSQL")),
                }
            }
        }
        found
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_and_postgres_schemas_match() {
        let (_dir, path) = sesam_testkit::sqlite_path();
        drop(
            sesam_store::open(
                &sesam_store::Location::Sqlite(path.clone()),
                sesam_domain::AuditKey::from(&super::keys()),
            )
            .await
            .unwrap(),
        );
        let Some(url) = sesam_testkit::postgres_database().await else {
            return;
        };
        drop(
            sesam_store::open(
                &sesam_store::Location::Postgres(url.clone()),
                sesam_domain::AuditKey::from(&super::keys()),
            )
            .await
            .unwrap(),
        );
        let sqlite = sqlite_schema(&path).await;
        let postgres = postgres_schema(&url).await;
        assert!(
            sqlite.len() > 10,
            "the migrations made too few tables: {sqlite:?}"
        );
        for (table, columns) in sqlite.iter().chain(postgres.iter()) {
            for (column, (kind, _)) in columns {
                assert_ne!(
                    *kind, "unknown",
                    "{table}.{column} has a type this test does not map"
                );
            }
        }
        let found = differences(&sqlite, &postgres);
        assert!(
            found.is_empty(),
            "the schemas drifted:\n{}",
            found.join("\n")
        );
    }

    #[test]
    fn a_drift_is_reported() {
        let schema = |kind: &'static str, not_null: bool| -> Schema {
            BTreeMap::from([(
                "t".to_owned(),
                BTreeMap::from([("c".to_owned(), (kind, not_null))]),
            )])
        };
        assert!(differences(&schema("bytes", true), &schema("uuid", true)).is_empty());
        assert_eq!(
            differences(&schema("text", true), &schema("integer", true)).len(),
            1
        );
        assert_eq!(
            differences(&schema("text", true), &schema("text", false)).len(),
            1
        );
        assert_eq!(differences(&schema("text", true), &Schema::new()).len(), 1);
    }
}
