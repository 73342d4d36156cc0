//! Full-text search in Spanish (accents, plurals, word order, message bodies, internal notes,
//! numbers, RUTs), its scope for department members, the ticket list's `q`, and similar solved
//! cases.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::departments::{department, member};
use crate::helpers::*;

/// Creates a ticket with `subject` and first message `body`; returns (id, number).
async fn ticket(app: &TestApp, subject: &str, body: &str, requester: Value) -> (i64, String) {
    let reply = app
        .post(
            "/api/v1/tickets",
            json!({"subject": subject, "body": body, "requester": requester, "category": "acceso-clave"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    (reply.body["id"].as_i64().unwrap(), reply.body["number"].as_str().unwrap().to_owned())
}

fn person(name: &str, email: &str) -> Value {
    json!({"name": name, "email": email, "segment": "comprador"})
}

async fn search_as(app: &TestApp, token: &str, query: &str) -> Reply {
    app.call(Method::GET, &format!("/api/v1/search?{query}"), Some(token), None).await
}

/// The ids found by `GET /search?q=…` as admin.
async fn found(app: &TestApp, q: &str) -> Vec<i64> {
    let q: String = form_urlencoded::byte_serialize(q.as_bytes()).collect();
    let reply = app.get(&format!("/api/v1/search?q={q}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    ids(&reply.body)
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect()
}

fn marked(fragment: &Value) -> Vec<String> {
    let text: Vec<char> = fragment["text"].as_str().unwrap().chars().collect();
    fragment["highlights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let (start, length) = (h["start"].as_u64().unwrap() as usize, h["length"].as_u64().unwrap() as usize);
            text[start..start + length].iter().collect()
        })
        .collect()
}

on_all_backends! {
    async fn spanish_words_are_found_with_accents_plurals_and_any_order(app) {
        let (orden, _) = ticket(&app, "No puedo emitir la orden de compra", "Me aparece un error al emitir.",
            person("Ana Pérez", "ana@muni.cl")).await;
        let (inscripcion, _) = ticket(&app, "Problema con mi inscripción en el Registro", "No avanza el trámite.",
            person("Luis Soto", "luis@proveedor.cl")).await;
        let (_, _) = ticket(&app, "Consulta general", "Quiero saber los plazos de una licitación.",
            person("Marta Díaz", "marta@muni.cl")).await;

        assert_eq!(found(&app, "inscripcion").await, [inscripcion]);
        assert_eq!(found(&app, "INSCRIPCIÓN").await, [inscripcion]);
        assert_eq!(found(&app, "ordenes").await, [orden]);
        assert_eq!(found(&app, "compra orden").await, [orden]);
        assert_eq!(found(&app, "orden compra").await, [orden]);
        // Every word must be found.
        assert!(found(&app, "orden licitación").await.is_empty());
        // A word only in the first message's body.
        assert_eq!(found(&app, "plazos").await.len(), 1);
        // Only stopwords: nothing to look for, nothing found.
        assert!(found(&app, "de la").await.is_empty());

        // The fragment is plain text with the words marked by character ranges.
        let page = app.get("/api/v1/search?q=%C3%B3rdenes%20compra").await.body;
        let hit = &page["items"][0];
        assert_eq!(hit["number"].as_str().unwrap().len(), "AU-2026-000001".len());
        assert_eq!(hit["status"], "new");
        assert_eq!(hit["fragment"]["text"], "No puedo emitir la orden de compra");
        assert_eq!(marked(&hit["fragment"]), ["orden", "compra"]);
    }

    async fn later_messages_and_internal_notes_are_searched_for_staff_only(app) {
        let (id, _) = ticket(&app, "Consulta", "Hola", person("Ana Pérez", "ana@muni.cl")).await;
        let reply = app.post(&format!("/api/v1/tickets/{id}/messages"),
            json!({"body": "Le enviamos el manual de facturación electrónica."})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let note = app.post(&format!("/api/v1/tickets/{id}/messages"),
            json!({"body": "Proveedor reincidente, revisar sanciones.", "visibility": "internal"})).await;
        assert_eq!(note.status, StatusCode::CREATED, "{}", note.body);

        assert_eq!(found(&app, "facturacion electronica").await, [id]);
        let page = app.get("/api/v1/search?q=manuales").await.body;
        assert_eq!(marked(&page["items"][0]["fragment"]), ["manual"]);
        // Staff (an agent too) find internal notes.
        assert_eq!(found(&app, "sanciones").await, [id]);
        let agent = app.token(atencion::domain::Role::Agent).await;
        assert_eq!(ids(&search_as(&app, &agent, "q=reincidente").await.body), [id]);
        // The requester's name and email are searched too.
        assert_eq!(found(&app, "perez").await, [id]);
        assert_eq!(found(&app, "ana@muni.cl").await, [id]);
    }

    async fn numbers_and_ruts_in_any_format_find_the_ticket(app) {
        let rutted = json!({"name": "Pedro Rojas", "rut": "12.345.678-5", "segment": "proveedor"});
        let (id, number) = ticket(&app, "Boleta de garantía", "Consulta", rutted).await;
        let (_, _) = ticket(&app, "Otra consulta", "Nada", person("Ana Pérez", "ana@muni.cl")).await;
        assert_eq!(found(&app, &number).await, [id]);
        assert_eq!(found(&app, &number.to_lowercase()).await, [id]);
        let sequence = number.rsplit('-').next().unwrap().to_owned();
        assert_eq!(found(&app, &sequence).await, [id]);
        for rut in ["12.345.678-5", "12345678-5", "123456785"] {
            assert_eq!(found(&app, rut).await, [id], "{rut}");
        }
    }

    async fn department_members_search_only_what_is_escalated_to_them(app) {
        let compradores = department(&app, "compradores").await;
        let proveedores = department(&app, "proveedores").await;
        let (escalated, _) = ticket(&app, "Garantía de fiel cumplimiento", "Consulta", person("Ana", "ana@muni.cl")).await;
        let (other, _) = ticket(&app, "Garantía de seriedad", "Consulta", person("Luis", "luis@muni.cl")).await;
        let reply = app.post(&format!("/api/v1/tickets/{escalated}/escalations"),
            json!({"department": "compradores", "mode": "consult", "reason": "¿Aplica?"})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        app.post(&format!("/api/v1/tickets/{escalated}/messages"),
            json!({"body": "Nota reservada sobre montos", "visibility": "internal"})).await;
        assert_eq!(found(&app, "garantia").await.len(), 2);
        assert!(found(&app, "garantia").await.contains(&other));

        let (_, member_token) = member(&app, compradores, "Rosa Vidal").await;
        let (_, outsider) = member(&app, proveedores, "Tomás Lagos").await;
        let mine = search_as(&app, &member_token, "q=garantias").await;
        assert_eq!(mine.status, StatusCode::OK, "{}", mine.body);
        assert_eq!(ids(&mine.body), [escalated]);
        // Not their messages, notes or the requester: the number and subject of what they got.
        assert!(ids(&search_as(&app, &member_token, "q=reservada").await.body).is_empty());
        assert!(ids(&search_as(&app, &outsider, "q=garantia").await.body).is_empty());
        let integration = app.token(atencion::domain::Role::Integration).await;
        assert_problem(&search_as(&app, &integration, "q=garantia").await, 403);
    }

    async fn filters_pages_and_bad_input(app) {
        let mut made = Vec::new();
        for i in 0..3 {
            made.push(ticket(&app, &format!("Certificado de habilidad {i}"), "Consulta", person("Ana", "ana@muni.cl")).await.0);
        }
        let first = app.get("/api/v1/search?q=certificado&limit=2").await.body;
        assert_eq!(first["items"].as_array().unwrap().len(), 2);
        let after = first["next_cursor"].as_str().unwrap();
        let second = app.get(&format!("/api/v1/search?q=certificado&limit=2&after={after}")).await.body;
        assert_eq!(second["items"].as_array().unwrap().len(), 1);
        assert!(second["next_cursor"].is_null());
        let mut all: Vec<i64> = ids(&first).into_iter().chain(ids(&second)).collect();
        all.sort();
        assert_eq!(all, made);

        assert!(ids(&app.get("/api/v1/search?q=certificado&status=solved").await.body).is_empty());
        assert_eq!(ids(&app.get("/api/v1/search?q=certificado&status=new,open").await.body).len(), 3);
        assert_eq!(ids(&app.get("/api/v1/search?q=certificado&from=2000-01-01&to=2999-01-01").await.body).len(), 3);
        assert!(ids(&app.get("/api/v1/search?q=certificado&to=2001-01-01T00:00:00Z").await.body).is_empty());

        assert_eq!(assert_problem(&app.get("/api/v1/search?q=").await, 422), ["q"]);
        assert_eq!(assert_problem(&app.get("/api/v1/search?q=%20%20").await, 422), ["q"]);
        assert_eq!(assert_problem(&app.get("/api/v1/search").await, 422), ["q"]);
        assert_eq!(assert_problem(&app.get(&format!("/api/v1/search?q={}", "a".repeat(201))).await, 422), ["q"]);
        assert_eq!(assert_problem(&app.get("/api/v1/search?q=x&from=ayer").await, 422), ["from"]);
        assert_eq!(assert_problem(&app.get("/api/v1/search?q=x&from=ayer&to=2026-13-01").await, 422), ["from", "to"]);
        assert_eq!(assert_problem(&app.get("/api/v1/search?q=x&status=abierto").await, 422), ["status"]);
        assert_eq!(assert_problem(&app.get("/api/v1/search?q=x&queue=marte").await, 422), ["queue"]);
        assert_eq!(assert_problem(&app.get("/api/v1/search?q=x&limit=0").await, 422), ["limit"]);
        assert_eq!(assert_problem(&app.get("/api/v1/search?q=x&after=zz").await, 422), ["cursor"]);
        assert_eq!(assert_problem(&app.get(&format!("/api/v1/tickets?q={}", "a".repeat(201))).await, 422), ["q"]);
    }

    async fn the_ticket_list_q_uses_the_index(app) {
        let (orden, _) = ticket(&app, "No puedo emitir la orden de compra", "Error", person("Ana", "ana@muni.cl")).await;
        let (body_only, _) = ticket(&app, "Consulta", "Mis órdenes de compra no aparecen", person("Luis", "luis@muni.cl")).await;
        let (_, _) = ticket(&app, "Licitación desierta", "Consulta", person("Marta", "marta@muni.cl")).await;
        let list = app.get("/api/v1/tickets?q=orden%20compra").await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        assert_eq!(ids(&list.body), [body_only, orden]);
        // Its other filters still apply, and a blank q filters nothing.
        assert!(ids(&app.get("/api/v1/tickets?q=orden&status=solved").await.body).is_empty());
        assert_eq!(ids(&app.get("/api/v1/tickets?q=ordenes&limit=1").await.body), [body_only]);
        assert_eq!(ids(&app.get("/api/v1/tickets?q=%20").await.body).len(), 3);
    }

    async fn similar_solved_cases_come_with_the_reply_that_solved_them(app) {
        let (solved, _) = ticket(&app, "No me llega la clave", "Pedí recuperar la clave y no me llega el correo.",
            person("Ana", "ana@muni.cl")).await;
        let answer = "Revise la carpeta de spam; el correo de recuperación llega desde Mercado Público.";
        let reply = app.post(&format!("/api/v1/tickets/{solved}/messages"), json!({"body": answer, "status": "solved"})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        // Similar but still open: not offered.
        let (_, _) = ticket(&app, "Clave bloqueada", "No me llega la clave nueva", person("Luis", "luis@muni.cl")).await;
        let (unrelated, _) = ticket(&app, "Licitación desierta", "Consulta por bases", person("Eva", "eva@muni.cl")).await;
        app.post(&format!("/api/v1/tickets/{unrelated}/messages"), json!({"body": "Respondido", "status": "solved"})).await;

        let (new, number) = ticket(&app, "No me llega mi clave", "Hace dos días espero la clave.", person("Rosa", "rosa@muni.cl")).await;
        let similar = app.get(&format!("/api/v1/tickets/{new}/similar")).await;
        assert_eq!(similar.status, StatusCode::OK, "{}", similar.body);
        let items = similar.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{}", similar.body);
        assert_eq!(items[0]["id"], solved);
        assert_eq!(items[0]["reply"]["body"], answer);
        assert_eq!(items[0]["category"], "acceso-clave");
        // By number too; bounds and unknown tickets.
        assert_eq!(ids(&app.get(&format!("/api/v1/tickets/{number}/similar?limit=1")).await.body), [solved]);
        assert_eq!(assert_problem(&app.get(&format!("/api/v1/tickets/{new}/similar?limit=21")).await, 422), ["limit"]);
        assert_problem(&app.get("/api/v1/tickets/999999/similar").await, 404);
    }
}
