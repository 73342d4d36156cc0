//! Where the live state is kept: Redis in production, this process's memory by default
//! ([`super::memory`]). Both follow the same rules (see `domain::live`): counters are applied once
//! per event id, tracked contributions replace older ones, minute counters expire after
//! `MINUTES_KEPT`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;

use super::memory::MemoryState;
use crate::domain::calendar::DEFAULT_TIME_ZONE as SANTIAGO;
use crate::domain::live::{self, Mark, Op, Snapshot};

/// Applies one event's ops atomically: the dedup check, the counters and the tracked
/// contributions, in one round trip. Every key shares one hash tag, as Redis Cluster requires of
/// a script's keys.
/// KEYS: 1 seen-set of the event's minute, 2 gauges, 3 tracked contributions, 4 waiting list,
/// then two per count (minute, day). ARGV: event id ('' = no dedup), seen-set expiry, number of
/// ops, then per op `C field by minute_expiry day_expiry` or `T member version marks`.
const APPLY_SCRIPT: &str = r#"
if ARGV[1] ~= '' then
  if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
  redis.call('EXPIREAT', KEYS[1], ARGV[2])
end
local function each(marks, member, undo)
  for item in string.gmatch(marks, '[^\n]+') do
    local kind, a, b = string.match(item, '^(%a)\t([^\t]*)\t?(.*)$')
    if kind == 'g' then
      if undo then
        if redis.call('HINCRBY', KEYS[2], a, -1) <= 0 then redis.call('HDEL', KEYS[2], a) end
      else
        redis.call('HINCRBY', KEYS[2], a, 1)
      end
    elseif kind == 'w' then
      if undo then redis.call('ZREM', KEYS[4], a .. '|' .. member)
      else redis.call('ZADD', KEYS[4], b, a .. '|' .. member) end
    end
  end
end
local a, k = 4, 5
for _ = 1, tonumber(ARGV[3]) do
  if ARGV[a] == 'C' then
    redis.call('HINCRBY', KEYS[k], ARGV[a + 1], ARGV[a + 2])
    redis.call('EXPIREAT', KEYS[k], ARGV[a + 3])
    redis.call('HINCRBY', KEYS[k + 1], ARGV[a + 1], ARGV[a + 2])
    redis.call('EXPIREAT', KEYS[k + 1], ARGV[a + 4])
    a, k = a + 5, k + 2
  else
    local member, version, marks = ARGV[a + 1], tonumber(ARGV[a + 2]), ARGV[a + 3]
    a = a + 4
    local old = redis.call('HGET', KEYS[3], member)
    local apply = true
    if old then
      local v, rest = string.match(old, '^(%-?%d+)\n?(.*)$')
      if tonumber(v) > version then apply = false else each(rest, member, true) end
    end
    if apply then
      each(marks, member, false)
      if marks == '' then redis.call('HDEL', KEYS[3], member)
      else redis.call('HSET', KEYS[3], member, version .. '\n' .. marks) end
    end
  end
end
return 1
"#;

/// Raises a cursor, never lowers it (several replicas share it); refuses (0) when the state
/// belongs to another installation (KEYS[2], ARGV[2]): another database's events wrote it.
const RAISE_CURSOR: &str = r#"
local owner = redis.call('GET', KEYS[2])
if owner and owner ~= ARGV[2] then return 0 end
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
"#;

pub enum KpiStore {
    Memory(Mutex<MemoryState>),
    Redis(RedisStore),
}

pub struct RedisStore {
    client: redis::Client,
    prefix: String,
    connection: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    apply: redis::Script,
    raise: redis::Script,
}

pub type StoreResult<T> = Result<T, redis::RedisError>;

/// What one event does to the live state; `id` (`t:12`, `c:7`, …) makes it idempotent, and is
/// empty for tracked contributions, which are idempotent by version.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub id: String,
    pub minute: i64,
    pub ops: Vec<Op>,
}

impl KpiStore {
    pub fn memory() -> KpiStore {
        KpiStore::Memory(Mutex::new(MemoryState::default()))
    }

