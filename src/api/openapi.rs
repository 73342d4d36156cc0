//! The OpenAPI document (`/api/v1/openapi.json`) and its offline docs page (`/docs/`).

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::ServerBuilder;
use utoipa::{Modify, OpenApi};

use super::{
    audit, departments, directory, email, kpis, phone, quality, reports, routing, sla, system, tickets, trends,
};
use crate::channels::web;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "atencion",
        description = "Mesa de ayuda y contact center del Departamento de Atención Usuaria de ChileCompra. \
            Errors are RFC 9457 `application/problem+json` documents.",
    ),
    paths(
        tickets::create_ticket, tickets::list_tickets, tickets::get_ticket, tickets::update_ticket,
        tickets::add_message, tickets::list_messages, tickets::list_events,
        directory::create_requester, directory::list_requesters, directory::get_requester,
        directory::update_requester, directory::delete_requester,
        directory::create_agent, directory::list_agents, directory::get_agent, directory::update_agent,
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
        departments::answer, departments::create_opportunity, departments::list_opportunities,
        departments::get_opportunity, departments::transition_opportunity, departments::link_opportunity_tickets,
        departments::inbox, departments::ack_inbox, departments::deliveries,
        departments::get_webhook, departments::put_webhook, departments::delete_webhook,
        departments::get_department_sla, departments::put_department_sla, departments::department_sla_items,
        audit::list,
        routing::list_rules, routing::create_rule, routing::get_rule, routing::update_rule, routing::delete_rule,
        routing::test_rules, routing::get_queue_routing, routing::patch_queue_routing, routing::next_ticket,
        routing::get_agent_routing, routing::patch_agent_routing, routing::set_presence,
        routing::list_rotations, routing::create_rotation, routing::get_rotation, routing::rotation_history,
        routing::delete_rotation,
        quality::csat_figures, quality::answer_survey, quality::create_scorecard, quality::list_scorecards,
        quality::get_scorecard, quality::run_sampling, quality::list_evaluations, quality::create_evaluation,
        quality::get_evaluation, quality::submit_evaluation, quality::dispute, quality::resolve_dispute,
        quality::quality_report, quality::recurring_problems, trends::list_trends, trends::scan,
        web::submit, web::categories,
        system::health, system::ready, system::metrics,
    ),
    components(schemas(crate::error::Problem, crate::error::FieldError)),
    modifiers(&Security, &CommonProblems),
    tags(
        (name = "tickets", description = "Tickets, messages and their event log"),
        (name = "departments", description = "Escalations and improvement opportunities sent to other departments, their answers, their internal SLA, how departments receive them (inbox, Redis stream, signed webhooks), and the audit log of who read or changed them"),
        (name = "email", description = "Inbound mail, the outbox and the quarantine"),
        (name = "kpis", description = "Contact-center figures: live KPIs (JSON and Server-Sent Events), their rebuild, and the staffing forecast"),
        (name = "reports", description = "Historical reports (America/Santiago days), as JSON or CSV (`Accept: text/csv`)"),
        (name = "phone", description = "PBX call events (native and CTI push), call records and blocked numbers"),
        (name = "quality", description = "Satisfaction survey (CSAT) figures, QA scorecards, sampling, evaluations, disputes, the weekly quality report, recurring problems and trend (spike) alerts"),
        (name = "routing", description = "Routing rules, queue strategies and members, presence, pull mode and rotation plans"),
        (name = "sla", description = "Business calendars, SLA policies and each ticket's clocks"),
        (name = "web form", description = "The public contact form (no authentication)"),
        (name = "system", description = "Health, readiness and metrics"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
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
            }
        }
    }
}
