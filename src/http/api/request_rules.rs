//! The rules request values follow, written into the generated OpenAPI document so that it
//! states them (issue 17: "the spec is true"): which value type each field of a request body and
//! each query parameter has (`crate::values`), the bounds the handlers check, and the per-operation
//! schemas a shared input type stands for (a queue is created from `ReferenceInput` with its own
//! fields, `slug` and `name` required). Rules the handlers enforce but JSON Schema cannot say
//! (a record that must exist, a period's length, one field or another) are in the descriptions
//! and listed in `tests/fuzz/schemathesis_hooks.py`.
//!
//! Kept in one table rather than on each type so that the conventions (no NUL anywhere, one page
//! size, one cursor) are applied in one place and every new request type gets them.

use serde_json::{json, Map, Value};

use crate::http::upload;

/// A path as a JSON Pointer segment.
fn pointer(path: &str) -> String {
    path.replace('~', "~0").replace('/', "~1")
}

fn r(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn nullable(schema: Value) -> Value {
    json!({"oneOf": [{"type": "null"}, schema]})
}

fn int(minimum: i64, maximum: i64) -> Value {
    json!({"type": "integer", "format": "int64", "minimum": minimum, "maximum": maximum})
}

fn opt_int(minimum: i64, maximum: i64) -> Value {
    json!({"type": ["integer", "null"], "format": "int64", "minimum": minimum, "maximum": maximum})
}

fn list(items: Value, min_items: usize) -> Value {
    json!({"type": ["array", "null"], "items": items, "minItems": min_items})
}

/// Writes the rules into the document (JSON: utoipa cannot hold `anyOf` on an object).
pub fn apply(doc: &mut Value) {
    let mut d = Doc(doc);
    bodies(&mut d);
    per_operation_schemas(&mut d);
    forms(&mut d);
    query_parameters(&mut d);
    no_nul_anywhere(d.0);
}

struct Doc<'a>(&'a mut Value);

impl Doc<'_> {
    fn schema(&mut self, name: &str) -> &mut Map<String, Value> {
        self.0["components"]["schemas"][name].as_object_mut().unwrap_or_else(|| panic!("no schema {name}"))
    }

    /// Sets properties of a component schema; each must exist (a renamed field fails the tests).
    fn props(&mut self, name: &str, props: &[(&str, Value)]) {
        let schema = self.schema(name);
        for (prop, rule) in props {
            let slot = schema["properties"].get_mut(*prop).unwrap_or_else(|| panic!("no field {name}.{prop}"));
            *slot = rule.clone();
        }
    }

    fn set(&mut self, name: &str, key: &str, rule: Value) {
        self.schema(name).insert(key.into(), rule);
    }

    fn body(&mut self, method: &str, path: &str, schema: Value) {
        self.body_as(method, path, "application/json", schema);
    }

    fn body_as(&mut self, method: &str, path: &str, media_type: &str, schema: Value) {
        let at = format!("/paths/{}/{method}/requestBody/content/{}/schema", pointer(path), pointer(media_type));
        *self.0.pointer_mut(&at).unwrap_or_else(|| panic!("no {media_type} body on {method} {path}")) = schema;
    }

    /// Sets the schema of a query (or header) parameter; the parameter must exist.
    fn param(&mut self, path: &str, name: &str, schema: Value) {
        let mut found = false;
        for (_, operation) in self.0["paths"][path].as_object_mut().unwrap_or_else(|| panic!("no path {path}")) {
            for parameter in operation.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
                if parameter["name"] == name {
                    parameter["schema"] = schema.clone();
                    found = true;
                }
            }
        }
        assert!(found, "no parameter {name} on {path}");
    }

    /// A copy of `base` under `name`, limited to `fields`, with `required` required (not null).
    fn derive(&mut self, name: &str, base: &str, fields: &[&str], required: &[&str]) {
        let mut schema = self.schema(base).clone();
        let props = schema["properties"].as_object_mut().expect("properties");
        props.retain(|k, _| fields.contains(&k.as_str()));
        for field in required {
            let prop = &mut props[*field];
            if let Some(one_of) = prop.get("oneOf").and_then(Value::as_array) {
                *prop = one_of.iter().find(|s| s["type"] != "null").cloned().expect("a non-null branch");
            } else if let Some(types) = prop["type"].as_array() {
                prop["type"] = types.iter().find(|t| *t != "null").cloned().expect("a non-null type");
            }
        }
        schema.insert("required".into(), json!(required));
        schema.insert("additionalProperties".into(), json!(false));
        self.0["components"]["schemas"][name] = Value::Object(schema);
    }
}

