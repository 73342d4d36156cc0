//! Counts the SQL statements sent, so the round trips of a use case can be shown (the benchmarks'
//! `db_statements_total`) and held to a bound (tests count one use case on their own thread).

use std::cell::Cell;

use diesel::connection::InstrumentationEvent;

thread_local! {
    static SENT: Cell<u64> = const { Cell::new(0) };
    /// The transaction open on this thread, numbered as they begin.
    static TRANSACTION: Cell<Option<u64>> = const { Cell::new(None) };
    static BEGUN: Cell<u64> = const { Cell::new(0) };
}

/// Installed on every connection: one count per statement started, and the transactions' bounds.
pub fn observe(event: InstrumentationEvent<'_>) {
    match event {
        InstrumentationEvent::StartQuery { .. } => {
            SENT.with(|sent| sent.set(sent.get() + 1));
            metrics::counter!("db_statements_total").increment(1);
        }
        InstrumentationEvent::BeginTransaction { depth, .. } if depth.get() == 1 => {
            let number = BEGUN.with(|n| n.replace(n.get().wrapping_add(1)));
            TRANSACTION.with(|t| t.set(Some(number)));
        }
        InstrumentationEvent::CommitTransaction { depth, .. }
        | InstrumentationEvent::RollbackTransaction { depth, .. }
            if depth.get() == 1 =>
        {
            TRANSACTION.with(|t| t.set(None));
        }
        _ => {}
    }
}

/// The transaction open on this thread's connection, if any: what one transaction read of data
/// that changes only by committed writes (reference versions) holds until it ends.
pub fn transaction() -> Option<u64> {
    TRANSACTION.with(Cell::get)
}

/// Runs `f`, and tells how many statements it sent from this thread (a connection is used by one
/// thread at a time, so this is what `f` asked of the database).
pub fn counted<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = SENT.with(Cell::get);
    let result = f();
    (result, SENT.with(Cell::get) - before)
}
