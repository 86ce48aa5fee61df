//! `sesam admin` end to end: the real binary against a real SQLite file (while a server
//! runs on it) and a real PostgreSQL database.

use crate::common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use sqlx::{Connection, SqliteConnection};

fn activation_code_shape(code: &str) -> bool {
    let groups: Vec<&str> = code.split('-').collect();
    groups.len() == 3
        && groups.iter().all(|g| {
            g.len() == 4
                && g.bytes()
                    .all(|b| b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ".contains(&b))
        })
}

fn enrol_verify_flow(data: &Data) {
    let run = admin(
        data,
        &enrol_args(
            "010190-1234",
            "1990-01-01",
            "+4512345678",
            Some("Anna.Hansen"),
        ),
    );
    let j = run.ok().json();
    assert_eq!(j["state"], "pending");
    assert_eq!(j["national_id"], "010190-****");
    assert!(!run.stdout.contains("0101901234") && !run.stdout.contains("1234\""));
    assert!(
        activation_code_shape(j["activation_code"].as_str().unwrap()),
        "{j}"
    );
    assert!(j["identity_id"].as_str().is_some());

    let show = admin(data, &["--json", "identity", "show", "ANNA.HANSEN"]);
    let s = show.ok().json();
    assert_eq!(s["identity_id"], j["identity_id"]);
    assert_eq!(s["open_activation_grants"].as_array().unwrap().len(), 1);
    assert!(
        s.get("activation_code").is_none(),
        "the code is shown only at enrolment"
    );

    admin(
        data,
        &[
            "identity",
            "suspend",
            "anna.hansen",
            "--reason",
            "lost phone",
        ],
    )
    .ok();
    admin(
        data,
        &[
            "identity",
            "reopen",
            "anna.hansen",
            "--reason",
            "seen in person",
        ],
    )
    .ok();
    let s = admin(data, &["--json", "identity", "show", "anna.hansen"]).json();
    assert_eq!(s["state"], "pending");

    let jwks = tempfile::NamedTempFile::new().unwrap();
    let jwks = jwks.path();
    std::fs::write(
        jwks,
        r#"{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#,
    )
    .unwrap();
    let sp = admin(
        data,
        &[
            "--json",
            "sp",
            "add",
            "--name",
            "Demo Bank",
            "--redirect-uri",
            "https://bank.example/cb",
            "--jwks",
            jwks.to_str().unwrap(),
            "--ciba",
        ],
    );
    let sp = sp.ok().json();
    assert!(sp["client_id"].as_str().unwrap().starts_with("sp_"));
    assert_eq!(sp["client_secret"].as_str().unwrap().len(), 64);
    let list = admin(data, &["--json", "sp", "list"]).ok().json();
    assert_eq!(list["service_providers"][0]["client_id"], sp["client_id"]);
    assert_eq!(list["service_providers"][0]["ciba"], true);
    assert!(
        !admin(data, &["sp", "list"])
            .stdout
            .contains(sp["client_secret"].as_str().unwrap())
    );

    let v = admin(data, &["--json", "audit", "verify"]).ok().json();
    assert_eq!(v["ok"], true);
    // the server's first start created its signing keys; then enrolled, viewed, suspended,
    // reopened, viewed, sp added
    assert_eq!(v["entries"], 7);
}

#[tokio::test]
async fn enrol_against_the_data_dir_of_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = Data::Dir(dir.path().join("data"));
    let server = Server::start(&data, &[]);
    enrol_verify_flow(&data);
    let ready = http_client()
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let mode = std::fs::metadata(dir.path().join("data/master.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn enrol_against_postgresql() {
    let Some(url) = sesam_testkit::postgres_database().await else {
        return;
    };
    let data = Data::Postgres(url);
    let server = Server::start(&data, &[]);
    enrol_verify_flow(&data);
    let ready: serde_json::Value = http_client()
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["database"], "PostgreSQL");
}

/// Three enrolments, so the chain has entries 1..=3 to tamper with.
fn three_entries() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("clean");
    let data = Data::Dir(data_dir.clone());
    admin(
        &data,
        &enrol_args("0101901234", "1990-01-01", "+4512345671", None),
    )
    .ok();
    admin(
        &data,
        &enrol_args("0202901234", "1990-02-02", "+4512345672", None),
    )
    .ok();
    admin(
        &data,
        &enrol_args("0303901234", "1990-03-03", "+4512345673", None),
    )
    .ok();
    admin(&data, &["audit", "verify"]).ok();
    (dir, data_dir)
}

