//! The OpenAPI document (`/api/v1/openapi.json`) and its offline docs page (`/docs/`).

use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::ServerBuilder;
use utoipa::{Modify, OpenApi};

use super::{
    attachments, audit, canned, departments, directory, email, kpis, notifications, phone, quality, reports, routing,
    search, session, sla, system, tickets, trends, workspace,
};
use crate::http::public;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "atencion",
        description = "Mesa de ayuda y contact center del Departamento de Atención Usuaria de ChileCompra. \
            Errors are RFC 9457 `application/problem+json` documents.",
    ),
    paths(
        tickets::create_ticket, tickets::list_tickets, tickets::get_ticket, tickets::update_ticket,
        tickets::add_message, tickets::list_messages, tickets::list_events, attachments::download,
        workspace::ticket_views, workspace::put_viewer, workspace::delete_viewer, workspace::live_stream,
        directory::create_requester, directory::list_requesters, directory::get_requester,
        directory::update_requester, directory::delete_requester,
        directory::create_agent, directory::list_agents, directory::get_me, directory::get_agent, directory::update_agent,
        directory::delete_agent, directory::create_token,
        directory::list_queues, directory::get_queue, directory::create_queue, directory::update_queue, directory::delete_queue,
        directory::list_departments, directory::get_department, directory::create_department,
        directory::update_department, directory::delete_department,
        directory::list_categories, directory::get_category, directory::create_category,
        directory::update_category, directory::delete_category,
        sla::ticket_sla, sla::list_calendars, sla::get_calendar, sla::create_calendar, sla::update_calendar,
        sla::list_holidays, sla::put_holiday, sla::delete_holiday, sla::deadline, sla::business_minutes,
        sla::list_policies, sla::get_policy, sla::create_policy, sla::update_policy, sla::delete_policy,
        email::inbound, email::list_outbox, email::list_quarantine, email::reprocess,
        phone::native_event, phone::cti_push, phone::list_calls, phone::get_call, phone::link_call,
        phone::list_blocked, phone::block_number, phone::unblock_number,
        kpis::staffing, kpis::realtime, kpis::stream, kpis::rebuild,
        reports::volume, reports::response_times, reports::sla, reports::abandonment, reports::backlog,
        reports::agents, reports::staffing,
        departments::escalate, departments::ticket_escalations, departments::department_escalations,
        departments::answer, departments::get_escalation, departments::department_summary, departments::create_opportunity, departments::list_opportunities,
        departments::get_opportunity, departments::update_opportunity, departments::transition_opportunity, departments::link_opportunity_tickets,
        departments::inbox, departments::ack_inbox, departments::deliveries,
        departments::get_webhook, departments::put_webhook, departments::delete_webhook,
        departments::get_department_sla, departments::put_department_sla, departments::department_sla_items,
        audit::list,
        routing::list_rules, routing::create_rule, routing::get_rule, routing::update_rule, routing::delete_rule,
        routing::test_rules, routing::get_queue_routing, routing::queue_waiting, routing::patch_queue_routing, routing::next_ticket,
        routing::team_routing, routing::get_agent_routing, routing::patch_agent_routing, routing::set_presence,
        routing::list_rotations, routing::create_rotation, routing::preview_rotation, routing::get_rotation, routing::rotation_history,
        routing::delete_rotation,
        quality::csat_figures, quality::answer_survey, quality::requester_surveys, quality::create_scorecard, quality::list_scorecards,
        quality::get_scorecard, quality::run_sampling, quality::list_evaluations, quality::create_evaluation,
        quality::get_evaluation, quality::submit_evaluation, quality::dispute, quality::resolve_dispute,
        quality::quality_report, quality::recurring_problems, trends::list_trends, trends::scan,
        public::submit, public::categories,
        system::health, system::ready, system::metrics,
        session::sign_in, session::current, session::sign_out, session::set_password, session::invite,
        canned::list_canned, canned::create_canned, canned::get_canned, canned::update_canned, canned::delete_canned,
        canned::render_canned, notifications::list_notifications, notifications::read_notifications,
        search::search_tickets, search::similar_tickets,
    ),
    components(schemas(
        crate::error::Problem, crate::error::FieldError,
        // Query parameters' enums (IntoParams does not register them).
        crate::tickets::SlaFilter, crate::tickets::TicketSort, crate::tickets::SortOrder,
    )),
    modifiers(&Security, &ValueTypes, &CommonProblems),
    tags(
        (name = "tickets", description = "Tickets, messages and their event log"),
        (name = "session", description = "Sign-in of people to the workspace: the session cookie (HttpOnly, SameSite=Strict), its CSRF token, and password links"),
        (name = "departments", description = "Escalations and improvement opportunities sent to other departments, their answers, their internal SLA, how departments receive them (inbox, Redis stream, signed webhooks), and the audit log of who read or changed them"),
        (name = "email", description = "Inbound mail, the outbox and the quarantine"),
        (name = "kpis", description = "Contact-center figures: live KPIs (JSON and Server-Sent Events), their rebuild, and the staffing forecast"),
        (name = "reports", description = "Historical reports (America/Santiago days), as JSON or CSV (`Accept: text/csv`, or `formato=csv|excel`: `excel` is `;`-separated with a UTF-8 BOM, Spanish titles and decimal commas)"),
        (name = "phone", description = "PBX call events (native and CTI push), call records and blocked numbers"),
        (name = "quality", description = "Satisfaction survey (CSAT) figures, QA scorecards, sampling, evaluations, disputes, the weekly quality report, recurring problems and trend (spike) alerts"),
        (name = "routing", description = "Routing rules, queue strategies and members, presence, pull mode and rotation plans"),
        (name = "sla", description = "Business calendars, SLA policies and each ticket's clocks"),
        (name = "web form", description = "The public contact form (no authentication)"),
        (name = "system", description = "Health, readiness and metrics"),
        (name = "canned responses", description = "Canned responses for the composer: shared ones (managed by supervisors and admins) and each agent's personal ones, with placeholders filled for a ticket"),
        (name = "notifications", description = "Each agent's notifications (assigned to me, my requester answered, my escalation answered, SLA warning, mention in an internal note) and marking them read"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        // The workspace's session cookie authenticates whatever a bearer token does; unsafe
        // methods with it also need the session's `X-CSRF-Token` header.
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::session::COOKIE,
                "Session of a person signed in (POST /api/v1/session); unsafe methods also send X-CSRF-Token",
            ))),
        );
        let cookie = SecurityRequirement::new("cookie", Vec::<String>::new());
        for item in doc.paths.paths.values_mut() {
            for operation in [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete] {
                let Some(security) = operation.as_mut().and_then(|o| o.security.as_mut()) else { continue };
                if !security.is_empty() && !security.contains(&cookie) {
                    security.push(cookie.clone());
                }
            }
        }
        // Handlers are declared relative to /api/v1, except the system endpoints at the root.
        let paths = std::mem::take(&mut doc.paths.paths);
        for (path, item) in paths {
            let full = if ["/health", "/ready", "/metrics"].contains(&path.as_str()) {
                path
            } else {
                format!("/api/v1{path}")
            };
            doc.paths.paths.insert(full, item);
        }
        doc.servers = Some(vec![ServerBuilder::new().url("/").build()]);
    }
}

