//! The audit log's hash chain.
//!
//! Entry *n* carries `hash_n = HMAC(k_audit, encode(n, time, actor, action, subject, reason,
//! details, hash_{n-1}))`. The key is derived from the master key, so someone who can write
//! to the database but does not hold the master key cannot recompute a consistent chain.
//! The chain's head (last sequence number and hash) is kept separately, so truncating the
//! tail is detected as well.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::clock::Timestamp;
use crate::secrets::{SecretKeys, ct_eq, hmac_sha256};

pub const GENESIS_HASH: [u8; 32] = [0u8; 32];

/// An entry as written by the change it records, before the sequencer gives it its place
/// in the chain: the details already serialised, so chaining hashes exactly what was
/// stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnchainedEntry {
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
    pub reason: Option<String>,
    pub details: String,
}

impl UnchainedEntry {
    pub fn new(at: Timestamp, draft: &AuditDraft) -> Self {
        Self {
            at,
            actor: draft.actor.clone(),
            action: draft.action.clone(),
            subject: draft.subject.clone(),
            reason: draft.reason.clone(),
            details: draft.details.to_string(),
        }
    }
}

/// An event to be appended: everything but its position in the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditDraft {
    /// Who did it: `operator:<name>`, `person:<identity id>`, `sp:<client id>` or `system`.
    pub actor: String,
    /// What happened, dotted: `identity.enrolled`, `identity.suspended`, …
    pub action: String,
    /// What it happened to (an identity id, a client id), if anything.
    pub subject: Option<String>,
    /// Why, when the action needs a reason.
    pub reason: Option<String>,
    /// Further facts. Never a secret, never a full national ID number.
    pub details: Value,
}

impl AuditDraft {
    pub fn new(actor: impl Into<String>, action: &str) -> Self {
        Self {
            actor: actor.into(),
            action: action.to_owned(),
            subject: None,
            reason: None,
            details: Value::Object(Default::default()),
        }
    }

    pub fn subject(mut self, s: impl Into<String>) -> Self {
        self.subject = Some(s.into());
        self
    }

    pub fn reason(mut self, r: Option<String>) -> Self {
        self.reason = r;
        self
    }

    pub fn details(mut self, d: Value) -> Self {
        self.details = d;
        self
    }
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
    pub reason: Option<String>,
    /// The details as stored (canonical JSON text), since the hash covers these exact bytes.
    pub details: String,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// The last link of the chain, stored apart from the entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    pub seq: i64,
    pub hash: [u8; 32],
}

impl ChainHead {
    pub const EMPTY: Self = Self {
        seq: 0,
        hash: GENESIS_HASH,
    };
}

/// The audit chain's key.
#[derive(Clone)]
pub struct AuditKey([u8; 32]);

impl From<&SecretKeys> for AuditKey {
    fn from(k: &SecretKeys) -> Self {
        Self(k.audit_key())
    }
}

impl AuditKey {
    #[allow(clippy::too_many_arguments)]
    fn link(
        &self,
        seq: i64,
        at: Timestamp,
        actor: &str,
        action: &str,
        subject: Option<&str>,
        reason: Option<&str>,
        details: &str,
        prev: &[u8; 32],
    ) -> [u8; 32] {
        let opt = |o: Option<&str>| match o {
            Some(s) => [&[1u8][..], s.as_bytes()].concat(),
            None => vec![0u8],
        };
        hmac_sha256(
            &self.0,
            &[
                b"sesam-audit-v1",
                &seq.to_be_bytes(),
                &at.millis().to_be_bytes(),
                actor.as_bytes(),
                action.as_bytes(),
                &opt(subject),
                &opt(reason),
                details.as_bytes(),
                prev,
            ],
        )
    }

    /// Builds the entry that follows `head`.
    pub fn seal(&self, head: ChainHead, at: Timestamp, draft: &AuditDraft) -> AuditEntry {
        self.chain(head, UnchainedEntry::new(at, draft))
    }

    /// Links an entry that was written unchained to the entry at `head`.
    pub fn chain(&self, head: ChainHead, e: UnchainedEntry) -> AuditEntry {
        let seq = head.seq + 1;
        let hash = self.link(
            seq,
            e.at,
            &e.actor,
            &e.action,
            e.subject.as_deref(),
            e.reason.as_deref(),
            &e.details,
            &head.hash,
        );
        AuditEntry {
            seq,
            at: e.at,
            actor: e.actor,
            action: e.action,
            subject: e.subject,
            reason: e.reason,
            details: e.details,
            prev_hash: head.hash,
            hash,
        }
    }

    /// Starts a verification walk from the beginning of the chain.
    pub fn verifier(&self) -> ChainVerifier<'_> {
        ChainVerifier {
            key: self,
            expected: ChainHead::EMPTY,
        }
    }
}

/// What is wrong with the chain, at the first entry where it goes wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuditChainError {
    #[error(
        "entry {found}: expected sequence number {expected}; an entry was removed, inserted or renumbered"
    )]
    Gap { expected: i64, found: i64 },
    #[error(
        "entry {seq}: does not link to the entry before it; entries were removed, inserted or reordered"
    )]
    BrokenLink { seq: i64 },
    #[error("entry {seq}: its content does not match its hash; the entry was edited")]
    Altered { seq: i64 },
    #[error(
        "the chain ends at entry {last} but its recorded head is entry {head}; entries at the end were removed or added"
    )]
    HeadMismatch { last: i64, head: i64 },
}