async fn tamper(clean: &std::path::Path, name: &str, sql: &[&str]) -> Data {
    let copy = clean.parent().unwrap().join(name);
    copy_dir(clean, &copy);
    let mut conn =
        SqliteConnection::connect(&format!("sqlite://{}", copy.join("sesam.db").display()))
            .await
            .unwrap();
    for s in sql {
        sqlx::query(sqlx::AssertSqlSafe(s.to_string()))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    conn.close().await.unwrap();
    Data::Dir(copy)
}

#[tokio::test]
async fn audit_verify_finds_each_kind_of_tampering() {
    let (_dir, clean) = three_entries();

    let edited = tamper(
        &clean,
        "edited",
        &["UPDATE audit_log SET actor = 'operator:mallory' WHERE seq = 2"],
    )
    .await;
    admin(&edited, &["audit", "verify"]).fails_with("entry 2: its content does not match its hash");

    let removed = tamper(&clean, "removed", &["DELETE FROM audit_log WHERE seq = 2"]).await;
    admin(&removed, &["audit", "verify"]).fails_with("entry 3: expected sequence number 2");

    let removed_last = tamper(
        &clean,
        "removed_last",
        &["DELETE FROM audit_log WHERE seq = 3"],
    )
    .await;
    admin(&removed_last, &["audit", "verify"])
        .fails_with("chain ends at entry 2 but its recorded head is entry 3");

    // Inserted in the middle: everything after it renumbered, as an attacker must.
    let inserted = tamper(
        &clean,
        "inserted",
        &[
            "UPDATE audit_log SET seq = seq + 100 WHERE seq >= 2",
            "UPDATE audit_log SET seq = seq - 99 WHERE seq >= 102",
            "INSERT INTO audit_log (seq, at, actor, action, subject, reason, details, prev_hash, hash) \
             SELECT 2, at, 'operator:mallory', 'identity.enrolled', NULL, NULL, '{}', hash, hash FROM audit_log WHERE seq = 1",
            "UPDATE audit_head SET seq = 4",
        ],
    )
    .await;
    admin(&inserted, &["audit", "verify"]).fails_with("entry 2:");

    let appended = tamper(
        &clean,
        "appended",
        &["INSERT INTO audit_log (seq, at, actor, action, subject, reason, details, prev_hash, hash) \
           SELECT 4, at, 'operator:mallory', 'identity.enrolled', NULL, NULL, '{}', hash, hash FROM audit_log WHERE seq = 3"],
    )
    .await;
    admin(&appended, &["audit", "verify"]).fails_with("entry 4");

    let reordered = tamper(
        &clean,
        "reordered",
        &[
            "UPDATE audit_log SET seq = 100 WHERE seq = 2",
            "UPDATE audit_log SET seq = 2 WHERE seq = 3",
            "UPDATE audit_log SET seq = 3 WHERE seq = 100",
        ],
    )
    .await;
    admin(&reordered, &["audit", "verify"]).fails_with("entry 2:");

    // The clean copy still verifies.
    let v = admin(&Data::Dir(clean), &["--json", "audit", "verify"])
        .ok()
        .json();
    assert_eq!(v["entries"], 3);
}

#[tokio::test]
async fn bad_input_gives_one_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = Data::Dir(dir.path().join("data"));
    admin(
        &data,
        &enrol_args(
            "0101901234",
            "1990-01-01",
            "+4512345678",
            Some("Anna.Hansen"),
        ),
    )
    .ok();

    let cases: &[(&[&str], &str)] = &[
        (
            &enrol_args("01019012", "1990-01-01", "+4511111111", None),
            "10 digits",
        ),
        (
            &enrol_args("3202901234", "1990-02-32", "+4511111111", None),
            "not start with a real date",
        ),
        (
            &enrol_args("01019O1234", "1990-01-01", "+4511111111", None),
            "only digits",
        ),
        (
            &enrol_args("0202901234", "1990-02-03", "+4511111111", None),
            "birth date does not match",
        ),
        (
            &enrol_args("0202901234", "1990-13-01", "+4511111111", None),
            "not a real date",
        ),
        (
            &enrol_args("0202901234", "1990-02-02", "12345678", None),
            "international form",
        ),
        (
            &enrol_args("010190-1234", "1990-01-01", "+4511111111", None),
            "already enrolled",
        ),
        (
            &enrol_args(
                "0202901234",
                "1990-02-02",
                "+4511111111",
                Some("ANNA.HANSEN"),
            ),
            "user ID is taken",
        ),
        (
            &enrol_args(
                "0202901234",
                "1990-02-02",
                "+4511111111",
                Some("x0202901234"),
            ),
            "10 digits in a row",
        ),
        (
            &enrol_args(
                "0202901234",
                "1990-02-02",
                "+4511111111",
                Some("ab\u{202E}cdef"),
            ),
            "U+202E",
        ),
        (
            &enrol_args(
                "0202901234",
                "1990-02-02",
                "+4511111111",
                Some("anna 11111111"),
            ),
            "phone number",
        ),
        (
            &enrol_args(
                "0202901234",
                "1990-02-02",
                "+4511111111",
                Some("020290-1234 anna"),
            ),
            "national ID number",
        ),
        (
            &[
                "identity",
                "enrol",
                "--national-id",
                "0202901234",
                "--name",
                "B",
                "--birthdate",
                "1990-02-02",
                "--phone",
                "+4511111111",
                "--ial",
                "medium",
            ],
            "unknown level",
        ),
        (
            &[
                "identity",
                "enrol",
                "--national-id",
                "0202901234",
                "--name",
                "\u{7}",
                "--birthdate",
                "1990-02-02",
                "--phone",
                "+4511111111",
            ],
            "control character",
        ),
        (
            &[
                "identity",
                "enrol",
                "--national-id",
                "0202901234",
                "--name",
                "B",
                "--birthdate",
                "1990-02-02",
                "--phone",
                "+4511111111",
                "--email",
                "not-an-address",
            ],
            "e-mail",
        ),
        (
            &["identity", "show", "nobody.here"],
            "no identity has the user ID 'nobody.here'",
        ),
        (
            &["identity", "suspend", "anna.hansen", "--reason", " "],
            "a reason is required",
        ),
        (
            &["identity", "reopen", "anna.hansen", "--reason", "why not"],
            "not suspended",
        ),
        (
            &["identity", "enrol", "--national-id", "0202901234"],
            "required arguments were not provided",
        ),
        (&["identity", "frobnicate"], "unrecognized subcommand"),
        (
            &["--bogus", "audit", "verify"],
            "unexpected argument '--bogus'",
        ),
        (
            &[
                "sp",
                "add",
                "--name",
                "Bank",
                "--redirect-uri",
                "http://bank.example/cb",
            ],
            "use https",
        ),
        (
            &[
                "sp",
                "add",
                "--name",
                "",
                "--redirect-uri",
                "https://bank.example/cb",
            ],
            "display name",
        ),
        (
            &[
                "sp",
                "add",
                "--name",
                "Bank",
                "--redirect-uri",
                "https://b.example/cb",
                "--jwks",
                "/nonexistent.json",
            ],
            "cannot read /nonexistent.json",
        ),
    ];
    for (args, needle) in cases {
        admin(&data, args).fails_with(needle);
    }
    // Nothing of the refused commands was written: one enrolment, one audit entry.
    let v = admin(&data, &["--json", "audit", "verify"]).ok().json();
    assert_eq!(v["entries"], 1);
    admin(
        &data,
        &enrol_args("0202901234", "1990-02-02", "+4511111111", Some("bent.b")),
    )
    .ok();
}