/// POST operations that only compute an answer (no record changes, so no 409).
const COMPUTATIONS: &[&str] = &[
    "/api/v1/kpis/staffing",
    "/api/v1/calendars/{id}/deadline",
    "/api/v1/calendars/{id}/business-minutes",
    "/api/v1/routing/rules/test",
];

/// The problem responses every operation can give, added where a handler does not list them:
/// the extractors answer them before the handler runs (found by schemathesis: undocumented
/// 400/401/403/404/415/422). 401 applies to the public endpoints too, since a malformed bearer
/// token is rejected everywhere.
struct CommonProblems;

impl Modify for CommonProblems {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{HttpMethod, ParameterIn};
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};

        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
                )
                .build()
        };
        for (path, item) in doc.paths.paths.iter_mut() {
            if !path.starts_with("/api/v1/") {
                continue;
            }
            let has_path_params = path.contains('{');
            for method in [HttpMethod::Get, HttpMethod::Post, HttpMethod::Put, HttpMethod::Patch, HttpMethod::Delete] {
                let operation = match method {
                    HttpMethod::Get => item.get.as_mut(),
                    HttpMethod::Post => item.post.as_mut(),
                    HttpMethod::Put => item.put.as_mut(),
                    HttpMethod::Patch => item.patch.as_mut(),
                    HttpMethod::Delete => item.delete.as_mut(),
                    _ => None,
                };
                let Some(operation) = operation else { continue };
                let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let has_query =
                    operation.parameters.iter().flatten().any(|p| matches!(p.parameter_in, ParameterIn::Query));
                let has_body = operation.request_body.is_some();
                let mut add = |code: &str, description: &str| {
                    operation.responses.responses.entry(code.to_owned()).or_insert_with(|| problem(description).into());
                };
                add("401", "Missing or invalid bearer token");
                if secured {
                    add("403", "The token's role lacks the permission");
                }
                if has_body {
                    add("400", "The body is not valid JSON");
                    add("413", "The body is too large");
                    add("415", "Unsupported Content-Type");
                }
                if has_body || has_query {
                    add("422", "A field or query parameter is invalid");
                }
                if has_path_params {
                    add("404", "No such resource");
                }
                // Any change can meet a duplicate (slug, email, RUT), a record still referenced, or
                // a state that does not allow it; only the pure computations cannot.
                let computes = COMPUTATIONS.contains(&path.as_str()) || method == HttpMethod::Get;
                if !computes {
                    add("409", "Conflicts with the data or the state of a record");
                }
            }
        }
    }
}

