//! Reference data and people: requesters, agents, queues, departments and categories.
//! Things with history are deactivated rather than deleted.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db::models::*;
use crate::db::schema::{agents, categories, departments, queues, requesters, tickets};
use crate::db::types::UtcTime;
use crate::db::DbConnection;
use crate::domain::{segment, text, Role, Segment};
use crate::error::{AppError, FieldError};
use crate::paging::{decode_cursor, encode_cursor};
use crate::tickets::requesters::{insert_requester, requester_view};
use crate::tickets::{line, Errors, Page, RequesterInput, RequesterView};

fn parse<T: std::str::FromStr>(value: &str) -> Result<T, AppError> {
    value.parse().map_err(|_| AppError::Internal(anyhow::anyhow!("stored value {value:?} is not valid")))
}

/// Slugs are what clients and rules refer to: lower-case ASCII words joined by `-`.
fn slug(errors: &mut Errors, value: &str) -> String {
    let valid = !value.is_empty()
        && value.len() <= 60
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if !valid {
        errors.add("slug", "use minúsculas sin tildes, dígitos y guiones (p. ej. «compra-agil»)");
    }
    value.to_owned()
}

fn optional_email(errors: &mut Errors, value: Option<&str>) -> Option<String> {
    let value = value.map(str::trim).filter(|v| !v.is_empty())?;
    let email = text::normalize_email(value);
    if email.is_none() {
        errors.add("email", "no es un correo electrónico válido");
    }
    email
}

