//! `sesam admin identity import`: the file, the letters file, progress on the terminal (a
//! bar) or in logs (a plain line every few seconds), refused lines on stderr, a summary.

use std::io::{BufReader, IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::admin::{AdminError, Output};
use sesam_core::context::Sesam;
use sesam_core::error::AppError;
use sesam_core::services::Actor;
use sesam_core::services::import::{ImportProgress, ImportSink, Letter, LineError};

/// Progress lines when stderr is not a terminal, at most this often.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(5);

struct CliSink {
    letters: std::io::BufWriter<std::fs::File>,
    letters_path: String,
    bar: Option<ProgressBar>,
    last_plain: Instant,
    total_bytes: u64,
}

impl CliSink {
    fn say(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }
}

impl ImportSink for CliSink {
    fn letters(&mut self, letters: Vec<Letter>) -> Result<(), AppError> {
        let io = |source: std::io::Error| AppError::LettersNotWritten {
            path: self.letters_path.clone(),
            source,
        };
        for l in letters {
            let line = json!({
                "line": l.line,
                "identity_id": l.identity_id,
                "national_id": l.national_id_masked,
                "name": l.name,
                "user_id": l.user_id,
                "activation_code": l.activation_code.grouped(),
                "expires_at": l.grant.expires_at.to_rfc3339(),
            });
            writeln!(self.letters, "{line}").map_err(io)?;
        }
        // Flushed with each batch: an interrupted import loses no letter it committed.
        self.letters.flush().map_err(io)?;
        self.letters.get_ref().sync_data().map_err(io)
    }

    fn refused(&mut self, error: &LineError) {
        self.say(&format!("line {}: {}", error.line, error.reason));
    }

    fn progress(&mut self, p: &ImportProgress) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(p.bytes);
                bar.set_message(format!(
                    "{} enrolled, {} already, {} refused",
                    p.enrolled, p.already_enrolled, p.refused
                ));
            }
            None if self.last_plain.elapsed() >= PLAIN_PROGRESS_EVERY => {
                self.last_plain = Instant::now();
                let percent = (p.bytes * 100).checked_div(self.total_bytes).unwrap_or(100);
                eprintln!(
                    "import: {percent}% · line {} · {} enrolled, {} already enrolled, {} refused",
                    p.lines, p.enrolled, p.already_enrolled, p.refused
                );
            }
            None => {}
        }
    }
}

pub async fn import(
    sesam: &Sesam,
    actor: &Actor,
    file: &Path,
    letters: &Path,
) -> Result<Output, AdminError> {
    let input = std::fs::File::open(file).map_err(|source| AppError::Io {
        what: format!("cannot open {}", file.display()),
        source,
    })?;
    let total_bytes = input.metadata().map(|m| m.len()).unwrap_or(0);
    let letters_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(letters)
        .map_err(|source| AppError::Io {
            what: format!("cannot open the letters file {}", letters.display()),
            source,
        })?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(total_bytes);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({eta}) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let mut sink = CliSink {
        letters: std::io::BufWriter::new(letters_file),
        letters_path: letters.display().to_string(),
        bar,
        last_plain: Instant::now(),
        total_bytes,
    };
    let started = Instant::now();
    let source = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut reader = BufReader::with_capacity(256 * 1024, input);
    let result = sesam
        .import_identities(actor, &source, &mut reader, &mut sink)
        .await;
    if let Some(bar) = &sink.bar {
        bar.finish_and_clear();
    }
    let report = result?;
    let p = &report.progress;
    let seconds = started.elapsed().as_secs_f64();
    let rate = if seconds > 0.0 {
        p.enrolled as f64 / seconds
    } else {
        0.0
    };
    let out = Output {
        json: json!({
            "lines": p.lines,
            "enrolled": p.enrolled,
            "already_enrolled": p.already_enrolled,
            "refused": p.refused,
            "errors": report.errors.iter().map(|e| json!({"line": e.line, "reason": e.reason})).collect::<Vec<_>>(),
            "seconds": (seconds * 1000.0).round() / 1000.0,
            "letters": letters.display().to_string(),
        }),
        text: format!(
            "{} lines: {} enrolled, {} already enrolled (skipped), {} refused, in {:.1} s ({:.0} per second).\nActivation letters: {}",
            p.lines,
            p.enrolled,
            p.already_enrolled,
            p.refused,
            seconds,
            rate,
            letters.display()
        ),
    };
    if p.refused == 0 {
        Ok(out)
    } else {
        let summary = format!(
            "{} line(s) were refused (see the line numbers above); the others were imported",
            p.refused
        );
        Err(AdminError::PartlyDone {
            report: Box::new(out),
            summary,
        })
    }
}
