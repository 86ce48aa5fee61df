//! The command line: `sesam serve` and `sesam admin` (DESIGN §7).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::Overrides;

#[derive(Debug, Parser)]
#[command(
    name = "sesam",
    version,
    about = "sesam: an open national digital identity"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Operator commands (every action is audited with the operator's name).
    Admin(AdminArgs),
}

/// Where the data is; shared by `serve` and `admin`.
#[derive(Debug, Args, Clone, Default)]
pub struct DataArgs {
    /// Configuration file (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory for the SQLite database and the master key file [default: ./sesam-data].
    #[arg(long, value_name = "DIR", conflicts_with = "database_url")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL (postgres://user:password@host/db) instead of the embedded SQLite.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// The URL people and service providers reach this server at (behind a proxy: the https URL).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Serve TLS with this certificate chain (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key for --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Register a demo service provider and serve a demo relying party at /demo (implies
    /// --dev-outbox).
    #[arg(long)]
    pub demo: bool,
    /// Without an SMS gateway or mail server, show messages at /dev/outbox (to clients on
    /// this machine only). For trying sesam out; never for real people.
    #[arg(long)]
    pub dev_outbox: bool,
}

#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Print one JSON object per result.
    #[arg(long, global = true)]
    pub json: bool,
    /// Operator name for the audit log [default: the OS user].
    #[arg(long, global = true, value_name = "NAME")]
    pub operator: Option<String>,
    /// Start new data (a new SQLite database and master key) where there is none yet.
    /// Without it, a data directory without a database is refused: it is most likely a
    /// typo, and people enrolled there would be seen by no server.
    #[arg(long, global = true)]
    pub create: bool,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Service providers (OIDC clients).
    #[command(subcommand)]
    Sp(SpCommand),
    /// People's identities.
    #[command(subcommand)]
    Identity(IdentityCommand),
    /// Code displays (hardware TOTP tokens).
    #[command(subcommand, name = "codedisplay")]
    CodeDisplay(CodeDisplayCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The token-signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Rotate: the published next key starts signing, the signing key retires (still
    /// published for a day), and a new next key is published.
    Rotate,
    /// List the keys and their states.
    List,
}

#[derive(Debug, Subcommand)]
pub enum CodeDisplayCommand {
    /// Import tokens from the manufacturer's PSKC file (RFC 6030); repeating an import is harmless.
    Import {
        #[arg(value_name = "FILE.pskc")]
        file: PathBuf,
        /// The pre-shared AES-128 key for encrypted secrets (32 hex characters or 16 bytes).
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
        /// What the file's devices are: code displays (a screen) or audio code readers
        /// (read the code aloud, for blind and partially sighted people). Pages and
        /// messages name the device the person has.
        #[arg(long, value_enum, default_value_t = DeviceKind::Display)]
        kind: DeviceKind,
    },
}

/// `--kind` of a code-display import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeviceKind {
    Display,
    AudioReader,
}