/// The `multipart/form-data` bodies: the JSON body's fields as text parts (a yes/no field is
/// `true` or `false`, an absent value is an empty or missing part) plus the `files`.
fn forms(d: &mut Doc) {
    for (form, base, method, path) in [
        ("CreateMessageForm", "CreateMessageRequest", "post", "/api/v1/tickets/{id}/messages"),
        ("PublicTicketForm", "PublicTicketRequest", "post", "/api/v1/public/tickets"),
    ] {
        let mut schema = d.schema(base).clone();
        let props = schema["properties"].as_object_mut().expect("properties");
        for prop in props.values_mut() {
            *prop = form_field(prop.clone());
        }
        props.insert(upload::FILES.into(), json!({"type": "array", "items": {"type": "string", "format": "binary"}}));
        schema.insert("additionalProperties".into(), json!(false));
        d.0["components"]["schemas"][form] = Value::Object(schema);
        let at = format!("/paths/{}/{method}/requestBody/content", pointer(path));
        let content =
            d.0.pointer_mut(&at).and_then(Value::as_object_mut).unwrap_or_else(|| panic!("no body on {path}"));
        content.insert("multipart/form-data".into(), json!({"schema": r(form)}));
    }
    upload_limits(d.0, &crate::config::AttachmentSettings::default());
}

/// A JSON body's field as a text part: never null, a boolean as its word.
fn form_field(mut prop: Value) -> Value {
    if let Some(branch) =
        prop.get("oneOf").and_then(Value::as_array).and_then(|b| b.iter().find(|s| s["type"] != "null"))
    {
        prop = branch.clone();
    }
    if let Some(types) = prop["type"].as_array() {
        let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        prop["type"] = if kept.len() == 1 { kept[0].clone() } else { Value::Array(kept) };
    }
    if prop["type"] == "boolean" {
        return json!({"type": "string", "enum": ["true", "false"]});
    }
    prop
}

/// States the configured upload limits on the form bodies (the served document is built with
/// the service's `[attachments]`).
pub fn upload_limits(doc: &mut Value, limits: &crate::config::AttachmentSettings) {
    let sizes = format!(
        "At most {} bytes per file and {} bytes in all; a larger file is a 413 naming `files[i]` (or `files`). \
         Empty files and files without a name are a 422 naming the file.",
        limits.max_file_bytes, limits.max_message_bytes
    );
    let form_types = limits.form_media_types.join(", ");
    for (form, max, note) in [
        ("CreateMessageForm", limits.max_files_per_message, String::new()),
        ("PublicTicketForm", limits.form_max_files, format!(" Types accepted, read from the bytes: {form_types}.")),
    ] {
        let files = &mut doc["components"]["schemas"][form]["properties"][upload::FILES];
        files["maxItems"] = json!(max);
        files["description"] = json!(format!("The files, each a part named `files` with its file name. {sizes}{note}"));
    }
}

/// One of these, valid, is required: at least one way to reach the requester.
fn contact() -> Vec<Value> {
    vec![
        json!({"required": ["email"], "properties": {"email": r("Email")}}),
        json!({"required": ["rut"], "properties": {"rut": r("Rut")}}),
        json!({"required": ["phone"], "properties": {"phone": {"type": "string", "pattern": crate::values::NOT_BLANK}}}),
    ]
}

