//! Bulk enrolment from a JSON Lines file: one person per line, written in batches (as many
//! per transaction as the store's `enrol_batch_size`). Every line is checked like a single
//! enrolment; a bad line is reported with its number and the import goes on. A person
//! already enrolled (by national ID) is skipped, so an interrupted import is resumed by
//! running it again, and two imports of one file at once enrol everyone once.

use std::collections::{HashSet, VecDeque};
use std::io::BufRead;

use serde::Deserialize;
use serde_json::json;
use sesam_domain::{ActivationCode, ActivationGrant, AuditDraft};
use sesam_store::{BulkEnrolment, BulkOutcome};
use uuid::Uuid;

use super::Actor;
use super::identities::EnrolRequest;
use crate::context::Sesam;
use crate::error::AppError;

/// Longer lines are refused without being read into memory whole.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// One line of the file, as the registration system exports it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportLine {
    national_id: String,
    name: String,
    birthdate: String,
    phone: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    ial: Option<String>,
    #[serde(default)]
    language: Option<String>,
}

impl From<ImportLine> for EnrolRequest {
    fn from(l: ImportLine) -> Self {
        Self {
            national_id: l.national_id,
            name: l.name,
            birthdate: l.birthdate,
            phone: l.phone,
            email: l.email,
            user_id: l.user_id,
            ial: l.ial,
            language: l.language,
        }
    }
}

/// A line that was not imported, and why.
#[derive(Debug, Clone)]
pub struct LineError {
    pub line: u64,
    pub reason: String,
}

/// The activation letter of one newly enrolled person: the code exists only here.
#[derive(Debug)]
pub struct Letter {
    pub line: u64,
    pub identity_id: Uuid,
    pub national_id_masked: String,
    pub name: String,
    pub user_id: Option<String>,
    pub activation_code: ActivationCode,
    /// The first activation grant the code opens.
    pub grant: ActivationGrant,
}

/// Counts so far (for progress) and at the end (the summary).
#[derive(Debug, Clone, Default)]
pub struct ImportProgress {
    pub lines: u64,
    pub bytes: u64,
    pub enrolled: u64,
    pub already_enrolled: u64,
    pub refused: u64,
}

#[derive(Debug, Default)]
pub struct ImportReport {
    pub progress: ImportProgress,
    pub errors: Vec<LineError>,
}

/// Where an import reports to: letters for the print shop, refused lines, progress.
pub trait ImportSink {
    fn letters(&mut self, letters: Vec<Letter>) -> Result<(), AppError>;
    fn refused(&mut self, error: &LineError);
    fn progress(&mut self, progress: &ImportProgress);
}

/// Reads one line of at most [`MAX_LINE_BYTES`]; a longer line is consumed to its end and
/// returned as `Err(length)`. `Ok(None)` at the end of the input.
fn read_line(
    input: &mut dyn BufRead,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<Result<u64, u64>>> {
    buf.clear();
    let mut total = 0u64;
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Ok((total > 0).then(|| ok_if_short(total)));
        }
        let (taken, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if buf.len() < MAX_LINE_BYTES {
            let room = MAX_LINE_BYTES - buf.len();
            buf.extend_from_slice(&chunk[..taken.min(room + 1)]);
        }
        total += taken as u64;
        input.consume(taken);
        if done {
            return Ok(Some(ok_if_short(total)));
        }
    }
}

fn ok_if_short(total: u64) -> Result<u64, u64> {
    if total as usize > MAX_LINE_BYTES + 1 {
        Err(total)
    } else {
        Ok(total)
    }
}

/// The line's JSON, or why it cannot be read.
fn parse_line(bytes: &[u8]) -> Result<EnrolRequest, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("not UTF-8 (byte {})", e.valid_up_to() + 1))?;
    let text = text.strip_suffix('\n').unwrap_or(text);
    let text = text.strip_suffix('\r').unwrap_or(text);
    let line: ImportLine = serde_json::from_str(text).map_err(|e| {
        if e.is_eof() {
            "the line ends before its JSON object does (truncated?)".to_owned()
        } else {
            format!("not a person's JSON object: {e}")
        }
    })?;
    Ok(line.into())
}

