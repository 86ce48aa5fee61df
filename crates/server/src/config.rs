//! Configuration: built-in defaults, then an optional TOML file, then `SESAM_*`
//! environment variables, then command-line flags (each layer overrides the one before).
//! Every key is documented in `docs/operations.md`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sesam_store::Location;

use sesam_core::error::AppError;
use sesam_core::limits::{PairingLimits, RequestLimits};
use sesam_core::master_key::KeySource;

/// The configuration file's shape. Unknown keys are refused, so a typo cannot silently
/// leave a setting at its default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    public_url: Option<String>,
    app_public_url: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    master_key_file: Option<PathBuf>,
    log: Option<String>,
    log_format: Option<String>,
    tls: Option<FileTls>,
    sms: Option<FileSms>,
    smtp: Option<FileSmtp>,
    push: Option<FilePush>,
    limits: Option<FileLimits>,
    http: Option<FileHttp>,
    dev_outbox: Option<bool>,
    messages_kept_days: Option<u64>,
    metrics_listen: Option<String>,
    metrics_token: Option<String>,
    site: Option<FileSite>,
    shutdown_drain_seconds: Option<u64>,
    database: Option<FileDatabase>,
}

/// `[database]`: how long PostgreSQL may take before a node gives up on it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDatabase {
    statement_timeout_seconds: Option<u64>,
    idle_in_transaction_timeout_seconds: Option<u64>,
    acquire_timeout_seconds: Option<u64>,
    connect_timeout_seconds: Option<u64>,
}

/// The PostgreSQL timeouts: `SESAM_DB_*`, then `[database]`, then the defaults.
fn database_timeouts(
    file: FileDatabase,
    env: &dyn Env,
) -> Result<sesam_store::postgres::Timeouts, AppError> {
    use std::time::Duration;
    let d = sesam_store::postgres::Timeouts::default();
    let seconds = |var: &str, key: &str, file: Option<u64>, default: Duration| {
        number(env, var, key, file, 1..=3600, default.as_secs()).map(Duration::from_secs)
    };
    Ok(sesam_store::postgres::Timeouts {
        statement: seconds(
            "SESAM_DB_STATEMENT_TIMEOUT_SECONDS",
            "database.statement_timeout_seconds",
            file.statement_timeout_seconds,
            d.statement,
        )?,
        idle_in_transaction: seconds(
            "SESAM_DB_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS",
            "database.idle_in_transaction_timeout_seconds",
            file.idle_in_transaction_timeout_seconds,
            d.idle_in_transaction,
        )?,
        acquire: seconds(
            "SESAM_DB_ACQUIRE_TIMEOUT_SECONDS",
            "database.acquire_timeout_seconds",
            file.acquire_timeout_seconds,
            d.acquire,
        )?,
        connect: seconds(
            "SESAM_DB_CONNECT_TIMEOUT_SECONDS",
            "database.connect_timeout_seconds",
            file.connect_timeout_seconds,
            d.connect,
        )?,
    })
}

/// How long a node that was told to stop still serves while `/readyz` says `draining`,
/// so the load balancer takes it out before it stops accepting.
pub const DEFAULT_SHUTDOWN_DRAIN_SECONDS: u64 = 2;

/// `[site]`: who runs this sesam and how the pages present it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSite {
    operator: Option<String>,
    help_url: Option<String>,
    privacy_url: Option<String>,
    about_url: Option<String>,
    logo: Option<PathBuf>,
    favicon: Option<PathBuf>,
}

/// The pages' footer, logo and favicon: sesam's defaults, then `[site]`, then
/// `SESAM_SITE_*`. Links are absolute http(s) URLs or paths on this server; images are
/// read once, at start.
fn site_config(file: FileSite, env: &dyn Env) -> Result<sesam_http::site::Site, AppError> {
    let mut site = sesam_http::site::Site::default();
    if let Some(name) = env.var("SESAM_SITE_OPERATOR").or(file.operator) {
        let name = name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(AppError::Config(
                "site.operator must be 1 to 100 characters on one line".into(),
            ));
        }
        site.operator = name;
    }
    let link = |key: &str, var: &str, file: Option<String>| -> Result<Option<String>, AppError> {
        let Some(text) = env.var(var).or(file) else {
            return Ok(None);
        };
        let absolute = url::Url::parse(&text)
            .ok()
            .is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        let local = text.starts_with('/')
            && !text.starts_with("//")
            && text.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
        if absolute || local {
            Ok(Some(text))
        } else {
            Err(AppError::Config(format!(
                "site.{key} '{text}' must be an http(s) URL or a path on this server"
            )))
        }
    };
    if let Some(u) = link("help_url", "SESAM_SITE_HELP_URL", file.help_url)? {
        site.help_url = u;
    }
    if let Some(u) = link("privacy_url", "SESAM_SITE_PRIVACY_URL", file.privacy_url)? {
        site.privacy_url = u;
    }
    if let Some(u) = link("about_url", "SESAM_SITE_ABOUT_URL", file.about_url)? {
        site.about_url = u;
    }
    let image = |key: &str, path: &Path| -> Result<sesam_http::site::Image, AppError> {
        let bytes = std::fs::read(path)
            .map_err(|e| AppError::Config(format!("site.{key} {}: {e}", path.display())))?;
        sesam_http::site::Image::from_file(&path.display().to_string(), bytes)
            .map_err(|e| AppError::Config(format!("site.{key} {e}")))
    };
    if let Some(p) = env.var("SESAM_SITE_LOGO").map(PathBuf::from).or(file.logo) {
        site.logo = image("logo", &p)?;
    }
    if let Some(p) = env
        .var("SESAM_SITE_FAVICON")
        .map(PathBuf::from)
        .or(file.favicon)
    {
        site.favicon = image("favicon", &p)?;
    }
    Ok(site)
}

