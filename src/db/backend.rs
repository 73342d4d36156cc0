//! The one place with SQL that differs between Postgres and SQLite.

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::DbConnection;

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Arbitrary constant: the advisory lock that keeps replicas from migrating at the same time.
const MIGRATION_LOCK: i64 = 0x6174_656e_6369_6f6e;

/// Applies pending migrations, then the data fixes not yet applied (`super::fixes`), and returns
/// their names.
pub fn run_migrations(conn: &mut DbConnection) -> anyhow::Result<Vec<String>> {
    if let DbConnection::Pg(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_lock($1)").bind::<BigInt, _>(MIGRATION_LOCK).execute(pg)?;
    }
    let applied = migrate_and_fix(conn);
    if let DbConnection::Pg(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_unlock($1)").bind::<BigInt, _>(MIGRATION_LOCK).execute(pg)?;
    }
    applied
}

fn migrate_and_fix(conn: &mut DbConnection) -> anyhow::Result<Vec<String>> {
    let applied = match conn {
        DbConnection::Pg(pg) => pg.run_pending_migrations(PG_MIGRATIONS).map(names),
        DbConnection::Sqlite(lite) => lite.run_pending_migrations(SQLITE_MIGRATIONS).map(names),
    };
    let mut applied = applied.map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
    applied.extend(super::fixes::run(conn).map_err(|e| anyhow::anyhow!("data fix failed: {e}"))?);
    Ok(applied)
}

fn names(versions: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    versions.iter().map(ToString::to_string).collect()
}

#[derive(QueryableByName)]
struct Value {
    #[diesel(sql_type = BigInt)]
    value: i64,
}

/// Next ticket sequence number for `year`.
pub fn next_ticket_sequence(conn: &mut DbConnection, year: i32) -> QueryResult<i64> {
    let row: Value = match conn {
        DbConnection::Pg(pg) => {
            diesel::sql_query("SELECT next_ticket_number($1) AS value").bind::<Integer, _>(year).get_result(pg)?
        }
        DbConnection::Sqlite(lite) => diesel::sql_query(
            "INSERT INTO ticket_number_counters (year, last_value) VALUES (?, 1) \
             ON CONFLICT (year) DO UPDATE SET last_value = last_value + 1 \
             RETURNING last_value AS value",
        )
        .bind::<Integer, _>(year)
        .get_result(lite)?,
    };
    Ok(row.value)
}

/// Inserts the deadlines in one statement (a multi-row INSERT is not available through
/// `MultiConnection`, but is on each backend's own connection).
pub fn insert_deadlines(conn: &mut DbConnection, rows: &[super::models::NewDeadline]) -> QueryResult<usize> {
    if rows.is_empty() {
        return Ok(0);
    }
    let insert = diesel::insert_into(super::schema::sla_deadlines::table).values(rows);
    match conn {
        DbConnection::Pg(pg) => insert.execute(pg),
        DbConnection::Sqlite(lite) => insert.execute(lite),
    }
}

/// Appends events to the log in one statement on Postgres, and returns their ids in order.
/// SQLite, in process, takes them one by one.
pub fn insert_events(conn: &mut DbConnection, rows: &[super::models::NewEvent]) -> QueryResult<Vec<i64>> {
    use super::schema::ticket_events;
    match conn {
        DbConnection::Pg(pg) => {
            let mut ids: Vec<i64> =
                diesel::insert_into(ticket_events::table).values(rows).returning(ticket_events::id).get_results(pg)?;
            // Rows take their ids in the order of VALUES; RETURNING's order is not promised.
            ids.sort_unstable();
            Ok(ids)
        }
        DbConnection::Sqlite(lite) => rows
            .iter()
            .map(|row| {
                diesel::insert_into(ticket_events::table).values(row).returning(ticket_events::id).get_result(lite)
            })
            .collect(),
    }
}