impl AuditChainError {
    /// The sequence number of the first bad entry.
    pub fn seq(&self) -> i64 {
        match *self {
            Self::Gap { found, .. } => found,
            Self::BrokenLink { seq } | Self::Altered { seq } => seq,
            Self::HeadMismatch { last, head } => last.min(head) + 1,
        }
    }
}

/// Walks the chain entry by entry in sequence order, so any length can be verified in
/// constant memory.
pub struct ChainVerifier<'k> {
    key: &'k AuditKey,
    expected: ChainHead,
}

impl ChainVerifier<'_> {
    pub fn push(&mut self, e: &AuditEntry) -> Result<(), AuditChainError> {
        let expected_seq = self.expected.seq + 1;
        if e.seq != expected_seq {
            return Err(AuditChainError::Gap {
                expected: expected_seq,
                found: e.seq,
            });
        }
        if !ct_eq(&e.prev_hash, &self.expected.hash) {
            return Err(AuditChainError::BrokenLink { seq: e.seq });
        }
        let recomputed = self.key.link(
            e.seq,
            e.at,
            &e.actor,
            &e.action,
            e.subject.as_deref(),
            e.reason.as_deref(),
            &e.details,
            &e.prev_hash,
        );
        if !ct_eq(&recomputed, &e.hash) {
            return Err(AuditChainError::Altered { seq: e.seq });
        }
        self.expected = ChainHead {
            seq: e.seq,
            hash: e.hash,
        };
        Ok(())
    }

    /// Compares the end of the walk with the stored head; returns the number of entries.
    pub fn finish(self, head: ChainHead) -> Result<i64, AuditChainError> {
        if self.expected.seq != head.seq || !ct_eq(&self.expected.hash, &head.hash) {
            return Err(AuditChainError::HeadMismatch {
                last: self.expected.seq,
                head: head.seq,
            });
        }
        Ok(self.expected.seq)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::secrets::MasterKey;

    fn key() -> AuditKey {
        AuditKey::from(&MasterKey::from_hex(&"33".repeat(32)).unwrap().keys())
    }

    fn chain(n: i64) -> (Vec<AuditEntry>, ChainHead) {
        let k = key();
        let mut head = ChainHead::EMPTY;
        let mut out = vec![];
        for i in 0..n {
            let d = AuditDraft::new("operator:alice", "identity.enrolled")
                .subject(format!("id-{i}"))
                .details(json!({ "i": i }));
            let e = k.seal(head, Timestamp::from_millis(1000 + i), &d);
            head = ChainHead {
                seq: e.seq,
                hash: e.hash,
            };
            out.push(e);
        }
        (out, head)
    }

    fn verify(entries: &[AuditEntry], head: ChainHead) -> Result<i64, AuditChainError> {
        let k = key();
        let mut v = k.verifier();
        for e in entries {
            v.push(e)?;
        }
        v.finish(head)
    }

    #[test]
    fn intact_chain_verifies() {
        let (c, h) = chain(5);
        assert_eq!(verify(&c, h), Ok(5));
        assert_eq!(verify(&[], ChainHead::EMPTY), Ok(0));
    }

    #[test]
    fn edit_is_found_at_the_edited_entry() {
        let (mut c, h) = chain(5);
        c[2].details = r#"{"i":99}"#.into();
        assert_eq!(verify(&c, h), Err(AuditChainError::Altered { seq: 3 }));
        let (mut c, h) = chain(5);
        c[1].reason = Some("cover-up".into());
        assert_eq!(verify(&c, h).unwrap_err().seq(), 2);
    }

    #[test]
    fn removal_insertion_and_reordering_are_found() {
        let (c, h) = chain(5);
        let mut removed = c.clone();
        removed.remove(2);
        assert_eq!(
            verify(&removed, h),
            Err(AuditChainError::Gap {
                expected: 3,
                found: 4
            })
        );

        let mut truncated = c.clone();
        truncated.pop();
        assert_eq!(
            verify(&truncated, h),
            Err(AuditChainError::HeadMismatch { last: 4, head: 5 })
        );

        let mut reordered = c.clone();
        reordered.swap(1, 2);
        let (a, b) = (reordered[1].seq, reordered[2].seq);
        reordered[1].seq = b;
        reordered[2].seq = a;
        assert!(verify(&reordered, h).is_err());

        let forged = key().seal(
            ChainHead {
                seq: 2,
                hash: c[1].hash,
            },
            Timestamp::from_millis(5),
            &AuditDraft::new("x", "y"),
        );
        let mut inserted = c.clone();
        inserted.insert(2, forged);
        for (i, e) in inserted.iter_mut().enumerate().skip(3) {
            e.seq = i as i64 + 1;
        }
        assert_eq!(verify(&inserted, h).unwrap_err().seq(), 4);
    }

    #[test]
    fn another_key_cannot_forge() {
        let (c, h) = chain(2);
        let other = AuditKey::from(&MasterKey::from_hex(&"44".repeat(32)).unwrap().keys());
        let mut v = other.verifier();
        assert_eq!(v.push(&c[0]), Err(AuditChainError::Altered { seq: 1 }));
        let _ = h;
    }
}
