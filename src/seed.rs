//! `atencion seed-demo`: a realistic demo so the service can be tried at once. Deterministic,
//! and a second run adds nothing.

use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use crate::db::schema::queues;
use crate::db::DbConnection;
use crate::directory::{self, CreateAgentRequest, ReferenceInput};
use crate::domain::Actor;
use crate::domain::{Channel, Priority, Role, Segment, Status, TicketKind};
use crate::error::AppError;
use crate::tickets::store::{self, NewTicketInput};
use crate::tickets::{CreateMessageRequest, RequesterData, UpdateTicketRequest};

const QUEUES: &[(&str, &str, &str)] = &[
    ("compradores", "Soporte a Compradores", "compradores"),
    ("proveedores", "Soporte a Proveedores", "proveedores"),
    ("reclamos", "Reclamos", "atencion-usuaria"),
];

const AGENTS: &[(&str, &str, Role)] = &[
    ("Carolina Muñoz", "carolina.munoz@chilecompra.cl", Role::Supervisor),
    ("Javier Rojas", "javier.rojas@chilecompra.cl", Role::Agent),
    ("Daniela Soto", "daniela.soto@chilecompra.cl", Role::Agent),
    ("Matías González", "matias.gonzalez@chilecompra.cl", Role::Agent),
    ("Fernanda Díaz", "fernanda.diaz@chilecompra.cl", Role::Agent),
];

/// The demo's people, who sign in with the password `seed-demo` prints.
pub fn demo_emails() -> impl Iterator<Item = &'static str> {
    AGENTS.iter().map(|(_, email, _)| *email)
}

const ORGANISMS: &[&str] = &[
    "Municipalidad de Providencia",
    "Hospital Regional de Talca",
    "Servicio de Salud Metropolitano Sur",
    "Ministerio de Obras Públicas",
    "Universidad de Valparaíso",
    "Gobierno Regional de Antofagasta",
    "Municipalidad de Temuco",
    "Junta Nacional de Jardines Infantiles",
];
const COMPANIES: &[&str] = &[
    "Comercial Andes SpA",
    "Servicios Integrales del Sur Ltda.",
    "Constructora Pehuén S.A.",
    "Insumos Médicos Lircay SpA",
    "Tecnologías Austral Ltda.",
    "Alimentos Don Nano EIRL",
];
const FIRST: &[&str] = &[
    "Ana",
    "Pedro",
    "Camila",
    "José",
    "Valentina",
    "Luis",
    "Francisca",
    "Jorge",
    "Constanza",
    "Felipe",
    "Catalina",
    "Rodrigo",
];
const LAST: &[&str] = &[
    "Pérez",
    "González",
    "Muñoz",
    "Rojas",
    "Díaz",
    "Soto",
    "Contreras",
    "Silva",
    "Martínez",
    "Sepúlveda",
    "Morales",
    "Fuentes",
];

/// (category, subject, body) written the way users write them.
const TOPICS: &[(&str, &str, &str)] = &[
    (
        "acceso-clave",
        "No puedo ingresar a Mercado Público",
        "Al intentar ingresar con mi RUT me aparece «usuario bloqueado». Necesito recuperar mi clave con urgencia.",
    ),
    (
        "acceso-clave",
        "Cambio de administrador de la cuenta",
        "La persona administradora dejó el organismo y necesitamos asignar un nuevo administrador.",
    ),
    (
        "registro-proveedores",
        "Consulta por acreditación en Registro de Proveedores",
        "Subí los documentos hace 10 días y mi estado sigue «en revisión». ¿Cuánto demora la acreditación?",
    ),
    (
        "registro-proveedores",
        "Certificado de habilidad vencido",
        "Mi certificado aparece vencido aunque renové la documentación. ¿Qué debo hacer?",
    ),
    (
        "compra-agil",
        "Error al enviar cotización en Compra Ágil",
        "Al enviar la cotización el sistema muestra un error y no queda registrada. El cierre es hoy a las 15:00.",
    ),
    (
        "compra-agil",
        "Monto máximo de Compra Ágil",
        "¿Cuál es el monto máximo en UTM para realizar una Compra Ágil este año?",
    ),
    (
        "convenio-marco",
        "Producto no aparece en Convenio Marco",
        "Busco un producto de aseo que antes estaba en la tienda de Convenio Marco y ya no aparece.",
    ),
    (
        "convenio-marco",
        "Gran Compra en Convenio Marco",
        "Necesitamos orientación para iniciar una Gran Compra: plazos y requisitos de la intención de compra.",
    ),
    (
        "licitaciones",
        "Error en oferta de licitación",
        "Ingresé mal el valor de mi oferta en la licitación y el plazo de cierre fue ayer. ¿Puedo corregirla?",
    ),
    (
        "licitaciones",
        "Consulta por bases de licitación",
        "Las bases piden una garantía que no entendemos. ¿Dónde se hacen las consultas al organismo?",
    ),
    (
        "ordenes-de-compra",
        "Orden de compra sin aceptar",
        "Emitimos una orden de compra hace una semana y el proveedor no la ha aceptado. ¿Podemos cancelarla?",
    ),
    (
        "ordenes-de-compra",
        "Recepción conforme de orden de compra",
        "No encuentro dónde registrar la recepción conforme de la orden de compra.",
    ),
    (
        "pagos",
        "Pago atrasado de factura",
        "Mi factura tiene más de 30 días desde la recepción conforme y aún no me pagan.",
    ),
    (
        "pagos",
        "Estado de pago no se actualiza",
        "El estado de pago de la orden sigue «pendiente» aunque el organismo dice que ya pagó.",
    ),
    ("normativa", "Consulta sobre trato directo", "¿En qué casos la ley permite contratar por trato directo?"),
    (
        "capacitacion",
        "Inscripción en curso de capacitación",
        "Quiero inscribirme en el curso para nuevos compradores públicos. ¿Cuándo hay fechas?",
    ),
    (
        "datos-abiertos",
        "Descarga de datos de órdenes de compra",
        "Necesito descargar las órdenes de compra de mi región del último año.",
    ),
    (
        "reclamos",
        "Reclamo por irregularidad en licitación",
        "Quiero reclamar porque la licitación fue adjudicada a una oferta que no cumplía las bases.",
    ),
    (
        "sugerencias",
        "Sugerencia para el buscador",
        "Sería útil poder filtrar las licitaciones por comuna en el buscador.",
    ),
];

