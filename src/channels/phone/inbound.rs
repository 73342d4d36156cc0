//! The two shapes PBX events arrive in, validated into [`Incoming`]: our native JSON events, and
//! the generic CTI push (Zammad's format: `newCall` / `answer` / `hangup`, form-encoded or JSON).

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::calls::{Incoming, Source};
use crate::domain::call::{CallEvent, CallEventKind, Cause, Direction};
use crate::domain::phone;
use crate::error::AppError;
use crate::tickets::model::Errors;

const MAX_ID: usize = 200;
const MAX_NAME: usize = 120;
const MAX_URL: usize = 2000;
const MAX_TRANSCRIPT: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum NativeKind {
    #[serde(rename = "call.queued")]
    Queued,
    #[serde(rename = "call.answered")]
    Answered,
    #[serde(rename = "call.held")]
    Held,
    #[serde(rename = "call.resumed")]
    Resumed,
    #[serde(rename = "call.transferred")]
    Transferred,
    #[serde(rename = "call.ended")]
    Ended,
    #[serde(rename = "call.wrapup_ended")]
    WrapupEnded,
    #[serde(rename = "voicemail")]
    Voicemail,
}

/// One call event in the native format. Fields that do not apply to the event are ignored.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NativeEvent {
    pub event: NativeKind,
    /// The PBX's call id: every event of one call carries the same one.
    pub call_id: String,
    /// When it happened, by the PBX's clock (RFC 3339); arrival time is never used.
    pub at: DateTime<Utc>,
    /// `call.queued`: `in` (default) or `out`.
    pub direction: Option<Direction>,
    /// `call.queued`: caller and called numbers, any Chilean or international format.
    pub from: Option<String>,
    pub to: Option<String>,
    /// `call.queued`: the PBX's queue; it matches our queue of the same slug.
    pub queue: Option<String>,
    /// `call.answered`, `call.wrapup_ended`: the agent's extension, email or name.
    pub agent: Option<String>,
    /// `call.transferred`: the queue and/or agent the call went to.
    pub to_queue: Option<String>,
    pub to_agent: Option<String>,
    /// `call.ended`.
    pub cause: Option<Cause>,
    /// `voicemail`: link to the recording, and its transcript.
    pub recording_url: Option<String>,
    pub transcript: Option<String>,
}

fn text(errors: &mut Errors, field: &str, value: Option<&str>, max: usize) -> Option<String> {
    let value = value.map(str::trim).filter(|v| !v.is_empty())?;
    if value.chars().count() > max || value.chars().any(char::is_control) {
        errors.add(field, format!("debe tener a lo más {max} caracteres, sin caracteres de control"));
        return None;
    }
    Some(value.to_owned())
}

/// A number we can recognise, else `None`: PBXs send `anonymous`, SIP URIs and the like for
/// withheld callers, which are callers we cannot call back, not errors.
fn number(value: Option<&str>) -> Option<String> {
    value.and_then(phone::normalize)
}

fn call_id(errors: &mut Errors, field: &str, value: &str) -> String {
    text(errors, field, Some(value), MAX_ID).unwrap_or_else(|| {
        errors.add(field, "es obligatorio");
        String::new()
    })
}