    pub fn redis(client: redis::Client, key_prefix: &str) -> KpiStore {
        KpiStore::Redis(RedisStore {
            client,
            prefix: key_prefix.to_owned(),
            connection: tokio::sync::Mutex::new(None),
            apply: redis::Script::new(APPLY_SCRIPT),
            raise: redis::Script::new(RAISE_CURSOR),
        })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            KpiStore::Memory(_) => "memory",
            KpiStore::Redis(_) => "redis",
        }
    }

    /// Applies `ops` unless the event `id` (non-empty) was already applied; `Ok(false)` then.
    /// `minute` is the event's own minute, where its id is remembered.
    pub async fn apply(&self, id: &str, minute: i64, ops: &[Op]) -> StoreResult<bool> {
        match self {
            KpiStore::Memory(state) => Ok(state.lock().expect("kpi state").apply(id, minute, ops)),
            KpiStore::Redis(r) => r.apply(id, minute, ops).await,
        }
    }

    /// Applies `updates` in order, each as [`KpiStore::apply`] does; on Redis in one round trip
    /// (one pipeline, each event still its own atomic script).
    pub async fn apply_all(&self, updates: &[Update]) -> StoreResult<()> {
        match self {
            KpiStore::Memory(state) => {
                let mut state = state.lock().expect("kpi state");
                for u in updates {
                    state.apply(&u.id, u.minute, &u.ops);
                }
                Ok(())
            }
            KpiStore::Redis(r) => r.apply_all(updates).await,
        }
    }

    pub async fn snapshot(&self, now: DateTime<Utc>) -> StoreResult<Snapshot> {
        match self {
            KpiStore::Memory(state) => Ok(state.lock().expect("kpi state").snapshot(now)),
            KpiStore::Redis(r) => r.snapshot(now).await,
        }
    }

    pub async fn cursor(&self, name: &str) -> StoreResult<i64> {
        match self {
            KpiStore::Memory(state) => Ok(state.lock().expect("kpi state").cursors.get(name).copied().unwrap_or(0)),
            KpiStore::Redis(r) => {
                let mut conn = r.connection("cursor").await?;
                let value: Option<i64> = redis::cmd("GET")
                    .arg(r.key(&format!("cursor:{name}")))
                    .query_async(&mut conn)
                    .await
                    .inspect_err(|_| r.forget())?;
                Ok(value.unwrap_or(0))
            }
        }
    }

    /// Raises cursor `name` to `to` unless the state belongs to another installation than
    /// `installation`: `Ok(false)` then, and nothing changes.
    pub async fn raise_cursor(&self, name: &str, to: i64, installation: &str) -> StoreResult<bool> {
        match self {
            KpiStore::Memory(state) => {
                let mut state = state.lock().expect("kpi state");
                if state.installation.as_deref().is_some_and(|owner| owner != installation) {
                    return Ok(false);
                }
                let cursor = state.cursors.entry(name.to_owned()).or_default();
                *cursor = (*cursor).max(to);
                Ok(true)
            }
            KpiStore::Redis(r) => {
                let mut conn = r.connection("cursor").await?;
                let raised: i64 = r
                    .raise
                    .key(r.key(&format!("cursor:{name}")))
                    .key(r.key("installation"))
                    .arg(to)
                    .arg(installation)
                    .invoke_async(&mut conn)
                    .await
                    .inspect_err(|_| r.forget())?;
                Ok(raised == 1)
            }
        }
    }

    /// The installation whose events the state holds (`None`: not recorded, e.g. a new store).
    pub async fn installation(&self) -> StoreResult<Option<String>> {
        match self {
            KpiStore::Memory(state) => Ok(state.lock().expect("kpi state").installation.clone()),
            KpiStore::Redis(r) => {
                let mut conn = r.connection("installation").await?;
                redis::cmd("GET").arg(r.key("installation")).query_async(&mut conn).await.inspect_err(|_| r.forget())
            }
        }
    }

    /// Records whose events the state holds (after a reset, before a rebuild fills it).
    pub async fn set_installation(&self, installation: &str) -> StoreResult<()> {
        match self {
            KpiStore::Memory(state) => {
                state.lock().expect("kpi state").installation = Some(installation.to_owned());
                Ok(())
            }
            KpiStore::Redis(r) => {
                let mut conn = r.connection("installation").await?;
                redis::cmd("SET")
                    .arg(r.key("installation"))
                    .arg(installation)
                    .query_async(&mut conn)
                    .await
                    .inspect_err(|_| r.forget())
            }
        }
    }

    /// Forgets everything (before a rebuild).
    pub async fn reset(&self) -> StoreResult<()> {
        match self {
            KpiStore::Memory(state) => {
                *state.lock().expect("kpi state") = MemoryState::default();
                Ok(())
            }
            KpiStore::Redis(r) => r.reset().await,
        }
    }

    /// Whether the store holds no live state at all (a new Redis, or one that was flushed).
    pub async fn is_empty(&self) -> StoreResult<bool> {
        match self {
            KpiStore::Memory(state) => Ok(state.lock().expect("kpi state").is_empty()),
            KpiStore::Redis(r) => {
                let mut conn = r.connection("is_empty").await?;
                let exists: i64 = redis::cmd("EXISTS")
                    .arg(r.key("cursor:ticket_events"))
                    .arg(r.key("tracked"))
                    .query_async(&mut conn)
                    .await
                    .inspect_err(|_| r.forget())?;
                Ok(exists == 0)
            }
        }
    }
}