#[tokio::test]
async fn released_user_ids_are_reserved() {
    let dir = tempfile::tempdir().unwrap();
    let data = Data::Dir(dir.path().join("data"));
    admin(
        &data,
        &enrol_args("0101901234", "1990-01-01", "+4512345678", Some("anna.old")),
    )
    .ok();
    admin(
        &data,
        &[
            "identity",
            "change-user-id",
            "Anna.Old",
            "--new-user-id",
            "anna.new",
            "--reason",
            "asked at the counter",
        ],
    )
    .ok();
    admin(
        &data,
        &enrol_args("0202901234", "1990-02-02", "+4511111111", Some("ANNA.OLD")),
    )
    .fails_with("reserved");
    admin(&data, &["identity", "show", "anna.old"]).fails_with("no identity");
    let s = admin(&data, &["--json", "identity", "show", "anna.new"]).json();
    assert_eq!(s["user_id_history"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn broken_databases_are_named() {
    let dir = tempfile::tempdir().unwrap();

    let corrupt = dir.path().join("corrupt");
    std::fs::create_dir(&corrupt).unwrap();
    std::fs::write(corrupt.join("sesam.db"), vec![0x5au8; 8192]).unwrap();
    admin(&Data::Dir(corrupt), &["audit", "verify"]).fails_with("corrupt or not a sesam database");

    admin(
        &Data::Postgres("postgres://127.0.0.1:1/sesam".into()),
        &["audit", "verify"],
    )
    .fails_with("cannot reach the database: 127.0.0.1:1");
    let mut c = command(&Data::Dir(dir.path().into()));
    let run = c
        .args([
            "admin",
            "--database-url",
            "mysql://localhost/x",
            "audit",
            "verify",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&run.stderr).contains("must start with postgres://"));
    let mut c = command(&Data::Dir(dir.path().into()));
    let run = c
        .args([
            "admin",
            "--database-url",
            "postgres://[::1/x",
            "audit",
            "verify",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("bad database URL"),
        "{run:?}"
    );
}

#[tokio::test]
async fn a_locked_database_is_reported_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let data = Data::Dir(data_dir.clone());
    admin(&data, &["audit", "verify"]).ok();
    let mut holder =
        SqliteConnection::connect(&format!("sqlite://{}", data_dir.join("sesam.db").display()))
            .await
            .unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut holder)
        .await
        .unwrap();
    let d = data.clone();
    let run = tokio::task::spawn_blocking(move || {
        admin(
            &d,
            &enrol_args("0101901234", "1990-01-01", "+4512345678", None),
        )
    })
    .await
    .unwrap();
    run.fails_with("locked by another process");
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    holder.close().await.unwrap();
    admin(
        &data,
        &enrol_args("0101901234", "1990-01-01", "+4512345678", None),
    )
    .ok();
    assert_eq!(
        admin(&data, &["--json", "audit", "verify"]).json()["entries"],
        1
    );
}

#[tokio::test]
async fn master_key_problems_stop_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let data = Data::Dir(data_dir.clone());
    admin(
        &data,
        &enrol_args("0101901234", "1990-01-01", "+4512345678", None),
    )
    .ok();
    let key = data_dir.join("master.key");

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    admin(&data, &["audit", "verify"]).fails_with("permissions 0644");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

    let mut c = command(&data);
    let run = c
        .env("SESAM_MASTER_KEY", MASTER_KEY)
        .args(["admin", "--data-dir"])
        .arg(&data_dir)
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("does not match this database"),
        "{run:?}"
    );

    let mut c = command(&data);
    let run = c
        .env("SESAM_MASTER_KEY", "abc")
        .args(["admin", "--data-dir"])
        .arg(&data_dir)
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("64 hexadecimal characters"),
        "{run:?}"
    );

    let saved = std::fs::read(&key).unwrap();
    std::fs::remove_file(&key).unwrap();
    admin(&data, &["audit", "verify"]).fails_with("key file");
    assert!(!key.exists(), "no new key may be written for existing data");
    std::fs::write(&key, saved).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(
        admin(&data, &["--json", "audit", "verify"]).json()["entries"],
        1
    );
}

