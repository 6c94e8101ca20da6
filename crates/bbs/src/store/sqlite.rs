//! The SQLite store: the only code that contains SQL. Write transactions begin IMMEDIATE so two
//! writers never deadlock upgrading a read lock.

use async_trait::async_trait;
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{Row, Sqlite, Transaction};

use super::Store;
use crate::error::Error;
use crate::models::{
    ActualLrp, ActualLrpEvent, ActualLrpFilter, ActualLrpInstanceKey, ActualLrpKey, DesiredLrp,
    DesiredLrpFilter, DesiredLrpUpdate, Domain, Nanos, NetInfo, Task, TaskEvent, TaskFilter,
    TransitionContext, transition_actual_lrp, transition_task,
};

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Wraps an open, migrated pool.
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    async fn write(&self) -> Result<Transaction<'static, Sqlite>, Error> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

fn decode<T: serde::de::DeserializeOwned>(row: &SqliteRow) -> Result<T, Error> {
    let data: String = row.try_get("data")?;
    Ok(serde_json::from_str(&data)?)
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

// ----- impl SqliteStore: row helpers -----

async fn load_desired<'e>(
    executor: impl sqlx::Executor<'e, Database = Sqlite>,
    process_guid: &str,
) -> Result<DesiredLrp, Error> {
    let row = sqlx::query("SELECT data FROM desired_lrps WHERE process_guid = ?")
        .bind(process_guid)
        .fetch_optional(executor)
        .await?
        .ok_or_else(|| Error::not_found("desired LRP", process_guid))?;
    decode(&row)
}

async fn load_actual(
    tx: &mut Transaction<'static, Sqlite>,
    process_guid: &str,
    index: u32,
) -> Result<Option<ActualLrp>, Error> {
    let row =
        sqlx::query("SELECT data FROM actual_lrps WHERE process_guid = ? AND instance_index = ?")
            .bind(process_guid)
            .bind(index)
            .fetch_optional(&mut **tx)
            .await?;
    row.as_ref().map(decode).transpose()
}

async fn save_actual(tx: &mut Transaction<'static, Sqlite>, lrp: &ActualLrp) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO actual_lrps (process_guid, instance_index, domain, state, cell_id, data)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (process_guid, instance_index) DO UPDATE SET
           domain = excluded.domain, state = excluded.state,
           cell_id = excluded.cell_id, data = excluded.data",
    )
    .bind(&lrp.process_guid)
    .bind(lrp.index)
    .bind(&lrp.domain)
    .bind(lrp.state.as_str())
    .bind(&lrp.cell_id)
    .bind(serde_json::to_string(lrp)?)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn load_task(tx: &mut Transaction<'static, Sqlite>, task_guid: &str) -> Result<Task, Error> {
    let row = sqlx::query("SELECT data FROM tasks WHERE task_guid = ?")
        .bind(task_guid)
        .fetch_optional(&mut **tx)
        .await?;
    match row {
        Some(row) => decode(&row),
        None => Err(Error::not_found("task", task_guid)),
    }
}