/// Reads `input` as an import does, line by line, and checks every line (JSON and every
/// rule of an enrolment) without writing anything: `None` for a blank line that is
/// skipped. Pure, for the fuzz target `import_lines` and its replay test.
#[doc(hidden)]
pub fn check_lines(mut input: &[u8]) -> Vec<Option<Result<(), String>>> {
    let mut out = vec![];
    let mut buf = Vec::new();
    while let Ok(Some(read)) = read_line(&mut input, &mut buf) {
        out.push(match read {
            Err(len) => Some(Err(format!("the line is {len} bytes long"))),
            Ok(_) if buf.iter().all(u8::is_ascii_whitespace) => None,
            Ok(_) => Some(
                parse_line(&buf).and_then(|r| r.validate().map(drop).map_err(|e| e.to_string())),
            ),
        });
    }
    out
}

impl Sesam {
    /// Imports every person of `input`; see the module documentation.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn import_identities(
        &self,
        actor: &Actor,
        source: &str,
        input: &mut dyn BufRead,
        sink: &mut dyn ImportSink,
    ) -> Result<ImportReport, AppError> {
        let mut report = ImportReport::default();
        let mut buf = Vec::with_capacity(1024);
        let size = self.store.enrol_batch_size();
        let at_once = self.store.enrol_batches_at_once().max(1);
        let mut batch: Vec<(u64, BulkEnrolment, ActivationCode)> = Vec::with_capacity(size);
        // The batches being written, oldest first, while the next one is read and sealed.
        let mut writing: VecDeque<WrittenBatch> = VecDeque::with_capacity(at_once);
        let mut line_no = 0u64;
        loop {
            let read = read_line(input, &mut buf).map_err(|e| {
                AppError::BadInput(format!(
                    "cannot read {source} after line {line_no}: {e}; run the import again to go on"
                ))
            })?;
            let Some(read) = read else { break };
            line_no += 1;
            report.progress.lines = line_no;
            let request = match read {
                Err(len) => Err(format!(
                    "the line is {len} bytes long; at most {MAX_LINE_BYTES} are allowed"
                )),
                Ok(len) => {
                    report.progress.bytes += len;
                    if buf.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    parse_line(&buf)
                }
            };
            if let Err(len) = read {
                report.progress.bytes += len;
            }
            let prepared = request.and_then(|r| r.validate().map_err(|e| e.to_string()));
            match prepared {
                Ok(enrolment) => {
                    let origin = json!({ "source": source, "line": line_no });
                    let p = self.prepare_enrolment(actor, enrolment, Some(origin));
                    let item = BulkEnrolment {
                        identity: p.identity,
                        grant: p.grant,
                        audit: p.audit,
                    };
                    batch.push((line_no, item, p.activation_code));
                }
                Err(reason) => refuse(&mut report, sink, line_no, reason),
            }
            if batch.len() >= size {
                let next = std::mem::take(&mut batch);
                self.write_batch(next, &mut writing, at_once, &mut report, sink)
                    .await?;
            }
        }
        if !batch.is_empty() {
            self.write_batch(batch, &mut writing, at_once, &mut report, sink)
                .await?;
        }
        while !writing.is_empty() {
            settle_oldest(&mut writing, &mut report, sink).await?;
        }
        let p = &report.progress;
        let audit =
            AuditDraft::new(actor.audit_name(), "identity.import_finished").details(json!({
                "source": source,
                "lines": p.lines,
                "enrolled": p.enrolled,
                "already_enrolled": p.already_enrolled,
                "refused": p.refused,
            }));
        self.store.append_audit(self.clock.now(), &audit).await?;
        // Store refusals arrive a batch after the line's own errors.
        report.errors.sort_by_key(|e| e.line);
        Ok(report)
    }

    /// Starts writing `batch` in its own task once there is room for it: fewer than
    /// `at_once` batches in flight, and none of them with a person or a user ID of
    /// `batch`. Batches in flight commit in any order, so without the second rule a person
    /// listed twice, or a user ID asked for twice, could go to the later line; this way
    /// the earlier line wins, as when batches are written one at a time.
    async fn write_batch(
        &self,
        batch: Vec<(u64, BulkEnrolment, ActivationCode)>,
        writing: &mut VecDeque<WrittenBatch>,
        at_once: usize,
        report: &mut ImportReport,
        sink: &mut dyn ImportSink,
    ) -> Result<(), AppError> {
        // One at a time, the batch in flight is settled before the next starts anyway.
        let people = if at_once > 1 {
            BatchPeople::of(&batch)
        } else {
            BatchPeople::default()
        };
        while writing.len() >= at_once || writing.iter().any(|w| w.people.overlap(&people)) {
            settle_oldest(writing, report, sink).await?;
        }
        let store = self.store.clone();
        let task = tokio::spawn(async move {
            let (meta, items): (Vec<(u64, ActivationCode)>, Vec<BulkEnrolment>) = batch
                .into_iter()
                .map(|(line, item, code)| ((line, code), item))
                .unzip();
            let outcomes = store.enrol_many(&items).await;
            (meta, items, outcomes)
        });
        writing.push_back(WrittenBatch { people, task });
        Ok(())
    }
}