/// `[http]`: limits on connections (see `transport::ConnectionLimits`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileHttp {
    header_read_timeout_seconds: Option<u64>,
    idle_timeout_seconds: Option<u64>,
    tls_handshake_timeout_seconds: Option<u64>,
    max_header_bytes: Option<u64>,
    max_connections: Option<u64>,
    max_connections_per_address: Option<u64>,
    proxy_protocol_from: Option<Vec<String>>,
}

/// `[limits]`: requests per minute per source address, per group of endpoints.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    activation_per_minute: Option<u32>,
    login_per_minute: Option<u32>,
    authorize_per_minute: Option<u32>,
    backchannel_per_minute: Option<u32>,
}

impl FileLimits {
    fn per_minute(&self, group: sesam_core::limits::LimitGroup) -> Option<u32> {
        use sesam_core::limits::LimitGroup as G;
        match group {
            G::Activation => self.activation_per_minute,
            G::Login => self.login_per_minute,
            G::Authorize => self.authorize_per_minute,
            G::BackChannel => self.backchannel_per_minute,
        }
    }
}

/// The per-address limits: built-in defaults, then `[limits]`, then
/// `SESAM_LIMIT_<GROUP>_PER_MINUTE`.
fn source_limits(
    file: Option<FileLimits>,
    env: &dyn Env,
) -> Result<sesam_core::limits::SourceLimits, AppError> {
    use sesam_core::limits::{LimitGroup, SourceLimits};
    let file = file.unwrap_or_default();
    let mut limits = SourceLimits::default();
    for group in LimitGroup::ALL {
        let name = format!("SESAM_LIMIT_{}_PER_MINUTE", group.as_str().to_uppercase());
        let default = file
            .per_minute(group)
            .unwrap_or_else(|| limits.per_minute(group));
        if !(1..=1_000_000_000).contains(&default) {
            return Err(AppError::Config(format!(
                "limits.{}_per_minute must be a whole number from 1 to 1000000000",
                group.as_str()
            )));
        }
        let n = count_var(env, &name, 1..=1_000_000_000, i64::from(default))?;
        limits.set(group, u32::try_from(n).unwrap_or(u32::MAX));
    }
    Ok(limits)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSmtp {
    host: Option<String>,
    port: Option<u16>,
    security: Option<String>,
    username: Option<String>,
    password: Option<String>,
    from: Option<String>,
    timeout_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePush {
    contact: Option<String>,
    allow_local_endpoints: Option<bool>,
    timeout_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSms {
    url: Option<String>,
    token: Option<String>,
    timeout_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTls {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The mail server for e-mail notifications.
#[derive(Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub security: sesam_notify::SmtpSecurity,
    pub login: Option<(String, String)>,
    pub from: String,
    pub timeout: std::time::Duration,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

/// The SMS gateway (DESIGN §5).
#[derive(Clone)]
pub struct Sms {
    pub url: url::Url,
    pub token: String,
    pub timeout: std::time::Duration,
}

impl std::fmt::Debug for Sms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sms")
            .field("url", &self.url.as_str())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Web push to the apps (RFC 8030/8291/8292).
#[derive(Debug, Clone)]
pub struct Push {
    /// The VAPID `sub`: how a push service reaches the operator (`mailto:` or https).
    pub contact: String,
    /// Accept push endpoints on loopback, private and link-local addresses (and plain
    /// http on loopback): development and tests only.
    pub allow_local_endpoints: bool,
    /// How long one request to a push service may take.
    pub timeout: std::time::Duration,
}

impl Push {
    pub fn policy(&self) -> sesam_domain::web_push::EndpointPolicy {
        sesam_domain::web_push::EndpointPolicy {
            allow_local: self.allow_local_endpoints,
        }
    }
}

/// The default VAPID contact: the public URL when it is https, else the postmaster of its
/// host.
fn default_push_contact(public_url: &url::Url) -> String {
    if public_url.scheme() == "https" {
        public_url.origin().ascii_serialization()
    } else {
        format!(
            "mailto:postmaster@{}",
            public_url.host_str().unwrap_or("localhost")
        )
    }
}

#[derive(Debug, Clone)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub public_url: url::Url,
    /// The web app's own origin (`app_public_url`): when set, `/app/` is served there
    /// and nowhere else, and nothing but the web app and the app API is served there.
    pub app_public_url: Option<url::Url>,
    pub data_dir: PathBuf,
    pub database: Location,
    pub master_key: KeySource,
    pub log: String,
    pub log_format: LogFormat,
    pub tls: Option<Tls>,
    pub sms: Option<Sms>,
    pub smtp: Option<Smtp>,
    pub push: Push,
    /// How long the dispatcher's claim on a message lasts (a crashed node's claims are
    /// taken over after this).
    pub outbox_lease_seconds: i64,
    /// How many days finished messages are kept (`messages_kept_days`).
    pub messages_kept_days: i64,
    /// Serve the demo relying party at `/demo` (`serve --demo`).
    pub demo: bool,
    /// How many app requests may be started per 10 minutes.
    pub request_limits: RequestLimits,
    /// How many pairings of new apps may be started per 10 minutes.
    pub pairing_limits: PairingLimits,
    /// Requests per minute per source address at unauthenticated endpoints.
    pub source_limits: sesam_core::limits::SourceLimits,
    /// Timeouts, header size and connection caps of the listener.
    pub connections: sesam_http::transport::ConnectionLimits,
    /// The load balancers whose PROXY protocol headers name the client (`[http]
    /// proxy_protocol_from`); empty: every connection's peer is the client.
    pub proxy_protocol_from: sesam_http::proxy_protocol::TrustedProxies,
    /// Publish `/dev/outbox` (only when no real channel is configured; `--dev-outbox`,
    /// implied by `--demo`).
    pub dev_outbox: bool,
    /// Where and to whom `/metrics` is served.
    pub metrics: MetricsAccess,
    /// The pages' footer, logo and favicon (`[site]`).
    pub site: sesam_http::site::Site,
    /// How long a stopping node reports `draining` on `/readyz` while still serving.
    pub shutdown_drain: std::time::Duration,
    /// PostgreSQL's statement, idle-transaction, pool and connect timeouts.
    pub database_timeouts: sesam_store::postgres::Timeouts,
}

/// Who may read `/metrics`. Its counters can tell whether something happened to a known
/// person (a factor locked, a message sent), so by default it is not served at all.
#[derive(Clone, Default)]
pub struct MetricsAccess {
    /// A separate listen address (a private interface) serving only `/metrics`.
    pub listen: Option<SocketAddr>,
    /// A bearer token `/metrics` requires; with it alone, `/metrics` is on the public
    /// listener.
    pub token: Option<String>,
}

impl MetricsAccess {
    /// Whether `/metrics` is on the public listener (only with a token and no own address).
    pub fn on_public_listener(&self) -> bool {
        self.listen.is_none() && self.token.is_some()
    }
}

impl std::fmt::Debug for MetricsAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsAccess")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "…"))
            .finish()
    }
}

/// The shortest metrics token accepted: it is a password that is guessed online.
const MIN_METRICS_TOKEN: usize = 16;

/// A count from `name`, within `range`, else `default`.
fn count_var(
    env: &dyn Env,
    name: &str,
    range: std::ops::RangeInclusive<i64>,
    default: i64,
) -> Result<i64, AppError> {
    match env.var(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                AppError::Config(format!(
                    "{name} '{v}' must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ))
            }),
    }
}

/// The web app's own origin: an http(s) URL with a host and nothing after it, on another
/// origin than the public URL (the point of it is that the login pages' origin cannot
/// reach the app's keys).
fn app_url(text: &str, public: &url::Url) -> Result<url::Url, AppError> {
    let refused = |why: &str| {
        AppError::Config(format!(
            "app_public_url '{text}' {why}, e.g. https://app.login.example.dk"
        ))
    };
    let url = url::Url::parse(text)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| refused("must be an absolute http(s) URL"))?;
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(refused("must be an origin only, without a path"));
    }
    if url.origin() == public.origin() {
        return Err(refused("must be another origin than the public URL"));
    }
    Ok(url)
}