fn queue_exists(conn: &mut DbConnection, slug: &str) -> Result<bool, AppError> {
    let n: i64 = queues::table.filter(queues::slug.eq(slug)).count().get_result(conn)?;
    Ok(n > 0)
}

fn department_id(conn: &mut DbConnection, slug: &str) -> Result<i64, AppError> {
    use crate::db::schema::departments;
    Ok(departments::table.filter(departments::slug.eq(slug)).select(departments::id).first(conn)?)
}

/// Loads the demo in one transaction; returns how many tickets it created (0 if already loaded).
pub fn load(conn: &mut DbConnection, tickets: usize) -> Result<usize, AppError> {
    if queue_exists(conn, QUEUES[0].0)? {
        return Ok(0);
    }
    for (slug, name, department) in QUEUES {
        let department_id = Some(department_id(conn, department)?);
        let input = ReferenceInput {
            slug: Some((*slug).into()),
            name: Some((*name).into()),
            department_id,
            ..Default::default()
        };
        directory::save_queue(conn, None, input)?;
    }
    let mut agent_ids = Vec::new();
    for (name, email, role) in AGENTS {
        let req = CreateAgentRequest {
            name: (*name).into(),
            email: Some((*email).into()),
            role: *role,
            department_id: None,
            extension: None,
        };
        agent_ids.push(directory::create_agent(conn, req)?.id);
    }
    let mut rng = StdRng::seed_from_u64(2026);
    for n in 0..tickets {
        create_one(conn, &mut rng, n, &agent_ids)?;
    }
    Ok(tickets)
}

fn requester(rng: &mut StdRng) -> RequesterData {
    let first = FIRST.choose(rng).expect("names");
    let last = LAST.choose(rng).expect("names");
    let segment = *[Segment::Comprador, Segment::Proveedor, Segment::Ciudadano].choose(rng).expect("segments");
    let organization = match segment {
        Segment::Comprador => ORGANISMS.choose(rng).map(|s| s.to_string()),
        Segment::Proveedor => COMPANIES.choose(rng).map(|s| s.to_string()),
        Segment::Ciudadano => None,
    };
    let user = crate::domain::text::fold(&format!("{first}.{last}")).replace(' ', "");
    let domain = match segment {
        Segment::Comprador => "organismo.gob.cl",
        Segment::Proveedor => "empresa.cl",
        Segment::Ciudadano => "correo.cl",
    };
    RequesterData {
        name: format!("{first} {last}"),
        email: Some(format!("{user}{}@{domain}", rng.random_range(1..40))),
        phone: None,
        rut: None,
        segment: Some(segment),
        organization,
    }
}

fn create_one(conn: &mut DbConnection, rng: &mut StdRng, n: usize, agents: &[i64]) -> Result<(), AppError> {
    let (category, subject, body) = TOPICS[n % TOPICS.len()];
    let requester = requester(rng);
    let queue = match (category, requester.segment) {
        ("reclamos", _) => "reclamos",
        (_, Some(Segment::Comprador)) => "compradores",
        (_, Some(Segment::Proveedor)) => "proveedores",
        _ => "mesa-de-ayuda",
    };
    let input = NewTicketInput {
        subject: subject.into(),
        body: body.into(),
        body_html: None,
        requester_id: None,
        requester,
        channel: *[Channel::Email, Channel::Web, Channel::Phone, Channel::Email].choose(rng).expect("channels"),
        priority: *[Priority::Normal, Priority::Normal, Priority::Low, Priority::High, Priority::Urgent]
            .choose(rng)
            .expect("priorities"),
        category: Some(category.into()),
        queue: Some(queue.into()),
        assignee_id: None,
        tags: Vec::new(),
        kind: TicketKind::Standard,
        origin: Default::default(),
        sender: None,
        acknowledge: false,
    };
    let ticket = store::create(conn, None, input)?;
    // Most tickets get worked on: assigned, answered, some solved and closed.
    if rng.random_bool(0.8) {
        let agent = *agents[1..].choose(rng).expect("agents");
        let update = UpdateTicketRequest { assignee_id: Some(Some(agent)), ..Default::default() };
        store::update(conn, ticket.id, Actor::Agent(agents[0]), update)?;
        let status = *[Status::Open, Status::Pending, Status::Solved, Status::Solved, Status::OnHold]
            .choose(rng)
            .expect("statuses");
        let reply = CreateMessageRequest {
            body: "Estimado/a, gracias por contactarnos. Revisamos su caso y le indicamos los pasos a seguir.".into(),
            body_html: None,
            visibility: None,
            from_requester: false,
            status: Some(status),
        };
        store::add_message(conn, ticket.id, Actor::Agent(agent), reply, crate::tickets::OnReply::Keep)?;
        if status == Status::Solved && rng.random_bool(0.3) {
            let close = UpdateTicketRequest { status: Some(Status::Closed), ..Default::default() };
            store::update(conn, ticket.id, Actor::System, close)?;
        }
    }
    Ok(())
}