async fn save_task(tx: &mut Transaction<'static, Sqlite>, task: &Task) -> Result<(), Error> {
    sqlx::query("UPDATE tasks SET state = ?, cell_id = ?, data = ? WHERE task_guid = ?")
        .bind(task.state.as_str())
        .bind(&task.cell_id)
        .bind(serde_json::to_string(task)?)
        .bind(&task.task_guid)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn delete_task(tx: &mut Transaction<'static, Sqlite>, task_guid: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM tasks WHERE task_guid = ?")
        .bind(task_guid)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    // ----- domains -----

    async fn upsert_domain(&self, name: &str, expires_at: Option<Nanos>) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO domains (name, expires_at) VALUES (?, ?)
             ON CONFLICT (name) DO UPDATE SET expires_at = excluded.expires_at",
        )
        .bind(name)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn domains(&self) -> Result<Vec<Domain>, Error> {
        let rows = sqlx::query("SELECT name, expires_at FROM domains ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Domain {
                    name: row.try_get("name")?,
                    expires_at: row.try_get("expires_at")?,
                })
            })
            .collect()
    }

    // ----- desired LRPs -----

    async fn desire_lrp(&self, lrp: &DesiredLrp, actuals: &[ActualLrp]) -> Result<(), Error> {
        let mut tx = self.write().await?;
        let inserted =
            sqlx::query("INSERT INTO desired_lrps (process_guid, domain, data) VALUES (?, ?, ?)")
                .bind(&lrp.process_guid)
                .bind(&lrp.domain)
                .bind(serde_json::to_string(lrp)?)
                .execute(&mut *tx)
                .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::conflict(format!(
                    "desired LRP {} already exists",
                    lrp.process_guid
                )));
            }
            other => other?,
        };
        for actual in actuals {
            // Leftover instances of an earlier LRP with this guid are replaced.
            save_actual(&mut tx, actual).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn update_desired_lrp(
        &self,
        process_guid: &str,
        update: &DesiredLrpUpdate,
    ) -> Result<(DesiredLrp, DesiredLrp), Error> {
        let mut tx = self.write().await?;
        let before = load_desired(&mut *tx, process_guid).await?;
        let mut after = before.clone();
        after.apply(update);
        sqlx::query("UPDATE desired_lrps SET data = ? WHERE process_guid = ?")
            .bind(serde_json::to_string(&after)?)
            .bind(process_guid)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((before, after))
    }

    async fn remove_desired_lrp(&self, process_guid: &str) -> Result<DesiredLrp, Error> {
        let mut tx = self.write().await?;
        let before = load_desired(&mut *tx, process_guid).await?;
        sqlx::query("DELETE FROM desired_lrps WHERE process_guid = ?")
            .bind(process_guid)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(before)
    }

    async fn desired_lrps(&self, filter: &DesiredLrpFilter) -> Result<Vec<DesiredLrp>, Error> {
        let rows = sqlx::query(
            "SELECT data FROM desired_lrps WHERE (? = '' OR domain = ?) ORDER BY process_guid",
        )
        .bind(&filter.domain)
        .bind(&filter.domain)
        .fetch_all(&self.pool)
        .await?;
        let lrps: Vec<DesiredLrp> = rows.iter().map(decode).collect::<Result<_, _>>()?;
        Ok(lrps.into_iter().filter(|l| filter.matches(l)).collect())
    }

    async fn desired_lrp(&self, process_guid: &str) -> Result<DesiredLrp, Error> {
        load_desired(&self.pool, process_guid).await
    }

    // ----- actual LRPs -----

    async fn actual_lrps(&self, filter: &ActualLrpFilter) -> Result<Vec<ActualLrp>, Error> {
        let rows = sqlx::query(
            "SELECT data FROM actual_lrps
             WHERE (? = '' OR domain = ?) AND (? = '' OR cell_id = ?)
               AND (? = '' OR process_guid = ?) AND (? IS NULL OR instance_index = ?)
             ORDER BY process_guid, instance_index",
        )
        .bind(&filter.domain)
        .bind(&filter.domain)
        .bind(&filter.cell_id)
        .bind(&filter.cell_id)
        .bind(&filter.process_guid)
        .bind(&filter.process_guid)
        .bind(filter.index)
        .bind(filter.index)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode).collect()
    }

    async fn actual_lrp(&self, process_guid: &str, index: u32) -> Result<ActualLrp, Error> {
        let row = sqlx::query(
            "SELECT data FROM actual_lrps WHERE process_guid = ? AND instance_index = ?",
        )
        .bind(process_guid)
        .bind(index)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found("actual LRP", format!("{process_guid}/{index}")))?;
        decode(&row)
    }

    async fn create_unclaimed_actual_lrp(&self, lrp: &ActualLrp) -> Result<(), Error> {
        let mut tx = self.write().await?;
        if load_actual(&mut tx, &lrp.process_guid, lrp.index)
            .await?
            .is_some()
        {
            return Err(Error::conflict(format!(
                "actual LRP {}/{} already exists",
                lrp.process_guid, lrp.index
            )));
        }
        save_actual(&mut tx, lrp).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn change_actual_lrp(
        &self,
        key: &ActualLrpKey,
        event: &ActualLrpEvent,
        ctx: &TransitionContext,
    ) -> Result<(ActualLrp, ActualLrp), Error> {
        let mut tx = self.write().await?;
        let before = load_actual(&mut tx, &key.process_guid, key.index)
            .await?
            .ok_or_else(|| Error::not_found("actual LRP", key))?;
        let after = transition_actual_lrp(&before, event, ctx)?;
        if matches!(event, ActualLrpEvent::Remove(_)) {
            sqlx::query("DELETE FROM actual_lrps WHERE process_guid = ? AND instance_index = ?")
                .bind(&key.process_guid)
                .bind(key.index)
                .execute(&mut *tx)
                .await?;
        } else if after != before {
            save_actual(&mut tx, &after).await?;
        }
        tx.commit().await?;
        Ok((before, after))
    }

    async fn start_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        net_info: &NetInfo,
        epoch: &str,
        ctx: &TransitionContext,
    ) -> Result<(Option<ActualLrp>, ActualLrp), Error> {
        let mut tx = self.write().await?;
        let before = load_actual(&mut tx, &key.process_guid, key.index).await?;
        let base = before
            .clone()
            .unwrap_or_else(|| ActualLrp::unclaimed(key, epoch, ctx.now));
        let event = ActualLrpEvent::Start(instance.clone(), net_info.clone());
        let after = transition_actual_lrp(&base, &event, ctx)?;
        if before.as_ref() != Some(&after) {
            save_actual(&mut tx, &after).await?;
        }
        tx.commit().await?;
        Ok((before, after))
    }

    // ----- tasks -----

    async fn desire_task(&self, task: &Task) -> Result<(), Error> {
        let inserted = sqlx::query(
            "INSERT INTO tasks (task_guid, domain, state, cell_id, created_at, data)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&task.task_guid)
        .bind(&task.domain)
        .bind(task.state.as_str())
        .bind(&task.cell_id)
        .bind(task.created_at)
        .bind(serde_json::to_string(task)?)
        .execute(&self.pool)
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => Err(Error::conflict(format!(
                "task {} already exists",
                task.task_guid
            ))),
            other => other.map(|_| ()).map_err(Error::from),
        }
    }

    async fn tasks(&self, filter: &TaskFilter) -> Result<Vec<Task>, Error> {
        let rows = sqlx::query(
            "SELECT data FROM tasks WHERE (? = '' OR domain = ?) AND (? = '' OR cell_id = ?)
             ORDER BY created_at, task_guid",
        )
        .bind(&filter.domain)
        .bind(&filter.domain)
        .bind(&filter.cell_id)
        .bind(&filter.cell_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode).collect()
    }

    async fn task(&self, task_guid: &str) -> Result<Task, Error> {
        let row = sqlx::query("SELECT data FROM tasks WHERE task_guid = ?")
            .bind(task_guid)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("task", task_guid))?;
        decode(&row)
    }

    async fn change_task(
        &self,
        task_guid: &str,
        event: &TaskEvent,
        now: Nanos,
    ) -> Result<(Task, Task), Error> {
        let mut tx = self.write().await?;
        let before = load_task(&mut tx, task_guid).await?;
        let after = transition_task(&before, event, now)?;
        if matches!(event, TaskEvent::Resolve) {
            delete_task(&mut tx, task_guid).await?;
        } else if after != before {
            save_task(&mut tx, &after).await?;
        }
        tx.commit().await?;
        Ok((before, after))
    }

    async fn remove_task(&self, task_guid: &str) -> Result<Task, Error> {
        let mut tx = self.write().await?;
        let before = load_task(&mut tx, task_guid).await?;
        delete_task(&mut tx, task_guid).await?;
        tx.commit().await?;
        Ok(before)
    }
}