fn bodies(d: &mut Doc) {
    let extension = json!({"type": "string", "pattern":
        format!("^[{w}]*(?:[0-9]{{1,10}})?[{w}]*$", w = crate::values::WHITE_SPACE)});
    let tags = |max| json!({"type": ["array", "null"], "items": r("Word"), "maxItems": max});
    // Tickets and requesters.
    d.props(
        "CreateTicketRequest",
        &[
            ("subject", r("Line200")),
            ("body", r("Text")),
            ("tags", json!({"type": "array", "items": r("Word"), "maxItems": 20})),
            ("category", nullable(r("Slug"))),
            ("queue", nullable(r("Slug"))),
            ("assignee_id", nullable(r("Id"))),
        ],
    );
    d.props(
        "UpdateTicketRequest",
        &[
            ("subject", nullable(r("Line200"))),
            ("tags", tags(20)),
            ("category", nullable(r("Slug"))),
            ("queue", nullable(r("Slug"))),
            ("assignee_id", nullable(r("Id"))),
        ],
    );
    d.props("CreateMessageRequest", &[("body", r("Text"))]);
    d.props(
        "RequesterInput",
        &[
            ("id", nullable(r("Id"))),
            ("name", nullable(r("Note120"))),
            ("email", nullable(r("EmailOrBlank"))),
            ("rut", nullable(r("RutOrBlank"))),
            ("organization", nullable(r("Note200"))),
        ],
    );
    let mut any = vec![json!({"required": ["id"], "properties": {"id": r("Id")}})];
    any.extend(contact());
    d.set("RequesterInput", "anyOf", json!(any));
    d.props(
        "RequesterPatch",
        &[
            ("name", nullable(r("Line120"))),
            ("email", nullable(r("EmailOrBlank"))),
            ("rut", nullable(r("RutOrBlank"))),
            ("organization", nullable(r("Note200"))),
        ],
    );
    d.props(
        "PublicTicketRequest",
        &[
            ("subject", r("Line200")),
            ("body", r("Text")),
            ("name", r("Line120")),
            ("email", r("Email")),
            ("rut", nullable(r("RutOrBlank"))),
            ("organization", nullable(r("Note200"))),
            ("category", nullable(r("Slug"))),
            ("hp_field", json!({"type": "string", "maxLength": 0, "description": "Leave empty (a trap for robots)."})),
        ],
    );
    // Agents.
    d.props(
        "CreateAgentRequest",
        &[
            ("name", r("Line120")),
            ("email", nullable(r("EmailOrBlank"))),
            ("extension", nullable(extension.clone())),
            ("department_id", nullable(r("Id"))),
        ],
    );
    d.props(
        "UpdateAgentRequest",
        &[
            ("name", nullable(r("Line120"))),
            ("email", nullable(r("EmailOrBlank"))),
            ("extension", nullable(extension)),
            ("department_id", nullable(r("Id"))),
        ],
    );
    d.props(
        "ReferenceInput",
        &[
            ("slug", nullable(r("Slug"))),
            ("name", nullable(r("Line120"))),
            ("email", nullable(r("EmailOrBlank"))),
            ("department_id", nullable(r("Id"))),
            ("parent_id", nullable(r("Id"))),
        ],
    );
    // Calendars.
    let window_end = "^(?:(?:[01][0-9]|2[0-3]):[0-5][0-9]|24:00)$".to_owned();
    d.props(
        "Window",
        &[("start", r("HourMinute")), ("end", json!({"type": "string", "pattern": window_end, "examples": ["18:00"]}))],
    );
    d.set("Window", "additionalProperties", json!(false));
    let week = json!({"type": ["array", "null"], "minItems": 7, "maxItems": 7, "items": {"type": "array", "items": r("Window")},
        "description": "Seven lists of opening windows (Monday first), each in order and not overlapping."});
    d.props(
        "CalendarInput",
        &[
            ("slug", nullable(r("Slug"))),
            ("name", nullable(r("Line120"))),
            ("time_zone", nullable(r("TimeZone"))),
            ("week", week),
        ],
    );
    d.props("Holiday", &[("name", r("Line120"))]);
    d.props("DeadlineRequest", &[("minutes", int(0, 5_256_000))]);
    // Phone.
    let pbx = |max: usize| {
        nullable(json!({"type": "string", "maxLength": max, "pattern": r"^[^\u0000-\u001f\u007f-\u009f]*$"}))
    };
    let call_id = json!({"type": "string", "maxLength": 200, "pattern": format!(
        r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0{}][^\u0000-\u001f\u007f-\u009f]*$",
        &crate::values::WHITE_SPACE[6..]
    )});
    d.props(
        "NativeEvent",
        &[
            ("call_id", call_id.clone()),
            ("queue", pbx(120)),
            ("agent", pbx(120)),
            ("to_queue", pbx(120)),
            ("to_agent", pbx(120)),
        ],
    );
    d.props("BlockRequest", &[("reason", nullable(r("Note200")))]);
    // The CTI push: form fields (or JSON); `user` may repeat, unknown fields are ignored, and
    // `direction` and `cause` are read only for the events they belong to.
    let name = json!({"type": "string", "maxLength": 120, "pattern": r"^[^\u0000-\u001f\u007f-\u009f]*$"});
    d.body_as("post", "/api/v1/channels/phone/cti/{token}", "application/x-www-form-urlencoded", json!({
        "type": "object", "required": ["callId", "event"],
        "properties": {
            "callId": call_id.clone(), "event": {"type": "string", "enum": ["newCall", "answer", "hangup"]},
            "direction": r("FreeText"), "cause": r("FreeText"), "from": r("FreeText"), "to": r("FreeText"),
            "queue": name.clone(), "answeringNumber": name.clone(), "user": name,
            "timestamp": {"type": "string", "pattern": crate::values::NO_NUL, "description": "RFC 3339 or Unix seconds."},
        },
    }));
    d.props("LinkRequest", &[("ticket_id", r("Id"))]);
    // Departments.
    d.props("EscalateRequest", &[("reason", r("Line500")), ("department", r("Slug"))]);
    d.props("AnswerRequest", &[("body", r("Text"))]);
    d.props(
        "OpportunityInput",
        &[
            ("title", r("Line200")),
            ("description", r("Text")),
            ("department", r("Slug")),
            ("category", nullable(r("Slug"))),
            ("ticket_ids", json!({"type": "array", "items": r("Id")})),
        ],
    );
    d.props(
        "OpportunityPatch",
        &[("title", nullable(r("Line200"))), ("description", nullable(r("Text"))), ("department", nullable(r("Slug")))],
    );
    d.props("LinkTickets", &[("ticket_ids", json!({"type": "array", "items": r("Id")}))]);
    d.props(
        "TransitionRequest",
        &[("resolution", nullable(r("Text"))), ("comment", nullable(r("Text"))), ("duplicate_of", nullable(r("Id")))],
    );
    // What each target status requires (opportunities::transition checks the same).
    let requires = |statuses: &[&str], field: &str, schema: Value| {
        json!({"if": {"required": ["to"], "properties": {"to": {"enum": statuses}}},
               "then": {"required": [field], "properties": {field: schema}}})
    };
    d.set(
        "TransitionRequest",
        "allOf",
        json!([
            requires(&["implemented", "rejected"], "resolution", r("Text")),
            requires(&["duplicate"], "duplicate_of", r("Id"))
        ]),
    );
    d.props("AckRequest", &[
        ("ids", json!({"type": ["array", "null"], "items": {"type": "integer", "format": "int64"}, "minItems": 1, "maxItems": 1000})),
        ("up_to", nullable(r("Cursor"))),
    ]);
    d.props(
        "DepartmentSlaInput",
        &[
            ("ack_minutes", opt_int(1, 5_256_000)),
            ("answer_minutes", opt_int(1, 5_256_000)),
            ("warn_percent", opt_int(0, 99)),
            ("calendar_id", nullable(r("Id"))),
        ],
    );
    d.props(
        "WebhookInput",
        &[
            (
                "url",
                json!({"type": "string", "format": "uri", "maxLength": 2000,
            "pattern": r"^https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~/-]*)?$"}),
            ),
            (
                "secret",
                json!({"type": ["string", "null"], "writeOnly": true, "minLength": 16, "maxLength": 256,
            "description": "Required the first time."}),
            ),
        ],
    );
    // Live figures.
    let number = |rule: Value| {
        let mut n = json!({"type": "number", "format": "double"});
        n.as_object_mut().expect("object").extend(rule.as_object().expect("object").clone());
        n
    };
    d.props(
        "StaffingInput",
        &[
            ("arrivals", number(json!({"minimum": 0}))),
            ("interval_secs", number(json!({"exclusiveMinimum": 0}))),
            ("aht_secs", number(json!({"exclusiveMinimum": 0}))),
            ("target_service_level", number(json!({"exclusiveMinimum": 0, "exclusiveMaximum": 1}))),
            ("answer_secs", number(json!({"minimum": 0}))),
            ("max_occupancy", number(json!({"exclusiveMinimum": 0, "maximum": 1}))),
            ("shrinkage", number(json!({"minimum": 0, "exclusiveMaximum": 1}))),
        ],
    );
    d.set("StaffingInput", "additionalProperties", json!(false));
    // Quality.
    d.props("SurveyAnswer", &[("score", int(1, 7)), ("comment", nullable(r("Note2000")))]);
    d.props(
        "Criterion",
        &[
            ("key", json!({"type": "string", "pattern": "^[a-z0-9_-]{1,40}$"})),
            ("name", r("Line120")),
            ("weight", int(1, 100)),
            ("max", int(1, 10)),
        ],
    );
    d.props(
        "ScorecardInput",
        &[
            ("name", r("Line120")),
            ("description", nullable(r("Note2000"))),
            (
                "criteria",
                json!({"type": "array", "items": r("Criterion"), "minItems": 1, "maxItems": 30,
            "description": "1 to 30 criteria with different keys."}),
            ),
        ],
    );
    d.props(
        "SampleRequest",
        &[
            ("from", r("Instant")),
            ("to", r("Instant")),
            ("per_agent", int(0, 100)),
            ("seed", json!({"type": ["integer", "null"], "minimum": 0, "maximum": u64::MAX})),
            ("scorecard_id", nullable(r("Id"))),
        ],
    );
    d.props(
        "NewEvaluation",
        &[
            ("ticket_id", r("Id")),
            ("scorecard_id", r("Id")),
            ("agent_id", nullable(r("Id"))),
            ("comment", nullable(r("Note2000"))),
        ],
    );
    d.props("EvaluationInput", &[("scorecard_id", nullable(r("Id"))), ("comment", nullable(r("Note2000")))]);
    d.props("Mark", &[("comment", nullable(r("Note2000")))]);
    d.props("DisputeRequest", &[("reason", r("Text2000"))]);
    d.props("ResolveRequest", &[("resolution", r("Text2000"))]);
    // Routing.
    let words = json!({"type": ["array", "null"], "items": r("Word")});
    d.props("AgentRoutingPatch", &[("skills", words.clone())]);
    let capacity = json!({"type": "integer", "minimum": 0, "maximum": u32::MAX});
    d.props(
        "Capacity",
        &[("phone", capacity.clone()), ("email", capacity.clone()), ("web", capacity.clone()), ("api", capacity)],
    );
    // The four channels only: another key is a 422 naming it (an ignored key's nested values
    // could hold anything, NUL included, which no request text may).
    d.set("Capacity", "additionalProperties", json!(false));
    d.props(
        "QueueRoutingPatch",
        &[("required_skills", words), ("members", json!({"type": ["array", "null"], "items": r("Id")}))],
    );
    d.props("RotationInput", &[
        ("name", r("Line120")), ("agents", json!({"type": "array", "items": r("Id"), "minItems": 1, "uniqueItems": true})),
        ("queues", json!({"type": "array", "items": r("Slug"), "minItems": 1, "uniqueItems": true})),
        ("weekday", nullable(json!({"type": "string", "enum": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"],
            "description": "Required by weekly plans."}))),
        ("at", json!({"type": "string", "pattern": r"^(?:[01]?[0-9]|2[0-3]):[0-5][0-9]$"})), ("timezone", nullable(r("TimeZone"))),
    ]);
    let not_blank = json!({"type": "string", "pattern": crate::values::NOT_BLANK});
    let regex = nullable(json!({"type": "string", "minLength": 1, "maxLength": 1000, "pattern": crate::values::NO_NUL,
        "description": "A regular expression (Rust `regex` syntax)."}));
    d.props(
        "Conditions",
        &[
            ("channel", list(r("Channel"), 1)),
            ("segment", list(r("Segment"), 1)),
            ("priority", list(r("Priority"), 1)),
            ("organization", list(not_blank.clone(), 1)),
            ("keywords", list(not_blank.clone(), 1)),
            ("mailbox", list(not_blank.clone(), 1)),
            ("called_number", list(not_blank, 1)),
            ("category", list(r("Slug"), 1)),
            ("subject_regex", regex.clone()),
            ("body_regex", regex),
        ],
    );
    d.props(
        "Actions",
        &[
            ("tags", json!({"type": "array", "items": r("Word")})),
            ("queue", nullable(r("Slug"))),
            ("category", nullable(r("Slug"))),
            ("watcher_id", nullable(r("Id"))),
        ],
    );
    // A rule does something.
    d.set(
        "Actions",
        "anyOf",
        json!([
            {"required": ["queue"], "properties": {"queue": r("Slug")}},
            {"required": ["category"], "properties": {"category": r("Slug")}},
            {"required": ["priority"], "properties": {"priority": r("Priority")}},
            {"required": ["tags"], "properties": {"tags": {"minItems": 1}}},
            {"required": ["watcher_id"], "properties": {"watcher_id": r("Id")}},
            {"required": ["stop"], "properties": {"stop": {"const": true}}},
        ]),
    );
    d.props("RuleInput", &[("name", r("Line120"))]);
    // SLA policies.
    let minutes = int(1, 5_256_000);
    let by_priority: Map<String, Value> =
        ["low", "normal", "high", "urgent"].iter().map(|p| (p.to_string(), minutes.clone())).collect();
    let metrics = ["first_reply", "next_reply", "periodic_update", "resolution", "callback"];
    let targets: Map<String, Value> = metrics
        .iter()
        .map(|m| (m.to_string(), json!({"type": "object", "additionalProperties": false, "properties": by_priority})))
        .collect();
    let pauses: Map<String, Value> =
        metrics.iter().map(|m| (m.to_string(), json!({"type": "array", "items": r("Status")}))).collect();
    d.0["components"]["schemas"]["SlaTargets"] = json!({"type": "object", "additionalProperties": false, "properties": targets,
        "description": "Business minutes (1 to 5,256,000) per metric and priority."});
    d.0["components"]["schemas"]["PauseStatuses"] =
        json!({"type": "object", "additionalProperties": false, "properties": pauses});
    d.props(
        "PolicyInput",
        &[
            ("name", nullable(r("Line120"))),
            ("targets", nullable(r("SlaTargets"))),
            ("pause_statuses", nullable(r("PauseStatuses"))),
            ("warn_percent", opt_int(1, 99)),
            ("warn_before_minutes", opt_int(1, i64::from(i32::MAX))),
            ("calendar_id", nullable(r("Id"))),
        ],
    );
    // Canned responses and notifications.
    let shortcut = json!({"type": "string", "pattern": format!("^[{w}]*(?:::)?[A-Za-z0-9_-]{{1,40}}[{w}]*$", w = crate::values::WHITE_SPACE),
        "description": "1 to 40 ASCII letters, digits, `-` and `_` (stored in lower case; a leading `::` is dropped)."});
    let canned_body = json!({"type": "string", "maxLength": crate::canned::MAX_BODY, "pattern": crate::values::NOT_BLANK,
        "description": "Up to 10,000 characters. Placeholders: `{nombre}`, `{numero}`, `{agente}`, `{asunto}`, `{enlace}`; any other word in braces is refused."});
    d.props(
        "CannedInput",
        &[
            ("shortcut", shortcut.clone()),
            ("title", r("Line120")),
            ("body", canned_body.clone()),
            ("category", nullable(r("Slug"))),
        ],
    );
    d.props(
        "CannedPatch",
        &[
            ("shortcut", nullable(shortcut)),
            ("title", nullable(r("Line120"))),
            ("body", nullable(canned_body)),
            ("category", nullable(r("Slug"))),
        ],
    );
    let ticket_key =
        format!(r"^[{w}]*(?:[0-9]{{1,18}}|[Aa][Uu]-[0-9]{{4}}-[0-9]{{1,18}})[{w}]*$", w = crate::values::WHITE_SPACE);
    d.props(
        "RenderRequest",
        &[(
            "ticket_id",
            json!({"oneOf": [r("Id"), {"type": "string", "pattern": ticket_key}],
            "description": "The ticket's id, or its number (`AU-2026-000123`)."}),
        )],
    );
    d.props(
        "ReadRequest",
        &[
            ("ids", json!({"type": ["array", "null"], "items": r("Id"), "minItems": 1, "maxItems": crate::notifications::MAX_IDS})),
            ("all", json!({"type": ["boolean", "null"]})),
        ],
    );
    d.set(
        "ReadRequest",
        "anyOf",
        json!([
            {"required": ["ids"], "properties": {"ids": {"type": "array"}}},
            {"required": ["all"], "properties": {"all": {"const": true}}},
        ]),
    );
    d.props("ActionSet", &[("move_to_queue", nullable(r("Slug")))]);
    d.props("EscalateAction", &[("department", r("Slug"))]);
}