/// A ticket's tags in one statement.
pub fn insert_tags(conn: &mut DbConnection, ticket_id: i64, tags: &[String]) -> QueryResult<usize> {
    use super::schema::ticket_tags;
    if tags.is_empty() {
        return Ok(0);
    }
    let rows: Vec<_> =
        tags.iter().map(|tag| (ticket_tags::ticket_id.eq(ticket_id), ticket_tags::tag.eq(tag))).collect();
    let insert = diesel::insert_into(ticket_tags::table).values(&rows);
    match conn {
        DbConnection::Pg(pg) => insert.execute(pg),
        DbConnection::Sqlite(lite) => insert.execute(lite),
    }
}

/// Inserts a requester unless one with the same unique contact (email, RUT) exists: `None` then.
/// Without a savepoint, which a failing insert would need to keep the transaction usable.
pub fn insert_requester_if_new(conn: &mut DbConnection, row: &super::models::NewRequester) -> QueryResult<Option<i64>> {
    use super::schema::requesters;
    let insert = diesel::insert_into(requesters::table).values(row).on_conflict_do_nothing().returning(requesters::id);
    match conn {
        DbConnection::Pg(pg) => insert.get_result(pg).optional(),
        DbConnection::Sqlite(lite) => insert.get_result(lite).optional(),
    }
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

/// Every (table, column) of the application's schema, for the migration parity check.
pub fn table_columns(conn: &mut DbConnection) -> QueryResult<BTreeSet<(String, String)>> {
    let rows: Vec<Column> = match conn {
        DbConnection::Pg(pg) => diesel::sql_query(
            "SELECT table_name::text AS table_name, column_name::text AS column_name \
             FROM information_schema.columns WHERE table_schema = current_schema()",
        )
        .load(pg)?,
        DbConnection::Sqlite(lite) => diesel::sql_query(
            "SELECT m.name AS table_name, p.name AS column_name \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
        )
        .load(lite)?,
    };
    Ok(rows.into_iter().map(|c| (c.table_name, c.column_name)).collect())
}

/// A warning or breach whose time has come, claimed by this transaction.
#[derive(Debug, QueryableByName)]
pub struct DueDeadline {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub ticket_id: i64,
    #[diesel(sql_type = Text)]
    pub metric: String,
    #[diesel(sql_type = Integer)]
    pub instance: i32,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = super::types::Tstz)]
    pub due_at: super::types::UtcTime,
}

/// A table of deadlines that a scanner fires: which rows are due and what to lock first.
pub struct DeadlineTable {
    /// The table, read as `d`.
    pub table: &'static str,
    /// Columns of `d` to return.
    pub columns: &'static str,
    /// Condition on `d` for a row due by `$1` and not fired yet.
    pub due: &'static str,
    /// Expression on `d` ordering due rows, most overdue first.
    pub order: &'static str,
    /// `(table, column of d)` of the rows that own the deadlines, locked before them.
    pub owner: Option<(&'static str, &'static str)>,
}

/// Ticket SLA deadlines, owned by their ticket: the same lock order as any ticket change (ticket
/// row, then its deadlines), so scanners and requests never wait on each other in a cycle.
pub const TICKET_DEADLINES: DeadlineTable = DeadlineTable {
    table: "sla_deadlines",
    columns: "d.id, d.ticket_id, d.metric, d.instance, d.kind, d.due_at",
    due: "d.fired_at IS NULL AND d.due_at <= $1",
    order: "d.due_at",
    owner: Some(("tickets", "ticket_id")),
};

/// Department SLA clocks (see `crate::departments::sla`): a running clock is due when its
/// warning or its breach time has come and was not fired yet. Requests that stop a clock update
/// its row after their item's, and scanners never lock items, so there is no cycle either.
pub const DEPARTMENT_CLOCKS: DeadlineTable = DeadlineTable {
    table: "department_sla_clocks",
    columns: "d.id, d.department_id, d.item_kind, d.item_id, d.metric, d.warn_at, d.due_at, d.warned_at, d.breached_at",
    due: "d.stopped_at IS NULL AND ((d.warned_at IS NULL AND d.warn_at <= $1) OR (d.breached_at IS NULL AND d.due_at <= $1))",
    order: "COALESCE(d.warn_at, d.due_at)",
    owner: None,
};

