//! `sesam serve`: start-up, listening (plain or TLS) and graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::cli::ServeArgs;
use crate::config::{Config, LogFormat, Overrides, ProcessEnv};
use sesam_core::context::Sesam;
use sesam_core::error::AppError;
use sesam_http::{self, AppState, AppStateParts};

fn init_logging(config: &Config) -> Result<(), AppError> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .map_err(|e| AppError::Config(format!("log filter '{}': {e}", config.log)))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match config.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    // Already initialised (tests running several servers in one process) is fine.
    let _ = result;
    Ok(())
}

pub async fn run(args: ServeArgs) -> Result<(), AppError> {
    let flags = Overrides {
        listen: args.listen,
        public_url: args.public_url,
        tls_cert: args.tls_cert,
        tls_key: args.tls_key,
        // The demo needs the SMS code somewhere a person can read it.
        dev_outbox: args.dev_outbox || args.demo,
        ..args.data.overrides()
    };
    let mut config = Config::load(&flags, &ProcessEnv)?;
    config.demo = args.demo;
    init_logging(&config)?;
    let shutdown = shutdown_signal()?;
    let sesam = Sesam::open(config.open_settings()).await?;
    sesam.ensure_signing_keys().await?;
    serve(config, sesam, shutdown).await
}

/// The notification channels the configuration asks for.
fn channels(config: &Config) -> Result<sesam_notify::Channels, AppError> {
    let sms = match &config.sms {
        Some(s) => Some(
            sesam_notify::SmsGateway::new(s.url.clone(), s.token.clone(), s.timeout)
                .map_err(AppError::Config)?,
        ),
        None => None,
    };
    let email = match &config.smtp {
        Some(m) => Some(
            sesam_notify::SmtpMailer::new(
                &m.host,
                m.port,
                m.security,
                m.login.clone(),
                &m.from,
                m.timeout,
            )
            .map_err(AppError::Config)?,
        ),
        None => None,
    };
    Ok(sesam_notify::Channels {
        sms,
        email,
        push: None,
    })
}

/// Serves until `shutdown` completes, then drains: `/readyz` reports `draining` for
/// `shutdown_drain_seconds` while everything else is still served, then the listener
/// stops accepting, open long-polls answer at once and requests in flight finish (up to
/// 10 s).
pub async fn serve(
    config: Config,
    sesam: Sesam,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| AppError::Io {
            what: format!("cannot listen on {}", config.listen),
            source,
        })?;
    serve_on(listener, config, sesam, shutdown).await
}