/// Request schemas that a shared input type stands for.
fn per_operation_schemas(d: &mut Doc) {
    let common = ["slug", "name", "active"];
    for (kind, path, fields) in [
        ("Queue", "queues", &["description", "department_id"][..]),
        ("Category", "categories", &["department_id", "parent_id"][..]),
        ("Department", "departments", &["email"][..]),
    ] {
        let fields: Vec<&str> = common.iter().chain(fields).copied().collect();
        d.derive(&format!("New{kind}"), "ReferenceInput", &fields, &["slug", "name"]);
        d.derive(&format!("{kind}Change"), "ReferenceInput", &fields, &[]);
        d.body("post", &format!("/api/v1/{path}"), r(&format!("New{kind}")));
        d.body("patch", &format!("/api/v1/{path}/{{id}}"), r(&format!("{kind}Change")));
    }
    let canned = ["shortcut", "title", "body", "category", "scope"];
    d.derive("NewCannedResponse", "CannedInput", &canned, &["shortcut", "title", "body"]);
    d.body("post", "/api/v1/canned-responses", r("NewCannedResponse"));
    d.derive("NewCalendar", "CalendarInput", &["slug", "name", "time_zone", "week"], &["slug", "name", "week"]);
    d.body("post", "/api/v1/calendars", r("NewCalendar"));
    let policy = [
        "name",
        "position",
        "active",
        "conditions",
        "targets",
        "pause_statuses",
        "calendar_id",
        "warn_percent",
        "warn_before_minutes",
        "actions",
    ];
    d.derive("NewPolicy", "PolicyInput", &policy, &["name", "targets", "calendar_id"]);
    d.body("post", "/api/v1/sla/policies", r("NewPolicy"));
    // A new requester: a name and a way to reach them; the id is the service's.
    let requester = ["name", "email", "phone", "rut", "segment", "organization"];
    d.derive("NewRequester", "RequesterInput", &requester, &["name"]);
    d.props("NewRequester", &[("name", r("Line120"))]);
    d.set("NewRequester", "anyOf", json!(contact()));
    d.body("post", "/api/v1/requesters", r("NewRequester"));
}