// ---------------------------------------------------------------- requesters

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequesterPatch {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub rut: Option<String>,
    /// When absent, a `ciudadano` whose new email or organization is a public body's becomes a
    /// `comprador`; any other segment stays.
    pub segment: Option<crate::domain::Segment>,
    pub organization: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RequesterFilter {
    pub email: Option<String>,
    pub rut: Option<String>,
    pub phone: Option<String>,
    /// 1–100, default 25.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

pub fn create_requester(conn: &mut DbConnection, input: RequesterInput) -> Result<RequesterView, AppError> {
    let mut errors = Errors::default();
    if input.id.is_some() {
        errors.add("id", "lo asigna el sistema");
    }
    let data = input.validate(&mut errors, "");
    if data.name.is_empty() {
        errors.add("name", "es obligatorio");
    }
    if data.email.is_none() && data.rut.is_none() && data.phone.is_none() {
        errors.add("body", "indique al menos correo, RUT o teléfono");
    }
    errors.finish()?;
    requester_view(insert_requester(conn, &data)?)
}

pub fn get_requester(conn: &mut DbConnection, id: i64) -> Result<RequesterView, AppError> {
    let row = requesters::table
        .find(id)
        .select(RequesterRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound("el solicitante"))?;
    requester_view(row)
}

pub fn list_requesters(conn: &mut DbConnection, f: &RequesterFilter) -> Result<Page<RequesterView>, AppError> {
    let limit = crate::paging::page_limit(f.limit)?;
    let mut query = requesters::table.select(RequesterRow::as_select()).into_boxed();
    if let Some(email) = &f.email {
        query = query.filter(requesters::email.eq(email.trim().to_lowercase()));
    }
    if let Some(rut) = &f.rut {
        let rut = crate::domain::Rut::parse(rut).map_err(|e| AppError::field("rut", e.to_string()))?;
        query = query.filter(requesters::rut.eq(rut.to_string()));
    }
    if let Some(phone) = &f.phone {
        let phone =
            crate::domain::phone::normalize(phone).ok_or_else(|| AppError::field("phone", "no es un número válido"))?;
        query = query.filter(requesters::phone.eq(phone));
    }
    if let Some(cursor) = &f.cursor {
        query = query.filter(requesters::id.lt(decode_cursor(cursor)?));
    }
    let mut rows = query.order(requesters::id.desc()).limit(limit + 1).load(conn)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = more.then(|| encode_cursor(rows.last().expect("rows").id));
    let items = rows.into_iter().map(requester_view).collect::<Result<_, _>>()?;
    Ok(Page { items, next_cursor })
}

pub fn update_requester(conn: &mut DbConnection, id: i64, patch: RequesterPatch) -> Result<RequesterView, AppError> {
    let current = get_requester(conn, id)?;
    let input = RequesterInput {
        id: None,
        name: patch.name.clone(),
        email: patch.email.clone(),
        phone: patch.phone.clone(),
        rut: patch.rut.clone(),
        segment: patch.segment,
        organization: patch.organization.clone(),
    };
    let mut errors = Errors::default();
    let data = input.validate(&mut errors, "");
    if patch.name.is_some() && data.name.is_empty() {
        errors.add("name", "es obligatorio");
    }
    errors.finish()?;
    // An empty string clears an optional field; an absent one leaves it as it was.
    let pick = |given: &Option<String>, normalised: Option<String>, old: Option<String>| match given {
        None => old,
        Some(_) => normalised,
    };
    let email = pick(&patch.email, data.email, current.email);
    let organization = pick(&patch.organization, data.organization, current.organization);
    // Not given: a citizen whose new address or organization is a public body's becomes a buyer
    // (as a new requester would); any other segment stays.
    let moved = patch.email.is_some() || patch.organization.is_some();
    let segment = match data.segment {
        Some(given) => given,
        None if moved && current.segment == Segment::Ciudadano => {
            segment::infer(email.as_deref(), organization.as_deref())
        }
        None => current.segment,
    };
    diesel::update(requesters::table.find(id))
        .set((
            requesters::name.eq(if patch.name.is_some() { data.name } else { current.name }),
            requesters::email.eq(email),
            requesters::phone.eq(pick(&patch.phone, data.phone, current.phone)),
            requesters::rut.eq(pick(&patch.rut, data.rut, current.rut)),
            requesters::segment.eq(segment.as_str()),
            requesters::organization.eq(organization),
            requesters::updated_at.eq(UtcTime::now()),
        ))
        .execute(conn)?;
    get_requester(conn, id)
}

/// Removes a requester's personal data record; refused while tickets refer to it.
pub fn delete_requester(conn: &mut DbConnection, id: i64) -> Result<(), AppError> {
    get_requester(conn, id)?;
    let used: i64 = tickets::table.filter(tickets::requester_id.eq(id)).count().get_result(conn)?;
    if used > 0 {
        return Err(AppError::Conflict(format!("El solicitante tiene {used} ticket(s); no se puede eliminar.")));
    }
    diesel::delete(requesters::table.find(id)).execute(conn)?;
    Ok(())
}

// ---------------------------------------------------------------- agents

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgentView {
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
    pub role: Role,
    pub department_id: Option<i64>,
    /// Phone extension, which identifies the agent in call events.
    pub extension: Option<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAgentRequest {
    pub name: String,
    pub email: Option<String>,
    pub role: Role,
    /// Required for the `department` role.
    pub department_id: Option<i64>,
    /// Phone extension (digits), unique among agents.
    pub extension: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAgentRequest {
    pub name: Option<String>,
    pub email: Option<String>,
    pub role: Option<Role>,
    pub department_id: Option<i64>,
    /// Phone extension; an empty string removes it.
    pub extension: Option<String>,
    pub active: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// What the token is for, e.g. `central telefónica`.
    pub name: String,
}

/// A new API token; the clear text is shown only in this response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenView {
    pub agent_id: i64,
    pub token: String,
}

fn agent_view(row: AgentRow) -> Result<AgentView, AppError> {
    Ok(AgentView {
        id: row.id,
        role: parse(&row.role)?,
        name: row.name,
        email: row.email,
        department_id: row.department_id,
        extension: row.extension,
        active: row.active,
        created_at: row.created_at.0,
        updated_at: row.updated_at.0,
    })
}

fn check_department(
    conn: &mut DbConnection,
    errors: &mut Errors,
    role: Role,
    department_id: Option<i64>,
) -> Result<(), AppError> {
    match department_id {
        Some(id) => {
            let exists: i64 = departments::table.filter(departments::id.eq(id)).count().get_result(conn)?;
            if exists == 0 {
                errors.add("department_id", format!("no existe el departamento {id}"));
            }
        }
        None if role == Role::Department => errors.add("department_id", "es obligatorio para el rol «department»"),
        None => {}
    }
    Ok(())
}

/// A valid extension not used by another agent (`None` when empty).
fn check_extension(
    conn: &mut DbConnection,
    errors: &mut Errors,
    value: &str,
    agent_id: Option<i64>,
) -> Result<Option<String>, AppError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if value.len() > 10 || !value.chars().all(|c| c.is_ascii_digit()) {
        errors.add("extension", "debe tener entre 1 y 10 dígitos");
        return Ok(None);
    }
    let owner: Option<i64> =
        agents::table.filter(agents::extension.eq(value)).select(agents::id).first(conn).optional()?;
    match owner {
        Some(other) if Some(other) != agent_id => errors.add("extension", format!("ya la usa el agente {other}")),
        _ => {}
    }
    Ok(Some(value.to_owned()))
}

pub fn create_agent(conn: &mut DbConnection, req: CreateAgentRequest) -> Result<AgentView, AppError> {
    let mut errors = Errors::default();
    let name = line(&mut errors, "name", &req.name, 120);
    let email = optional_email(&mut errors, req.email.as_deref());
    check_department(conn, &mut errors, req.role, req.department_id)?;
    let extension =
        req.extension.as_deref().map(|e| check_extension(conn, &mut errors, e, None)).transpose()?.flatten();
    errors.finish()?;
    let at = UtcTime::now();
    let id: i64 = diesel::insert_into(agents::table)
        .values((
            agents::name.eq(&name),
            agents::email.eq(email),
            agents::role.eq(req.role.as_str()),
            agents::department_id.eq(req.department_id),
            agents::extension.eq(extension),
            agents::active.eq(true),
            agents::created_at.eq(at),
            agents::updated_at.eq(at),
        ))
        .returning(agents::id)
        .get_result(conn)?;
    get_agent(conn, id)
}

/// The names of the given agents, by id.
pub fn agent_names(
    conn: &mut DbConnection,
    ids: impl Iterator<Item = i64>,
) -> Result<std::collections::HashMap<i64, String>, AppError> {
    let mut ids: Vec<i64> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(agents::table
        .filter(agents::id.eq_any(ids))
        .select((agents::id, agents::name))
        .load(conn)?
        .into_iter()
        .collect())
}

pub fn get_agent(conn: &mut DbConnection, id: i64) -> Result<AgentView, AppError> {
    let row = agents::table
        .find(id)
        .select(AgentRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound("el agente"))?;
    agent_view(row)
}

/// The caller's own profile (`GET /api/v1/agents/me`): who they are, their department, and where
/// and how they take work.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgentProfile {
    #[serde(flatten)]
    pub agent: AgentView,
    /// The department the agent belongs to (`department_id`), if any.
    pub department: Option<DepartmentView>,
    /// Presence, queues served, skills, capacity and open work.
    pub routing: crate::routing::assign::AgentRouting,
}

pub fn profile(conn: &mut DbConnection, id: i64) -> Result<AgentProfile, AppError> {
    let agent = get_agent(conn, id)?;
    let department = agent.department_id.map(|d| get_department(conn, d)).transpose()?;
    let routing = crate::routing::assign::agent_routing(conn, id)?;
    Ok(AgentProfile { agent, department, routing })
}

pub fn list_agents(conn: &mut DbConnection) -> Result<Vec<AgentView>, AppError> {
    agents::table.order(agents::id).select(AgentRow::as_select()).load(conn)?.into_iter().map(agent_view).collect()
}

/// The refusal to demote or deactivate the last active admin.
pub const LAST_ADMIN: &str =
    "No se puede quitar el rol de administrador ni desactivar al último administrador activo: \
     nadie podría administrar los usuarios. Cree o active otro administrador antes.";

/// Refuses a change that would take agent `id` out of the active admins when they are the last
/// one. Runs in the change's own transaction after locking the active admins, so two concurrent
/// demotions of the last two admins are decided one after the other.
fn keep_an_admin(conn: &mut DbConnection, id: i64) -> Result<(), AppError> {
    if crate::db::backend::lock_active_admins(conn)? == [id] {
        return Err(AppError::Conflict(LAST_ADMIN.into()));
    }
    Ok(())
}

pub fn update_agent(conn: &mut DbConnection, id: i64, req: UpdateAgentRequest) -> Result<AgentView, AppError> {
    if req.role.is_some_and(|r| r != Role::Admin) || req.active == Some(false) {
        // First, so what is read below is what the locks protect.
        keep_an_admin(conn, id)?;
    }
    let current = get_agent(conn, id)?;
    let mut errors = Errors::default();
    let name = req.name.as_deref().map(|n| line(&mut errors, "name", n, 120)).unwrap_or(current.name);
    let email = match req.email.as_deref() {
        None => current.email,
        Some(e) => optional_email(&mut errors, Some(e)),
    };
    let role = req.role.unwrap_or(current.role);
    let department_id = req.department_id.or(current.department_id);
    check_department(conn, &mut errors, role, department_id)?;
    let extension = match req.extension.as_deref() {
        None => current.extension,
        Some(e) => check_extension(conn, &mut errors, e, Some(id))?,
    };
    errors.finish()?;
    diesel::update(agents::table.find(id))
        .set((
            agents::name.eq(name),
            agents::email.eq(email),
            agents::role.eq(role.as_str()),
            agents::department_id.eq(department_id),
            agents::extension.eq(extension),
            agents::active.eq(req.active.unwrap_or(current.active)),
            agents::updated_at.eq(UtcTime::now()),
        ))
        .execute(conn)?;
    get_agent(conn, id)
}

/// What `atencion token create` was given: an existing agent (by `email`) or a new one.
#[derive(Debug, Clone, Default)]
pub struct TokenHolder {
    pub email: Option<String>,
    /// Only to create: an existing agent keeps theirs.
    pub role: Option<Role>,
    pub name: Option<String>,
    pub department_id: Option<i64>,
}

/// The agent a token from the command line goes to, and whether they were created now: the
/// active agent with that email as they are (a differing role or department is refused, never
/// applied), or a new agent.
pub fn token_holder(conn: &mut DbConnection, req: TokenHolder) -> Result<(AgentView, bool), AppError> {
    let mut errors = Errors::default();
    let email = optional_email(&mut errors, req.email.as_deref());
    errors.finish()?;
    let existing: Option<AgentRow> = match &email {
        Some(email) => {
            agents::table.filter(agents::email.eq(email)).select(AgentRow::as_select()).first(conn).optional()?
        }
        None => None,
    };
    let Some(row) = existing else { return Ok((new_token_holder(conn, email, req)?, true)) };
    let agent = agent_view(row)?;
    let who = format!("El agente {} «{}» <{}>", agent.id, agent.name, agent.email.as_deref().unwrap_or_default());
    if !agent.active {
        return Err(AppError::Conflict(format!("{who} está desactivado; actívelo antes de emitirle un token.")));
    }
    if req.role.is_some_and(|r| r != agent.role) {
        return Err(AppError::Conflict(format!(
            "{who} ya existe con el rol «{}»: --role solo se usa al crear un agente y no cambia el de uno existente.",
            agent.role.as_str()
        )));
    }
    if req.department_id.is_some_and(|d| Some(d) != agent.department_id) {
        return Err(AppError::Conflict(format!(
            "{who} ya existe en otro departamento: --department solo se usa al crear un agente."
        )));
    }
    Ok((agent, false))
}

fn new_token_holder(conn: &mut DbConnection, email: Option<String>, req: TokenHolder) -> Result<AgentView, AppError> {
    let why = match &email {
        Some(e) => format!("es obligatorio para crear un agente (no existe uno con el correo {e})"),
        None => "es obligatorio para crear un agente".to_owned(),
    };
    let role = req.role.ok_or_else(|| FieldError::new("role", &why));
    let name = req.name.ok_or_else(|| FieldError::new("name", &why));
    match (role, name) {
        (Ok(role), Ok(name)) => create_agent(
            conn,
            CreateAgentRequest { name, email, role, department_id: req.department_id, extension: None },
        ),
        (role, name) => Err(AppError::Validation(role.err().into_iter().chain(name.err()).collect())),
    }
}

// ---------------------------------------------------------------- queues, departments, categories

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueView {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    pub department_id: Option<i64>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DepartmentView {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub email: Option<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CategoryView {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub parent_id: Option<i64>,
    /// The department its problems belong to (improvement opportunities from trend alerts go
    /// there); `null`: Atención Usuaria.
    pub department_id: Option<i64>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// Create or change a queue, department or category. On create `slug` and `name` are required;
/// fields that do not apply to the kind are rejected.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferenceInput {
    pub slug: Option<String>,
    pub name: Option<String>,
    /// Queues only.
    pub description: Option<String>,
    /// Queues and categories: the department it belongs to.
    pub department_id: Option<i64>,
    /// Departments only: the address that receives escalations.
    pub email: Option<String>,
    /// Categories only: the parent topic.
    pub parent_id: Option<i64>,
    pub active: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceKind {
    Queue,
    Department,
    Category,
}

impl ReferenceKind {
    fn what(self) -> &'static str {
        match self {
            ReferenceKind::Queue => "la cola",
            ReferenceKind::Department => "el departamento",
            ReferenceKind::Category => "la categoría",
        }
    }
}

/// The validated common part of a reference record.
#[derive(Debug)]
struct Common {
    slug: Option<String>,
    name: Option<String>,
}

fn validate_reference(
    kind: ReferenceKind,
    input: &ReferenceInput,
    creating: bool,
) -> Result<(Common, Option<String>), AppError> {
    let mut errors = Errors::default();
    let slug = input.slug.as_deref().map(|s| slug(&mut errors, s.trim()));
    let name = input.name.as_deref().map(|n| line(&mut errors, "name", n, 120));
    if creating && slug.is_none() {
        errors.add("slug", "es obligatorio");
    }
    if creating && name.is_none() {
        errors.add("name", "es obligatorio");
    }
    let misplaced: &[(&str, bool)] = &[
        ("description", input.description.is_some() && kind != ReferenceKind::Queue),
        ("department_id", input.department_id.is_some() && kind == ReferenceKind::Department),
        ("email", input.email.is_some() && kind != ReferenceKind::Department),
        ("parent_id", input.parent_id.is_some() && kind != ReferenceKind::Category),
    ];
    for (field, wrong) in misplaced {
        if *wrong {
            errors.add(field, "no corresponde a este tipo de registro");
        }
    }
    let email = optional_email(&mut errors, input.email.as_deref());
    errors.finish()?;
    Ok((Common { slug, name }, email))
}

fn department_exists(conn: &mut DbConnection, department: Option<i64>) -> Result<(), AppError> {
    if let Some(dep) = department {
        let exists: i64 = departments::table.filter(departments::id.eq(dep)).count().get_result(conn)?;
        if exists == 0 {
            return Err(AppError::field("department_id", format!("no existe el departamento {dep}")));
        }
    }
    Ok(())
}

pub fn save_queue(conn: &mut DbConnection, id: Option<i64>, input: ReferenceInput) -> Result<QueueView, AppError> {
    let (common, _) = validate_reference(ReferenceKind::Queue, &input, id.is_none())?;
    department_exists(conn, input.department_id)?;
    let id = match id {
        None => diesel::insert_into(queues::table)
            .values((
                queues::slug.eq(common.slug.unwrap_or_default()),
                queues::name.eq(common.name.unwrap_or_default()),
                queues::description.eq(input.description),
                queues::department_id.eq(input.department_id),
                queues::active.eq(input.active.unwrap_or(true)),
                queues::created_at.eq(UtcTime::now()),
            ))
            .returning(queues::id)
            .get_result(conn)?,
        Some(id) => {
            let current = get_queue(conn, id)?;
            diesel::update(queues::table.find(id))
                .set((
                    queues::slug.eq(common.slug.unwrap_or(current.slug)),
                    queues::name.eq(common.name.unwrap_or(current.name)),
                    queues::description.eq(input.description.or(current.description)),
                    queues::department_id.eq(input.department_id.or(current.department_id)),
                    queues::active.eq(input.active.unwrap_or(current.active)),
                ))
                .execute(conn)?;
            id
        }
    };
    crate::catalog::changed(conn)?;
    get_queue(conn, id)
}

pub fn get_queue(conn: &mut DbConnection, id: i64) -> Result<QueueView, AppError> {
    let q = queues::table
        .find(id)
        .select(QueueRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound(ReferenceKind::Queue.what()))?;
    Ok(QueueView {
        id: q.id,
        slug: q.slug,
        name: q.name,
        description: q.description,
        department_id: q.department_id,
        active: q.active,
        created_at: q.created_at.0,
    })
}

pub fn list_queues(conn: &mut DbConnection) -> Result<Vec<QueueView>, AppError> {
    let ids: Vec<i64> = queues::table.order(queues::id).select(queues::id).load(conn)?;
    ids.into_iter().map(|id| get_queue(conn, id)).collect()
}

pub fn save_department(
    conn: &mut DbConnection,
    id: Option<i64>,
    input: ReferenceInput,
) -> Result<DepartmentView, AppError> {
    let (common, email) = validate_reference(ReferenceKind::Department, &input, id.is_none())?;
    let id = match id {
        None => diesel::insert_into(departments::table)
            .values((
                departments::slug.eq(common.slug.unwrap_or_default()),
                departments::name.eq(common.name.unwrap_or_default()),
                departments::email.eq(email),
                departments::active.eq(input.active.unwrap_or(true)),
                departments::created_at.eq(UtcTime::now()),
            ))
            .returning(departments::id)
            .get_result(conn)?,
        Some(id) => {
            let current = get_department(conn, id)?;
            diesel::update(departments::table.find(id))
                .set((
                    departments::slug.eq(common.slug.unwrap_or(current.slug)),
                    departments::name.eq(common.name.unwrap_or(current.name)),
                    departments::email.eq(email.or(current.email)),
                    departments::active.eq(input.active.unwrap_or(current.active)),
                ))
                .execute(conn)?;
            id
        }
    };
    get_department(conn, id)
}

pub fn get_department(conn: &mut DbConnection, id: i64) -> Result<DepartmentView, AppError> {
    let d = departments::table
        .find(id)
        .select(DepartmentRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound(ReferenceKind::Department.what()))?;
    Ok(DepartmentView {
        id: d.id,
        slug: d.slug,
        name: d.name,
        email: d.email,
        active: d.active,
        created_at: d.created_at.0,
    })
}

pub fn list_departments(conn: &mut DbConnection) -> Result<Vec<DepartmentView>, AppError> {
    let ids: Vec<i64> = departments::table.order(departments::id).select(departments::id).load(conn)?;
    ids.into_iter().map(|id| get_department(conn, id)).collect()
}

pub fn save_category(
    conn: &mut DbConnection,
    id: Option<i64>,
    input: ReferenceInput,
) -> Result<CategoryView, AppError> {
    let (common, _) = validate_reference(ReferenceKind::Category, &input, id.is_none())?;
    if let Some(parent) = input.parent_id {
        if Some(parent) == id {
            return Err(AppError::field("parent_id", "una categoría no puede ser su propia madre"));
        }
        let exists: i64 = categories::table.filter(categories::id.eq(parent)).count().get_result(conn)?;
        if exists == 0 {
            return Err(AppError::field("parent_id", format!("no existe la categoría {parent}")));
        }
    }
    department_exists(conn, input.department_id)?;
    let id = match id {
        None => diesel::insert_into(categories::table)
            .values((
                categories::slug.eq(common.slug.unwrap_or_default()),
                categories::name.eq(common.name.unwrap_or_default()),
                categories::parent_id.eq(input.parent_id),
                categories::department_id.eq(input.department_id),
                categories::active.eq(input.active.unwrap_or(true)),
                categories::created_at.eq(UtcTime::now()),
            ))
            .returning(categories::id)
            .get_result(conn)?,
        Some(id) => {
            let current = get_category(conn, id)?;
            diesel::update(categories::table.find(id))
                .set((
                    categories::slug.eq(common.slug.unwrap_or(current.slug)),
                    categories::name.eq(common.name.unwrap_or(current.name)),
                    categories::parent_id.eq(input.parent_id.or(current.parent_id)),
                    categories::department_id.eq(input.department_id.or(current.department_id)),
                    categories::active.eq(input.active.unwrap_or(current.active)),
                ))
                .execute(conn)?;
            id
        }
    };
    crate::catalog::changed(conn)?;
    get_category(conn, id)
}

pub fn get_category(conn: &mut DbConnection, id: i64) -> Result<CategoryView, AppError> {
    let c = categories::table
        .find(id)
        .select(CategoryRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound(ReferenceKind::Category.what()))?;
    Ok(CategoryView {
        id: c.id,
        slug: c.slug,
        name: c.name,
        parent_id: c.parent_id,
        department_id: c.department_id,
        active: c.active,
        created_at: c.created_at.0,
    })
}

pub fn list_categories(conn: &mut DbConnection, only_active: bool) -> Result<Vec<CategoryView>, AppError> {
    let mut query = categories::table.select(categories::id).order(categories::name).into_boxed();
    if only_active {
        query = query.filter(categories::active.eq(true));
    }
    let ids: Vec<i64> = query.load(conn)?;
    ids.into_iter().map(|id| get_category(conn, id)).collect()
}

/// Soft delete: history keeps pointing at the record, new work can no longer use it.
pub fn deactivate(conn: &mut DbConnection, kind: ReferenceKind, id: i64) -> Result<(), AppError> {
    let changed = match kind {
        ReferenceKind::Queue => diesel::update(queues::table.find(id)).set(queues::active.eq(false)).execute(conn)?,
        ReferenceKind::Department => {
            diesel::update(departments::table.find(id)).set(departments::active.eq(false)).execute(conn)?
        }
        ReferenceKind::Category => {
            diesel::update(categories::table.find(id)).set(categories::active.eq(false)).execute(conn)?
        }
    };
    if changed == 0 {
        return Err(AppError::NotFound(kind.what()));
    }
    if kind != ReferenceKind::Department {
        crate::catalog::changed(conn)?;
    }
    Ok(())
}

pub fn deactivate_agent(conn: &mut DbConnection, id: i64) -> Result<(), AppError> {
    keep_an_admin(conn, id)?;
    let changed = diesel::update(agents::table.find(id))
        .set((agents::active.eq(false), agents::updated_at.eq(UtcTime::now())))
        .execute(conn)?;
    if changed == 0 {
        return Err(AppError::NotFound("el agente"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for good in ["compra-agil", "q1", "mesa-de-ayuda"] {
            let mut e = Errors::default();
            slug(&mut e, good);
            assert!(e.finish().is_ok(), "{good}");
        }
        for bad in ["", "Compra", "compra_agil", "-x", "x-", "compra ágil"] {
            let mut e = Errors::default();
            slug(&mut e, bad);
            assert!(e.finish().is_err(), "{bad}");
        }
    }

    #[test]
    fn reference_fields_must_fit_the_kind() {
        let input = ReferenceInput {
            slug: Some("x".into()),
            name: Some("X".into()),
            email: Some("a@b.cl".into()),
            ..Default::default()
        };
        assert!(validate_reference(ReferenceKind::Department, &input, true).is_ok());
        let err = validate_reference(ReferenceKind::Queue, &input, true).unwrap_err();
        assert!(matches!(err, AppError::Validation(ref v) if v[0].field == "email"));
        let missing = validate_reference(ReferenceKind::Category, &ReferenceInput::default(), true).unwrap_err();
        assert!(matches!(missing, AppError::Validation(ref v) if v.len() == 2));
    }
}
