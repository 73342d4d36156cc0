//! JSON request bodies as the API reads them (`extract::parse_json`: 400 vs 422) and then
//! validates them. The first byte picks the request type.
//!
//! Shared by the cargo-fuzz target `fuzz/fuzz_targets/json_bodies.rs` and the seed smoke test
//! `tests/api/fuzz_seeds.rs` (ordinary code, run by `cargo test`).

use atencion::http::api::extract::parse_json;
use atencion::tickets::model::CreateTicketRequest;
use atencion::tickets::model::{line, tags, CreateMessageRequest, Errors, UpdateTicketRequest, MAX_SUBJECT};

/// One input of the `json_bodies` target (libFuzzer in `fuzz/`, seeds and mutations in `cargo test`).
pub fn run(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else { return };
    match selector % 3 {
        0 => {
            if let Ok(Ok(input)) = parse_json::<CreateTicketRequest>(body).map(CreateTicketRequest::validate) {
                assert!(!input.subject.is_empty() && input.subject.chars().count() <= MAX_SUBJECT);
                assert!(!input.body.is_empty());
            }
        }
        1 => {
            if let Ok(update) = parse_json::<UpdateTicketRequest>(body) {
                let mut errors = Errors::default();
                if let Some(subject) = &update.subject {
                    line(&mut errors, "subject", subject, MAX_SUBJECT);
                }
                if let Some(list) = &update.tags {
                    tags(&mut errors, "tags", list);
                }
                let _ = errors.finish();
            }
        }
        _ => {
            if let Ok(message) = parse_json::<CreateMessageRequest>(body) {
                let mut errors = Errors::default();
                atencion::tickets::model::body_text(&mut errors, "body", &message.body);
                if let Some(html) = &message.body_html {
                    let _ = atencion::domain::text::sanitize_html(html);
                }
            }
        }
    }
}