fn query_parameters(d: &mut Doc) {
    let pattern = |p: &str| json!({"type": "string", "pattern": p});
    let w = crate::values::WHITE_SPACE;
    let status = "(?:new|open|pending|on_hold|solved|closed)";
    d.param("/api/v1/tickets", "status", pattern(&format!("^[{w}]*{status}[{w}]*(?:,[{w}]*{status}[{w}]*)*$")));
    d.param("/api/v1/tickets", "assignee", pattern(r"^(?:none|me|[+-]?[0-9]{1,18})$"));
    // Full-text search: `q` up to `domain::search::MAX_QUERY_CHARS` characters (blank on the list
    // means no filter; required and not blank on the search).
    let max_q = crate::domain::search::MAX_QUERY_CHARS;
    d.param("/api/v1/tickets", "q", json!({"type": "string", "pattern": crate::values::NO_NUL, "maxLength": max_q}));
    d.param("/api/v1/search", "q", json!({"type": "string", "pattern": crate::values::NOT_BLANK, "maxLength": max_q}));
    d.param("/api/v1/search", "status", pattern(&format!("^[{w}]*{status}[{w}]*(?:,[{w}]*{status}[{w}]*)*$")));
    d.param("/api/v1/search", "queue", r("Slug"));
    d.param("/api/v1/tickets/{id}/similar", "limit", int(1, crate::search::MAX_SIMILAR));
    for (path, param) in [
        ("/api/v1/tickets", "queue"),
        ("/api/v1/tickets", "category"),
        ("/api/v1/quality/trends", "category"),
        ("/api/v1/kpis/realtime", "queue"),
        ("/api/v1/kpis/stream", "queue"),
        ("/api/v1/reports/staffing", "queue"),
    ] {
        d.param(path, param, r("Slug"));
    }
    for (path, param) in [
        ("/api/v1/calls", "queue"),
        ("/api/v1/opportunities", "department"),
        ("/api/v1/sla/department-items", "department"),
        ("/api/v1/requesters", "email"),
        ("/api/v1/channels/email/inbound", "mailbox"),
        ("/api/v1/canned-responses", "q"),
    ] {
        d.param(path, param, r("FreeText"));
    }
    for (path, param) in [("/api/v1/requesters", "phone"), ("/api/v1/calls", "number")] {
        d.param(path, param, pattern(crate::values::NOT_BLANK));
    }
    d.param("/api/v1/requesters", "rut", pattern(r"^ *[.\- ]*[1-9](?:[.\- ]*[0-9]){0,7}[.\- ]*[0-9kK][.\- ]*$"));
    d.param(
        "/api/v1/calendars/{id}/holidays",
        "year",
        json!({"type": "integer", "format": "int32", "minimum": 1900, "maximum": 2999}),
    );
    d.param("/api/v1/sla/department-items", "state", json!({"type": "string", "enum": ["at_risk", "breached"]}));
    d.param("/api/v1/quality/trends", "since", r("Instant"));
    for path in
        ["/api/v1/quality/csat", "/api/v1/quality/report", "/api/v1/quality/recurring", "/api/v1/quality/evaluations"]
    {
        d.param(path, "from", r("Instant"));
        d.param(path, "to", r("Instant"));
    }
    d.param("/api/v1/quality/recurring", "limit", int(1, 50));
    for path in ["/api/v1/kpis/realtime", "/api/v1/kpis/stream"] {
        d.param(path, "window", json!({"type": "string", "enum": ["15", "30", "60", "today"]}));
    }
    let reports =
        ["volume", "response-times", "sla", "abandonment", "backlog", "agents"].map(|r| format!("reports/{r}"));
    for path in reports.iter().map(String::as_str).chain(["departments/{id}/summary"]) {
        d.param(&format!("/api/v1/{path}"), "from", r("ReportDate"));
        d.param(&format!("/api/v1/{path}"), "to", r("ReportDate"));
    }
    d.param("/api/v1/reports/abandonment", "by", json!({"type": "string", "enum": ["queue"]}));
    d.param("/api/v1/reports/abandonment", "answer_secs", int(0, 86_400));
    d.param("/api/v1/reports/staffing", "date", r("ReportDate"));
    let number = |rule: Value| {
        let mut n = json!({"type": "number"});
        n.as_object_mut().expect("object").extend(rule.as_object().expect("object").clone());
        n
    };
    d.param(
        "/api/v1/reports/staffing",
        "target_service_level",
        number(json!({"exclusiveMinimum": 0, "exclusiveMaximum": 1})),
    );
    d.param("/api/v1/reports/staffing", "max_occupancy", number(json!({"exclusiveMinimum": 0, "maximum": 1})));
    d.param("/api/v1/reports/staffing", "shrinkage", number(json!({"minimum": 0, "exclusiveMaximum": 1})));
    d.param("/api/v1/reports/staffing", "answer_secs", number(json!({"minimum": 0, "maximum": 86_400})));
    d.param("/api/v1/audit", "object_type", json!({"type": "string", "enum": ["ticket", "opportunity"]}));
    // Conventions for every operation: pages and cursors, the idempotency key.
    let paths: Vec<String> = d.0["paths"].as_object().expect("paths").keys().cloned().collect();
    for path in paths {
        for (_, operation) in d.0["paths"][&path].as_object_mut().expect("path item") {
            for parameter in operation.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
                let name = parameter["name"].as_str().unwrap_or_default().to_owned();
                let unbounded = parameter["schema"].get("minimum").is_none();
                match (parameter["in"].as_str(), name.as_str()) {
                    (Some("query"), "limit") if unbounded => parameter["schema"] = r("PageSize"),
                    (Some("query"), "cursor" | "after") => parameter["schema"] = r("Cursor"),
                    (Some("header"), "Idempotency-Key") => parameter["schema"] = r("IdempotencyKey"),
                    _ => {}
                }
            }
        }
    }
}