impl NativeEvent {
    pub fn validate(self) -> Result<Incoming, AppError> {
        let mut errors = Errors::default();
        let call_id = call_id(&mut errors, "call_id", &self.call_id);
        let mut name = |field: &str, value: &Option<String>| text(&mut errors, field, value.as_deref(), MAX_NAME);
        let (queue, agent) = (name("queue", &self.queue), name("agent", &self.agent));
        let (to_queue, to_agent) = (name("to_queue", &self.to_queue), name("to_agent", &self.to_agent));
        let kind = match self.event {
            NativeKind::Queued => CallEventKind::Queued {
                direction: self.direction.unwrap_or(Direction::Inbound),
                from: number(self.from.as_deref()),
                to: number(self.to.as_deref()),
                queue,
            },
            NativeKind::Answered => CallEventKind::Answered { agent },
            NativeKind::Held => CallEventKind::Held,
            NativeKind::Resumed => CallEventKind::Resumed,
            NativeKind::Transferred => {
                if to_queue.is_none() && to_agent.is_none() {
                    errors.add("to_queue", "indique to_queue o to_agent");
                }
                CallEventKind::Transferred { queue: to_queue, agent: to_agent }
            }
            NativeKind::Ended => CallEventKind::Ended { cause: self.cause },
            NativeKind::WrapupEnded => CallEventKind::WrapupEnded { agent },
            NativeKind::Voicemail => {
                let url = text(&mut errors, "recording_url", self.recording_url.as_deref(), MAX_URL);
                if url.as_deref().is_some_and(|u| !(u.starts_with("https://") || u.starts_with("http://"))) {
                    errors.add("recording_url", "debe ser una dirección http(s)");
                }
                let transcript = self.transcript.as_deref().map(str::trim).filter(|t| !t.is_empty());
                if transcript.is_some_and(|t| t.len() > MAX_TRANSCRIPT) {
                    errors.add("transcript", format!("debe tener a lo más {MAX_TRANSCRIPT} bytes"));
                }
                if url.is_none() && transcript.is_none() {
                    errors.add("recording_url", "indique recording_url o transcript");
                }
                CallEventKind::Voicemail { url, transcript: transcript.map(str::to_owned) }
            }
        };
        errors.finish()?;
        Ok(Incoming { call_id, source: Source::Native, event: CallEvent { at: self.at, kind } })
    }
}

/// The fields of a CTI push the service reads; the others are dropped on arrival.
const READ: &[&str] =
    &["event", "callId", "from", "to", "direction", "user", "user[]", "queue", "cause", "timestamp", "answeringNumber"];

/// Fields of a CTI push; `user` may repeat (`user[]=a&user[]=b`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CtiPush {
    pub fields: Vec<(String, String)>,
}

impl CtiPush {
    /// Reads `application/x-www-form-urlencoded` or JSON, as the connectors send either.
    pub fn parse(content_type: &str, body: &[u8]) -> Result<CtiPush, AppError> {
        let bad = || AppError::BadRequest("El cuerpo no es un formulario ni JSON válido.".into());
        let mut fields = Vec::new();
        if content_type.trim().to_ascii_lowercase().starts_with("application/json") {
            let Value::Object(map) = serde_json::from_slice::<Value>(body).map_err(|_| bad())? else {
                return Err(bad());
            };
            for (key, value) in map {
                let values = match value {
                    Value::Array(items) => items,
                    other => vec![other],
                };
                for v in values {
                    match v {
                        Value::String(s) => fields.push((key.clone(), s)),
                        Value::Number(n) => fields.push((key.clone(), n.to_string())),
                        Value::Null => {}
                        _ => return Err(AppError::field(&key, "debe ser texto")),
                    }
                }
            }
        } else {
            std::str::from_utf8(body).map_err(|_| bad())?;
            fields = form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        }
        // Connectors add fields of their own, which are never read: only those we read must be clean.
        fields.retain(|(k, _)| READ.contains(&k.as_str()));
        if let Some((key, _)) = fields.iter().find(|(_, v)| v.contains('\0')) {
            return Err(AppError::nul_character(key.clone()));
        }
        Ok(CtiPush { fields })
    }

    fn get(&self, key: &str) -> Option<&str> {
        debug_assert!(READ.contains(&key), "{key} is read but not kept");
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).filter(|v| !v.trim().is_empty())
    }

    fn users(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().filter(|(k, _)| k == "user" || k == "user[]").map(|(_, v)| v.as_str())
    }

    /// The event, and whether it is a `newCall` (whose answer may reject the call). The CTI
    /// format has no timestamp of its own; a `timestamp` field (RFC 3339 or Unix seconds) is
    /// used when the connector adds one, else the time of arrival.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<Incoming, AppError> {
        let mut errors = Errors::default();
        let call_id = call_id(&mut errors, "callId", self.get("callId").unwrap_or(""));
        let at = match self.get("timestamp") {
            None => now,
            Some(t) => timestamp(t).unwrap_or_else(|| {
                errors.add("timestamp", "debe ser RFC 3339 o segundos Unix");
                now
            }),
        };
        let mut name = |field: &str, value: Option<&str>| text(&mut errors, field, value, MAX_NAME);
        let queue = name("queue", self.get("queue"));
        let agent = name("answeringNumber", self.get("answeringNumber")).or_else(|| name("user", self.users().next()));
        let kind = match self.get("event") {
            Some("newCall") => {
                let direction = match self.get("direction") {
                    None | Some("in") => Direction::Inbound,
                    Some("out") => Direction::Outbound,
                    Some(_) => {
                        errors.add("direction", "valores aceptados: in, out");
                        Direction::Inbound
                    }
                };
                CallEventKind::Queued { direction, from: number(self.get("from")), to: number(self.get("to")), queue }
            }
            Some("answer") => CallEventKind::Answered { agent },
            Some("hangup") => {
                let cause = self
                    .get("cause")
                    .and_then(|c| c.parse::<Cause>().map_err(|e| errors.add("cause", e.to_string())).ok());
                CallEventKind::Ended { cause }
            }
            _ => {
                errors.add("event", "valores aceptados: newCall, answer, hangup");
                CallEventKind::Held
            }
        };
        errors.finish()?;
        Ok(Incoming { call_id, source: Source::Cti, event: CallEvent { at, kind } })
    }
}