/// Values given on the command line (all optional).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// `serve --dev-outbox` (or `--demo`).
    pub dev_outbox: bool,
}

/// Reads `SESAM_*` variables through a function, so tests can supply their own.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl Config {
    pub fn load(flags: &Overrides, env: &dyn Env) -> Result<Self, AppError> {
        let file_path = flags
            .config_file
            .clone()
            .or_else(|| env.var("SESAM_CONFIG").map(PathBuf::from));
        let file = match &file_path {
            Some(p) => read_file(p)?,
            None => FileConfig::default(),
        };
        let pick = |flag: Option<String>, var: &str, file: Option<String>| {
            flag.or_else(|| env.var(var)).or(file)
        };
        let pick_path = |flag: Option<PathBuf>, var: &str, file: Option<PathBuf>| {
            flag.or_else(|| env.var(var).map(PathBuf::from)).or(file)
        };

        let listen_text = pick(flags.listen.clone(), "SESAM_LISTEN", file.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            AppError::Config(format!(
                "listen address '{listen_text}' is not an IP address and port, e.g. 127.0.0.1:8080"
            ))
        })?;

        let tls_cert = pick_path(
            flags.tls_cert.clone(),
            "SESAM_TLS_CERT",
            file.tls.as_ref().and_then(|t| t.cert.clone()),
        );
        let tls_key = pick_path(
            flags.tls_key.clone(),
            "SESAM_TLS_KEY",
            file.tls.as_ref().and_then(|t| t.key.clone()),
        );
        let tls = match (tls_cert, tls_key) {
            (Some(cert), Some(key)) => Some(Tls { cert, key }),
            (None, None) => None,
            _ => {
                return Err(AppError::Config(
                    "TLS needs both a certificate and a key (--tls-cert and --tls-key)".into(),
                ));
            }
        };

        // On loopback the default names the host `localhost`: browsers treat it as a secure
        // context and WebAuthn accepts it as a relying-party ID, which an IP address is not.
        let host = if listen.ip().is_loopback() {
            format!("localhost:{}", listen.port())
        } else {
            listen.to_string()
        };
        let default_public = format!("{}://{host}", if tls.is_some() { "https" } else { "http" });
        let public_text = pick(
            flags.public_url.clone(),
            "SESAM_PUBLIC_URL",
            file.public_url,
        )
        .unwrap_or(default_public);
        let public_url = url::Url::parse(&public_text)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| {
                AppError::Config(format!(
                    "public URL '{public_text}' must be an absolute http(s) URL, e.g. https://login.example.dk"
                ))
            })?;

        let app_public_url = pick(None, "SESAM_APP_PUBLIC_URL", file.app_public_url)
            .map(|text| app_url(&text, &public_url))
            .transpose()?;

        let data_dir = pick_path(flags.data_dir.clone(), "SESAM_DATA_DIR", file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./sesam-data"));
        let database = match pick(
            flags.database_url.clone(),
            "SESAM_DATABASE_URL",
            file.database_url,
        ) {
            Some(url) => Location::from_url(&url).map_err(|e| AppError::Config(e.to_string()))?,
            None => Location::in_data_dir(&data_dir),
        };
        let master_key = match env.var("SESAM_MASTER_KEY") {
            Some(hex) => KeySource::Env(hex),
            None => KeySource::File(
                env.var("SESAM_MASTER_KEY_FILE")
                    .map(PathBuf::from)
                    .or(file.master_key_file)
                    .unwrap_or_else(|| data_dir.join("master.key")),
            ),
        };
        let log = env
            .var("SESAM_LOG")
            .or(file.log)
            .unwrap_or_else(|| "info".into());
        let log_format = match env.var("SESAM_LOG_FORMAT").or(file.log_format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(AppError::Config(format!(
                    "log_format '{other}' is not 'text' or 'json'"
                )));
            }
        };
        let file_sms = file.sms.unwrap_or_default();
        let sms = match (
            env.var("SESAM_SMS_URL").or(file_sms.url),
            env.var("SESAM_SMS_TOKEN").or(file_sms.token),
        ) {
            (None, None) => None,
            (Some(url_text), Some(token)) => {
                let url = url::Url::parse(&url_text)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .ok_or_else(|| {
                        AppError::Config(format!("sms.url '{url_text}' is not an http(s) URL"))
                    })?;
                let secs = match env.var("SESAM_SMS_TIMEOUT_SECONDS") {
                    Some(v) => v.parse::<u64>().map_err(|_| {
                        AppError::Config(format!(
                            "SESAM_SMS_TIMEOUT_SECONDS '{v}' is not a number of seconds"
                        ))
                    })?,
                    None => file_sms.timeout_seconds.unwrap_or(10),
                };
                if !(1..=120).contains(&secs) {
                    return Err(AppError::Config(
                        "sms.timeout_seconds must be between 1 and 120".into(),
                    ));
                }
                Some(Sms {
                    url,
                    token,
                    timeout: std::time::Duration::from_secs(secs),
                })
            }
            _ => {
                return Err(AppError::Config(
                    "the SMS gateway needs both sms.url and sms.token (SESAM_SMS_URL, SESAM_SMS_TOKEN)"
                        .into(),
                ));
            }
        };
        let smtp = smtp_config(file.smtp.unwrap_or_default(), env)?;
        let file_push = file.push.unwrap_or_default();
        let push = Push {
            contact: env
                .var("SESAM_PUSH_CONTACT")
                .or(file_push.contact)
                .unwrap_or_else(|| default_push_contact(&public_url)),
            allow_local_endpoints: match env.var("SESAM_PUSH_ALLOW_LOCAL_ENDPOINTS") {
                Some(v) => parse_bool("SESAM_PUSH_ALLOW_LOCAL_ENDPOINTS", &v)?,
                None => file_push.allow_local_endpoints.unwrap_or(false),
            },
            timeout: std::time::Duration::from_secs(number(
                env,
                "SESAM_PUSH_TIMEOUT_SECONDS",
                "push.timeout_seconds",
                file_push.timeout_seconds,
                1..=60,
                10,
            )?),
        };
        sesam_domain::web_push::check_contact(&push.contact).map_err(AppError::Config)?;
        let source_limits = source_limits(file.limits, env)?;
        let site = site_config(file.site.unwrap_or_default(), env)?;
        let mut file_http = file.http.unwrap_or_default();
        let proxy_protocol_from = trusted_proxies(file_http.proxy_protocol_from.take(), env)?;
        let connections = connection_limits(file_http, env)?;
        let database_timeouts = database_timeouts(file.database.unwrap_or_default(), env)?;
        let shutdown_drain = std::time::Duration::from_secs(number(
            env,
            "SESAM_SHUTDOWN_DRAIN_SECONDS",
            "shutdown_drain_seconds",
            file.shutdown_drain_seconds,
            0..=300,
            DEFAULT_SHUTDOWN_DRAIN_SECONDS,
        )?);
        let dev_outbox = flags.dev_outbox
            || match env.var("SESAM_DEV_OUTBOX") {
                Some(v) => parse_bool("SESAM_DEV_OUTBOX", &v)?,
                None => file.dev_outbox.unwrap_or(false),
            };
        let metrics_listen = match env.var("SESAM_METRICS_LISTEN").or(file.metrics_listen) {
            None => None,
            Some(text) => Some(text.parse::<SocketAddr>().map_err(|_| {
                AppError::Config(format!(
                    "metrics_listen '{text}' is not an IP address and port, e.g. 127.0.0.1:9090"
                ))
            })?),
        };
        let metrics_token = env.var("SESAM_METRICS_TOKEN").or(file.metrics_token);
        if let Some(t) = &metrics_token
            && (t.chars().count() < MIN_METRICS_TOKEN || t.chars().any(char::is_whitespace))
        {
            return Err(AppError::Config(format!(
                "metrics_token (SESAM_METRICS_TOKEN) must be at least {MIN_METRICS_TOKEN} characters without spaces"
            )));
        }
        Ok(Self {
            listen,
            public_url,
            app_public_url,
            data_dir,
            database,
            master_key,
            log,
            log_format,
            tls,
            sms,
            smtp,
            push,
            outbox_lease_seconds: match env.var("SESAM_OUTBOX_LEASE_SECONDS") {
                Some(v) => v
                    .parse::<i64>()
                    .ok()
                    .filter(|s| (1..=3600).contains(s))
                    .ok_or_else(|| {
                        AppError::Config(format!(
                            "SESAM_OUTBOX_LEASE_SECONDS '{v}' must be 1 to 3600 seconds"
                        ))
                    })?,
                None => sesam_notify::DEFAULT_LEASE_SECONDS,
            },
            messages_kept_days: number(
                env,
                "SESAM_MESSAGES_KEPT_DAYS",
                "messages_kept_days",
                file.messages_kept_days,
                7..=3650,
                sesam_core::context::DEFAULT_MESSAGES_KEPT_DAYS as u64,
            )? as i64,
            demo: false,
            source_limits,
            request_limits: RequestLimits {
                per_person: count_var(
                    env,
                    "SESAM_LIMIT_REQUESTS_PER_PERSON",
                    1..=1_000_000_000,
                    RequestLimits::default().per_person,
                )?,
                per_source: count_var(
                    env,
                    "SESAM_LIMIT_REQUESTS_PER_SOURCE",
                    1..=1_000_000_000,
                    RequestLimits::default().per_source,
                )?,
            },
            pairing_limits: PairingLimits {
                per_person: count_var(
                    env,
                    "SESAM_LIMIT_PAIRINGS_PER_PERSON",
                    1..=1_000_000_000,
                    PairingLimits::default().per_person,
                )?,
                per_source: count_var(
                    env,
                    "SESAM_LIMIT_PAIRINGS_PER_SOURCE",
                    1..=1_000_000_000,
                    PairingLimits::default().per_source,
                )?,
            },
            connections,
            proxy_protocol_from,
            dev_outbox,
            metrics: MetricsAccess {
                listen: metrics_listen,
                token: metrics_token,
            },
            site,
            shutdown_drain,
            database_timeouts,
        })
    }

    /// Whether the data directory is needed (SQLite, or a key file inside it).
    pub fn uses_data_dir(&self) -> bool {
        matches!(self.database, Location::Sqlite(_))
            || matches!(&self.master_key, KeySource::File(p) if p.starts_with(&self.data_dir))
    }

    /// What opening the service's data needs.
    pub fn open_settings(&self) -> sesam_core::context::OpenSettings<'_> {
        sesam_core::context::OpenSettings {
            create_data_dir: self.uses_data_dir().then_some(self.data_dir.as_path()),
            master_key: self.master_key.clone(),
            database: &self.database,
            database_timeouts: self.database_timeouts,
            public_url: &self.public_url,
            request_limits: self.request_limits,
            pairing_limits: self.pairing_limits,
        }
    }
}