/// The NUL rule (`AppError::nul_character`), stated on every request text that has no pattern of
/// its own: request bodies (and what they reference) and query parameters.
fn no_nul_anywhere(doc: &mut Value) {
    fn walk(schema: &mut Value, names: &mut Vec<String>) {
        let Some(object) = schema.as_object_mut() else { return };
        if let Some(name) = object.get("$ref").and_then(Value::as_str) {
            names.push(name.rsplit('/').next().unwrap_or_default().to_owned());
            return;
        }
        let is_string = match &object.get("type") {
            Some(Value::String(t)) => t == "string",
            Some(Value::Array(types)) => types.iter().any(|t| t == "string"),
            _ => false,
        };
        let free = !["pattern", "format", "enum", "const"].iter().any(|k| object.contains_key(*k));
        if is_string && free {
            object.insert("pattern".into(), json!(crate::values::NO_NUL));
        }
        for key in ["properties", "patternProperties"] {
            if let Some(Value::Object(props)) = object.get_mut(key) {
                props.values_mut().for_each(|p| walk(p, names));
            }
        }
        for key in ["items", "additionalProperties", "not"] {
            if let Some(inner) = object.get_mut(key) {
                walk(inner, names);
            }
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            if let Some(Value::Array(items)) = object.get_mut(key) {
                items.iter_mut().for_each(|i| walk(i, names));
            }
        }
    }
    let mut pending = Vec::new();
    for (_, item) in doc["paths"].as_object_mut().expect("paths") {
        for (_, operation) in item.as_object_mut().expect("path item") {
            let contents = operation.get_mut("requestBody").and_then(|b| b.get_mut("content"));
            for (_, content) in contents.and_then(Value::as_object_mut).into_iter().flatten() {
                if let Some(schema) = content.get_mut("schema") {
                    walk(schema, &mut pending);
                }
            }
            for parameter in operation.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
                if parameter["in"] == "query" {
                    walk(&mut parameter["schema"], &mut pending);
                }
            }
        }
    }
    let mut done = std::collections::BTreeSet::new();
    while let Some(name) = pending.pop() {
        if done.insert(name.clone()) {
            walk(&mut doc["components"]["schemas"][&name], &mut pending);
        }
    }
}