impl From<DeviceKind> for sesam_domain::code_display::CodeDisplayKind {
    fn from(k: DeviceKind) -> Self {
        match k {
            DeviceKind::Display => Self::Display,
            DeviceKind::AudioReader => Self::AudioReader,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum SpCommand {
    /// Register a service provider; prints its client id and secret (shown once).
    Add {
        /// The name people see when they log in or approve (only the operator sets it).
        #[arg(long)]
        name: String,
        /// Allowed redirect URI (exact match); repeat for more.
        #[arg(long = "redirect-uri", value_name = "URI", required = true)]
        redirect_uris: Vec<String>,
        /// May receive the national ID number (with the national_id scope).
        #[arg(long)]
        national_id: bool,
        /// Must use pushed authorization requests (PAR).
        #[arg(long)]
        require_par: bool,
        /// The SP's public keys (JWKS file) for private_key_jwt client authentication.
        #[arg(long, value_name = "FILE")]
        jwks: Option<PathBuf>,
        /// May start decoupled (CIBA) approvals.
        #[arg(long)]
        ciba: bool,
    },
    /// List registered service providers.
    List,
}

#[derive(Debug, Subcommand)]
pub enum IdentityCommand {
    /// Enrol a person; prints the activation code for the paper letter (shown once).
    Enrol {
        /// National ID number, DDMMYYSSSS or DDMMYY-SSSS.
        #[arg(long, value_name = "N")]
        national_id: String,
        #[arg(long)]
        name: String,
        /// YYYY-MM-DD; must match the national ID number.
        #[arg(long, value_name = "YYYY-MM-DD")]
        birthdate: String,
        /// Phone number for SMS codes, international form (+45...).
        #[arg(long)]
        phone: String,
        #[arg(long, value_name = "ADDR")]
        email: Option<String>,
        /// The user ID the person chose (else they choose it when activating the app).
        #[arg(long, value_name = "ID")]
        user_id: Option<String>,
        /// Identity assurance level from the proofing: low, substantial or high.
        #[arg(long, value_name = "LEVEL")]
        ial: Option<String>,
        /// The language of the person's messages: da (default) or en.
        #[arg(long, value_name = "LANG")]
        language: Option<String>,
    },
    /// Enrol many people from a JSON Lines file (one person per line: national_id, name,
    /// birthdate, phone, optional email, user_id, ial, language). People already enrolled
    /// are skipped, so an interrupted import is resumed by running it again.
    Import {
        #[arg(value_name = "FILE.jsonl")]
        file: PathBuf,
        /// Where the activation letters go (JSON Lines, created 0600, appended to): one line
        /// per newly enrolled person with their activation code, for the print shop.
        #[arg(long, value_name = "FILE")]
        letters: PathBuf,
    },
    /// Show a person, looked up by the user ID they gave.
    Show {
        #[arg(value_name = "USER_ID")]
        user_id: String,
    },
    /// Block an identity: nothing authenticates until it is reopened.
    Suspend {
        #[arg(value_name = "USER_ID")]
        user_id: String,
        #[arg(long)]
        reason: String,
    },
    /// Reopen a suspended identity (after proofing the person in person).
    Reopen {
        #[arg(value_name = "USER_ID")]
        user_id: String,
        #[arg(long)]
        reason: String,
    },
    /// Issue a new activation letter (lost authenticators, or to reopen a blocked identity
    /// with two fresh channels); earlier unused letters stop working.
    Reissue {
        #[arg(value_name = "USER_ID")]
        user_id: String,
        #[arg(long)]
        reason: String,
    },
    /// Add a notification channel the person gives at the counter (confirmed in person).
    ChannelAdd {
        #[arg(value_name = "USER_ID")]
        user_id: String,
        #[arg(
            long,
            value_name = "NUMBER",
            conflicts_with = "email",
            required_unless_present = "email"
        )]
        sms: Option<String>,
        #[arg(long, value_name = "ADDR")]
        email: Option<String>,
        #[arg(long)]
        reason: String,
    },
    /// Remove a notification channel at the person's request (it is told, too).
    ChannelRemove {
        #[arg(value_name = "USER_ID")]
        user_id: String,
        #[arg(value_name = "CHANNEL_ID")]
        channel_id: uuid::Uuid,
        #[arg(long)]
        reason: String,
    },
    /// Change a person's user ID at their request (the old one stays reserved 365 days).
    ChangeUserId {
        #[arg(value_name = "USER_ID")]
        user_id: String,
        #[arg(long, value_name = "ID")]
        new_user_id: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain; reports the first edited, removed, inserted or reordered entry.
    Verify,
}

impl DataArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            config_file: self.config.clone(),
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            ..Overrides::default()
        }
    }
}

/// Parses the command line and runs it. Errors are one line on stderr and a non-zero exit.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprintln!("error: a command is missing here (see --help for the list)");
            return ExitCode::from(2);
        }
        Err(e) if e.use_stderr() => {
            // One line, as the CLI contract promises; `--help` has the details.
            let rendered = e.to_string();
            let first = rendered
                .lines()
                .next()
                .unwrap_or("error: invalid arguments");
            eprintln!("{first} (see --help)");
            return ExitCode::from(2);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => crate::serve::run(args).await,
            Command::Admin(args) => crate::admin::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let line = e.to_string().replace('\n', " ");
            eprintln!("error: {line}");
            ExitCode::FAILURE
        }
    }
}
