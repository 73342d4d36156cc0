//! The one mechanism behind every leased queue (outbox mail, department deliveries to streams
//! and webhooks, attachment scans): a lease hands each due row to one worker until it ends.

use atencion::db::backend::{self, ATTACHMENT_SCANS, OUTBOX};
use atencion::db::schema::{attachment_files, outbox};
use atencion::db::types::UtcTime;
use chrono::{TimeDelta, Utc};
use diesel::prelude::*;

use crate::helpers::*;

on_both! {
    async fn a_lease_hands_each_due_row_to_one_worker_until_it_ends(backend) {
        // No workers of its own: only this test leases.
        let app = spawn(backend, |s| s.server.background = false).await;
        let now = Utc::now();
        let at = move |seconds: i64| UtcTime::from(now + TimeDelta::seconds(seconds));
        app.db
            .write(move |c| {
                for (n, due) in [(1, -5), (2, -1), (3, 3600)] {
                    diesel::insert_into(outbox::table)
                        .values((
                            outbox::kind.eq("prueba"),
                            outbox::recipient.eq("a@b.cl"),
                            outbox::message_id.eq(format!("<{n}@prueba>")),
                            outbox::status.eq("pending"),
                            outbox::attempts.eq(0),
                            outbox::next_attempt_at.eq(at(due)),
                            outbox::created_at.eq(at(-10)),
                        ))
                        .execute(c)?;
                }
                diesel::insert_into(attachment_files::table)
                    .values((
                        attachment_files::sha256.eq("ab12"),
                        attachment_files::size.eq(1),
                        attachment_files::scan.eq("pending"),
                        attachment_files::next_scan_at.eq(at(-1)),
                        attachment_files::last_put_at.eq(at(-1)),
                    ))
                    .execute(c)?;
                Ok(())
            })
            .await
            .unwrap();
        let lease = move |q: &'static backend::LeaseQueue, now: i64, until: i64, limit: i64| {
            let db = app.db.clone();
            async move { db.write(move |c| Ok(backend::lease(c, q, at(now), at(until), limit)?)).await.unwrap() }
        };
        let first = lease(&OUTBOX, 0, 60, 1).await;
        let second = lease(&OUTBOX, 0, 60, 5).await;
        assert_eq!((first.len(), second.len()), (1, 1), "two due mails, one per lease: {first:?} {second:?}");
        assert_ne!(first, second);
        assert!(lease(&OUTBOX, 0, 60, 5).await.is_empty(), "leased mail is nobody else's, and the third is not due");
        let lapsed = lease(&OUTBOX, 61, 120, 5).await;
        let mut both = [first, second].concat();
        both.sort();
        assert_eq!(lapsed, both, "a lease that ran out hands its rows back");
        assert_eq!(lease(&OUTBOX, 3601, 3700, 5).await.len(), 3, "the third once due, the others lapsed again");
        // A queue keyed by text.
        assert_eq!(lease(&ATTACHMENT_SCANS, 0, 60, 5).await, ["ab12"]);
        assert!(lease(&ATTACHMENT_SCANS, 0, 60, 5).await.is_empty());
    }
}
