//! Finding the master key and checking that it belongs to the data.
//!
//! Sources, in order: `SESAM_MASTER_KEY` (64 hex characters), the file named by
//! `master_key_file`, or `<data dir>/master.key`. A key file must be readable by its owner
//! only (0600). A missing key file is created only for a database that has no data under
//! any key yet; otherwise sesam refuses to start rather than write under a wrong key.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sesam_domain::{MasterKey, OsRandom, SecretKeys, secrets::ct_eq};
use sesam_store::MetaStore;

use crate::error::AppError;

const KEY_CHECK: &str = "master_key_check";

/// Where the key is to be found.
#[derive(Debug, Clone)]
pub enum KeySource {
    Env(String),
    File(PathBuf),
}

impl KeySource {
    pub fn describe(&self) -> String {
        match self {
            Self::Env(_) => "SESAM_MASTER_KEY".into(),
            Self::File(p) => p.display().to_string(),
        }
    }
}

fn read_key_file(path: &Path) -> Result<MasterKey, AppError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        AppError::MasterKey(format!(
            "cannot read the master key file {}: {e}",
            path.display()
        ))
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(AppError::MasterKey(format!(
            "the master key file {} has permissions {mode:04o}; it must be readable by its owner only: chmod 600 {}",
            path.display(),
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        AppError::MasterKey(format!(
            "cannot read the master key file {}: {e}",
            path.display()
        ))
    })?;
    MasterKey::from_hex(&text)
        .map_err(|e| AppError::MasterKey(format!("the master key file {}: {e}", path.display())))
}

fn write_key_file(path: &Path, key: &MasterKey) -> Result<(), AppError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            AppError::MasterKey(format!(
                "cannot create the master key file {}: {e}",
                path.display()
            ))
        })?;
    f.write_all(format!("{}\n", key.to_hex()).as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| {
            AppError::MasterKey(format!(
                "cannot write the master key file {}: {e}",
                path.display()
            ))
        })?;
    tracing::warn!(path = %path.display(), "created a new master key; back it up: without it the data cannot be read");
    Ok(())
}

/// A master key read (or freshly generated) but not yet checked against the data.
pub struct LoadedKey {
    key: MasterKey,
    /// Set when no key file existed: the new key is written only once the store shows it
    /// has no data under another key.
    unsaved: Option<PathBuf>,
    source: KeySource,
}

impl LoadedKey {
    pub fn keys(&self) -> SecretKeys {
        self.key.keys()
    }
}

/// Reads the key from its source; a missing key file yields a new, unsaved key.
pub fn load(source: KeySource) -> Result<LoadedKey, AppError> {
    let (key, unsaved) = match &source {
        KeySource::Env(hex) => (
            MasterKey::from_hex(hex)
                .map_err(|e| AppError::MasterKey(format!("SESAM_MASTER_KEY: {e}")))?,
            None,
        ),
        KeySource::File(path) if path.exists() => (read_key_file(path)?, None),
        KeySource::File(path) => (MasterKey::generate(&OsRandom), Some(path.clone())),
    };
    Ok(LoadedKey {
        key,
        unsaved,
        source,
    })
}

/// Checks the key against the store; saves a new key file only for a store that has never
/// had a key. Returns the derived keys.
pub async fn confirm(loaded: LoadedKey, store: &dyn MetaStore) -> Result<SecretKeys, AppError> {
    let recorded = store.meta_get(KEY_CHECK).await?;
    let keys = loaded.key.keys();
    let expected = keys.key_check();
    match (&loaded.unsaved, recorded) {
        (Some(path), Some(_)) => Err(AppError::MasterKey(format!(
            "the database was created with a master key, but the key file {} is missing; restore it from your backup or set SESAM_MASTER_KEY. Nothing was changed",
            path.display()
        ))),
        (_, Some(stored)) if !ct_eq(&stored, &expected) => Err(AppError::MasterKey(format!(
            "the master key from {} does not match this database (it was created with another key); refusing to start. Nothing was changed",
            loaded.source.describe()
        ))),
        (_, Some(_)) => Ok(keys),
        (unsaved, None) => {
            if let Some(path) = unsaved {
                write_key_file(path, &loaded.key)?;
            }
            let stored = store.meta_get_or_init(KEY_CHECK, &expected).await?;
            if !ct_eq(&stored, &expected) {
                return Err(AppError::MasterKey(
                    "another process initialised this database with a different master key at the same time; refusing to start".into(),
                ));
            }
            Ok(keys)
        }
    }
}
