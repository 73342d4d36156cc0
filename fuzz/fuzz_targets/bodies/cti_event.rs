//! PBX events: the first byte picks the shape (native JSON event, CTI push as JSON, CTI push
//! form-encoded), the rest is the body; every valid event of one input is then folded into a
//! call summary, as the call store does.
//!
//! Shared by the cargo-fuzz target `fuzz/fuzz_targets/cti_event.rs` and the seed smoke test
//! `tests/api/fuzz_seeds.rs` (ordinary code, run by `cargo test`).

use atencion::channels::phone::inbound::{CtiPush, NativeEvent};
use atencion::domain::call::summarize;
use atencion::http::api::extract::parse_json;
use chrono::{TimeDelta, TimeZone, Utc};

/// One input of the `cti_event` target (libFuzzer in `fuzz/`, seeds and mutations in `cargo test`).
pub fn run(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else { return };
    let now = Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap();
    let mut events = Vec::new();
    // Several events per input, separated by newlines, so sequences reach the summary.
    for part in body.split(|&b| b == b'\n').take(16) {
        let incoming = match selector % 3 {
            0 => parse_json::<NativeEvent>(part).and_then(NativeEvent::validate),
            1 => CtiPush::parse("application/json", part).and_then(|p| p.validate(now)),
            _ => CtiPush::parse("application/x-www-form-urlencoded", part).and_then(|p| p.validate(now)),
        };
        if let Ok(incoming) = incoming {
            assert!(!incoming.call_id.is_empty());
            events.push(incoming.event);
        }
    }
    let _ = summarize(&events, TimeDelta::seconds(10));
}
