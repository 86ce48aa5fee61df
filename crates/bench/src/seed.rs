//! `sesam-bench seed`: enrols N people through the import and activates an app for each
//! through the bulk activation (the same domain rules as one activation, without the SMS
//! round trip), registers the benchmark's SP, and writes the manifest `run` needs.

use std::io::{BufRead, Read};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sesam_core::context::Sesam;
use sesam_core::services::Actor;
use sesam_core::services::bulk_activation::BulkApp;
use sesam_core::services::import::{ImportProgress, ImportSink, Letter, LineError};
use sesam_core::services::service_providers::AddServiceProvider;
use sesam_domain::app_protocol::{AppPin, DevicePinKey};
use sesam_domain::device::{DeviceName, DevicePublicKey};

use crate::error::BenchError;
use crate::population;

/// People imported and activated per round (bounds the memory the letters take).
const ROUND: u64 = 50_000;

/// Where the benchmark's SP says it wants the code; `run` reads it from the redirect and
/// never connects to it.
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/bench/callback";

/// What `run` needs to act as the people's apps and as the SP. Holds the SP secret and the
/// seed of every device key: written 0600.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub people: u64,
    /// Hex; device keys and ids derive from it (see `population`).
    pub key_seed: String,
    pub pin: String,
    /// The file beside the manifest (created 0600) with every app's device PIN key, 32
    /// bytes each in people order, as their activations gave them: the apps' PIN proofs
    /// are sealed under them (`docs/protocol.md` §3).
    pub pin_keys_file: String,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    /// The device PIN keys, read from `pin_keys_file` by [`Self::load`].
    #[serde(skip)]
    pin_keys: Vec<u8>,
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Self, BenchError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| BenchError::Input(format!("cannot read {}: {e}", path.display())))?;
        let mut m: Self = serde_json::from_str(&text).map_err(|e| {
            BenchError::Input(format!(
                "{} is not a manifest written by `sesam-bench seed`: {e}",
                path.display()
            ))
        })?;
        let keys = pin_keys_path(path, &m.pin_keys_file);
        m.pin_keys = std::fs::read(&keys)
            .map_err(|e| BenchError::Input(format!("cannot read {}: {e}", keys.display())))?;
        if m.pin_keys.len() as u64 != m.people.saturating_mul(32) {
            return Err(BenchError::Input(format!(
                "{} does not hold the device PIN keys of {} people",
                keys.display(),
                m.people
            )));
        }
        Ok(m)
    }

    /// The device PIN key of person `index`'s app.
    pub fn pin_key(&self, index: u64) -> Result<DevicePinKey, BenchError> {
        let at = usize::try_from(index.saturating_mul(32)).unwrap_or(usize::MAX);
        self.pin_keys
            .get(at..at.saturating_add(32))
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .map(DevicePinKey::from_bytes)
            .ok_or_else(|| BenchError::Input(format!("no device PIN key for person {index}")))
    }

    pub fn seed(&self) -> Result<[u8; 32], BenchError> {
        hex::decode(&self.key_seed)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| BenchError::Input("the manifest's key_seed is not 32 hex bytes".into()))
    }
}

/// The lines of people `from..to` for the import, made as they are read.
struct Lines {
    next: u64,
    to: u64,
    pending: Vec<u8>,
    at: usize,
}

impl Read for Lines {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.fill_buf()?.len().min(out.len());
        out[..n].copy_from_slice(&self.pending[self.at..self.at + n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Lines {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        while self.at == self.pending.len() && self.next < self.to {
            self.pending.clear();
            self.at = 0;
            for _ in 0..256 {
                if self.next == self.to {
                    break;
                }
                self.pending.extend_from_slice(
                    population::import_line(&population::person(self.next)).as_bytes(),
                );
                self.pending.push(b'\n');
                self.next += 1;
            }
        }
        Ok(&self.pending[self.at..])
    }

    fn consume(&mut self, n: usize) {
        self.at += n;
    }
}

/// Keeps the letters of one round (their grants are what the activation consumes).
#[derive(Default)]
struct Letters {
    letters: Vec<Letter>,
    refused: Vec<LineError>,
}

impl ImportSink for Letters {
    fn letters(&mut self, letters: Vec<Letter>) -> Result<(), sesam_core::error::AppError> {
        self.letters.extend(letters);
        Ok(())
    }
    fn refused(&mut self, error: &LineError) {
        self.refused.push(error.clone());
    }
    fn progress(&mut self, _: &ImportProgress) {}
}

pub struct SeedArgs {
    pub people: u64,
    pub manifest: PathBuf,
}

/// Where the device PIN keys of a manifest are: `file`, beside the manifest.
fn pin_keys_path(manifest: &Path, file: &str) -> PathBuf {
    manifest
        .parent()
        .map_or_else(|| PathBuf::from(file), |dir| dir.join(file))
}

/// The device keys of people `from..to` (their letters' lines say who is who), computed on
/// every core: a P-256 public key costs a scalar multiplication. Each app comes with its
/// person's index.
fn apps_for(
    seed: &[u8; 32],
    from: u64,
    letters: Vec<Letter>,
) -> Result<Vec<(u64, BulkApp)>, BenchError> {
    let pin = AppPin::parse(population::PIN).map_err(|e| BenchError::Input(e.to_string()))?;
    let name = DeviceName::parse("sesam-bench").map_err(|e| BenchError::Input(e.to_string()))?;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let per = letters.len().div_ceil(threads.max(1)).max(1);
    let mut chunks: Vec<Vec<Letter>> = Vec::new();
    let mut letters = letters.into_iter().peekable();
    while letters.peek().is_some() {
        chunks.push(letters.by_ref().take(per).collect());
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let (pin, name) = (pin.clone(), name.clone());
                scope.spawn(move || -> Result<Vec<(u64, BulkApp)>, BenchError> {
                    chunk
                        .into_iter()
                        .map(|letter| {
                            // The import's lines are numbered from 1 within the round.
                            let index = from + letter.line - 1;
                            let key = population::device_key(seed, index);
                            let public = DevicePublicKey::from_sec1(
                                key.verifying_key().to_sec1_point(false).as_bytes(),
                            )
                            .map_err(|e| BenchError::Input(e.to_string()))?;
                            Ok((
                                index,
                                BulkApp {
                                    grant: letter.grant,
                                    device_id: population::device_id(seed, index),
                                    name: name.clone(),
                                    public_key: public,
                                    pin: pin.clone(),
                                },
                            ))
                        })
                        .collect()
                })
            })
            .collect();
        let mut apps = Vec::new();
        for h in handles {
            apps.extend(
                h.join()
                    .map_err(|_| BenchError::Input("a key thread failed".into()))??,
            );
        }
        Ok(apps)
    })
}