/// Claims rows of `t` due by `now`, up to `limit` (owners when `t` has them, else rows), most
/// overdue first. On Postgres claimed rows are locked until the end of the transaction and
/// concurrent scanners skip them (`SKIP LOCKED`), so each deadline fires once even with several
/// replicas; SQLite has a single writer, which serialises scanners by itself. An owner is locked
/// `FOR NO KEY UPDATE`, as an `UPDATE` of it would: a transaction inserting a row that references
/// it (its event, its notification) holds only a key-share lock, which must not make the scan
/// pass the ticket by.
pub fn claim_due<T>(
    conn: &mut DbConnection,
    t: &DeadlineTable,
    now: super::types::UtcTime,
    limit: i64,
) -> QueryResult<Vec<T>>
where
    T: QueryableByName<diesel::pg::Pg> + QueryableByName<diesel::sqlite::Sqlite> + 'static,
{
    let sql = claim_due_sql(t, matches!(conn, DbConnection::Pg(_)));
    let query = diesel::sql_query(sql).bind::<super::types::Tstz, _>(now).bind::<BigInt, _>(limit);
    match conn {
        DbConnection::Pg(pg) => query.load(pg),
        DbConnection::Sqlite(lite) => query.load(lite),
    }
}

/// The text of [`claim_due`] on Postgres (`pg`) or SQLite (also for the benchmark's `EXPLAIN`).
pub fn claim_due_sql(t: &DeadlineTable, pg: bool) -> String {
    let DeadlineTable { table, columns, due, order, owner } = t;
    match (owner, pg) {
        (Some((owner, fk)), true) => format!(
            "WITH locked AS (SELECT o.id FROM {owner} o WHERE o.id IN (SELECT d.{fk} FROM {table} d WHERE {due} \
             GROUP BY d.{fk} ORDER BY min({order}) LIMIT $2) FOR NO KEY UPDATE OF o SKIP LOCKED) \
             SELECT {columns} FROM {table} d JOIN locked ON locked.id = d.{fk} WHERE {due} ORDER BY {order} FOR UPDATE OF d"
        ),
        (Some((_, fk)), false) => format!(
            "SELECT {columns} FROM {table} d WHERE {due} AND d.{fk} IN (SELECT d.{fk} FROM {table} d WHERE {due} \
             GROUP BY d.{fk} ORDER BY min({order}) LIMIT $2) ORDER BY {order}"
        ),
        (None, true) => {
            format!("SELECT {columns} FROM {table} d WHERE {due} ORDER BY {order} LIMIT $2 FOR UPDATE OF d SKIP LOCKED")
        }
        (None, false) => format!("SELECT {columns} FROM {table} d WHERE {due} ORDER BY {order} LIMIT $2"),
    }
}