/// Root ignores file permissions, so the read-only case runs as `nobody` where possible.
#[tokio::test]
async fn a_read_only_database_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data_dir = dir.path().join("data");
    let mut c = command(&Data::Dir(data_dir.clone()));
    c.env("SESAM_MASTER_KEY", MASTER_KEY)
        .args(["admin", "--create", "--data-dir"])
        .arg(&data_dir)
        .args(["audit", "verify"]);
    assert!(c.output().unwrap().status.success());
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    for e in std::fs::read_dir(&data_dir).unwrap() {
        std::fs::set_permissions(e.unwrap().path(), std::fs::Permissions::from_mode(0o444))
            .unwrap();
    }
    let as_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    let mut c = if as_root {
        let mut c = std::process::Command::new("runuser");
        c.args(["-u", "nobody", "--", BIN]);
        c
    } else {
        std::process::Command::new(BIN)
    };
    let out = c
        .env("SESAM_MASTER_KEY", MASTER_KEY)
        .args(["admin", "--operator", "t", "--data-dir"])
        .arg(&data_dir)
        .args([
            "identity",
            "enrol",
            "--national-id",
            "0101901234",
            "--name",
            "A",
            "--birthdate",
            "1990-01-01",
            "--phone",
            "+4512345678",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("read-only") || stderr.contains("cannot open"),
        "{stderr}"
    );
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[tokio::test]
async fn messages_follow_the_persons_language() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let data = Data::Dir(data_dir.clone());
    let mut args = enrol_args(
        "0101901234",
        "1990-01-01",
        "+4512345678",
        Some("anna.hansen"),
    );
    args.extend(["--language", "en"]);
    assert_eq!(admin(&data, &args).ok().json()["language"], "en");
    let mut bad = enrol_args("0202901234", "1990-02-02", "+4511111111", None);
    bad.extend(["--language", "de"]);
    admin(&data, &bad).fails_with("language 'de' is not da or en");
    admin(
        &data,
        &[
            "identity",
            "reissue",
            "anna.hansen",
            "--reason",
            "lost letter",
        ],
    )
    .ok();
    let mut conn =
        SqliteConnection::connect(&format!("sqlite://{}", data_dir.join("sesam.db").display()))
            .await
            .unwrap();
    // The enrolment's letter and the reissued one are both announced, in English.
    let bodies: Vec<String> =
        sqlx::query("SELECT body FROM outbox WHERE event = 'activation.code_issued'")
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|r| sqlx::Row::get(r, "body"))
            .collect();
    assert!(
        bodies
            .iter()
            .any(|b| b.contains("A new activation letter was issued")),
        "{bodies:?}"
    );
    assert!(
        bodies
            .iter()
            .any(|b| b.contains("You were enrolled in sesam")),
        "{bodies:?}"
    );
}