pub async fn seed(sesam: &Sesam, args: SeedArgs) -> Result<Manifest, BenchError> {
    if args.manifest.exists() {
        return Err(BenchError::Input(format!(
            "{} exists; seed a fresh database and give a new manifest path",
            args.manifest.display()
        )));
    }
    let pin_keys_file = format!(
        "{}.pin-keys",
        args.manifest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let pin_keys_at = pin_keys_path(&args.manifest, &pin_keys_file);
    let pin_keys = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&pin_keys_at)
        .map_err(|e| BenchError::Input(format!("cannot create {}: {e}", pin_keys_at.display())))?;
    let actor = Actor::operator("sesam-bench").map_err(BenchError::Server)?;
    let key_seed: [u8; 32] = sesam.random_bytes();
    let started = Instant::now();
    let mut from = 0;
    while from < args.people {
        let to = (from + ROUND).min(args.people);
        let mut lines = Lines {
            next: from,
            to,
            pending: Vec::new(),
            at: 0,
        };
        let mut letters = Letters::default();
        let report = sesam
            .import_identities(&actor, "sesam-bench seed", &mut lines, &mut letters)
            .await
            .map_err(BenchError::Server)?;
        if let Some(e) = letters.refused.first() {
            return Err(BenchError::Input(format!(
                "person {} was refused: {}",
                from + e.line - 1,
                e.reason
            )));
        }
        if report.progress.already_enrolled > 0 {
            return Err(BenchError::Input(
                "the database already holds benchmark people; seed a fresh one".into(),
            ));
        }
        let (indexes, apps): (Vec<u64>, Vec<BulkApp>) = apps_for(&key_seed, from, letters.letters)?
            .into_iter()
            .unzip();
        let keys = sesam
            .activate_apps_in_bulk(&actor, apps)
            .await
            .map_err(BenchError::Server)?;
        for (index, key) in indexes.iter().zip(&keys) {
            pin_keys
                .write_all_at(key.expose_bytes(), index * 32)
                .map_err(|e| {
                    BenchError::Input(format!("cannot write {}: {e}", pin_keys_at.display()))
                })?;
        }
        pin_keys.sync_all().map_err(|e| {
            BenchError::Input(format!("cannot write {}: {e}", pin_keys_at.display()))
        })?;
        from = to;
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "seed: {from}/{} people with an active app ({:.0}/s)",
            args.people,
            from as f64 / secs.max(1e-9)
        );
    }
    let sp = sesam
        .add_service_provider(
            &actor,
            &AddServiceProvider {
                name: "sesam bench".into(),
                redirect_uris: vec![REDIRECT_URI.into()],
                national_id: false,
                require_par: false,
                ciba: false,
                jwks: None,
            },
        )
        .await
        .map_err(BenchError::Server)?;
    let manifest = Manifest {
        people: args.people,
        key_seed: hex::encode(key_seed),
        pin: population::PIN.into(),
        pin_keys_file,
        client_id: sp.record.client_id.clone(),
        client_secret: sp.client_secret.expose().to_owned(),
        redirect_uri: REDIRECT_URI.into(),
        pin_keys: Vec::new(),
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&args.manifest)
        .map_err(|e| {
            BenchError::Input(format!("cannot create {}: {e}", args.manifest.display()))
        })?;
    serde_json::to_writer_pretty(&mut file, &manifest)
        .map_err(|e| BenchError::Input(format!("cannot write the manifest: {e}")))?;
    Ok(manifest)
}