/// `true`/`false` (also `1`/`0`, `yes`/`no`).
fn parse_bool(name: &str, v: &str) -> Result<bool, AppError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(AppError::Config(format!(
            "{name} '{v}' is not true or false"
        ))),
    }
}

/// A whole number from the environment variable `var`, else the file's `key`, else
/// `default`; either must lie in `range`.
fn number(
    env: &dyn Env,
    var: &str,
    key: &str,
    file: Option<u64>,
    range: std::ops::RangeInclusive<u64>,
    default: u64,
) -> Result<u64, AppError> {
    let value = match env.var(var) {
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map_err(|_| AppError::Config(format!("{var} '{v}' is not a whole number")))?,
        None => file.unwrap_or(default),
    };
    if !range.contains(&value) {
        return Err(AppError::Config(format!(
            "{key} ({var}) must be from {} to {}",
            range.start(),
            range.end()
        )));
    }
    Ok(value)
}

/// `SESAM_HTTP_PROXY_PROTOCOL_FROM` (comma-separated) or `[http] proxy_protocol_from` (a list).
fn trusted_proxies(
    file: Option<Vec<String>>,
    env: &dyn Env,
) -> Result<sesam_http::proxy_protocol::TrustedProxies, AppError> {
    let (key, text) = match env.var("SESAM_HTTP_PROXY_PROTOCOL_FROM") {
        Some(v) => ("SESAM_HTTP_PROXY_PROTOCOL_FROM", v),
        None => (
            "http.proxy_protocol_from",
            file.unwrap_or_default().join(","),
        ),
    };
    sesam_http::proxy_protocol::TrustedProxies::parse(&text)
        .map_err(|e| AppError::Config(format!("{key}: {e}")))
}

