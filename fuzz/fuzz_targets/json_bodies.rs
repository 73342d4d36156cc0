//! JSON request bodies as the API reads them (`extract::parse_json`: 400 vs 422) and then
//! validates them. The first byte picks the request type.
//! The body is in `bodies/json_bodies.rs`, which `cargo test` also runs on the seeds.
#![no_main]

#[path = "bodies/json_bodies.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
