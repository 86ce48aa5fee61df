//! `sesam serve`: start-up, listening (plain or TLS) and graceful shutdown.

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
    let config = Config::load(&flags, &ProcessEnv)?;
    init_logging(&config)?;
    let sesam = Sesam::open(&config).await?;
    serve(config, sesam, shutdown_signal()).await
}

/// Serves until `shutdown` completes, then lets requests in flight finish (up to 10 s).
pub async fn serve(
    config: Config,
    sesam: Sesam,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    let state = AppState {
        sesam: sesam.clone(),
        metrics: http::install_recorder(),
    };
    let app = http::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    tracing::info!(
        listen = %config.listen,
        public_url = %config.public_url,
        database = %config.database.describe(),
        "sesam is starting"
    );
    match &config.tls {
        None => {
            let listener = TcpListener::bind(config.listen)
                .await
                .map_err(|e| AppError::Io(format!("cannot listen on {}: {e}", config.listen)))?;
            tracing::info!(addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "listening (HTTP)");
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
                .map_err(|e| AppError::Io(format!("server error: {e}")))?;
        }
        Some(tls) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let rustls_config =
                axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
                    .await
                    .map_err(|e| {
                        AppError::Config(format!(
                            "cannot load TLS certificate {} and key {}: {e}",
                            tls.cert.display(),
                            tls.key.display()
                        ))
                    })?;
            let handle = axum_server::Handle::new();
            let h = handle.clone();
            tokio::spawn(async move {
                shutdown.await;
                h.graceful_shutdown(Some(Duration::from_secs(10)));
            });
            tracing::info!(addr = %config.listen, "listening (HTTPS)");
            axum_server::bind_rustls(config.listen, rustls_config)
                .handle(handle)
                .serve(app)
                .await
                .map_err(|e| AppError::Io(format!("cannot serve TLS on {}: {e}", config.listen)))?;
        }
    }
    tracing::info!("sesam stopped");
    Ok(())
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