/// The document the service serves: the generated one, with the rules of request values
/// (`request_rules`) and the links between operations. Built once at start.
pub fn document() -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serializes");
    super::request_rules::apply(&mut doc);
    links(&mut doc);
    doc
}

/// The named value types of `crate::values`, for the request rules to reference.
struct ValueTypes;

impl Modify for ValueTypes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        crate::values::register(doc.components.get_or_insert_with(Default::default));
    }
}

/// OpenAPI links from each creation (`POST /things` answering 201) to the operations on the
/// record it created (`/things/{id}`, its `id` from the answer): for clients, and for
/// schemathesis' stateful phase, which follows them (create, read, change, delete, read again).
fn links(doc: &mut serde_json::Value) {
    use serde_json::json;
    let paths = doc["paths"].as_object_mut().expect("paths");
    let mut found = Vec::new();
    for (path, item) in paths.iter() {
        let Some(collection) = path.strip_suffix("/{id}") else { continue };
        for (verb, methods) in [("Get", &["get"][..]), ("Update", &["patch", "put"][..]), ("Delete", &["delete"][..])] {
            let id = methods.iter().find_map(|m| item.get(*m)?.get("operationId")?.as_str());
            if let Some(id) = id {
                found.push((collection.to_owned(), verb, id.to_owned()));
            }
        }
    }
    for (collection, verb, operation_id) in found {
        let Some(created) = paths.get_mut(&collection).and_then(|item| item.pointer_mut("/post/responses/201")) else {
            continue;
        };
        let links = created.as_object_mut().expect("response").entry("links").or_insert_with(|| json!({}));
        links[verb] = json!({"operationId": operation_id, "parameters": {"id": "$response.body#/id"},
            "description": format!("{verb} the record just created")});
    }
}