fn connection_limits(
    file: FileHttp,
    env: &dyn Env,
) -> Result<sesam_http::transport::ConnectionLimits, AppError> {
    use std::time::Duration;
    let d = sesam_http::transport::ConnectionLimits::default();
    let seconds = |var: &str, key: &str, file: Option<u64>, default: Duration| {
        number(env, var, key, file, 1..=3600, default.as_secs()).map(Duration::from_secs)
    };
    let count = |var: &str, key: &str, file: Option<u64>, default: usize| {
        number(env, var, key, file, 1..=10_000_000, default as u64).map(|n| n as usize)
    };
    Ok(sesam_http::transport::ConnectionLimits {
        header_read_timeout: seconds(
            "SESAM_HTTP_HEADER_READ_TIMEOUT_SECONDS",
            "http.header_read_timeout_seconds",
            file.header_read_timeout_seconds,
            d.header_read_timeout,
        )?,
        idle_timeout: seconds(
            "SESAM_HTTP_IDLE_TIMEOUT_SECONDS",
            "http.idle_timeout_seconds",
            file.idle_timeout_seconds,
            d.idle_timeout,
        )?,
        tls_handshake_timeout: seconds(
            "SESAM_HTTP_TLS_HANDSHAKE_TIMEOUT_SECONDS",
            "http.tls_handshake_timeout_seconds",
            file.tls_handshake_timeout_seconds,
            d.tls_handshake_timeout,
        )?,
        // hyper's read buffer is at least 8 KiB; below 1 KiB ordinary browsers fail.
        max_header_bytes: number(
            env,
            "SESAM_HTTP_MAX_HEADER_BYTES",
            "http.max_header_bytes",
            file.max_header_bytes,
            1024..=1024 * 1024,
            d.max_header_bytes as u64,
        )? as usize,
        max_connections: count(
            "SESAM_HTTP_MAX_CONNECTIONS",
            "http.max_connections",
            file.max_connections,
            d.max_connections,
        )?,
        max_connections_per_address: count(
            "SESAM_HTTP_MAX_CONNECTIONS_PER_ADDRESS",
            "http.max_connections_per_address",
            file.max_connections_per_address,
            d.max_connections_per_address,
        )?,
    })
}

