//! Key/value facts about the database itself (e.g. the master-key check value).

use super::db;
use super::db::RowExt as _;
use async_trait::async_trait;

use super::dialect;
use super::store::SqlStore;
use crate::{MetaStore, StoreError};

#[async_trait]
impl MetaStore for SqlStore {
    async fn meta_get_or_init(&self, key: &str, value: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        db::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        let row = db::query("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row.try_get("value")?)
    }

    async fn meta_set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        db::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2")
            .bind(key)
            .bind(value)
            .execute(dialect::one_statement_unit(&self.pool))
            .await?;
        Ok(())
    }

    async fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = db::query("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.read_pool)
            .await?;
        Ok(row.map(|r| r.try_get("value")).transpose()?)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        db::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