/// Claims the unfired ticket SLA deadlines due by `now` of up to `limit` tickets.
pub fn claim_due_deadlines(
    conn: &mut DbConnection,
    now: super::types::UtcTime,
    limit: i64,
) -> QueryResult<Vec<DueDeadline>> {
    claim_due(conn, &TICKET_DEADLINES, now, limit)
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// A queue of rows that background workers lease. A lease hands up to `limit` due rows to one
/// worker until it ends: on Postgres concurrent workers skip each other's rows (`SKIP LOCKED`),
/// SQLite's single writer serialises them, and a worker that dies gives its rows back when the
/// lease runs out. Every leased queue is one of these, taken by [`lease`].
pub struct LeaseQueue {
    /// The table, `d` in `due`.
    pub table: &'static str,
    /// Its key column: what a lease returns.
    pub key: &'static str,
    /// Selects the keys of the due rows (`SELECT d.<key> FROM <table> d …`), `$2` being now.
    pub due: &'static str,
    /// Which due rows go first.
    pub order: &'static str,
    /// What a lease sets on its rows, `$1` being the end of the lease.
    pub lease: &'static str,
}

/// Mail waiting to be sent, or whose sender's lease ran out.
pub const OUTBOX: LeaseQueue = LeaseQueue {
    table: "outbox",
    key: "id",
    due: "SELECT d.id FROM outbox d WHERE d.status IN ('pending', 'sending') AND d.next_attempt_at <= $2",
    order: "d.next_attempt_at",
    lease: "status = 'sending', next_attempt_at = $1",
};

/// Department deliveries not yet on their department's Redis stream.
pub const STREAM_DELIVERIES: LeaseQueue = LeaseQueue {
    table: "department_deliveries",
    key: "id",
    due: "SELECT d.id FROM department_deliveries d WHERE d.streamed_at IS NULL \
          AND (d.stream_lease_until IS NULL OR d.stream_lease_until <= $2)",
    order: "d.id",
    lease: "stream_lease_until = $1",
};

/// Department deliveries due on an enabled webhook that is not backing off.
pub const WEBHOOK_DELIVERIES: LeaseQueue = LeaseQueue {
    table: "department_deliveries",
    key: "id",
    due: "SELECT d.id FROM department_deliveries d JOIN department_webhooks w ON w.department_id = d.department_id \
          WHERE d.webhook_status IN ('pending', 'sending') AND d.webhook_next_at <= $2 \
          AND w.enabled AND (w.retry_at IS NULL OR w.retry_at <= $2)",
    order: "d.id",
    lease: "webhook_status = 'sending', webhook_next_at = $1",
};

/// Attachments waiting for the virus scanner.
pub const ATTACHMENT_SCANS: LeaseQueue = LeaseQueue {
    table: "attachment_files",
    key: "sha256",
    due: "SELECT d.sha256 FROM attachment_files d WHERE d.scan = 'pending' AND d.next_scan_at <= $2",
    order: "d.next_scan_at",
    lease: "next_scan_at = $1",
};

/// The text of [`lease`] on Postgres (`pg`) or SQLite.
pub fn lease_sql(q: &LeaseQueue, pg: bool) -> String {
    let LeaseQueue { table, key, due, order, lease } = q;
    let lock = if pg { " FOR UPDATE OF d SKIP LOCKED" } else { "" };
    format!("UPDATE {table} SET {lease} WHERE {key} IN ({due} ORDER BY {order} LIMIT $3{lock}) RETURNING CAST({key} AS TEXT) AS key")
}

#[derive(QueryableByName)]
struct Key {
    #[diesel(sql_type = Text)]
    key: String,
}

/// Leases up to `limit` due rows of `q` until `until`; returns their keys, sorted.
pub fn lease(
    conn: &mut DbConnection,
    q: &LeaseQueue,
    now: super::types::UtcTime,
    until: super::types::UtcTime,
    limit: i64,
) -> QueryResult<Vec<String>> {
    let sql = lease_sql(q, matches!(conn, DbConnection::Pg(_)));
    let query = diesel::sql_query(sql)
        .bind::<super::types::Tstz, _>(until)
        .bind::<super::types::Tstz, _>(now)
        .bind::<BigInt, _>(limit);
    let rows: Vec<Key> = match conn {
        DbConnection::Pg(pg) => query.load(pg)?,
        DbConnection::Sqlite(lite) => query.load(lite)?,
    };
    let mut keys: Vec<String> = rows.into_iter().map(|r| r.key).collect();
    keys.sort_unstable();
    Ok(keys)
}

/// [`lease`] for a queue keyed by id (keys travel as text, so one query serves every queue).
pub fn lease_ids(
    conn: &mut DbConnection,
    q: &LeaseQueue,
    now: super::types::UtcTime,
    until: super::types::UtcTime,
    limit: i64,
) -> QueryResult<Vec<i64>> {
    let keys = lease(conn, q, now, until, limit)?;
    let mut ids: Vec<i64> = keys.iter().filter_map(|k| k.parse().ok()).collect();
    ids.sort_unstable();
    Ok(ids)
}

/// The row of the call with the PBX id `external_id`, created if new, locked until the end of
/// the transaction: events of one call are applied one at a time, also across replicas, so one
/// call never gets two rows or two tickets. SQLite's single writer serialises them by itself.
pub fn lock_call(conn: &mut DbConnection, external_id: &str, now: super::types::UtcTime) -> QueryResult<i64> {
    const INSERT: &str = "INSERT INTO calls (external_id, created_at, updated_at) VALUES ($1, $2, $2) \
         ON CONFLICT (external_id) DO NOTHING";
    let row: Id = match conn {
        DbConnection::Pg(pg) => {
            diesel::sql_query(INSERT).bind::<Text, _>(external_id).bind::<super::types::Tstz, _>(now).execute(pg)?;
            diesel::sql_query("SELECT id FROM calls WHERE external_id = $1 FOR UPDATE")
                .bind::<Text, _>(external_id)
                .get_result(pg)?
        }
        DbConnection::Sqlite(lite) => {
            diesel::sql_query(INSERT).bind::<Text, _>(external_id).bind::<super::types::Tstz, _>(now).execute(lite)?;
            diesel::sql_query("SELECT id FROM calls WHERE external_id = $1")
                .bind::<Text, _>(external_id)
                .get_result(lite)?
        }
    };
    Ok(row.id)
}

/// Writes the installation's row unless one exists: replicas starting at once race here, the
/// first insert wins and the others read its values.
pub fn insert_installation_if_absent(
    conn: &mut DbConnection,
    installation_id: &str,
    token_secret: &str,
    now: super::types::UtcTime,
) -> QueryResult<()> {
    const INSERT: &str = "INSERT INTO installation (id, installation_id, token_secret, created_at) \
         VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING";
    let query = diesel::sql_query(INSERT)
        .bind::<Text, _>(installation_id)
        .bind::<Text, _>(token_secret)
        .bind::<super::types::Tstz, _>(now);
    match conn {
        DbConnection::Pg(pg) => query.execute(pg)?,
        DbConnection::Sqlite(lite) => query.execute(lite)?,
    };
    Ok(())
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    value: bool,
}

/// Takes agent `id` for assignment until the end of the transaction, without waiting: `false`
/// when another transaction holds them (the caller picks someone else, so there is no deadlock).
/// SQLite's single writer already serialises assignment.
pub fn try_lock_agent(conn: &mut DbConnection, id: i64) -> QueryResult<bool> {
    match conn {
        DbConnection::Pg(pg) => {
            let flag: Flag = diesel::sql_query("SELECT pg_try_advisory_xact_lock(1634165348, $1::int4) AS value")
                .bind::<BigInt, _>(id)
                .get_result(pg)?;
            Ok(flag.value)
        }
        DbConnection::Sqlite(_) => Ok(true),
    }
}

/// The active admins, ordered by id and, on Postgres, locked until the end of the transaction:
/// of two changes that could each remove one of the last admins, the second waits for the first
/// and then sees its result (a row it no longer matches drops out). SQLite's single writer
/// already serialises them.
pub fn lock_active_admins(conn: &mut DbConnection) -> QueryResult<Vec<i64>> {
    const ADMINS: &str = "SELECT id FROM agents WHERE role = 'admin' AND active ORDER BY id";
    let rows: Vec<Id> = match conn {
        DbConnection::Pg(pg) => diesel::sql_query(format!("{ADMINS} FOR UPDATE")).load(pg)?,
        DbConnection::Sqlite(lite) => diesel::sql_query(ADMINS).load(lite)?,
    };
    Ok(rows.into_iter().map(|r| r.id).collect())
}

#[derive(QueryableByName)]
struct WaitingRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    channel: String,
}

