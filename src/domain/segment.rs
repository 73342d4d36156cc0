//! The requester's segment when nobody said it: someone writing from a public body is a
//! `comprador` (public bodies are the buyers of Mercado Público), anyone else a `ciudadano`.
//! Suppliers cannot be told from their address (any company, any domain), so `proveedor` is only
//! ever set explicitly.

use super::text::fold;
use super::Segment;

/// Email domains of the State: NIC Chile gives `gob.cl` to public services and `mil.cl` to the
/// armed forces; `gov.cl` is the older spelling some services still use.
const PUBLIC_DOMAINS: &[&str] = &["gob.cl", "gov.cl", "mil.cl"];

/// Words of an organization's name (case and accents ignored, whole words) that only public
/// bodies carry: municipalities and their corporations, the health network, ministries and their
/// regional offices, regional governments, and the state university the request names most.
const PUBLIC_NAMES: &[&str] = &[
    "municipalidad",
    "municipal",
    "servicio de salud",
    "hospital",
    "ministerio",
    "subsecretaria",
    "seremi",
    "gobierno regional",
    "delegacion presidencial",
    "universidad de chile",
];

/// Whether the email's domain is one of the State's, or a municipality's own `muni….cl` (the
/// usual form: `munistgo.cl`, `muniprovidencia.cl`, `municipalidadarica.cl`).
fn public_domain(email: &str) -> bool {
    let Some((_, domain)) = email.rsplit_once('@') else { return false };
    let domain = domain.trim().to_ascii_lowercase();
    let state = PUBLIC_DOMAINS.iter().any(|d| domain == *d || domain.ends_with(&format!(".{d}")));
    let municipal = domain
        .strip_suffix(".cl")
        .and_then(|rest| rest.rsplit('.').next())
        .is_some_and(|label| label.starts_with("muni"));
    state || municipal
}

/// Whether the organization's name has one of [`PUBLIC_NAMES`] as whole words.
fn public_name(organization: &str) -> bool {
    let words: Vec<String> =
        fold(organization).split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_owned).collect();
    PUBLIC_NAMES.iter().any(|name| {
        let name: Vec<&str> = name.split(' ').collect();
        words.windows(name.len()).any(|window| window.iter().zip(&name).all(|(w, n)| w == n))
    })
}

/// Whether an email or an organization name belongs to a public body.
pub fn is_public_body(email: Option<&str>, organization: Option<&str>) -> bool {
    email.is_some_and(public_domain) || organization.is_some_and(public_name)
}

/// The segment of a requester whose segment was not given.
pub fn infer(email: Option<&str>, organization: Option<&str>) -> Segment {
    if is_public_body(email, organization) {
        Segment::Comprador
    } else {
        Segment::Ciudadano
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_and_municipal_domains_are_buyers() {
        for email in [
            "ana@minsal.gob.cl",
            "jefe.compras@hospitalsanjose.gob.cl",
            "a@gob.cl",
            "b@dipreca.gov.cl",
            "c@ejercito.mil.cl",
            "Compras@MuniProvidencia.CL",
            "d@munistgo.cl",
            "e@correo.municipalidadarica.cl",
        ] {
            assert_eq!(infer(Some(email), None), Segment::Comprador, "{email}");
        }
    }

    #[test]
    fn other_domains_are_citizens() {
        for email in [
            "ana@gmail.com",
            "ventas@empresa.cl",
            "x@gob.cl.ejemplo.com",
            "y@notgob.cl",
            "z@municipal.com",
            "w@comunidad.cl",
            "sin-arroba",
        ] {
            assert_eq!(infer(Some(email), None), Segment::Ciudadano, "{email}");
        }
        assert_eq!(infer(None, None), Segment::Ciudadano);
    }

    #[test]
    fn public_names_are_buyers_as_whole_words() {
        for organization in [
            "Ilustre Municipalidad de Providencia",
            "Corporación Municipal de Educación de Maipú",
            "Servicio de Salud Metropolitano Sur",
            "HOSPITAL DEL SALVADOR",
            "Ministerio de Obras Públicas",
            "Subsecretaría de Economía",
            "SEREMI de Salud Biobío",
            "Gobierno Regional de Valparaíso",
            "Delegación Presidencial Regional de Ñuble",
            "Universidad de Chile, Facultad de Medicina",
        ] {
            assert_eq!(infer(Some("persona@gmail.com"), Some(organization)), Segment::Comprador, "{organization}");
        }
        for organization in [
            "Hospitalidad y Eventos SpA",
            "Ferretería El Ministro",
            "Universidad de Chiloé",
            "Inversiones Municipales del Norte",
            "Constructora Salud y Servicio",
        ] {
            assert_eq!(infer(None, Some(organization)), Segment::Ciudadano, "{organization}");
        }
    }
}
