//! Raw mail bytes → parsed mail → threading keys → the fields a new ticket would be stored with.
//! `intake::ingest` itself needs the database; this covers everything before its first query.
//! The body is in `bodies/email_intake.rs`, which `cargo test` also runs on the seeds.
#![no_main]

#[path = "bodies/email_intake.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