/// The most urgent open ticket of `queue` without an agent, other than `skip`: earliest SLA breach
/// time (tickets without one last), then priority, then age. On Postgres the row is locked and rows
/// other transactions hold are skipped, so concurrent claimers take different tickets.
pub fn next_waiting(conn: &mut DbConnection, queue: i64, skip: &[i64]) -> QueryResult<Option<(i64, String)>> {
    // Ids are integers, so listing them inline is safe (SQLite has no array parameters).
    let skip: Vec<String> = skip.iter().map(i64::to_string).collect();
    let skip = if skip.is_empty() { String::new() } else { format!("AND t.id NOT IN ({})", skip.join(", ")) };
    let rows = waiting_in_order(conn, queue, &skip, 1, true)?;
    Ok(rows.into_iter().next().map(|r| (r.id, r.channel)))
}

/// The first `limit` waiting tickets of `queue` in the order assignment takes them (the order of
/// [`next_waiting`]), without locking them: what a supervisor sees of the queue.
pub fn waiting_order(conn: &mut DbConnection, queue: i64, limit: i64) -> QueryResult<Vec<i64>> {
    Ok(waiting_in_order(conn, queue, "", limit, false)?.into_iter().map(|r| r.id).collect())
}

fn waiting_in_order(
    conn: &mut DbConnection,
    queue: i64,
    skip: &str,
    limit: i64,
    lock: bool,
) -> QueryResult<Vec<WaitingRow>> {
    let query = |never: &str, lock: &str| {
        format!(
            "SELECT t.id, t.channel FROM tickets t \
             WHERE t.queue_id = $1 AND t.assignee_id IS NULL AND t.status IN ('new', 'open', 'pending', 'on_hold') {skip} \
             ORDER BY COALESCE((SELECT min(d.due_at) FROM sla_deadlines d WHERE d.ticket_id = t.id AND d.kind = 'breach'), {never}), \
             CASE t.priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END, t.created_at, t.id \
             LIMIT {limit} {lock}"
        )
    };
    match conn {
        DbConnection::Pg(pg) => {
            // As an update would lock it (see `claim_due`): a follower inserting the ticket's
            // notification must not hide it from assignment.
            let lock = if lock { "FOR NO KEY UPDATE OF t SKIP LOCKED" } else { "" };
            diesel::sql_query(query("'infinity'::timestamptz", lock)).bind::<BigInt, _>(queue).load(pg)
        }
        DbConnection::Sqlite(lite) => diesel::sql_query(query("'9999'", "")).bind::<BigInt, _>(queue).load(lite),
    }
}

