//! Verifying the audit chain from the first entry to the recorded head.

use sesam_domain::AuditKey;

use crate::context::Sesam;
use crate::error::AppError;

const PAGE: i64 = 1000;

/// A successful verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    pub entries: i64,
    /// The head hash (hex): publish or store it elsewhere to anchor the chain externally.
    pub head_hash: String,
}

impl Sesam {
    /// Walks the whole chain in pages; the first bad entry is reported as the error.
    ///
    /// A running server may append while this walks, so the head is re-read whenever the
    /// walk passes it; only entries beyond a freshly read head count as tampering.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn verify_audit(&self) -> Result<AuditReport, AppError> {
        let key = AuditKey::from(&*self.keys);
        let mut head = self.store.audit_head().await?;
        let mut verifier = key.verifier();
        let mut pos = 0;
        let mut refreshed_at_end = false;
        loop {
            let page = self.store.audit_entries(pos, PAGE).await?;
            if page.is_empty() {
                if refreshed_at_end {
                    break;
                }
                head = self.store.audit_head().await?;
                refreshed_at_end = true;
                continue;
            }
            refreshed_at_end = false;
            for e in &page {
                if e.seq > head.seq {
                    head = self.store.audit_head().await?;
                    if e.seq > head.seq {
                        return Err(sesam_domain::AuditChainError::HeadMismatch {
                            last: e.seq,
                            head: head.seq,
                        }
                        .into());
                    }
                }
                verifier.push(e)?;
                pos = e.seq;
            }
        }
        let entries = verifier.finish(head)?;
        Ok(AuditReport {
            entries,
            head_hash: hex_string(&head.hash),
        })
    }
}

fn hex_string(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
