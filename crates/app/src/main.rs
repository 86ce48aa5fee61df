#![forbid(unsafe_code)]
//! `sesam-app`: the reference authenticator app on the command line (DESIGN §7).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::json;
use sesam_app::{AppClient, AppError, AppState};
use sesam_domain::OsRandom;

#[derive(Debug, Parser)]
#[command(
    name = "sesam-app",
    version,
    about = "The sesam authenticator app (reference client)"
)]
struct Cli {
    /// The app's state file (device key and id); created 0600 by `activate`.
    #[arg(long, value_name = "FILE")]
    state: PathBuf,
    /// Print one JSON object per result.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Activate this app with the activation code (letter) and the SMS code.
    Activate {
        #[arg(long, value_name = "URL")]
        server: String,
        #[arg(long, value_name = "CODE")]
        activation_code: String,
        /// The 8-digit code sent by SMS; asked for when omitted and a terminal is attached.
        #[arg(long, value_name = "CODE")]
        sms_code: Option<String>,
        /// The 6-digit app PIN to set.
        #[arg(long)]
        pin: String,
        /// Your user ID, if you already have one.
        #[arg(long, value_name = "ID", conflicts_with = "new_user_id")]
        user_id: Option<String>,
        /// The user ID you choose now (first activation).
        #[arg(long, value_name = "ID")]
        new_user_id: Option<String>,
        /// A name for this device, shown in notifications.
        #[arg(long, value_name = "DEVICE", default_value = "sesam-app")]
        name: String,
    },
    /// Show whose app this is and the person's devices.
    Status,
    /// Activate this app as a further app: an app you already use must approve it, with
    /// the pairing code this command prints (`approve ID --binding-code CODE`).
    Pair {
        #[arg(long, value_name = "URL")]
        server: String,
        #[arg(long, value_name = "ID")]
        user_id: String,
        /// The 6-digit PIN for this app.
        #[arg(long)]
        pin: String,
        #[arg(long, value_name = "DEVICE", default_value = "sesam-app")]
        name: String,
        /// Wait this many seconds for the approval.
        #[arg(long, value_name = "SECONDS", default_value_t = 0)]
        wait: u64,
    },
    /// List the requests waiting for your decision.
    Requests {
        /// Wait up to this many seconds for a request to arrive.
        #[arg(long, value_name = "SECONDS", default_value_t = 0)]
        wait: u64,
    },
    /// Approve a request with your PIN and the 4-digit code the other screen shows: the
    /// browser's code for a login in a browser, the new app's pairing code for a new app.
    Approve {
        #[arg(value_name = "REQUEST_ID")]
        request_id: uuid::Uuid,
        #[arg(long)]
        pin: String,
        #[arg(long, value_name = "CODE")]
        binding_code: Option<String>,
    },
    /// Decline a request; --not-me reports that you did not start it.
    Reject {
        #[arg(value_name = "REQUEST_ID")]
        request_id: uuid::Uuid,
        #[arg(long)]
        not_me: bool,
    },
    /// Rename one of your apps.
    Rename {
        #[arg(value_name = "DEVICE_ID")]
        device_id: uuid::Uuid,
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Remove an authenticator with your PIN: an app (its device id, e.g. a lost phone),
    /// `code_display:<serial>` or `chip:<id>`.
    Revoke {
        #[arg(value_name = "TARGET")]
        target: String,
        #[arg(long)]
        pin: String,
    },
    /// Block your whole identity at once ("block my ID"), with your PIN.
    Block {
        #[arg(long)]
        pin: String,
    },
    /// Change your user ID, with your PIN; the old one stays yours for 365 days.
    ChangeUserId {
        #[arg(value_name = "NEW_USER_ID")]
        new_user_id: String,
        #[arg(long)]
        pin: String,
    },
    /// Your notification channels.
    #[command(subcommand)]
    Channels(ChannelsCommand),
    /// Messages sesam sent to your apps.
    Inbox,
    /// Every message sesam sent you, and whether it was delivered.
    Activity,
    /// Activate a code display: serial number, two consecutive codes and your password.
    ActivateCodeDisplay {
        #[arg(long)]
        serial: String,
        #[arg(long, value_name = "CODE")]
        code1: String,
        #[arg(long, value_name = "CODE")]
        code2: String,
        /// Your password (set now if you have none; 8-64 characters).
        #[arg(long)]
        password: String,
        /// This app's PIN.
        #[arg(long)]
        pin: String,
    },
}

#[derive(Debug, Subcommand)]
enum ChannelsCommand {
    /// List your channels in their order.
    List,
    /// Add a phone number or e-mail address (with your PIN); a code is sent to it.
    Add {
        /// sms or email
        #[arg(value_name = "KIND")]
        kind: String,
        #[arg(value_name = "ADDRESS")]
        address: String,
        #[arg(long)]
        pin: String,
    },
    /// Confirm a new channel with the code sent to it (and your PIN).
    Confirm {
        #[arg(value_name = "CHANNEL_ID")]
        channel_id: uuid::Uuid,
        #[arg(value_name = "CODE")]
        code: String,
        #[arg(long)]
        pin: String,
    },
    /// Remove a channel (with your PIN); it is told, as are your other channels.
    Remove {
        #[arg(value_name = "CHANNEL_ID")]
        channel_id: uuid::Uuid,
        #[arg(long)]
        pin: String,
    },
    /// Put your channels in a new order (messages fail over along it), with your PIN.
    Order {
        #[arg(value_name = "CHANNEL_ID", required = true)]
        order: Vec<uuid::Uuid>,
        #[arg(long)]
        pin: String,
    },
    /// Be told of every use of your identity (on) or only of important events (off),
    /// with your PIN.
    EveryUse {
        #[arg(value_name = "on|off")]
        setting: String,
        #[arg(long)]
        pin: String,
    },
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {}", e.to_string().replace('\n', " "));
    ExitCode::FAILURE
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if e.use_stderr() => {
            let text = e.to_string();
            eprintln!(
                "{} (see --help)",
                text.lines().next().unwrap_or("error: invalid arguments")
            );
            return ExitCode::from(2);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

async fn run(cli: Cli) -> Result<(), AppError> {
    match cli.command {
        Command::Activate {
            server,
            activation_code,
            sms_code,
            pin,
            user_id,
            new_user_id,
            name,
        } => {
            let mut state = if AppState::exists(&cli.state) {
                let s = AppState::load(&cli.state)?;
                if s.device_id.is_some() {
                    return Err(AppError::Input(format!(
                        "{} already holds an activated app; use another state file",
                        cli.state.display()
                    )));
                }
                s
            } else {
                AppState::new(&cli.state, &server, &OsRandom)
            };
            state.server = server.trim_end_matches('/').to_owned();
            let client = AppClient::new(&state.server)?;
            let started = client.start_activation(&activation_code).await?;
            state.pending_activation = Some(started.activation_id);
            state.save()?;
            let sms_code = match sms_code {
                Some(c) => c,
                None if std::io::stdin().is_terminal() => {
                    eprint!(
                        "SMS code sent to {} (valid until {}): ",
                        started.sms_sent_to, started.sms_code_expires_at
                    );
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .map_err(|e| AppError::Input(e.to_string()))?;
                    line.trim().to_owned()
                }
                None => {
                    return Err(AppError::Input(format!(
                        "an SMS code was sent to {}; run the command again with --sms-code",
                        started.sms_sent_to
                    )));
                }
            };
            if started.user_id_required && new_user_id.is_none() {
                return Err(AppError::Input(
                    "choose your user ID with --new-user-id".into(),
                ));
            }
            let done = client
                .complete_activation(
                    &state,
                    &started,
                    &activation_code,
                    &sms_code,
                    &pin,
                    &name,
                    user_id.as_deref(),
                    new_user_id.as_deref(),
                    &OsRandom,
                )
                .await?;
            state.device_id = Some(done.device_id);
            state.device_name = Some(done.device_name.clone());
            state.user_id = Some(done.user_id.clone());
            state.set_pin_key(&done.device_pin_key);
            state.pending_activation = None;
            state.save()?;
            if cli.json {
                println!(
                    "{}",
                    json!({ "device_id": done.device_id, "user_id": done.user_id, "device_name": done.device_name })
                );
            } else {
                println!(
                    "Activated '{}' for user ID {}. Keep your PIN to yourself.",
                    done.device_name, done.user_id
                );
            }
        }
        Command::Pair {
            server,
            user_id,
            pin,
            name,
            wait,
        } => {
            let mut state = match AppState::exists(&cli.state) {
                true => AppState::load(&cli.state)?,
                false => AppState::new(&cli.state, &server, &OsRandom),
            };
            let client = AppClient::new(&state.server)?;
            let pairing = match state.pending_activation {
                Some(id) if state.device_id.is_none() => id,
                _ if state.device_id.is_some() => {
                    return Err(AppError::Input(format!(
                        "{} already holds an activated app",
                        cli.state.display()
                    )));
                }
                _ => {
                    let p = client
                        .start_pairing(&state, &user_id, &pin, &name, &OsRandom)
                        .await?;
                    state.pending_activation = Some(p.pairing_id);
                    state.set_pin_key(&p.device_pin_key);
                    state.device_name = Some(name.clone());
                    state.pairing_code = Some(p.pairing_code.clone());
                    state.save()?;
                    p.pairing_id
                }
            };
            let code = state.pairing_code.clone().unwrap_or_default();
            if cli.json {
                println!(
                    "{}",
                    json!({ "status": "started", "pairing_id": pairing, "pairing_code": code })
                );
            } else {
                eprintln!(
                    "Pairing code: {code}\nOpen sesam on one of your active apps, approve the new app '{name}' and type this code there (sesam-app approve ID --pin PIN --binding-code {code})."
                );
            }
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(wait);
            loop {
                let (status, device) = client.pairing_status(pairing).await?;
                match (status.as_str(), device) {
                    ("approved", Some(device_id)) => {
                        state.device_id = Some(device_id);
                        state.user_id = Some(user_id.clone());
                        state.pending_activation = None;
                        state.pairing_code = None;
                        state.save()?;
                        if cli.json {
                            println!(
                                "{}",
                                json!({ "status": "approved", "device_id": device_id })
                            );
                        } else {
                            println!("Approved: this app is active for {user_id}.");
                        }
                        return Ok(());
                    }
                    ("pending", _) if tokio::time::Instant::now() < deadline => {
                        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    }
                    (other, _) => {
                        if other != "pending" {
                            state.pending_activation = None;
                            state.pairing_code = None;
                            state.save()?;
                        }
                        if cli.json {
                            println!("{}", json!({ "status": other, "pairing_id": pairing }));
                        } else {
                            println!("Pairing {pairing}: {other}.");
                        }
                        return if other == "pending" {
                            Ok(())
                        } else {
                            Err(AppError::Input(format!("the pairing was {other}")))
                        };
                    }
                }
            }
        }
        Command::Requests { wait } => {
            let state = AppState::load(&cli.state)?;
            let client = AppClient::new(&state.server)?;
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(wait);
            let requests = loop {
                let left = deadline
                    .saturating_duration_since(tokio::time::Instant::now())
                    .as_secs();
                let r = client.wait_for_requests(&state, left, &OsRandom).await?;
                if !r.is_empty() || left == 0 {
                    break r;
                }
            };
            if cli.json {
                let list: Vec<_> = requests.iter().map(|r| json!({
                    "id": r.id, "kind": r.kind, "sp_name": r.sp_name, "action": r.action, "text": r.text,
                    "binding_required": r.binding_required, "expires_at": r.expires_at,
                    "device_name": r.device_name, "pairing_code_required": r.pairing_code_required,
                })).collect();
                println!("{}", json!({ "requests": list }));
            } else if requests.is_empty() {
                println!("No requests are waiting.");
            } else {
                for r in &requests {
                    match (&r.sp_name, &r.action) {
                        (Some(sp), Some(action)) => println!(
                            "{}  {sp} — {action}: {}  (until {}){}",
                            r.id,
                            r.text,
                            r.expires_at,
                            if r.binding_required {
                                "  [enter the code your browser shows: --binding-code]"
                            } else {
                                ""
                            }
                        ),
                        _ if r.kind == "activate_app" => println!(
                            "{}  {}  (until {})  [enter the code the new app shows: --binding-code]",
                            r.id, r.text, r.expires_at
                        ),
                        _ => println!("{}  {}  (until {})", r.id, r.text, r.expires_at),
                    }
                }
            }
        }
        Command::Approve {
            request_id,
            pin,
            binding_code,
        } => {
            let state = AppState::load(&cli.state)?;
            let client = AppClient::new(&state.server)?;
            let request = waiting_request(&client, &state, request_id).await?;
            let v = if request.kind == "approval" {
                client
                    .approve_request(&state, &request, &pin, binding_code.as_deref(), &OsRandom)
                    .await?
            } else {
                client
                    .approve(&state, &request, &pin, binding_code.as_deref(), &OsRandom)
                    .await?
            };
            if cli.json {
                println!("{}", as_json(&v));
            } else {
                println!("Approved: {}.", request.text);
            }
        }
        Command::Reject { request_id, not_me } => {
            let state = AppState::load(&cli.state)?;
            let client = AppClient::new(&state.server)?;
            let request = waiting_request(&client, &state, request_id).await?;
            let v = if request.kind == "approval" {
                client
                    .reject_request(&state, &request, not_me, &OsRandom)
                    .await?
            } else {
                client.reject(&state, request_id, &OsRandom).await?
            };
            if cli.json {
                println!("{}", as_json(&v))
            } else if not_me {
                println!(
                    "Declined and reported as not started by you. If someone may know your PIN or password or have your phone, block your sesam now: sesam-app --state {} block --pin <PIN>",
                    cli.state.display()
                );
            } else {
                println!("Declined.")
            }
        }
        Command::Rename { device_id, name } => {
            let state = AppState::load(&cli.state)?;
            let v = AppClient::new(&state.server)?
                .rename(&state, device_id, &name, &OsRandom)
                .await?;
            if cli.json {
                println!("{}", as_json(&v))
            } else {
                println!("Renamed.")
            }
        }
        Command::Revoke { target, pin } => {
            let state = AppState::load(&cli.state)?;
            let client = AppClient::new(&state.server)?;
            let v = match target.parse::<uuid::Uuid>() {
                Ok(device_id) => client.revoke(&state, device_id, &pin, &OsRandom).await?,
                Err(_) => {
                    client
                        .revoke_other(&state, &target, &pin, &OsRandom)
                        .await?
                }
            };
            if let Some(w) = &v.warning {
                eprintln!("warning: {w}");
            }
            if cli.json {
                println!("{}", as_json(&v))
            } else {
                println!("Removed. That app can no longer be used.")
            }
        }
        Command::ChangeUserId { new_user_id, pin } => {
            let mut state = AppState::load(&cli.state)?;
            let v = AppClient::new(&state.server)?
                .change_user_id(&state, &new_user_id, &pin, &OsRandom)
                .await?;
            state.user_id = Some(v.user_id.clone());
            state.save()?;
            if cli.json {
                println!("{}", as_json(&v));
            } else {
                println!(
                    "Your user ID is now {}. The old one stays reserved for you until {}.",
                    v.user_id, v.old_reserved_until
                );
            }
        }
        Command::Block { pin } => {
            let state = AppState::load(&cli.state)?;
            let v = AppClient::new(&state.server)?
                .block(&state, &pin, &OsRandom)
                .await?;
            if cli.json {
                println!("{}", as_json(&v));
            } else {
                println!(
                    "Your identity is blocked. To reopen it, go to a registration office or use a new activation letter."
                );
            }
        }
        Command::ActivateCodeDisplay {
            serial,
            code1,
            code2,
            password,
            pin,
        } => {
            let state = AppState::load(&cli.state)?;
            let v = AppClient::new(&state.server)?
                .activate_code_display(&state, &serial, &code1, &code2, &password, &pin, &OsRandom)
                .await?;
            if cli.json {
                println!("{}", as_json(&v))
            } else {
                println!("Code display {} is active.", serial.trim())
            }
        }
        Command::Channels(command) => {
            let state = AppState::load(&cli.state)?;
            let client = AppClient::new(&state.server)?;
            let v = match command {
                ChannelsCommand::List => as_json(&client.channels(&state, &OsRandom).await?),
                ChannelsCommand::Add { kind, address, pin } => {
                    let id = client
                        .add_channel(&state, &kind, &address, &pin, &OsRandom)
                        .await?;
                    json!({ "channel_id": id, "message": "a confirmation code was sent; confirm it with `channels confirm`" })
                }
                ChannelsCommand::Confirm {
                    channel_id,
                    code,
                    pin,
                } => as_json(
                    &client
                        .confirm_channel(&state, channel_id, &code, &pin, &OsRandom)
                        .await?,
                ),
                ChannelsCommand::Remove { channel_id, pin } => as_json(
                    &client
                        .remove_channel(&state, channel_id, &pin, &OsRandom)
                        .await?,
                ),
                ChannelsCommand::Order { order, pin } => as_json(
                    &client
                        .order_channels(&state, &order, &pin, &OsRandom)
                        .await?,
                ),
                ChannelsCommand::EveryUse { setting, pin } => {
                    let enabled = match setting.as_str() {
                        "on" => true,
                        "off" => false,
                        _ => return Err(AppError::Input("say on or off".into())),
                    };
                    as_json(
                        &client
                            .set_every_use(&state, enabled, &pin, &OsRandom)
                            .await?,
                    )
                }
            };
            if cli.json {
                println!("{}", as_json(&v));
            } else if let Some(list) = v["channels"].as_array() {
                for c in list {
                    println!(
                        "{}  {:<5} {}{}",
                        c["id"].as_str().unwrap_or(""),
                        c["kind"].as_str().unwrap_or(""),
                        c["address"].as_str().unwrap_or(""),
                        if c["confirmed"] == true {
                            ""
                        } else {
                            "  (not confirmed yet)"
                        }
                    );
                }
                if let Some(r) = v["recommendation"].as_str() {
                    println!("{r}");
                }
            } else {
                println!("{}", v["message"].as_str().unwrap_or("Done."));
            }
        }
        Command::Inbox => {
            let state = AppState::load(&cli.state)?;
            let messages = AppClient::new(&state.server)?
                .inbox(&state, &OsRandom)
                .await?;
            if cli.json {
                println!("{}", json!({ "messages": messages }));
            } else if messages.is_empty() {
                println!("Your inbox is empty.");
            } else {
                for m in &messages {
                    println!("{}  {}", m.at, m.text);
                }
            }
        }
        Command::Activity => {
            let state = AppState::load(&cli.state)?;
            let messages = AppClient::new(&state.server)?
                .activity(&state, &OsRandom)
                .await?;
            if cli.json {
                println!("{}", json!({ "messages": messages }));
            } else {
                for m in &messages {
                    println!(
                        "{}  {:<38} {:<5} {:<16} {}{}",
                        m.at,
                        m.event,
                        m.channel,
                        m.to,
                        m.status,
                        m.last_error
                            .as_deref()
                            .map(|e| format!(" ({e})"))
                            .unwrap_or_default()
                    );
                }
            }
        }
        Command::Status => {
            let state = AppState::load(&cli.state)?;
            let client = AppClient::new(&state.server)?;
            let me = client.me(&state, &OsRandom).await?;
            if cli.json {
                println!(
                    "{}",
                    json!({ "user_id": me.user_id, "name": me.name, "state": me.state, "devices": me.devices })
                );
            } else {
                println!(
                    "{} ({}) - identity {}",
                    me.user_id.unwrap_or_default(),
                    me.name,
                    me.state
                );
                for d in me.devices {
                    println!("  {} {} {}", d.name, d.state, d.created_at);
                }
            }
        }
    }
    Ok(())
}

/// An answer as JSON for `--json`: keys in the order serde_json's maps keep (sorted), as
/// the app has always printed them.
fn as_json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

/// One of the requests waiting for this person, by id.
async fn waiting_request(
    client: &AppClient,
    state: &AppState,
    request_id: uuid::Uuid,
) -> Result<sesam_app::PendingRequest, AppError> {
    client
        .requests(state, &OsRandom)
        .await?
        .into_iter()
        .find(|r| r.id == request_id)
        .ok_or_else(|| AppError::Input(format!("no waiting request has the id {request_id}")))
}