/// Serialises the deliveries of `department` until the end of the transaction, so their ids grow
/// in commit order (an inbox cursor never skips a row that committed late). SQLite's single
/// writer already does.
pub fn lock_department_feed(conn: &mut DbConnection, department: i64) -> QueryResult<()> {
    match conn {
        DbConnection::Pg(pg) => {
            diesel::sql_query("SELECT pg_advisory_xact_lock(1684369524, $1::int4)")
                .bind::<BigInt, _>(department)
                .execute(pg)?;
        }
        DbConnection::Sqlite(_) => {}
    }
    Ok(())
}

/// Serialises refreshes of the report rollup until the end of the transaction, so two replicas
/// never recompute the same days at once. SQLite's single writer already does.
pub fn lock_report_rollup(conn: &mut DbConnection) -> QueryResult<()> {
    match conn {
        DbConnection::Pg(pg) => {
            diesel::sql_query("SELECT pg_advisory_xact_lock(1919250540)").execute(pg)?;
        }
        DbConnection::Sqlite(_) => {}
    }
    Ok(())
}

/// Claims the trend alert with this key: inserts its row (the rest is filled in by the caller)
/// and returns its id, or `None` when it exists already. On Postgres a concurrent insert of the
/// same key waits for the first transaction and then does nothing, so with several replicas
/// exactly one wins and acts on the alert; SQLite's single writer serialises them by itself.
pub fn claim_trend_alert(
    conn: &mut DbConnection,
    granularity: &str,
    category_id: i64,
    keyword: &str,
    bucket: (super::types::UtcTime, super::types::UtcTime),
    now: super::types::UtcTime,
) -> QueryResult<Option<i64>> {
    let query = diesel::sql_query(
        "INSERT INTO trend_alerts (granularity, category_id, keyword, bucket_start, bucket_end, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (granularity, category_id, keyword, bucket_start) DO NOTHING \
         RETURNING id",
    )
    .bind::<Text, _>(granularity)
    .bind::<BigInt, _>(category_id)
    .bind::<Text, _>(keyword)
    .bind::<super::types::Tstz, _>(bucket.0)
    .bind::<super::types::Tstz, _>(bucket.1)
    .bind::<super::types::Tstz, _>(now);
    let rows: Vec<Id> = match conn {
        DbConnection::Pg(pg) => query.load(pg)?,
        DbConnection::Sqlite(lite) => query.load(lite)?,
    };
    Ok(rows.into_iter().next().map(|r| r.id))
}