impl RedisStore {
    /// `{prefix}:kpi:…`: the hash tag keeps every key in one cluster slot, as the script needs.
    fn key(&self, name: &str) -> String {
        format!("{{{}}}:kpi:{name}", self.prefix)
    }

    /// The shared connection, opened on first use and again after a failure, with short
    /// timeouts: a Redis outage must slow nothing down.
    /// Every use is one round trip (a command or a pipeline), counted by `purpose` in
    /// `kpi_redis_round_trips_total`.
    async fn connection(&self, purpose: &'static str) -> StoreResult<MultiplexedConnection> {
        crate::metrics::kpi_round_trip(purpose);
        let mut slot = self.connection.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        let conn = self.client.get_multiplexed_async_connection_with_config(&config).await?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    fn forget(&self) {
        if let Ok(mut slot) = self.connection.try_lock() {
            *slot = None;
        }
    }

    /// `EVALSHA` of the apply script for one event (see [`APPLY_SCRIPT`] for its keys and args).
    fn apply_command(&self, id: &str, minute: i64, ops: &[Op]) -> redis::Cmd {
        let mut keys =
            vec![self.key(&format!("seen:{minute}")), self.key("gauges"), self.key("tracked"), self.key("waiting")];
        let mut args: Vec<String> =
            vec![id.to_owned(), live::minute_expiry(minute).timestamp().to_string(), ops.len().to_string()];
        for op in ops {
            match op {
                Op::Count { minute, day, field, by } => {
                    keys.push(self.key(&format!("m:{minute}")));
                    keys.push(self.key(&format!("d:{day}")));
                    let day_expiry = day_start(*day + TimeDelta::days(3)).timestamp();
                    let minute_expiry = live::minute_expiry(*minute).timestamp();
                    args.extend(["C".to_owned(), field.clone(), by.to_string(), minute_expiry.to_string()]);
                    args.push(day_expiry.to_string());
                }
                Op::Track { member, version, marks } => {
                    let marks: Vec<String> = marks.iter().map(Mark::encode).collect();
                    args.extend(["T".to_owned(), member.clone(), version.to_string(), marks.join("\n")]);
                }
            }
        }
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(self.apply.get_hash()).arg(keys.len()).arg(keys).arg(args);
        cmd
    }

    async fn apply(&self, id: &str, minute: i64, ops: &[Op]) -> StoreResult<bool> {
        let applied: Vec<i64> = self.run_apply(&[self.apply_command(id, minute, ops)]).await?;
        Ok(applied.first() == Some(&1))
    }

    async fn apply_all(&self, updates: &[Update]) -> StoreResult<()> {
        let commands: Vec<redis::Cmd> = updates.iter().map(|u| self.apply_command(&u.id, u.minute, &u.ops)).collect();
        for chunk in commands.chunks(1000) {
            self.run_apply(chunk).await?;
        }
        Ok(())
    }

    /// Sends the apply scripts in one pipeline; if Redis lost the script (restarted, flushed), loads
    /// it and sends them again, which changes nothing already applied (scripts are idempotent).
    async fn run_apply(&self, commands: &[redis::Cmd]) -> StoreResult<Vec<i64>> {
        let mut pipe = redis::pipe();
        for cmd in commands {
            pipe.add_command(cmd.clone());
        }
        let mut conn = self.connection("apply").await?;
        match pipe.query_async(&mut conn).await {
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                crate::metrics::kpi_round_trip("apply");
                crate::metrics::kpi_round_trip("apply");
                let _: String =
                    self.apply.prepare_invoke().load_async(&mut conn).await.inspect_err(|_| self.forget())?;
                pipe.query_async(&mut conn).await.inspect_err(|_| self.forget())
            }
            other => other.inspect_err(|_| self.forget()),
        }
    }