fn smtp_config(file: FileSmtp, env: &dyn Env) -> Result<Option<Smtp>, AppError> {
    let Some(host) = env.var("SESAM_SMTP_HOST").or(file.host) else {
        return Ok(None);
    };
    let security_text = env
        .var("SESAM_SMTP_SECURITY")
        .or(file.security)
        .unwrap_or_else(|| "starttls".into());
    let security = sesam_notify::SmtpSecurity::parse(&security_text).ok_or_else(|| {
        AppError::Config(format!(
            "smtp.security '{security_text}' is not none, starttls or tls"
        ))
    })?;
    let port = match env.var("SESAM_SMTP_PORT") {
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| AppError::Config(format!("SESAM_SMTP_PORT '{p}' is not a port number")))?,
        None => file.port.unwrap_or(match security {
            sesam_notify::SmtpSecurity::None => 25,
            sesam_notify::SmtpSecurity::StartTls => 587,
            sesam_notify::SmtpSecurity::Tls => 465,
        }),
    };
    let from = env.var("SESAM_SMTP_FROM").or(file.from).ok_or_else(|| {
        AppError::Config("smtp.from (SESAM_SMTP_FROM) is required when smtp.host is set".into())
    })?;
    let login = match (
        env.var("SESAM_SMTP_USERNAME").or(file.username),
        env.var("SESAM_SMTP_PASSWORD").or(file.password),
    ) {
        (Some(u), Some(p)) => Some((u, p)),
        (None, None) => None,
        _ => {
            return Err(AppError::Config(
                "smtp.username and smtp.password go together (SESAM_SMTP_USERNAME, SESAM_SMTP_PASSWORD)".into(),
            ));
        }
    };
    let secs = match env.var("SESAM_SMTP_TIMEOUT_SECONDS") {
        Some(v) => v.parse::<u64>().map_err(|_| {
            AppError::Config(format!(
                "SESAM_SMTP_TIMEOUT_SECONDS '{v}' is not a number of seconds"
            ))
        })?,
        None => file.timeout_seconds.unwrap_or(15),
    };
    if !(1..=120).contains(&secs) {
        return Err(AppError::Config(
            "smtp.timeout_seconds must be between 1 and 120".into(),
        ));
    }
    Ok(Some(Smtp {
        host,
        port,
        security,
        login,
        from,
        timeout: std::time::Duration::from_secs(secs),
    }))
}