#[test]
fn operators_add_and_remove_channels_at_the_counter() {
    let dir = tempfile::tempdir().unwrap();
    let data = Data::Dir(dir.path().join("data"));
    admin(
        &data,
        &enrol_args(
            "0101901234",
            "1990-01-01",
            "+4512345678",
            Some("anna.hansen"),
        ),
    )
    .ok();
    let show = admin(&data, &["--json", "identity", "show", "anna.hansen"])
        .ok()
        .json();
    assert_eq!(show["channels"].as_array().unwrap().len(), 1, "{show}");
    let added = admin(
        &data,
        &[
            "--json",
            "identity",
            "channel-add",
            "anna.hansen",
            "--email",
            "Anna@Example.dk",
            "--reason",
            "asked at the counter",
        ],
    )
    .ok()
    .json();
    assert_eq!(added["address"], "anna@example.dk");
    admin(
        &data,
        &[
            "identity",
            "channel-add",
            "anna.hansen",
            "--email",
            "anna@example.dk",
            "--reason",
            "again",
        ],
    )
    .fails_with("already registered");
    admin(
        &data,
        &[
            "identity",
            "channel-add",
            "anna.hansen",
            "--sms",
            "12345678",
            "--reason",
            "x",
        ],
    )
    .fails_with("international form");
    admin(
        &data,
        &["identity", "channel-add", "anna.hansen", "--reason", "x"],
    )
    .fails_with("required");
    let phone = show["channels"][0]["id"].as_str().unwrap().to_owned();
    admin(
        &data,
        &[
            "identity",
            "channel-remove",
            "anna.hansen",
            &phone,
            "--reason",
            "new number",
        ],
    )
    .ok();
    let email = added["channel_id"].as_str().unwrap().to_owned();
    admin(
        &data,
        &[
            "identity",
            "channel-remove",
            "anna.hansen",
            &email,
            "--reason",
            "x",
        ],
    )
    .fails_with("last confirmed channel");
    let v = admin(&data, &["--json", "audit", "verify"]).ok().json();
    assert_eq!(v["ok"], true);
}

/// A data directory without data is most likely a typo: `sesam admin` refuses it in one
/// line naming the directory and writes nothing there, unless `--create` says to start.
#[test]
fn admin_refuses_a_directory_without_data_unless_told_to_create() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("sesam-dta");
    let mut c = command(&Data::Dir(typo.clone()));
    let out = c
        .args(["admin", "--operator", "t", "--data-dir"])
        .arg(&typo)
        .args(["sp", "list"])
        .output()
        .unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    run.fails_with(&format!("no sesam data in {}", typo.display()));
    assert!(run.stderr.contains("--create"), "{run:?}");
    assert!(
        !typo.join("sesam.db").exists() && !typo.join("master.key").exists(),
        "nothing may be created without --create"
    );
    // With --create: new data, and from then on no flag is needed.
    admin(&Data::Dir(typo.clone()), &["sp", "list"]).ok();
    assert!(typo.join("sesam.db").exists() && typo.join("master.key").exists());
    let mut c = command(&Data::Dir(typo.clone()));
    let out = c
        .args(["admin", "--operator", "t", "--data-dir"])
        .arg(&typo)
        .args(["sp", "list"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}
