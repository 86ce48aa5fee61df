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
            state.pin_key = Some(started.pin_key.clone());
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
                    println!(
                        "  {} {} {}",
                        d["name"].as_str().unwrap_or(""),
                        d["state"].as_str().unwrap_or(""),
                        d["created_at"].as_str().unwrap_or("")
                    );
                }
            }
        }
    }
    Ok(())
}
