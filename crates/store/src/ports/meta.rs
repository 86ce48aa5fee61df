//! Small key-value settings kept with the data.

use async_trait::async_trait;

use crate::StoreError;

#[async_trait]
pub trait MetaStore: Send + Sync {
    /// Stores `value` under `key` unless a value is there already; returns the stored value.
    async fn meta_get_or_init(&self, key: &str, value: &[u8]) -> Result<Vec<u8>, StoreError>;

    /// Stores `value` under `key`, replacing what was there.
    async fn meta_set(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;

    /// Reads a value, if any.
    async fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// A trivial query, for readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;
}
