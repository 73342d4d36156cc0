//! Channel (b): one Redis stream per department, `{prefix}:{dept}:stream:<department id>`. A
//! worker on each replica leases outbox rows, adds each to its department's stream and marks it
//! streamed. Departments read with consumer groups (XREADGROUP, XACK after processing, XAUTOCLAIM
//! for what a crashed consumer left pending) and drop entries whose `key` they already processed:
//! delivery is at least once.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use diesel::prelude::*;

use crate::config::DepartmentSettings;
use crate::db::schema::department_deliveries as dd;
use crate::db::types::{JsonValue, UtcTime};
use crate::db::{backend, Db};
use crate::error::AppError;

/// How long a replica holds the rows it publishes; another replica retries them after that.
const LEASE_SECS: i64 = 60;
/// How long Redis remembers a key as added, far longer than any lease: a retry after a crash
/// between XADD and the database update finds the entry instead of adding a second one.
const SENT_TTL_SECS: u64 = 7 * 24 * 3600;
const BATCH: i64 = 100;

/// Adds the entry unless the key was already added (then returns the first entry's id). Both
/// keys share the `{dept}` hash tag, so this also runs on Redis Cluster.
const PUBLISH: &str = r"
local added = redis.call('GET', KEYS[2])
if added then return added end
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
redis.call('SET', KEYS[2], id, 'EX', tonumber(ARGV[1]))
return id
";

/// The stream of department `department`.
pub fn stream_key(prefix: &str, department: i64) -> String {
    format!("{prefix}:{{dept}}:stream:{department}")
}

fn sent_key(prefix: &str, key: &str) -> String {
    format!("{prefix}:{{dept}}:sent:{key}")
}

type Row = (i64, i64, String, String, i64, String, JsonValue);

/// Publishes what is pending once; returns how many entries were added.
pub async fn flush(db: &Db, redis: &mut redis::aio::MultiplexedConnection, prefix: &str) -> Result<usize, AppError> {
    let now = Utc::now();
    let lease = UtcTime::from(now + TimeDelta::seconds(LEASE_SECS));
    let ids = db
        .write(move |c| Ok(backend::lease_ids(c, &backend::STREAM_DELIVERIES, UtcTime::from(now), lease, BATCH)?))
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let leased = ids.clone();
    let rows: Vec<Row> = db
        .read(move |c| {
            Ok(dd::table
                .filter(dd::id.eq_any(leased))
                .order(dd::id.asc())
                .select((
                    dd::id,
                    dd::department_id,
                    dd::idempotency_key,
                    dd::item_kind,
                    dd::item_id,
                    dd::event,
                    dd::payload,
                ))
                .load(c)?)
        })
        .await?;
    let script = redis::Script::new(PUBLISH);
    let mut added = 0;
    for (id, department, key, kind, item_id, event, payload) in rows {
        let fields = [
            ("key", key.clone()),
            ("delivery_id", id.to_string()),
            ("kind", kind),
            ("item_id", item_id.to_string()),
            ("event", event),
            ("payload", payload.0.to_string()),
        ];
        let entry: Result<String, redis::RedisError> = script
            .key(stream_key(prefix, department))
            .key(sent_key(prefix, &key))
            .arg(SENT_TTL_SECS)
            .arg(fields.iter().flat_map(|(name, value)| [name.to_string(), value.clone()]).collect::<Vec<_>>())
            .invoke_async(redis)
            .await;
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                // Redis is unreachable: hand the rest back now, not when their lease ends.
                let rest: Vec<i64> = ids.into_iter().filter(|i| *i >= id).collect();
                db.write(move |c| {
                    diesel::update(dd::table.filter(dd::id.eq_any(rest)).filter(dd::streamed_at.is_null()))
                        .set(dd::stream_lease_until.eq(None::<UtcTime>))
                        .execute(c)?;
                    Ok(())
                })
                .await?;
                return Err(AppError::Unavailable(format!("redis: {e}")));
            }
        };
        db.write(move |c| {
            diesel::update(dd::table.find(id))
                .set((
                    dd::streamed_at.eq(UtcTime::now()),
                    dd::stream_entry_id.eq(entry),
                    dd::stream_lease_until.eq(None::<UtcTime>),
                ))
                .execute(c)?;
            Ok(())
        })
        .await?;
        added += 1;
    }
    Ok(added)
}

/// The stream worker of one replica (started only when Redis is configured).
pub async fn run(db: Db, client: redis::Client, prefix: String, settings: DepartmentSettings) {
    let mut connection = None;
    loop {
        if connection.is_none() {
            match client.get_multiplexed_async_connection().await {
                Ok(c) => connection = Some(c),
                Err(e) => tracing::warn!(error = %e, "department streams: redis unreachable"),
            }
        }
        if let Some(redis) = connection.as_mut() {
            match flush(&db, redis, &prefix).await {
                // A whole batch published: more may be pending, go on at once.
                Ok(added) if added as i64 == BATCH => continue,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "department streams: publishing failed");
                    if matches!(e, AppError::Unavailable(_)) {
                        connection = None;
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(settings.poll_interval_ms.max(10))).await;
    }
}
