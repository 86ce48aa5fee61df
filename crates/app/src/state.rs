//! The app's state file: server URL, device id, the device's private key and its PIN key.
//!
//! On a phone the key lives in the Secure Enclave / StrongBox and never leaves it; this
//! reference app keeps it in a file that must be readable by its owner only (0600), and
//! refuses to load a file with looser permissions.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use p256::ecdsa::SigningKey;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde::{Deserialize, Serialize};
use sesam_domain::Random;
use sesam_domain::app_protocol::DevicePinKey;
use thiserror::Error;
use uuid::Uuid;

#[derive(Debug, Error)]
pub enum StateError {
    #[error(
        "the state file {path} has permissions {mode:04o}; it holds the device key and must be readable by its owner only: chmod 600 {path}"
    )]
    Permissions { path: String, mode: u32 },
    #[error("cannot read the state file {0}: {1}")]
    Read(String, std::io::Error),
    #[error("cannot write the state file {0}: {1}")]
    Write(String, std::io::Error),
    #[error("the state file {0} is damaged: {1}")]
    Damaged(String, String),
    #[error("this app is not activated yet (run `sesam-app activate` first)")]
    NotActivated,
}

/// What the app remembers between runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppState {
    pub server: String,
    /// The device's P-256 private key (hex); the public key is derived from it.
    signing_key: String,
    pub device_id: Option<Uuid>,
    pub device_name: Option<String>,
    pub user_id: Option<String>,
    /// The device PIN key (hex) the server gave at activation or pairing: every PIN proof
    /// of this app is sealed under it (`docs/protocol.md` §3).
    pub device_pin_key: Option<String>,
    /// An activation whose SMS code has been sent but not entered yet.
    pub pending_activation: Option<Uuid>,
    /// The pairing code of a pending pairing, shown again when `pair` is run again.
    #[serde(default)]
    pub pairing_code: Option<String>,
    #[serde(skip)]
    path: PathBuf,
    /// The key expanded for signing, made on first use.
    #[serde(skip)]
    signer: std::sync::OnceLock<std::sync::Arc<EcdsaKeyPair>>,
}

impl AppState {
    /// A fresh state with a new device key.
    pub fn new(path: &Path, server: &str, random: &dyn Random) -> Self {
        let key = loop {
            let mut m = [0u8; 32];
            random.fill(&mut m);
            if let Ok(k) = SigningKey::from_slice(&m) {
                break k;
            }
        };
        Self {
            server: server.trim_end_matches('/').to_owned(),
            signing_key: hex::encode(key.to_bytes()),
            device_id: None,
            device_name: None,
            user_id: None,
            device_pin_key: None,
            pending_activation: None,
            pairing_code: None,
            path: path.to_owned(),
            signer: Default::default(),
        }
    }

    /// A state that lives in memory only, for programs that drive many apps at once (the
    /// load generator); it has no file, so [`Self::save`] fails.
    pub fn in_memory(
        server: &str,
        key: &SigningKey,
        device_id: Uuid,
        user_id: &str,
        device_pin_key: &DevicePinKey,
    ) -> Self {
        Self {
            server: server.trim_end_matches('/').to_owned(),
            signing_key: hex::encode(key.to_bytes()),
            device_id: Some(device_id),
            device_name: None,
            user_id: Some(user_id.to_owned()),
            device_pin_key: Some(hex::encode(device_pin_key.expose_bytes())),
            pending_activation: None,
            pairing_code: None,
            path: PathBuf::new(),
            signer: Default::default(),
        }
    }

    pub fn exists(path: &Path) -> bool {
        path.exists()
    }

    pub fn load(path: &Path) -> Result<Self, StateError> {
        let shown = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| StateError::Read(shown.clone(), e))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(StateError::Permissions { path: shown, mode });
        }
        let text = std::fs::read_to_string(path).map_err(|e| StateError::Read(shown.clone(), e))?;
        let mut state: Self = serde_json::from_str(&text)
            .map_err(|e| StateError::Damaged(shown.clone(), e.to_string()))?;
        state
            .signing_key()
            .map_err(|e| StateError::Damaged(shown, e))?;
        state.path = path.to_owned();
        Ok(state)
    }

    /// Writes the state atomically (temporary file, then rename), created 0600.
    pub fn save(&self) -> Result<(), StateError> {
        let shown = self.path.display().to_string();
        let tmp = self.path.with_extension("tmp");
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| StateError::Damaged(shown.clone(), e.to_string()))?;
        let _ = std::fs::remove_file(&tmp);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| StateError::Write(shown.clone(), e))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| StateError::Write(shown.clone(), e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| StateError::Write(shown, e))
    }

    pub fn signing_key(&self) -> Result<SigningKey, String> {
        let bytes =
            hex::decode(&self.signing_key).map_err(|_| "the device key is not hex".to_string())?;
        SigningKey::from_slice(&bytes).map_err(|_| "the device key is not a P-256 key".to_string())
    }

    /// Signs `message` with the device key: ECDSA P-256 SHA-256, raw `r‖s`. ring's ECDSA,
    /// with the key expanded once, keeps the per-request cost low (a phone's key store
    /// does this in hardware).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let signer = match self.signer.get() {
            Some(s) => s.clone(),
            None => {
                let key = self.signing_key()?;
                let public = key.verifying_key().to_sec1_point(false);
                let pair = EcdsaKeyPair::from_private_key_and_public_key(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    &key.to_bytes(),
                    public.as_bytes(),
                    &SystemRandom::new(),
                )
                .map_err(|_| "the device key cannot sign".to_string())?;
                self.signer
                    .get_or_init(|| std::sync::Arc::new(pair))
                    .clone()
            }
        };
        signer
            .sign(&SystemRandom::new(), message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| "the device key cannot sign".to_string())
    }

    /// The device PIN key, once the server has given it.
    pub fn pin_key(&self) -> Result<DevicePinKey, String> {
        let hex = self
            .device_pin_key
            .as_deref()
            .ok_or_else(|| "the state has no device PIN key".to_string())?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex, &mut bytes)
            .map_err(|_| "the device PIN key is not 32 hex bytes".to_string())?;
        Ok(DevicePinKey::from_bytes(bytes))
    }

    /// Keeps the device PIN key the server gave (the caller saves the state).
    pub fn set_pin_key(&mut self, key: &DevicePinKey) {
        self.device_pin_key = Some(hex::encode(key.expose_bytes()));
    }

    pub fn public_key_sec1(&self) -> Result<Vec<u8>, String> {
        Ok(self
            .signing_key()?
            .verifying_key()
            .to_sec1_point(false)
            .as_bytes()
            .to_vec())
    }

    pub fn activated_device(&self) -> Result<Uuid, StateError> {
        self.device_id.ok_or(StateError::NotActivated)
    }
}

#[cfg(test)]
mod tests {
    use sesam_domain::OsRandom;

    use super::*;

    #[test]
    fn saves_0600_and_refuses_looser_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.json");
        let s = AppState::new(&path, "http://localhost:8080/", &OsRandom);
        s.save().unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = AppState::load(&path).unwrap();
        assert_eq!(loaded.server, "http://localhost:8080");
        assert_eq!(
            loaded.public_key_sec1().unwrap(),
            s.public_key_sec1().unwrap()
        );

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            AppState::load(&path),
            Err(StateError::Permissions { mode: 0o644, .. })
        ));

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "{not json").unwrap();
        assert!(matches!(
            AppState::load(&path),
            Err(StateError::Damaged(..))
        ));
    }
}