/// Whether the public URL names this machine (`localhost` or a name under it, 127.0.0.0/8,
/// `::1`): a development setup, where the development outbox may be shown to any client
/// (a container's port forwarding makes the browser look non-local).
fn public_url_is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => sesam_domain::service_provider::is_loopback_name(d),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Starts the background parts (the outbox dispatcher) and builds the HTTP state; the
/// returned sender stops the background parts.
async fn start(
    config: &Config,
    sesam: &Sesam,
) -> Result<(AppStateParts, tokio::sync::watch::Sender<bool>), AppError> {
    let sesam = &sesam
        .clone()
        .with_push_policy(config.push.policy())
        .with_app_url(config.app_public_url.as_ref());
    let mut channels = channels(config)?;
    channels.push = Some(
        sesam_notify::WebPush::new(
            (*sesam.vapid_key().await?).clone(),
            config.push.contact.clone(),
            config.push.policy(),
            config.push.timeout,
            sesam.push_store(),
        )
        .map_err(AppError::Config)?,
    );
    if config.push.allow_local_endpoints {
        tracing::warn!(
            "push.allow_local_endpoints is on: apps may register push endpoints on loopback and private addresses (development only)"
        );
    }
    let real = channels.any_real();
    let dev_outbox =
        (!real && config.dev_outbox).then(|| Arc::new(sesam_notify::DevOutbox::default()));
    if real && config.dev_outbox {
        tracing::warn!(
            "the development outbox was asked for, but a real channel is configured: it stays off"
        );
    } else if dev_outbox.is_some() {
        tracing::warn!(
            "no SMS gateway or e-mail server is configured: messages go to the development outbox at {}dev/outbox (never use this for real people)",
            config.public_url
        );
    } else if !real {
        tracing::warn!(
            "no SMS gateway or e-mail server is configured: SMS and e-mail messages wait in the outbox until one is. \
             Configure [sms] url and token (SESAM_SMS_URL, SESAM_SMS_TOKEN) and/or [smtp] host and from \
             (SESAM_SMTP_HOST, SESAM_SMTP_FROM); for a local trial, start with --dev-outbox or --demo"
        );
    }
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let mut sweeper_stop = stop_rx.clone();
    // Without anywhere to deliver to, the dispatcher does not run: messages stay pending
    // (the app inbox reads them from the outbox directly) until a channel is configured.
    // Web push needs no configuration: without another channel, the dispatcher delivers
    // pushes alone.
    {
        let only_push = !(real || dev_outbox.is_some());
        let mut dispatcher = sesam.outbox_dispatcher(
            channels,
            dev_outbox.clone().unwrap_or_default(),
            config.outbox_lease_seconds,
        );
        if only_push {
            dispatcher = dispatcher.only(sesam_domain::notification::Channel::Push);
        }
        tokio::spawn(dispatcher.run(async move {
            let _ = stop_rx.wait_for(|stop| *stop).await;
        }));
    }
    let mut sequencer_stop = sweeper_stop.clone();
    tokio::spawn(sweep_expired(sesam.clone(), async move {
        let _ = sweeper_stop.wait_for(|stop| *stop).await;
    }));
    tokio::spawn(chain_audit(sesam.clone(), async move {
        let _ = sequencer_stop.wait_for(|stop| *stop).await;
    }));
    let state = AppStateParts {
        sesam: sesam.clone(),
        metrics: sesam_http::install_recorder(),
        metrics_token: config.metrics.token.as_deref().map(Arc::from),
        public_metrics: config.metrics.on_public_listener(),
        dev_outbox,
        dev_outbox_for_anyone: public_url_is_loopback(&config.public_url),
        demo: None,
        limiter: Arc::new(sesam_core::limits::SourceLimiter::new(
            config.source_limits,
            sesam.clock(),
        )),
        hsts: config.tls.is_some() || config.public_url.scheme() == "https",
        app_public_url: config.app_public_url.clone(),
        site: Arc::new(config.site.clone()),
    };
    Ok((state, stop_tx))
}

/// How often expired flow state is removed.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// Removes expired PAR objects, login flows, sessions, nonces and request counts now and
/// then (every node does; the deletes are idempotent), until `stop` completes.
async fn sweep_expired(sesam: Sesam, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = every.tick() => {}
        }
        match sesam.sweep_expired().await {
            Ok(n) if n > 0 => tracing::debug!(removed = n, "expired flow state removed"),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot remove expired flow state; trying again later")
            }
        }
    }
}

/// How often this node runs the audit sequencer (see `AUDIT_CHAIN_WINDOW_SECONDS`).
const CHAIN_AUDIT_EVERY: Duration = Duration::from_millis(200);

/// Chains waiting audit entries every 200 ms (every node does; one at a time chains),
/// and once more when `stop` completes, so a node that stops leaves nothing waiting.
async fn chain_audit(sesam: Sesam, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    let mut every = tokio::time::interval(CHAIN_AUDIT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut warned = false;
    loop {
        let stopping = tokio::select! {
            _ = &mut stop => true,
            _ = every.tick() => false,
        };
        match sesam.chain_audit().await {
            Ok(b) if b.behind && !warned => {
                warned = true;
                tracing::warn!(
                    waiting = b.waiting,
                    oldest_seconds = b.oldest_seconds,
                    "audit entries wait longer than they should to be chained"
                );
            }
            Ok(b) => warned &= b.behind,
            Err(e) => tracing::warn!(error = %e, "cannot chain audit entries; trying again"),
        }
        if stopping {
            return;
        }
    }
}

/// The TLS acceptor for the configured certificate and key (HTTP/1.1 over ALPN).
fn tls_acceptor(tls: &crate::config::Tls) -> Result<tokio_rustls::TlsAcceptor, AppError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let cannot = |e: &dyn std::fmt::Display| {
        AppError::Config(format!(
            "cannot load TLS certificate {} and key {}: {e}",
            tls.cert.display(),
            tls.key.display()
        ))
    };
    let certs = CertificateDer::pem_file_iter(&tls.cert)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| cannot(&e))?;
    if certs.is_empty() {
        return Err(cannot(&"no certificate in the file"));
    }
    let key = PrivateKeyDer::from_pem_file(&tls.key).map_err(|e| cannot(&e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| cannot(&e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| cannot(&e))?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(server)))
}