/// Claims the durable followers' position in the ticket event log until the end of the
/// transaction: `None` when another replica holds it (that one is reading the same events, so
/// this one skips its turn instead of waiting). SQLite's single writer serialises followers.
pub fn claim_log_follower(conn: &mut DbConnection) -> QueryResult<Option<i64>> {
    const READ: &str = "SELECT last_event_id AS id FROM log_follower WHERE id = 1";
    let rows: Vec<Id> = match conn {
        DbConnection::Pg(pg) => diesel::sql_query(format!("{READ} FOR UPDATE SKIP LOCKED")).load(pg)?,
        DbConnection::Sqlite(lite) => diesel::sql_query(READ).load(lite)?,
    };
    Ok(rows.into_iter().next().map(|r| r.id))
}

/// Adds a notification unless the agent has one of that kind for that event already; returns
/// whether it was added.
pub fn insert_notification(
    conn: &mut DbConnection,
    agent_id: i64,
    kind: &str,
    ticket_id: i64,
    event_id: i64,
    title: &str,
    now: super::types::UtcTime,
) -> QueryResult<bool> {
    let query = diesel::sql_query(
        "INSERT INTO notifications (agent_id, kind, ticket_id, event_id, title, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (agent_id, kind, event_id) DO NOTHING",
    )
    .bind::<BigInt, _>(agent_id)
    .bind::<Text, _>(kind)
    .bind::<BigInt, _>(ticket_id)
    .bind::<BigInt, _>(event_id)
    .bind::<Text, _>(title)
    .bind::<super::types::Tstz, _>(now);
    let added = match conn {
        DbConnection::Pg(pg) => query.execute(pg)?,
        DbConnection::Sqlite(lite) => query.execute(lite)?,
    };
    Ok(added > 0)
}

/// SQL text of the instant `t`, for report queries that inline their period boundaries (computed
/// here in America/Santiago, so their number varies; they are never user text).
pub fn timestamp_literal(conn: &DbConnection, t: chrono::DateTime<chrono::Utc>) -> String {
    let text = super::types::sqlite_text(&t);
    match conn {
        DbConnection::Pg(_) => format!("TIMESTAMPTZ '{text}'"),
        // The stored form (RFC 3339 text in UTC, microseconds), which compares chronologically.
        DbConnection::Sqlite(_) => format!("'{text}'"),
    }
}

/// Prepares the current transaction for report queries. On Postgres: read only, no JIT (compiling
/// the large plans of a report takes longer than running them) and room to sort in memory.
pub fn prepare_report(conn: &mut DbConnection) -> QueryResult<()> {
    use diesel::connection::SimpleConnection;
    match conn {
        DbConnection::Pg(pg) => {
            pg.batch_execute("SET TRANSACTION READ ONLY; SET LOCAL jit = off; SET LOCAL work_mem = '32MB'")
        }
        DbConnection::Sqlite(_) => Ok(()),
    }
}

diesel::define_sql_function! {
    /// `domain::search::index_stems`, for SQLite's index triggers.
    fn search_stems(text: Text) -> Text;
}

/// Makes `search_stems()` available to the triggers of this SQLite connection.
pub fn register_sqlite(conn: &mut diesel::SqliteConnection) -> QueryResult<()> {
    search_stems_utils::register_impl(conn, |text: String| crate::domain::search::index_stems(&text))
}