    async fn snapshot(&self, now: DateTime<Utc>) -> StoreResult<Snapshot> {
        let today = now.with_timezone(&SANTIAGO).date_naive();
        let minutes: Vec<i64> = live::minutes_needed(now).collect();
        let mut pipe = redis::pipe();
        pipe.cmd("HGETALL").arg(self.key("gauges"));
        pipe.cmd("ZRANGE").arg(self.key("waiting")).arg(0).arg(-1).arg("WITHSCORES");
        pipe.cmd("HGETALL").arg(self.key(&format!("d:{today}")));
        for minute in &minutes {
            pipe.cmd("HGETALL").arg(self.key(&format!("m:{minute}")));
        }
        let mut conn = self.connection("snapshot").await?;
        let mut values: Vec<redis::Value> = pipe.query_async(&mut conn).await.inspect_err(|_| self.forget())?;
        let buckets = values.split_off(3);
        let mut first = values.into_iter().map(Some);
        let mut next = || first.next().flatten().unwrap_or(redis::Value::Nil);
        let gauges: HashMap<String, i64> = redis::from_redis_value(next())?;
        let waiting: Vec<(String, f64)> = redis::from_redis_value(next())?;
        let today: HashMap<String, i64> = redis::from_redis_value(next())?;
        let buckets: Vec<HashMap<String, i64>> =
            buckets.into_iter().map(redis::from_redis_value).collect::<Result<_, _>>()?;
        Ok(Snapshot {
            gauges,
            waiting: waiting
                .into_iter()
                .filter_map(|(key, since)| {
                    key.split_once('|').map(|(scope, member)| (scope.to_owned(), member.to_owned(), since as i64))
                })
                .collect(),
            minutes: minutes.into_iter().zip(buckets).filter(|(_, c)| !c.is_empty()).collect(),
            today,
        })
    }

    async fn reset(&self) -> StoreResult<()> {
        let mut conn = self.connection("reset").await?;
        let pattern = self.key("*");
        let keys: Vec<String> = {
            let mut iter: redis::AsyncIter<String> = conn.scan_match(&pattern).await.inspect_err(|_| self.forget())?;
            let mut keys = Vec::new();
            while let Some(key) = futures_util::StreamExt::next(&mut iter).await {
                keys.push(key?);
            }
            keys
        };
        for chunk in keys.chunks(500) {
            let _: i64 = redis::cmd("DEL").arg(chunk).query_async(&mut conn).await.inspect_err(|_| self.forget())?;
        }
        Ok(())
    }
}

use redis::AsyncCommands as _;

/// Midnight of a Santiago date, in UTC.
pub fn day_start(day: NaiveDate) -> DateTime<Utc> {
    use chrono::TimeZone;
    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    SANTIAGO
        .from_local_datetime(&midnight)
        .earliest()
        // Chile's DST starts at midnight: 00:00 may not exist, 01:00 does.
        .unwrap_or_else(|| {
            SANTIAGO.from_local_datetime(&(midnight + TimeDelta::hours(1))).earliest().expect("01:00 exists")
        })
        .with_timezone(&Utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn santiago_days_start_at_local_midnight_even_on_the_dst_change() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(day_start(d("2026-12-02")).to_rfc3339(), "2026-12-02T03:00:00+00:00");
        assert_eq!(day_start(d("2026-07-02")).to_rfc3339(), "2026-07-02T04:00:00+00:00");
        // 2026-09-06: clocks jump from 00:00 to 01:00.
        assert_eq!(day_start(d("2026-09-06")).to_rfc3339(), "2026-09-06T04:00:00+00:00");
    }
}
