//! Argon2id on a bounded pool: at most `max_concurrent` hashes run at once (each takes
//! ~19 MiB and tens of milliseconds), on blocking threads, so password logins cannot
//! exhaust memory or starve the async workers that serve app logins.

use std::sync::Arc;

use sesam_domain::Random;
use sesam_domain::password::{self, Password, PasswordError, PasswordHasherParams};
use tokio::sync::Semaphore;

use crate::error::AppError;

pub struct PasswordPool {
    params: PasswordHasherParams,
    permits: Arc<Semaphore>,
    /// A hash of a random password, verified against when there is no real hash to check
    /// (unknown user ID, no password, locked), so every login attempt costs the same.
    dummy: tokio::sync::OnceCell<String>,
}

impl PasswordPool {
    pub fn new(params: PasswordHasherParams, max_concurrent: usize) -> Result<Self, AppError> {
        params
            .validate()
            .map_err(|e| AppError::Config(format!("password hashing costs: {e}")))?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            dummy: tokio::sync::OnceCell::new(),
        })
    }

    /// OWASP costs, one hash per core.
    pub fn default_for_machine() -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Self {
            params: PasswordHasherParams::OWASP,
            permits: Arc::new(Semaphore::new(cores)),
            dummy: tokio::sync::OnceCell::new(),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| AppError::PasswordPoolClosed)?;
        tokio::task::spawn_blocking(job)
            .await
            .map_err(|source| AppError::WorkerStopped {
                what: "password hashing",
                source,
            })
    }

    pub async fn hash(&self, pw: Password, random: Arc<dyn Random>) -> Result<String, AppError> {
        let params = self.params;
        self.run(move || password::hash(&pw, &params, &*random))
            .await?
            .map_err(|e| AppError::Invalid(e.into()))
    }

    pub async fn verify(&self, pw: Password, phc: String) -> Result<bool, AppError> {
        self.run(move || password::verify(&pw, &phc))
            .await?
            .map_err(|e: PasswordError| AppError::Invalid(e.into()))
    }

    /// Spends exactly what a real verification spends, and answers "wrong".
    pub async fn verify_nothing(
        &self,
        pw: Password,
        random: Arc<dyn Random>,
    ) -> Result<bool, AppError> {
        let phc = self
            .dummy
            .get_or_try_init(|| async {
                let filler = Password::for_login(&hex_string(
                    &sesam_domain::random::random_bytes::<16>(&*random),
                ));
                self.hash(filler, random.clone()).await
            })
            .await?
            .clone();
        self.verify(pw, phc).await.map(|_| false)
    }
}

fn hex_string(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
