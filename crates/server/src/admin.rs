//! `sesam admin`: operator commands and their output (text for people, `--json` for scripts).

use serde_json::{Value, json};
use sesam_domain::Identity;

use crate::cli::KeysCommand;
use crate::cli::{
    AdminArgs, AdminCommand, AuditCommand, CodeDisplayCommand, IdentityCommand, SpCommand,
};
use crate::config::{Config, ProcessEnv};
use sesam_core::context::Sesam;
use sesam_core::error::AppError;
use sesam_core::services::Actor;
use sesam_core::services::identities::EnrolRequest;
use sesam_core::services::service_providers::AddServiceProvider;

/// The operator's name: `--operator`, else the OS user.
fn operator(flag: Option<&str>) -> Result<Actor, AppError> {
    let name = flag
        .map(str::to_owned)
        .or_else(|| std::env::var("SESAM_OPERATOR").ok())
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .unwrap_or_else(|| "unknown".into());
    Actor::operator(&name)
}

fn identity_json(i: &Identity) -> Value {
    json!({
        "identity_id": i.id,
        "user_id": i.user_id.as_ref().map(|u| u.as_str()),
        "name": i.name.as_str(),
        "national_id": i.national_id_masked,
        "birthdate": i.birthdate.to_string(),
        "ial": i.ial,
        "state": i.state,
        "phone": i.phone.as_str(),
        "email": i.email.as_ref().map(|e| e.as_str()),
        "language": i.language.as_str(),
        "activated_at": i.activated_at.map(|t| t.to_rfc3339()),
        "created_at": i.created_at.to_rfc3339(),
    })
}

fn identity_text(i: &Identity) -> String {
    let user_id = i
        .user_id
        .as_ref()
        .map_or("(not chosen yet)", |u| u.as_str());
    format!(
        "Identity     {}\nUser ID      {user_id}\nName         {}\nNational ID  {}\nBirth date   {}\nState        {}\nIAL          {}\nPhone        {}\nE-mail       {}\nCreated      {}",
        i.id,
        i.name,
        i.national_id_masked,
        i.birthdate,
        i.state,
        i.ial,
        i.phone,
        i.email.as_ref().map_or("-", |e| e.as_str()),
        i.created_at,
    )
}

/// Operator commands work on existing data: a SQLite database that is not there is
/// refused (one line naming it), unless `--create` says to start new data. (Existing data
/// without its key file is refused when opened, without writing a new key.)
fn existing_data(config: &Config) -> Result<(), AppError> {
    if let sesam_store::Location::Sqlite(db) = &config.database
        && !db.exists()
    {
        return Err(AppError::BadInput(format!(
            "no sesam data in {}: {} does not exist (check --data-dir, or give --create to start new data there)",
            config.data_dir.display(),
            db.display()
        )));
    }
    Ok(())
}

pub async fn run(args: AdminArgs) -> Result<(), AppError> {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .try_init();
    let actor = operator(args.operator.as_deref())?;
    let config = Config::load(&args.data.overrides(), &ProcessEnv)?;
    if !args.create {
        existing_data(&config)?;
    }
    let sesam = Sesam::open(config.open_settings()).await?;
    let print = |out: &Output| {
        if args.json {
            println!("{}", out.json);
        } else {
            println!("{}", out.text);
        }
    };
    match execute(&sesam, &actor, args.command).await {
        Ok(out) => {
            print(&out);
            Ok(())
        }
        Err(AdminError::PartlyDone { report, summary }) => {
            print(&report);
            Err(AppError::BadInput(summary))
        }
        Err(AdminError::Failed(e)) => Err(e),
    }
}

/// A command's result in both forms.
#[derive(Debug)]
pub struct Output {
    pub json: Value,
    pub text: String,
}

/// Why an operator command did not wholly succeed.
#[derive(Debug)]
pub enum AdminError {
    Failed(AppError),
    /// The command did part of its work; the report says what, the summary what was refused.
    PartlyDone {
        report: Box<Output>,
        summary: String,
    },
}

impl From<AppError> for AdminError {
    fn from(e: AppError) -> Self {
        Self::Failed(e)
    }
}