fn read_file(path: &Path) -> Result<FileConfig, AppError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        AppError::Config(format!(
            "cannot read the configuration file {}: {e}",
            path.display()
        ))
    })?;
    toml::from_str(&text).map_err(|e| {
        let first = e.to_string().lines().next().unwrap_or_default().to_owned();
        AppError::Config(format!(
            "configuration file {}: {first}; {}",
            path.display(),
            e.message()
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct MapEnv(HashMap<&'static str, &'static str>);

    impl Env for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| v.to_string())
        }
    }

    fn env(pairs: &[(&'static str, &'static str)]) -> MapEnv {
        MapEnv(pairs.iter().copied().collect())
    }

    #[test]
    fn defaults() {
        let c = Config::load(&Overrides::default(), &env(&[])).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.public_url.as_str(), "http://localhost:8080/");
        assert_eq!(
            c.database,
            Location::Sqlite(PathBuf::from("./sesam-data/sesam.db"))
        );
        assert!(
            matches!(c.master_key, KeySource::File(ref p) if p == Path::new("./sesam-data/master.key"))
        );
        assert_eq!(c.log_format, LogFormat::Text);
    }

    #[test]
    fn layers_override_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sesam.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/from/file\"\nlog = \"debug\"\n",
        )
        .unwrap();
        let flags = Overrides {
            config_file: Some(file.clone()),
            ..Default::default()
        };
        let c = Config::load(&flags, &env(&[])).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.data_dir, PathBuf::from("/from/file"));
        assert_eq!(c.log, "debug");

        let e = env(&[
            ("SESAM_LISTEN", "127.0.0.1:9100"),
            ("SESAM_DATA_DIR", "/from/env"),
        ]);
        let c = Config::load(&flags, &e).unwrap();
        assert_eq!(c.listen.port(), 9100);
        assert_eq!(c.data_dir, PathBuf::from("/from/env"));

        let flags = Overrides {
            listen: Some("127.0.0.1:9200".into()),
            ..flags
        };
        assert_eq!(Config::load(&flags, &e).unwrap().listen.port(), 9200);
    }

    #[test]
    fn bad_values_are_named() {
        let msg = |flags: Overrides, e: MapEnv| Config::load(&flags, &e).unwrap_err().to_string();
        assert!(
            msg(
                Overrides {
                    listen: Some("localhost".into()),
                    ..Default::default()
                },
                env(&[])
            )
            .contains("listen address 'localhost'")
        );
        assert!(
            msg(
                Overrides::default(),
                env(&[("SESAM_DATABASE_URL", "mysql://x")])
            )
            .contains("postgres://")
        );
        assert!(
            msg(
                Overrides {
                    public_url: Some("login.example".into()),
                    ..Default::default()
                },
                env(&[])
            )
            .contains("public URL")
        );
        assert!(
            msg(
                Overrides {
                    tls_cert: Some("c.pem".into()),
                    ..Default::default()
                },
                env(&[])
            )
            .contains("both")
        );
        assert!(
            msg(Overrides::default(), env(&[("SESAM_LOG_FORMAT", "xml")])).contains("log_format")
        );

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sesam.toml");
        std::fs::write(&file, "lisen = \"127.0.0.1:9000\"\n").unwrap();
        let m = msg(
            Overrides {
                config_file: Some(file),
                ..Default::default()
            },
            env(&[]),
        );
        assert!(m.contains("unknown field `lisen`"), "{m}");
        let m = msg(
            Overrides {
                config_file: Some("/nonexistent/sesam.toml".into()),
                ..Default::default()
            },
            env(&[]),
        );
        assert!(m.contains("cannot read the configuration file"), "{m}");
    }

    #[test]
    fn the_site_footer_logo_and_favicon_come_from_the_file_then_the_environment() {
        let c = Config::load(&Overrides::default(), &env(&[])).unwrap();
        assert_eq!(c.site.operator, "sesam");
        assert_eq!(c.site.help_url, "/help");
        assert_eq!(c.site.logo.content_type, "image/svg+xml");

        let dir = tempfile::tempdir().unwrap();
        let logo = dir.path().join("logo.png");
        std::fs::write(&logo, b"\x89PNG\r\n\x1a\n").unwrap();
        let file = dir.path().join("sesam.toml");
        std::fs::write(
            &file,
            format!(
                "[site]\noperator = \"Digitaliseringsstyrelsen\"\nhelp_url = \"https://help.example.dk/sesam\"\nprivacy_url = \"/privacy\"\nlogo = \"{}\"\n",
                logo.display()
            ),
        )
        .unwrap();
        let flags = Overrides {
            config_file: Some(file.clone()),
            ..Default::default()
        };
        let c = Config::load(&flags, &env(&[])).unwrap();
        assert_eq!(c.site.operator, "Digitaliseringsstyrelsen");
        assert_eq!(c.site.help_url, "https://help.example.dk/sesam");
        assert_eq!(c.site.about_url, "/about");
        assert_eq!(c.site.logo.content_type, "image/png");
        assert_eq!(c.site.favicon.content_type, "image/svg+xml");
        let c = Config::load(&flags, &env(&[("SESAM_SITE_OPERATOR", "Operatør A/S")])).unwrap();
        assert_eq!(c.site.operator, "Operatør A/S");

        // Refused: a link that is neither http(s) nor a local path, a missing or odd image,
        // an empty operator, a typo.
        for (key, value) in [
            ("SESAM_SITE_ABOUT_URL", "javascript:alert(1)"),
            ("SESAM_SITE_HELP_URL", "//evil.example"),
            ("SESAM_SITE_FAVICON", "/no/such/favicon.svg"),
            ("SESAM_SITE_OPERATOR", "  "),
        ] {
            let e = Config::load(&flags, &env(&[(key, value)]))
                .unwrap_err()
                .to_string();
            assert!(e.contains("site."), "{key}: {e}");
        }
        let gif = dir.path().join("logo.gif");
        std::fs::write(&gif, b"GIF89a").unwrap();
        std::fs::write(&file, format!("[site]\nlogo = \"{}\"\n", gif.display())).unwrap();
        assert!(Config::load(&flags, &env(&[])).is_err());
        std::fs::write(&file, "[site]\noperater = \"x\"\n").unwrap();
        assert!(Config::load(&flags, &env(&[])).is_err());
    }

    #[test]
    fn source_limits_come_from_the_file_then_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sesam.toml");
        std::fs::write(
            &file,
            "[limits]\nlogin_per_minute = 600\nactivation_per_minute = 5\n",
        )
        .unwrap();
        let flags = Overrides {
            config_file: Some(file.clone()),
            ..Default::default()
        };
        let defaults = sesam_core::limits::SourceLimits::default();
        assert_eq!(
            Config::load(&Overrides::default(), &env(&[]))
                .unwrap()
                .source_limits,
            defaults
        );
        let c = Config::load(&flags, &env(&[("SESAM_LIMIT_ACTIVATION_PER_MINUTE", "7")])).unwrap();
        assert_eq!(c.source_limits.login, 600);
        assert_eq!(c.source_limits.activation, 7);
        assert_eq!(c.source_limits.authorize, defaults.authorize);
        let e = Config::load(&flags, &env(&[("SESAM_LIMIT_LOGIN_PER_MINUTE", "0")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("SESAM_LIMIT_LOGIN_PER_MINUTE"), "{e}");
        std::fs::write(&file, "[limits]\nlogin_per_minut = 600\n").unwrap();
        assert!(Config::load(&flags, &env(&[])).is_err());
    }

    #[test]
    fn drain_and_database_timeouts_come_from_the_file_then_the_environment() {
        use std::time::Duration;
        let defaults = Config::load(&Overrides::default(), &env(&[])).unwrap();
        assert_eq!(defaults.shutdown_drain, Duration::from_secs(2));
        assert_eq!(
            defaults.database_timeouts,
            sesam_store::postgres::Timeouts::default()
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sesam.toml");
        std::fs::write(
            &file,
            "shutdown_drain_seconds = 0
[database]
statement_timeout_seconds = 5
connect_timeout_seconds = 3
",
        )
        .unwrap();
        let flags = Overrides {
            config_file: Some(file.clone()),
            ..Default::default()
        };
        let c = Config::load(
            &flags,
            &env(&[
                ("SESAM_DB_STATEMENT_TIMEOUT_SECONDS", "8"),
                ("SESAM_DB_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS", "20"),
                ("SESAM_DB_ACQUIRE_TIMEOUT_SECONDS", "2"),
            ]),
        )
        .unwrap();
        assert_eq!(c.shutdown_drain, Duration::ZERO);
        assert_eq!(
            c.database_timeouts,
            sesam_store::postgres::Timeouts {
                statement: Duration::from_secs(8),
                idle_in_transaction: Duration::from_secs(20),
                acquire: Duration::from_secs(2),
                connect: Duration::from_secs(3),
            }
        );
        for (var, value) in [
            ("SESAM_SHUTDOWN_DRAIN_SECONDS", "301"),
            ("SESAM_DB_STATEMENT_TIMEOUT_SECONDS", "0"),
            ("SESAM_DB_CONNECT_TIMEOUT_SECONDS", "soon"),
        ] {
            let e = Config::load(&flags, &env(&[(var, value)]))
                .unwrap_err()
                .to_string();
            assert!(e.contains(var), "{e}");
        }
        std::fs::write(
            &file,
            "[database]
statement_timeout = 5
",
        )
        .unwrap();
        assert!(Config::load(&flags, &env(&[])).is_err(), "unknown key");
    }

    #[test]
    fn connection_limits_metrics_and_dev_outbox() {
        use std::time::Duration;
        let c = Config::load(&Overrides::default(), &env(&[])).unwrap();
        assert_eq!(
            c.connections,
            sesam_http::transport::ConnectionLimits::default()
        );
        assert!(!c.dev_outbox);
        assert!(c.metrics.listen.is_none() && c.metrics.token.is_none());
        assert!(!c.metrics.on_public_listener());

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sesam.toml");
        std::fs::write(
            &file,
            "dev_outbox = true\nmetrics_listen = \"127.0.0.1:9090\"\n\
             [http]\nheader_read_timeout_seconds = 5\nmax_connections = 300\n\
             proxy_protocol_from = [\"10.0.0.0/8\", \"192.0.2.1\"]\n",
        )
        .unwrap();
        let flags = Overrides {
            config_file: Some(file),
            ..Default::default()
        };
        let c = Config::load(
            &flags,
            &env(&[
                ("SESAM_HTTP_MAX_CONNECTIONS_PER_ADDRESS", "7"),
                ("SESAM_HTTP_MAX_CONNECTIONS", "200"),
                ("SESAM_METRICS_TOKEN", "0123456789abcdef"),
            ]),
        )
        .unwrap();
        assert_eq!(c.connections.header_read_timeout, Duration::from_secs(5));
        assert_eq!(c.connections.max_connections, 200, "the environment wins");
        assert_eq!(c.connections.max_connections_per_address, 7);
        assert_eq!(
            c.proxy_protocol_from.to_string(),
            "10.0.0.0/8, 192.0.2.1/32"
        );
        assert!(c.dev_outbox);
        assert_eq!(c.metrics.listen.unwrap().port(), 9090);
        assert!(!c.metrics.on_public_listener());
        assert!(
            !format!("{c:?}").contains("0123456789abcdef"),
            "the token is not logged"
        );

        let flags = Overrides {
            dev_outbox: true,
            ..Default::default()
        };
        assert!(Config::load(&flags, &env(&[])).unwrap().dev_outbox);

        let msg = |e: MapEnv| {
            Config::load(&Overrides::default(), &e)
                .unwrap_err()
                .to_string()
        };
        assert!(
            msg(env(&[("SESAM_MESSAGES_KEPT_DAYS", "1")])).contains("messages_kept_days"),
            "a week at least: people read their activity"
        );
        assert_eq!(
            Config::load(&Overrides::default(), &env(&[]))
                .unwrap()
                .messages_kept_days,
            180
        );
        let bad_proxy = msg(env(&[(
            "SESAM_HTTP_PROXY_PROTOCOL_FROM",
            "10.0.0.1, balancer",
        )]));
        assert!(
            bad_proxy.contains("SESAM_HTTP_PROXY_PROTOCOL_FROM")
                && bad_proxy.contains("'balancer'"),
            "{bad_proxy}"
        );
        assert!(
            Config::load(&Overrides::default(), &env(&[]))
                .unwrap()
                .proxy_protocol_from
                .is_empty()
        );
        assert!(
            msg(env(&[("SESAM_HTTP_IDLE_TIMEOUT_SECONDS", "0")]))
                .contains("http.idle_timeout_seconds")
        );
        assert!(
            msg(env(&[("SESAM_HTTP_MAX_HEADER_BYTES", "10")])).contains("http.max_header_bytes")
        );
        assert!(
            msg(env(&[("SESAM_HTTP_MAX_CONNECTIONS", "many")]))
                .contains("SESAM_HTTP_MAX_CONNECTIONS")
        );
        assert!(msg(env(&[("SESAM_METRICS_TOKEN", "short")])).contains("metrics_token"));
        assert!(msg(env(&[("SESAM_METRICS_LISTEN", "nowhere")])).contains("metrics_listen"));
        assert!(msg(env(&[("SESAM_DEV_OUTBOX", "maybe")])).contains("SESAM_DEV_OUTBOX"));
    }

    #[test]
    fn the_web_app_may_have_an_origin_of_its_own_but_not_the_public_one() {
        let load = |v: &'static str| {
            Config::load(
                &Overrides::default(),
                &env(&[
                    ("SESAM_PUBLIC_URL", "https://login.example.dk"),
                    ("SESAM_APP_PUBLIC_URL", v),
                ]),
            )
        };
        let c = load("https://app.login.example.dk").unwrap();
        assert_eq!(
            c.app_public_url.unwrap().as_str(),
            "https://app.login.example.dk/"
        );
        assert!(
            Config::load(&Overrides::default(), &env(&[]))
                .unwrap()
                .app_public_url
                .is_none()
        );
        for (bad, why) in [
            ("https://login.example.dk", "another origin"),
            ("https://login.example.dk:443/", "another origin"),
            ("https://app.login.example.dk/app/", "without a path"),
            ("app.login.example.dk", "absolute"),
            ("ftp://app.login.example.dk", "absolute"),
        ] {
            let e = load(bad).unwrap_err().to_string();
            assert!(
                e.contains("app_public_url") && e.contains(why),
                "{bad}: {e}"
            );
        }
        // Another port is another origin.
        assert!(load("https://login.example.dk:8443").is_ok());
    }

    #[test]
    fn tls_makes_the_default_public_url_https() {
        let flags = Overrides {
            tls_cert: Some("c".into()),
            tls_key: Some("k".into()),
            ..Default::default()
        };
        assert_eq!(
            Config::load(&flags, &env(&[])).unwrap().public_url.scheme(),
            "https"
        );
    }
}
