//! HTTP API under `/api/v1`: thin handlers that check the role, then call a use case.

pub mod attachments;
pub mod audit;
pub mod canned;
pub mod csv;
pub mod departments;
pub mod directory;
pub mod email;
pub mod extract;
pub mod kpis;
pub mod notifications;
pub mod openapi;
pub mod phone;
pub mod quality;
pub mod reports;
pub mod request_rules;
pub mod routing;
pub mod search;
pub mod session;
pub mod sla;
mod strict;
pub mod system;
pub mod tickets;
pub mod trends;
pub mod workspace;

use actix_web::web;

use crate::audit::{self as log, Entry, Origin};
use crate::db::DbConnection;
use crate::domain::Principal;
use crate::error::AppError;
use crate::http::state::AppState;

/// Runs `f` in one transaction with the audit rows it names: its data is returned only once they
/// are written, so no error path can hand out data without its audit row.
pub async fn audited<T, F>(state: &AppState, who: Principal, origin: Origin, f: F) -> Result<T, AppError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection, &Principal) -> Result<(T, Vec<Entry>), AppError> + Send + 'static,
{
    state
        .db
        .write(move |c| {
            let (value, entries) = f(c, &who)?;
            log::record(c, &who, &origin, &entries)?;
            Ok(value)
        })
        .await
}

/// Writes the audit rows of what was read on a reader connection; callers hand the data out only
/// after this succeeded. Reads of objects that need no audit row never wait for the writer.
pub async fn record_reads(
    state: &AppState,
    who: &Principal,
    origin: Origin,
    entries: Vec<Entry>,
) -> Result<(), AppError> {
    if entries.is_empty() {
        return Ok(());
    }
    let who = who.clone();
    state.db.write(move |c| log::record(c, &who, &origin, &entries)).await
}

/// Routes under `/api/v1`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(session::sign_in)
        .service(session::current)
        .service(session::sign_out)
        .service(session::set_password)
        .service(session::invite)
        .service(tickets::create_ticket)
        .service(tickets::list_tickets)
        // Before `/tickets/{id}`, which would take `views` for an id.
        .service(workspace::ticket_views)
        .service(workspace::put_viewer)
        .service(workspace::delete_viewer)
        .service(workspace::live_stream)
        .service(tickets::get_ticket)
        .service(tickets::update_ticket)
        .service(tickets::add_message)
        .service(tickets::list_messages)
        .service(tickets::list_events)
        .service(search::similar_tickets)
        .service(search::search_tickets)
        .service(attachments::download)
        .service(directory::create_requester)
        .service(directory::list_requesters)
        .service(directory::get_requester)
        .service(directory::update_requester)
        .service(directory::delete_requester)
        .service(directory::create_agent)
        .service(directory::list_agents)
        // Before `/agents/{id}`, which would take `me` for an id.
        .service(directory::get_me)
        .service(directory::get_agent)
        .service(directory::update_agent)
        .service(directory::delete_agent)
        .service(directory::create_token)
        .service(directory::list_queues)
        .service(directory::get_queue)
        .service(directory::create_queue)
        .service(directory::update_queue)
        .service(directory::delete_queue)
        .service(directory::list_departments)
        .service(directory::get_department)
        .service(directory::create_department)
        .service(directory::update_department)
        .service(directory::delete_department)
        .service(directory::list_categories)
        .service(directory::get_category)
        .service(directory::create_category)
        .service(directory::update_category)
        .service(directory::delete_category)
        .service(sla::ticket_sla)
        .service(sla::list_calendars)
        .service(sla::get_calendar)
        .service(sla::create_calendar)
        .service(sla::update_calendar)
        .service(sla::list_holidays)
        .service(sla::put_holiday)
        .service(sla::delete_holiday)
        .service(sla::deadline)
        .service(sla::business_minutes)
        .service(sla::list_policies)
        .service(sla::get_policy)
        .service(sla::create_policy)
        .service(sla::update_policy)
        .service(sla::delete_policy)
        .service(email::inbound)
        .service(email::list_outbox)
        .service(email::list_quarantine)
        .service(email::reprocess)
        .service(phone::native_event)
        .service(phone::cti_push)
        .service(phone::list_calls)
        .service(phone::get_call)
        .service(phone::link_call)
        .service(phone::list_blocked)
        .service(phone::block_number)
        .service(phone::unblock_number)
        .service(kpis::staffing)
        .service(kpis::realtime)
        .service(kpis::stream)
        .service(kpis::rebuild)
        .service(reports::volume)
        .service(reports::response_times)
        .service(reports::sla)
        .service(reports::abandonment)
        .service(reports::backlog)
        .service(reports::agents)
        .service(reports::staffing)
        .service(departments::department_sla_items)
        .service(departments::get_department_sla)
        .service(departments::put_department_sla)
        .service(audit::list)
        .service(departments::escalate)
        .service(departments::ticket_escalations)
        .service(departments::department_escalations)
        .service(departments::answer)
        .service(departments::get_escalation)
        .service(departments::department_summary)
        .service(departments::create_opportunity)
        .service(departments::list_opportunities)
        .service(departments::get_opportunity)
        .service(departments::update_opportunity)
        .service(departments::transition_opportunity)
        .service(departments::link_opportunity_tickets)
        .service(departments::inbox)
        .service(departments::ack_inbox)
        .service(departments::deliveries)
        .service(departments::get_webhook)
        .service(departments::put_webhook)
        .service(departments::delete_webhook)
        .service(routing::test_rules)
        .service(routing::list_rules)
        .service(routing::create_rule)
        .service(routing::get_rule)
        .service(routing::update_rule)
        .service(routing::delete_rule)
        .service(routing::get_queue_routing)
        .service(routing::queue_waiting)
        .service(routing::patch_queue_routing)
        .service(routing::next_ticket)
        .service(routing::team_routing)
        .service(routing::get_agent_routing)
        .service(routing::patch_agent_routing)
        .service(routing::set_presence)
        .service(routing::list_rotations)
        .service(routing::create_rotation)
        .service(routing::preview_rotation)
        .service(routing::get_rotation)
        .service(routing::rotation_history)
        .service(routing::delete_rotation)
        .service(quality::csat_figures)
        .service(quality::answer_survey)
        .service(quality::requester_surveys)
        .service(quality::create_scorecard)
        .service(quality::list_scorecards)
        .service(quality::get_scorecard)
        .service(quality::run_sampling)
        .service(quality::list_evaluations)
        .service(quality::create_evaluation)
        .service(quality::get_evaluation)
        .service(quality::submit_evaluation)
        .service(quality::dispute)
        .service(quality::resolve_dispute)
        .service(quality::quality_report)
        .service(quality::recurring_problems)
        .service(trends::list_trends)
        .service(trends::scan)
        .service(canned::list_canned)
        .service(canned::create_canned)
        .service(canned::get_canned)
        .service(canned::update_canned)
        .service(canned::delete_canned)
        .service(canned::render_canned)
        .service(notifications::list_notifications)
        .service(notifications::read_notifications)
        .service(crate::http::public::submit)
        .service(crate::http::public::categories);
}