type BatchResult = (
    Vec<(u64, ActivationCode)>,
    Vec<BulkEnrolment>,
    Result<Vec<BulkOutcome>, sesam_store::StoreError>,
);

struct WrittenBatch {
    people: BatchPeople,
    task: tokio::task::JoinHandle<BatchResult>,
}

/// Whom a batch enrols, by national ID and user-ID key.
#[derive(Default)]
struct BatchPeople {
    national_ids: HashSet<[u8; 32]>,
    user_ids: HashSet<String>,
}

impl BatchPeople {
    fn of(batch: &[(u64, BulkEnrolment, ActivationCode)]) -> Self {
        let identities = batch.iter().map(|(_, item, _)| &item.identity);
        Self {
            national_ids: identities.clone().map(|i| i.national_id_index).collect(),
            user_ids: identities
                .filter_map(|i| i.enrolment.user_id.as_ref())
                .map(|u| u.key().as_str().to_owned())
                .collect(),
        }
    }

    fn overlap(&self, other: &Self) -> bool {
        !self.national_ids.is_disjoint(&other.national_ids)
            || !self.user_ids.is_disjoint(&other.user_ids)
    }
}

impl WrittenBatch {
    async fn await_outcomes(self) -> Result<BatchResult, AppError> {
        self.task.await.map_err(|source| AppError::WorkerStopped {
            what: "the import's writer",
            source,
        })
    }
}

/// Settles the oldest batch in flight. If it failed, the batches after it are still
/// awaited and settled before the error is returned: one that committed has enrolled its
/// people, and their letters must be written, or a second run would skip them as
/// enrolled and nobody would have their activation codes.
async fn settle_oldest(
    writing: &mut VecDeque<WrittenBatch>,
    report: &mut ImportReport,
    sink: &mut dyn ImportSink,
) -> Result<(), AppError> {
    let Some(oldest) = writing.pop_front() else {
        return Ok(());
    };
    let first = oldest
        .await_outcomes()
        .await
        .and_then(|written| settle(written, report, sink));
    if first.is_err() {
        while let Some(later) = writing.pop_front() {
            if let Err(e) = later
                .await_outcomes()
                .await
                .and_then(|written| settle(written, report, sink))
            {
                tracing::error!(error = %e, "a later batch of the import failed too");
            }
        }
    }
    first
}

/// Records what became of a written batch: letters for the enrolled, errors for the rest.
fn settle(
    (meta, items, outcomes): BatchResult,
    report: &mut ImportReport,
    sink: &mut dyn ImportSink,
) -> Result<(), AppError> {
    let outcomes = outcomes.map_err(|source| AppError::ImportInterrupted {
        first_line: meta.first().map_or(0, |m| m.0),
        last_line: meta.last().map_or(0, |m| m.0),
        source,
    })?;
    let mut letters = Vec::new();
    for (((line, code), item), outcome) in meta.into_iter().zip(items).zip(outcomes) {
        match outcome {
            BulkOutcome::Enrolled => {
                report.progress.enrolled += 1;
                let e = item.identity.enrolment;
                letters.push(Letter {
                    line,
                    identity_id: item.identity.id,
                    national_id_masked: e.national_id.masked(),
                    name: e.name.as_str().to_owned(),
                    user_id: e.user_id.map(|u| u.as_str().to_owned()),
                    activation_code: code,
                    grant: item.grant,
                });
            }
            BulkOutcome::AlreadyEnrolled => report.progress.already_enrolled += 1,
            BulkOutcome::Refused(e) => refuse(report, sink, line, e.to_string()),
        }
    }
    sink.letters(letters)?;
    sink.progress(&report.progress);
    Ok(())
}

fn refuse(report: &mut ImportReport, sink: &mut dyn ImportSink, line: u64, reason: String) {
    let error = LineError { line, reason };
    report.progress.refused += 1;
    sink.refused(&error);
    // The summary keeps the first errors; the sink has seen them all.
    if report.errors.len() < 1000 {
        report.errors.push(error);
    }
}