/// Serves on an already bound listener (tests bind port 0 and read it back); TLS when
/// the configuration has a certificate.
pub async fn serve_on(
    listener: TcpListener,
    config: Config,
    sesam: Sesam,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    let sesam = sesam.with_messages_kept_days(config.messages_kept_days);
    let tls = config.tls.as_ref().map(tls_acceptor).transpose()?;
    let metrics_listener = match config.metrics.listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|source| AppError::Io {
                    what: format!("cannot listen for metrics on {addr}"),
                    source,
                })?,
        ),
        None => None,
    };
    sesam.ensure_signing_keys().await?;
    let (mut state, stop) = start(&config, &sesam).await?;
    if config.demo {
        state.demo = Some(Arc::new(sesam.demo_client().await?));
    }
    let state = AppState::new(state);
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let drain = config.shutdown_drain;
    let draining = sesam.clone();
    tokio::spawn(async move {
        shutdown.await;
        // First out of the balancer (`/readyz` says draining) while still serving, then
        // stop accepting; open long-polls answer now so their apps poll another node.
        draining.start_draining();
        tracing::info!(
            seconds = drain.as_secs(),
            "draining: /readyz reports not ready while requests are still served"
        );
        tokio::time::sleep(drain).await;
        draining.drain_long_polls();
        tracing::info!("no longer accepting connections: finishing requests in flight");
        let _ = shutdown_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let metrics_task = metrics_listener.map(|l| {
        tracing::info!(listen = %l.local_addr().map(|a| a.to_string()).unwrap_or_default(), "metrics are served here");
        tokio::spawn(sesam_http::transport::serve(
            l,
            None,
            sesam_http::metrics_router(state.clone()),
            config.connections,
            sesam_http::proxy_protocol::TrustedProxies::default(),
            stopped(shutdown_rx.clone()),
        ))
    });
    tracing::info!(
        listen = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        public_url = %config.public_url,
        database = %config.database.describe(),
        "sesam is listening ({})",
        if tls.is_some() { "HTTPS" } else { "HTTP" }
    );
    if !config.proxy_protocol_from.is_empty() {
        tracing::info!(from = %config.proxy_protocol_from, "connections from these load balancers must start with a PROXY protocol header naming the client");
    }
    let result = sesam_http::transport::serve(
        listener,
        tls,
        sesam_http::router(state),
        config.connections,
        config.proxy_protocol_from.clone(),
        stopped(shutdown_rx),
    )
    .await;
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    let _ = stop.send(true);
    tracing::info!("sesam stopped");
    result
}

/// A future that completes on SIGTERM or SIGINT (Ctrl-C). The handlers are installed now,
/// before the port opens: a SIGTERM that arrives as soon as the port accepts is a graceful
/// shutdown, not the signal's default action (an immediate exit).
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, AppError> {
    use tokio::signal::unix::{SignalKind, signal};
    let install = |kind: SignalKind| {
        signal(kind).map_err(|source| AppError::Io {
            what: "cannot install the shutdown signal handlers".into(),
            source,
        })
    };
    let mut term = install(SignalKind::terminate())?;
    let mut interrupt = install(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = interrupt.recv() => {},
        }
        tracing::info!("shutting down");
    })
}

#[cfg(test)]
mod tests {
    use super::public_url_is_loopback;

    #[test]
    fn loopback_public_urls() {
        for (url, loopback) in [
            ("http://localhost:8080", true),
            ("http://LOCALHOST", true),
            ("http://127.0.0.1:8080", true),
            ("http://127.1.2.3", true),
            ("http://[::1]:8080", true),
            ("https://login.example.dk", false),
            ("http://localhost.example.dk", false),
            ("http://10.0.0.1", false),
        ] {
            assert_eq!(
                public_url_is_loopback(&url::Url::parse(url).unwrap()),
                loopback,
                "{url}"
            );
        }
    }
}
