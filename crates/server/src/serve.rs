//! `sesam serve`: start-up, listening (plain or TLS) and graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::cli::ServeArgs;
use crate::config::{Config, LogFormat, Overrides, ProcessEnv};
use crate::context::Sesam;
use crate::error::AppError;
use crate::http::{self, AppState};

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
        ..args.data.overrides()
    };
    let mut config = Config::load(&flags, &ProcessEnv)?;
    config.demo = args.demo;
    init_logging(&config)?;
    let sesam = Sesam::open(&config).await?;
    sesam.ensure_signing_keys().await?;
    serve(config, sesam, shutdown_signal()).await
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
    Ok(sesam_notify::Channels { sms, email })
}

/// Serves until `shutdown` completes, then lets requests in flight finish (up to 10 s).
pub async fn serve(
    config: Config,
    sesam: Sesam,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    match &config.tls {
        None => {
            let listener = TcpListener::bind(config.listen)
                .await
                .map_err(|e| AppError::Io(format!("cannot listen on {}: {e}", config.listen)))?;
            serve_on(listener, config, sesam, shutdown).await
        }
        Some(_) => serve_tls(config, sesam, shutdown).await,
    }
}

/// Starts the background parts (the outbox dispatcher) and builds the HTTP state; the
/// returned sender stops the background parts.
fn start(
    config: &Config,
    sesam: &Sesam,
) -> Result<(AppState, tokio::sync::watch::Sender<bool>), AppError> {
    let channels = channels(config)?;
    let dev_outbox = (!channels.any_real()).then(|| Arc::new(sesam_notify::DevOutbox::default()));
    if dev_outbox.is_some() {
        tracing::warn!(
            "no SMS gateway or e-mail server is configured: messages go to the development outbox at {}dev/outbox (never use this for real people)",
            config.public_url
        );
    }
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let dispatcher = sesam_notify::Dispatcher::new(
        sesam.store.clone(),
        sesam.keys.clone(),
        sesam.clock.clone(),
        channels,
        dev_outbox.clone().unwrap_or_default(),
        sesam.outbox_wake.clone(),
    )
    .with_lease_seconds(config.outbox_lease_seconds);
    let mut sweeper_stop = stop_rx.clone();
    tokio::spawn(dispatcher.run(async move {
        let _ = stop_rx.wait_for(|stop| *stop).await;
    }));
    tokio::spawn(sweep_expired(sesam.clone(), async move {
        let _ = sweeper_stop.wait_for(|stop| *stop).await;
    }));
    let state = AppState {
        sesam: sesam.clone(),
        metrics: http::install_recorder(),
        dev_outbox,
        demo: None,
        limiter: Arc::new(crate::limits::SourceLimiter::new(
            config.source_limits,
            sesam.clock.clone(),
        )),
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
        let now = sesam.clock.now();
        let counts_before = now.plus_seconds(-2 * sesam_domain::auth_request::START_WINDOW_SECONDS);
        match sesam.store.sweep_expired(now, counts_before).await {
            Ok(n) if n > 0 => tracing::debug!(removed = n, "expired flow state removed"),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot remove expired flow state; trying again later")
            }
        }
    }
}

/// Serves plain HTTP on an already bound listener (tests bind port 0 and read it back).
pub async fn serve_on(
    listener: TcpListener,
    config: Config,
    sesam: Sesam,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    sesam.ensure_signing_keys().await?;
    let (mut state, stop) = start(&config, &sesam)?;
    if config.demo {
        state.demo = Some(Arc::new(http::demo::DemoClient::ensure(&sesam).await?));
    }
    let app = http::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    tracing::info!(
        listen = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        public_url = %config.public_url,
        database = %config.database.describe(),
        "sesam is listening (HTTP)"
    );
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| AppError::Io(format!("server error: {e}")));
    let _ = stop.send(true);
    tracing::info!("sesam stopped");
    result
}

async fn serve_tls(
    config: Config,
    sesam: Sesam,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    let Some(tls) = config.tls.clone() else {
        return Err(AppError::Config("TLS is not configured".into()));
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rustls_config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
        .await
        .map_err(|e| {
            AppError::Config(format!(
                "cannot load TLS certificate {} and key {}: {e}",
                tls.cert.display(),
                tls.key.display()
            ))
        })?;
    sesam.ensure_signing_keys().await?;
    let (mut state, stop) = start(&config, &sesam)?;
    if config.demo {
        state.demo = Some(Arc::new(http::demo::DemoClient::ensure(&sesam).await?));
    }
    let app = http::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let handle = axum_server::Handle::new();
    let h = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        h.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    tracing::info!(listen = %config.listen, public_url = %config.public_url, database = %config.database.describe(), "sesam is listening (HTTPS)");
    let result = axum_server::bind_rustls(config.listen, rustls_config)
        .handle(handle)
        .serve(app)
        .await
        .map_err(|e| AppError::Io(format!("cannot serve TLS on {}: {e}", config.listen)));
    let _ = stop.send(true);
    tracing::info!("sesam stopped");
    result
}

/// Completes on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
