//! PBX events: the first byte picks the shape (native JSON event, CTI push as JSON, CTI push
//! form-encoded), the rest is the body; every valid event of one input is then folded into a
//! call summary, as the call store does.
//! The body is in `bodies/cti_event.rs`, which `cargo test` also runs on the seeds.
#![no_main]

#[path = "bodies/cti_event.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