fn timestamp(value: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Some(t.with_timezone(&Utc));
    }
    let secs: f64 = value.parse().ok().filter(|s: &f64| s.is_finite() && *s > 0.0 && *s < 4e9)?;
    Utc.timestamp_micros((secs * 1e6) as i64).single()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(fields: &[(&str, &str)]) -> CtiPush {
        CtiPush { fields: fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, 13, 0, 0).unwrap()
    }

    #[test]
    fn form_with_repeated_users() {
        let p = CtiPush::parse(
            "application/x-www-form-urlencoded",
            b"event=answer&callId=c1&user%5B%5D=Ana&user%5B%5D=Luis",
        )
        .unwrap();
        let incoming = p.validate(now()).unwrap();
        assert_eq!(incoming.call_id, "c1");
        assert_eq!(
            incoming.event,
            CallEvent { at: now(), kind: CallEventKind::Answered { agent: Some("Ana".into()) } }
        );
    }

    #[test]
    fn json_new_call_normalises_numbers_and_keeps_withheld_callers_unknown() {
        let body = br#"{"event":"newCall","callId":"c2","from":"9 8765 4321","to":"600 7000 600","direction":"in","user":["Ana"],"queue":"mesa-de-ayuda"}"#;
        let incoming = CtiPush::parse("application/json; charset=utf-8", body).unwrap().validate(now()).unwrap();
        let expected = CallEventKind::Queued {
            direction: Direction::Inbound,
            from: Some("+56987654321".into()),
            to: Some("6007000600".into()),
            queue: Some("mesa-de-ayuda".into()),
        };
        assert_eq!(incoming.event.kind, expected);
        let anonymous = push(&[("event", "newCall"), ("callId", "c3"), ("from", "anonymous")]).validate(now()).unwrap();
        assert!(matches!(anonymous.event.kind, CallEventKind::Queued { from: None, .. }));
    }

    #[test]
    fn answering_number_wins_over_users_and_timestamp_is_honoured() {
        let p = push(&[
            ("event", "answer"),
            ("callId", "c"),
            ("user[]", "Ana"),
            ("answeringNumber", "101"),
            ("timestamp", "1764680400"),
        ]);
        let incoming = p.validate(now()).unwrap();
        assert_eq!(incoming.event.kind, CallEventKind::Answered { agent: Some("101".into()) });
        assert_eq!(incoming.event.at, Utc.with_ymd_and_hms(2025, 12, 2, 13, 0, 0).unwrap());
        let rfc = push(&[("event", "hangup"), ("callId", "c"), ("timestamp", "2026-12-02T10:00:05-03:00")]);
        assert_eq!(rfc.validate(now()).unwrap().event.at, Utc.with_ymd_and_hms(2026, 12, 2, 13, 0, 5).unwrap());
    }

    #[test]
    fn bad_pushes_name_every_bad_field() {
        let err = push(&[("event", "ring"), ("cause", "hungUp"), ("timestamp", "ayer")]).validate(now()).unwrap_err();
        let AppError::Validation(fields) = err else { panic!("expected a validation error, got {err:?}") };
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["callId", "timestamp", "event"]);
        let hangup = push(&[("event", "hangup"), ("callId", "c"), ("cause", "hungUp")]).validate(now());
        assert!(matches!(hangup, Err(AppError::Validation(f)) if f[0].field == "cause"));
        assert!(CtiPush::parse("application/json", b"[1,2]").is_err());
        assert!(CtiPush::parse("application/x-www-form-urlencoded", b"\xff\xfe").is_err());
    }
}