pub async fn execute(
    sesam: &Sesam,
    actor: &Actor,
    command: AdminCommand,
) -> Result<Output, AdminError> {
    match command {
        AdminCommand::Sp(SpCommand::Add {
            name,
            redirect_uris,
            national_id,
            require_par,
            jwks,
            ciba,
        }) => {
            let jwks = jwks
                .map(|p| {
                    let meta = std::fs::metadata(&p).map_err(|source| AppError::Io {
                        what: format!("cannot read {}", p.display()),
                        source,
                    })?;
                    if meta.len() > 64 * 1024 {
                        return Err(AppError::BadInput(format!(
                            "JWKS file {} is larger than 64 KiB",
                            p.display()
                        )));
                    }
                    std::fs::read_to_string(&p).map_err(|source| AppError::Io {
                        what: format!("cannot read {}", p.display()),
                        source,
                    })
                })
                .transpose()?;
            let req = AddServiceProvider {
                name,
                redirect_uris,
                national_id,
                require_par,
                ciba,
                jwks,
            };
            let added = sesam.add_service_provider(actor, &req).await?;
            let r = &added.record;
            Ok(Output {
                json: json!({
                    "client_id": r.client_id,
                    "client_secret": added.client_secret.expose(),
                    "display_name": r.display_name,
                    "redirect_uris": r.redirect_uris,
                }),
                text: format!(
                    "Registered service provider '{}'.\nclient_id      {}\nclient_secret  {}\nThe secret is shown only now; give it to the service provider over a secure channel.",
                    r.display_name,
                    r.client_id,
                    added.client_secret.expose()
                ),
            })
        }
        AdminCommand::Sp(SpCommand::List) => {
            let sps = sesam.service_providers().await?;
            let rows: Vec<Value> = sps
                .iter()
                .map(|s| {
                    json!({
                        "client_id": s.client_id,
                        "display_name": s.display_name,
                        "redirect_uris": s.redirect_uris,
                        "national_id": s.allow_national_id,
                        "require_par": s.require_par,
                        "ciba": s.ciba,
                        "created_at": s.created_at.to_rfc3339(),
                    })
                })
                .collect();
            let text = if sps.is_empty() {
                "No service providers are registered.".to_owned()
            } else {
                sps.iter()
                    .map(|s| {
                        format!(
                            "{}  {}  {}",
                            s.client_id,
                            s.display_name,
                            s.redirect_uris.join(" ")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            Ok(Output {
                json: json!({ "service_providers": rows }),
                text,
            })
        }
        AdminCommand::Identity(IdentityCommand::Enrol {
            national_id,
            name,
            birthdate,
            phone,
            email,
            user_id,
            ial,
            language,
        }) => {
            let req = EnrolRequest {
                national_id,
                name,
                birthdate,
                phone,
                email,
                user_id,
                ial,
                language,
            };
            let e = sesam.enrol(actor, &req).await?;
            let mut j = identity_json(&e.identity);
            j["activation_code"] = json!(e.activation_code.grouped());
            j["activation_code_expires_at"] = json!(e.activation_code_expires_at.to_rfc3339());
            Ok(Output {
                json: j,
                text: format!(
                    "Enrolled {} ({}), state {}.\nActivation code for the letter (shown only now): {}\nValid until {}.",
                    e.identity.name,
                    e.identity.national_id_masked,
                    e.identity.state,
                    e.activation_code.grouped(),
                    e.activation_code_expires_at
                ),
            })
        }
        AdminCommand::Identity(IdentityCommand::Show { user_id }) => {
            let v = sesam.show_identity(actor, &user_id).await?;
            let mut j = identity_json(&v.identity);
            j["channels"] = json!(v
                .channels
                .iter()
                .map(|c| json!({ "id": c.id, "kind": c.kind.as_str(), "address": c.address, "confirmed": c.is_confirmed() }))
                .collect::<Vec<_>>());
            j["user_id_history"] = json!(v
                .user_id_history
                .iter()
                .map(|h| json!({ "user_id": h.user_id, "from": h.from.to_rfc3339(), "to": h.to.map(|t| t.to_rfc3339()) }))
                .collect::<Vec<_>>());
            j["open_activation_grants"] = json!(v
                .open_grants
                .iter()
                .map(|g| json!({ "id": g.id, "purpose": g.purpose.as_str(), "expires_at": g.expires_at.to_rfc3339() }))
                .collect::<Vec<_>>());
            let mut text = identity_text(&v.identity);
            for g in &v.open_grants {
                text.push_str(&format!(
                    "\nOpen activation grant ({}) until {}",
                    g.purpose.as_str(),
                    g.expires_at
                ));
            }
            if v.user_id_history.len() > 1 {
                text.push_str("\nEarlier user IDs:");
                for h in &v.user_id_history[..v.user_id_history.len() - 1] {
                    text.push_str(&format!(
                        "\n  {} (until {})",
                        h.user_id,
                        h.to.map(|t| t.to_string()).unwrap_or_default()
                    ));
                }
            }
            Ok(Output { json: j, text })
        }
        AdminCommand::Identity(IdentityCommand::Suspend { user_id, reason }) => {
            let i = sesam.suspend(actor, &user_id, &reason).await?;
            Ok(Output {
                json: identity_json(&i),
                text: format!("Suspended {} ({}).", user_id, i.national_id_masked),
            })
        }
        AdminCommand::Identity(IdentityCommand::Reopen { user_id, reason }) => {
            let i = sesam.reopen(actor, &user_id, &reason).await?;
            Ok(Output {
                json: identity_json(&i),
                text: format!(
                    "Reopened {} ({}); state is now {}.",
                    user_id, i.national_id_masked, i.state
                ),
            })
        }
        AdminCommand::Identity(IdentityCommand::ChannelAdd {
            user_id,
            sms,
            email,
            reason,
        }) => {
            let (kind, address) = match (sms, email) {
                (Some(n), _) => ("sms", n),
                (None, Some(e)) => ("email", e),
                (None, None) => {
                    return Err(
                        AppError::BadInput("give --sms NUMBER or --email ADDR".into()).into(),
                    );
                }
            };
            let c = sesam
                .operator_add_channel(actor, &user_id, kind, &address, &reason)
                .await?;
            Ok(Output {
                json: json!({ "channel_id": c.id, "kind": c.kind.as_str(), "address": c.address }),
                text: format!(
                    "Added {} {} as a notification channel; every channel was told.",
                    c.kind.as_str(),
                    c.address
                ),
            })
        }
        AdminCommand::Identity(IdentityCommand::ChannelRemove {
            user_id,
            channel_id,
            reason,
        }) => {
            sesam
                .operator_remove_channel(actor, &user_id, channel_id, &reason)
                .await?;
            Ok(Output {
                json: json!({ "removed": channel_id }),
                text: "Removed the channel; it and the other channels were told.".into(),
            })
        }
        AdminCommand::Identity(IdentityCommand::Reissue { user_id, reason }) => {
            let (identity, code, expires) = sesam
                .issue_recovery_letter(actor, &user_id, &reason)
                .await?;
            let mut j = identity_json(&identity);
            j["activation_code"] = json!(code.grouped());
            j["activation_code_expires_at"] = json!(expires.to_rfc3339());
            Ok(Output {
                json: j,
                text: format!(
                    "New activation letter for {} ({}).\nActivation code (shown only now): {}\nValid until {}. Earlier unused letters no longer work.",
                    identity.name,
                    identity.national_id_masked,
                    code.grouped(),
                    expires
                ),
            })
        }
        AdminCommand::Identity(IdentityCommand::ChangeUserId {
            user_id,
            new_user_id,
            reason,
        }) => {
            let i = sesam
                .change_user_id(actor, &user_id, &new_user_id, Some(&reason))
                .await?;
            Ok(Output {
                json: identity_json(&i),
                text: format!(
                    "User ID changed to {}. The old one stays reserved for this person for 365 days.",
                    new_user_id
                ),
            })
        }
        AdminCommand::Identity(IdentityCommand::Import { file, letters }) => {
            crate::admin_import::import(sesam, actor, &file, &letters).await
        }
        AdminCommand::CodeDisplay(CodeDisplayCommand::Import {
            file,
            key_file,
            kind,
        }) => {
            let key = key_file
                .as_deref()
                .map(sesam_core::services::code_displays::read_key_file)
                .transpose()?;
            let r = sesam
                .import_code_displays(actor, &file, key, kind.into())
                .await?;
            let rejected: Vec<String> = r.rejected.iter().map(|x| x.to_string()).collect();
            let mut text = format!(
                "{} imported, {} already present, {} refused.",
                r.imported.len(),
                r.already_present.len(),
                rejected.len() + r.conflicts.len()
            );
            for line in &rejected {
                text.push_str(&format!("\n  refused: {line}"));
            }
            for serial in &r.conflicts {
                text.push_str(&format!(
                    "\n  refused: serial {serial} was imported before with another seed"
                ));
            }
            let out = Output {
                json: json!({
                    "imported": r.imported.len(),
                    "already_present": r.already_present.len(),
                    "refused": rejected.len() + r.conflicts.len(),
                    "rejected": rejected,
                    "conflicts": r.conflicts,
                }),
                text,
            };
            if r.rejected.is_empty() && r.conflicts.is_empty() {
                Ok(out)
            } else {
                Err(AdminError::PartlyDone {
                    report: Box::new(out),
                    summary: format!(
                        "{} token(s) were refused; the others were imported",
                        rejected.len() + r.conflicts.len()
                    ),
                })
            }
        }
        AdminCommand::Keys(command) => {
            let keys = match command {
                KeysCommand::Rotate => sesam.rotate_signing_keys(actor).await?,
                KeysCommand::List => sesam.signing_keys().await?,
            };
            let rows: Vec<Value> = keys
                .iter()
                .map(|k| {
                    json!({
                        "kid": k.kid,
                        "state": k.state.as_str(),
                        "created_at": k.created_at.to_rfc3339(),
                        "retire_after": k.retire_after.map(|t| t.to_rfc3339()),
                    })
                })
                .collect();
            let text = keys
                .iter()
                .map(|k| {
                    format!(
                        "{}  {:<7}  created {}",
                        k.kid,
                        k.state.as_str(),
                        k.created_at
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            Ok(Output {
                json: json!({ "keys": rows }),
                text,
            })
        }
        AdminCommand::Audit(AuditCommand::Verify) => {
            let r = sesam.verify_audit().await?;
            Ok(Output {
                json: json!({ "ok": true, "entries": r.entries, "head_hash": r.head_hash }),
                text: format!(
                    "Audit log intact: {} entries, head {}.",
                    r.entries, r.head_hash
                ),
            })
        }
    }
}
