//! Routing and assignment: rules, strategies under skills/capacity/presence, waiting order, pull
//! mode with concurrent claimers, transfers, and rotation plans across a DST change.

use atencion::domain::Role;
use atencion::routing::rotation;
use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

async fn agent(app: &TestApp, name: &str) -> (i64, String) {
    let created = app.post("/api/v1/agents", json!({"name": name, "role": "agent"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_i64().unwrap();
    let token = app.post(&format!("/api/v1/agents/{id}/tokens"), json!({"name": "prueba"})).await;
    (id, token.body["token"].as_str().unwrap().to_owned())
}

async fn queue(app: &TestApp, slug: &str) -> i64 {
    let created = app.post("/api/v1/queues", json!({"slug": slug, "name": slug})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    created.body["id"].as_i64().unwrap()
}

async fn routing(app: &TestApp, queue: i64, body: Value) -> Value {
    let reply = app.patch(&format!("/api/v1/queues/{queue}/routing"), body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

async fn presence(app: &TestApp, agent: i64, state: &str) -> Value {
    let reply = app
        .call(
            Method::PUT,
            &format!("/api/v1/agents/{agent}/presence"),
            Some(&app.admin),
            Some(&json!({"presence": state})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

async fn ticket_in(app: &TestApp, queue: &str, subject: &str, priority: &str) -> Value {
    let body = json!({"subject": subject, "body": "Detalle de la consulta.", "queue": queue, "priority": priority,
        "requester": {"name": "Ana", "email": format!("{}@example.cl", subject.replace(' ', "."))}});
    let reply = app.post("/api/v1/tickets", body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

async fn assignee(app: &TestApp, ticket: &Value) -> Value {
    app.get(&format!("/api/v1/tickets/{}", ticket["id"])).await.body["assignee_id"].clone()
}

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

on_all_backends! {
    async fn rules_route_new_tickets_in_order_and_say_why(app) {
        queue(&app, "proveedores-n2").await;
        let (watcher, _) = agent(&app, "Supervisora").await;
        let rules = [
            json!({"name": "Convenio Marco por palabras", "position": 10, "conditions": {"keywords": ["convenio marco"]},
                   "actions": {"category": "convenio-marco", "tags": ["cm"]}}),
            json!({"name": "Proveedores de CM al segundo nivel", "position": 20,
                   "conditions": {"category": ["convenio-marco"], "segment": ["proveedor"]},
                   "actions": {"queue": "proveedores-n2", "priority": "high", "watcher_id": watcher, "stop": true}}),
            json!({"name": "Todo lo demás", "position": 30, "actions": {"tags": ["revisar"]}}),
        ];
        for rule in &rules {
            let created = app.post("/api/v1/routing/rules", rule.clone()).await;
            assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        }
        let listed = app.get("/api/v1/routing/rules").await.body;
        assert_eq!(listed.as_array().unwrap().iter().map(|r| r["position"].as_i64().unwrap()).collect::<Vec<_>>(), [10, 20, 30]);

        let body = json!({"subject": "Duda sobre mi oferta en el CONVENIO MARCO de aseo", "body": "Hola.",
            "requester": {"name": "Pedro", "email": "pedro@proveedor.cl", "segment": "proveedor"}});
        let ticket = app.post("/api/v1/tickets", body).await.body;
        assert_eq!((ticket["queue"].as_str(), ticket["category"].as_str(), ticket["priority"].as_str()), (Some("proveedores-n2"), Some("convenio-marco"), Some("high")));
        assert_eq!(ticket["tags"], json!(["cm"]));
        let events = app.get(&format!("/api/v1/tickets/{}/events", ticket["id"])).await.body;
        let routed = events.as_array().unwrap().iter().find(|e| e["kind"] == "routed").expect("routed event");
        let names: Vec<&str> = routed["data"]["rules"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Convenio Marco por palabras", "Proveedores de CM al segundo nivel"]);
        let moved = events.as_array().unwrap().iter().find(|e| e["kind"] == "queue_changed").unwrap();
        assert_eq!(moved["data"]["reason"], "regla de enrutamiento");

        // A buyer's ticket: only the first and the catch-all rule; the tester changes nothing.
        let before = app.get("/api/v1/tickets").await.body["items"].as_array().unwrap().len();
        let tested = app.post("/api/v1/routing/rules/test", json!({"channel": "email", "segment": "comprador", "subject": "convenio marco", "body": ""})).await;
        assert_eq!(tested.status, StatusCode::OK, "{}", tested.body);
        let applied: Vec<&str> = tested.body["applied"].as_array().unwrap().iter().map(|a| a["rule_name"].as_str().unwrap()).collect();
        assert_eq!(applied, ["Convenio Marco por palabras", "Todo lo demás"]);
        assert_eq!((tested.body["category"].as_str(), tested.body["tags"].clone()), (Some("convenio-marco"), json!(["cm", "revisar"])));
        assert!(tested.body["queue"].is_null());
        assert_eq!(app.get("/api/v1/tickets").await.body["items"].as_array().unwrap().len(), before);

        // Mailbox, dialled number and business hours conditions, through the tester.
        let hours = json!({"name": "Fuera de horario", "conditions": {"business_hours": false, "called_number": ["600 7000 600"]}, "actions": {"tags": ["fuera-de-horario"]}});
        assert_eq!(app.post("/api/v1/routing/rules", hours).await.status, StatusCode::CREATED);
        let night = app.post("/api/v1/routing/rules/test", json!({"channel": "phone", "called_number": "6007000600", "at": "2026-12-02T03:00:00Z"})).await.body;
        assert!(night["tags"].as_array().unwrap().contains(&json!("fuera-de-horario")), "{night}");
        let day = app.post("/api/v1/routing/rules/test", json!({"channel": "phone", "called_number": "6007000600", "at": "2026-12-02T14:00:00Z"})).await.body;
        assert!(!day["tags"].as_array().unwrap().contains(&json!("fuera-de-horario")), "{day}");

        // Invalid rules are refused with the part that is wrong.
        let bad = |conditions: Value, actions: Value| json!({"name": "x", "conditions": conditions, "actions": actions});
        let cases = [
            (bad(json!({"subject_regex": "(sin cerrar"}), json!({"tags": ["a"]})), "conditions.subject_regex"),
            (bad(json!({"colour": ["red"]}), json!({"tags": ["a"]})), "conditions.colour"),
            (bad(json!({}), json!({"queue": "no-existe"})), "actions.queue"),
            (bad(json!({"category": ["no-existe"]}), json!({"tags": ["a"]})), "conditions.category"),
            (bad(json!({}), json!({"watcher_id": 9999})), "actions.watcher_id"),
            (bad(json!({}), json!({})), "actions"),
        ];
        for (rule, field) in cases {
            let fields = assert_problem(&app.post("/api/v1/routing/rules", rule.clone()).await, 422);
            assert!(fields.iter().any(|f| f == field), "{rule}: {fields:?}");
        }
        let agent_token = app.token(Role::Agent).await;
        let forbidden = app.call(Method::POST, "/api/v1/routing/rules", Some(&agent_token), Some(&rules[0])).await;
        assert_problem(&forbidden, 403);
        // Deleting a rule takes effect at once (every replica recompiles on the next ticket).
        let id = listed[2]["id"].clone();
        assert_eq!(app.delete(&format!("/api/v1/routing/rules/{id}")).await.status, StatusCode::NO_CONTENT);
        let after = app.post("/api/v1/routing/rules/test", json!({"channel": "web"})).await.body;
        assert_eq!(after["applied"], json!([]));

        // A rule marked on_update also runs when a person reclassifies the ticket.
        let on_update = json!({"name": "Pagos al segundo nivel", "on_update": true, "conditions": {"category": ["pagos"]}, "actions": {"queue": "proveedores-n2", "tags": ["pagos"]}});
        assert_eq!(app.post("/api/v1/routing/rules", on_update).await.status, StatusCode::CREATED);
        let plain = app.ticket("Consulta general", "maria@example.cl").await;
        assert_eq!(plain["queue"], "mesa-de-ayuda");
        let reclassified = app.patch(&format!("/api/v1/tickets/{}", plain["id"]), json!({"category": "pagos"})).await.body;
        assert_eq!((reclassified["queue"].as_str(), reclassified["tags"].clone()), (Some("proveedores-n2"), json!(["pagos"])));
        let events = app.get(&format!("/api/v1/tickets/{}/events", plain["id"])).await.body;
        assert_eq!(events.as_array().unwrap().iter().filter(|e| e["kind"] == "routed").count(), 1);
    }

    async fn round_robin_honours_skills_capacity_and_presence(app) {
        let q = queue(&app, "licitaciones-q").await;
        let (a, _) = agent(&app, "Ana").await;
        let (b, _) = agent(&app, "Bruno").await;
        let (c, _) = agent(&app, "Carla").await;
        for id in [a, b] {
            let r = app.patch(&format!("/api/v1/agents/{id}/routing"), json!({"skills": ["Licitaciones", "compra_agil"]})).await;
            assert_eq!(r.body["skills"], json!(["compra_agil", "licitaciones"]), "{}", r.body);
        }
        routing(&app, q, json!({"strategy": "round_robin", "required_skills": ["licitaciones"], "members": [a, b, c]})).await;
        for id in [a, b, c] {
            presence(&app, id, "available").await;
        }
        let mut owners = Vec::new();
        for i in 0..4 {
            let t = ticket_in(&app, "licitaciones-q", &format!("rr {i}"), "normal").await;
            owners.push(t["assignee_id"].as_i64().unwrap());
        }
        // Carla lacks the skill; Ana and Bruno alternate.
        assert_eq!(owners, [a, b, a, b]);

        // Bruno can hold 2 API tickets: the next two go to Ana, then the queue waits.
        app.patch(&format!("/api/v1/agents/{b}/routing"), json!({"capacity": {"phone": 1, "email": 8, "web": 8, "api": 2}})).await;
        app.patch(&format!("/api/v1/agents/{a}/routing"), json!({"capacity": {"phone": 1, "email": 8, "web": 8, "api": 3}})).await;
        let t5 = ticket_in(&app, "licitaciones-q", "rr 5", "normal").await;
        assert_eq!(t5["assignee_id"], a);
        let t6 = ticket_in(&app, "licitaciones-q", "rr 6", "normal").await;
        assert!(t6["assignee_id"].is_null(), "everyone is full: {t6}");
        assert_eq!(app.get(&format!("/api/v1/queues/{q}/routing")).await.body["waiting"], 1);

        // Ana goes offline returning her unstarted work: three tickets back to the queue, all waiting.
        let gone = app.call(Method::PUT, &format!("/api/v1/agents/{a}/presence"), Some(&app.admin), Some(&json!({"presence": "offline", "return_work": true}))).await;
        assert_eq!(gone.body["load"]["api"], 0, "{}", gone.body);
        assert_eq!(app.get(&format!("/api/v1/queues/{q}/routing")).await.body["waiting"], 4);
        // Carla learns the skill: she takes the waiting work, within her capacity (8).
        let carla = app.patch(&format!("/api/v1/agents/{c}/routing"), json!({"skills": ["licitaciones"]})).await.body;
        assert_eq!(carla["load"]["api"], 4, "{carla}");
        assert_eq!(assignee(&app, &t6).await, c);
        let presence_log = app.get(&format!("/api/v1/agents/{a}/routing")).await.body;
        assert_eq!(presence_log["presence"], "offline");
        assert!(presence_log["presence_since"].is_string());
        // Solving frees capacity: Bruno (full) gets the next waiting ticket when one of his is solved.
        app.patch(&format!("/api/v1/agents/{c}/routing"), json!({"capacity": {"phone": 1, "email": 8, "web": 8, "api": 4}})).await;
        let waiting = ticket_in(&app, "licitaciones-q", "rr 7", "normal").await;
        assert!(waiting["assignee_id"].is_null());
        let bruno_ticket = app.get(&format!("/api/v1/tickets?assignee={b}")).await.body["items"][0]["id"].clone();
        let solved = app.patch(&format!("/api/v1/tickets/{bruno_ticket}"), json!({"status": "solved"})).await;
        assert_eq!(solved.status, StatusCode::OK, "{}", solved.body);
        assert_eq!(assignee(&app, &waiting).await, b);
    }

    async fn waiting_work_goes_out_most_urgent_first_and_least_loaded_balances(app) {
        let q = queue(&app, "urgencias").await;
        let (a, _) = agent(&app, "Ana").await;
        app.patch(&format!("/api/v1/agents/{a}/routing"), json!({"capacity": {"phone": 1, "email": 8, "web": 8, "api": 1}})).await;
        routing(&app, q, json!({"strategy": "least_loaded", "members": [a]})).await;
        let normal = ticket_in(&app, "urgencias", "normal", "normal").await;
        let urgent = ticket_in(&app, "urgencias", "urgente", "urgent").await;
        let low = ticket_in(&app, "urgencias", "baja", "low").await;
        for t in [&normal, &urgent, &low] {
            assert!(t["assignee_id"].is_null(), "Ana is offline");
        }
        // Available: the ticket due soonest (urgent: 1 h first-reply target) comes first.
        presence(&app, a, "available").await;
        assert_eq!(assignee(&app, &urgent).await, a);
        assert!(assignee(&app, &normal).await.is_null());
        app.patch(&format!("/api/v1/tickets/{}", urgent["id"]), json!({"status": "solved"})).await;
        assert_eq!(assignee(&app, &normal).await, a);
        assert!(assignee(&app, &low).await.is_null());

        // least_loaded weighs load by capacity: Bruno with 1 of 2 (0.5) loses to Ana with 3 of 8 (0.375).
        let (b, _) = agent(&app, "Bruno").await;
        app.patch(&format!("/api/v1/agents/{a}/routing"), json!({"capacity": {"phone": 1, "email": 8, "web": 8, "api": 8}})).await;
        app.patch(&format!("/api/v1/agents/{b}/routing"), json!({"capacity": {"phone": 1, "email": 8, "web": 8, "api": 2}})).await;
        ticket_in(&app, "urgencias", "extra", "normal").await;
        assert_eq!(app.get(&format!("/api/v1/agents/{a}/routing")).await.body["load"]["api"], 3);
        routing(&app, q, json!({"members": [a, b]})).await;
        presence(&app, b, "available").await;
        let direct = json!({"subject": "para Bruno", "body": "x", "queue": "urgencias", "assignee_id": b, "requester": {"name": "X", "email": "x@example.cl"}});
        app.post("/api/v1/tickets", direct).await;
        let next = ticket_in(&app, "urgencias", "siguiente", "normal").await;
        assert_eq!(next["assignee_id"], a);

        // A transfer keeps its reason in the log.
        let moved = app.patch(&format!("/api/v1/tickets/{}", next["id"]), json!({"queue": "mesa-de-ayuda", "assignee_id": null, "reason": "consulta de otro ámbito"})).await;
        assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
        let events = app.get(&format!("/api/v1/tickets/{}/events", next["id"])).await.body;
        let kinds: Vec<_> = events.as_array().unwrap().iter().filter(|e| e["data"]["reason"] == "consulta de otro ámbito").map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["queue_changed", "assignee_changed"]);
    }

    async fn concurrent_pulls_never_hand_out_a_ticket_twice(app) {
        let q = queue(&app, "pull").await;
        let mut agents = Vec::new();
        for i in 0..4 {
            agents.push(agent(&app, &format!("Agente {i}")).await);
        }
        routing(&app, q, json!({"members": agents.iter().map(|a| a.0).collect::<Vec<_>>()})).await;
        let mut created = Vec::new();
        for i in 0..20 {
            created.push(ticket_in(&app, "pull", &format!("pull {i}"), "normal").await["id"].as_i64().unwrap());
        }
        let mut tasks = Vec::new();
        for (id, token) in agents.iter().chain(agents.iter()) {
            let (id, token) = (*id, token.clone());
            let (client, url) = (app.client.clone(), format!("{}/api/v1/queues/{q}/next", app.address));
            tasks.push(tokio::spawn(async move {
                let mut taken = Vec::new();
                loop {
                    let reply = client.post(&url).bearer_auth(&token).send().await.unwrap();
                    match reply.status() {
                        StatusCode::OK => {
                            let t: Value = reply.json().await.unwrap();
                            assert_eq!(t["assignee_id"], id);
                            taken.push(t["id"].as_i64().unwrap());
                        }
                        StatusCode::NO_CONTENT => break,
                        // Another request of the same agent holds them: try again.
                        StatusCode::CONFLICT => tokio::task::yield_now().await,
                        other => panic!("unexpected {other}: {}", reply.text().await.unwrap()),
                    }
                }
                taken
            }));
        }
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        all.sort();
        created.sort();
        assert_eq!(all, created, "every ticket handed out exactly once");
        let outsider = app.token(Role::Agent).await;
        assert_problem(&app.call(Method::POST, &format!("/api/v1/queues/{q}/next"), Some(&outsider), None).await, 409);
    }

    async fn rotation_moves_agents_at_each_boundary_once_across_dst(app) {
        let q1 = queue(&app, "rot-a").await;
        let q2 = queue(&app, "rot-b").await;
        let (a, _) = agent(&app, "Ana").await;
        let (b, _) = agent(&app, "Bruno").await;
        routing(&app, q1, json!({"members": [a]})).await;
        let kept = app.post("/api/v1/tickets", json!({"subject": "de Ana", "body": "x", "queue": "rot-a", "assignee_id": a, "requester": {"name": "X", "email": "x@example.cl"}})).await.body;
        let plan = json!({"name": "Rotación semanal", "agents": [a, b], "queues": ["rot-a", "rot-b"], "period": "weekly",
                          "weekday": "monday", "at": "09:00", "start": "2026-08-31"});
        let created = app.post("/api/v1/routing/rotations", plan).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let id = created.body["id"].as_i64().unwrap();

        let tick = |now: &'static str| {
            let db = app.db.clone();
            async move { db.write(move |c| rotation::tick(c, utc(now))).await.unwrap() }
        };
        // 08:59 in Santiago (UTC−4 in August): not yet.
        assert_eq!(tick("2026-08-31T12:59:00Z").await, 0);
        // Three replicas at the boundary: one rotation.
        let (x, y, z) = tokio::join!(tick("2026-08-31T13:00:00Z"), tick("2026-08-31T13:00:01Z"), tick("2026-08-31T13:00:02Z"));
        assert_eq!(x + y + z, 1);
        let members = |q: i64| {
            let app = &app;
            async move { app.get(&format!("/api/v1/queues/{q}/routing")).await.body["members"].clone() }
        };
        assert_eq!((members(q1).await, members(q2).await), (json!([a]), json!([b])));
        // Clocks moved forward on 6 September (UTC−3): the next boundary is still 09:00 local.
        assert_eq!(tick("2026-09-07T11:59:00Z").await, 0);
        assert_eq!(tick("2026-09-07T12:00:00Z").await, 1);
        assert_eq!((members(q1).await, members(q2).await), (json!([b]), json!([a])));
        // Open work stays with its agent.
        assert_eq!(assignee(&app, &kept).await, a);
        let history = app.get(&format!("/api/v1/routing/rotations/{id}/history")).await.body;
        assert_eq!(history.as_array().unwrap().iter().map(|h| h["period_index"].as_i64().unwrap()).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(history[1]["memberships"], json!([{"agent_id": a, "queue": "rot-b"}, {"agent_id": b, "queue": "rot-a"}]));
        let preview = app.get(&format!("/api/v1/routing/rotations/{id}")).await.body;
        assert!(preview["next"]["period_index"].as_u64().unwrap() >= 2, "{preview}");

        let bad = json!({"name": "", "agents": [a, a], "queues": [], "period": "weekly", "at": "9am", "timezone": "Marte/Olympus", "start": "2026-08-31"});
        let mut fields = assert_problem(&app.post("/api/v1/routing/rotations", bad.clone()).await, 422);
        fields.sort();
        fields.dedup();
        assert_eq!(fields, ["agents", "at", "name", "queues", "timezone", "weekday"]);
        // The draft preview answers as creating would, and stores nothing.
        let mut fields = assert_problem(&app.post("/api/v1/routing/rotations/preview", bad).await, 422);
        fields.sort();
        fields.dedup();
        assert_eq!(fields, ["agents", "at", "name", "queues", "timezone", "weekday"]);
        let draft = json!({"name": "Diaria", "agents": [a, b], "queues": ["rot-a", "rot-b"], "period": "daily",
                           "at": "08:30", "start": "2040-01-02"});
        let preview = app.post("/api/v1/routing/rotations/preview", draft).await;
        assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
        let next = preview.body.as_array().unwrap();
        assert_eq!(next.iter().map(|p| p["period_index"].as_u64().unwrap()).collect::<Vec<_>>(), [0, 1, 2, 3]);
        // 08:30 in Santiago in January (UTC−3), one day apart; agents take turns.
        assert_eq!(next[0]["starts_at"], "2040-01-02T11:30:00Z");
        assert_eq!(next[1]["starts_at"], "2040-01-03T11:30:00Z");
        assert_eq!(next[1]["memberships"], json!([{"agent_id": a, "queue": "rot-b"}, {"agent_id": b, "queue": "rot-a"}]));
        assert_eq!(app.get("/api/v1/routing/rotations").await.body.as_array().unwrap().len(), 1);
    }
}

on_all_backends! {
    async fn the_tester_tries_a_rule_before_it_is_saved(app) {
        let saved = json!({"name": "Todo a revisar", "actions": {"tags": ["revisar"]}});
        assert_eq!(app.post("/api/v1/routing/rules", saved).await.status, StatusCode::CREATED);
        let draft = json!({"name": "Compra Ágil", "conditions": {"keywords": ["compra agil"]}, "actions": {"queue": "mesa-de-ayuda", "priority": "high"}});
        let ticket = |subject: &str, draft: &Value| json!({"channel": "web", "subject": subject, "body": "", "draft": draft});

        // The draft runs after the saved rules, named, with id 0; nothing is stored.
        let tried = app.post("/api/v1/routing/rules/test", ticket("Duda con mi Compra Ágil", &draft)).await;
        assert_eq!(tried.status, StatusCode::OK, "{}", tried.body);
        let applied: Vec<(i64, &str)> = tried.body["applied"].as_array().unwrap().iter()
            .map(|a| (a["rule_id"].as_i64().unwrap(), a["rule_name"].as_str().unwrap())).collect();
        assert_eq!(applied[1], (0, "Compra Ágil"), "{applied:?}");
        assert_eq!((tried.body["queue"].as_str(), tried.body["priority"].as_str()), (Some("mesa-de-ayuda"), Some("high")));
        let unmatched = app.post("/api/v1/routing/rules/test", ticket("Otra cosa", &draft)).await.body;
        assert_eq!(unmatched["applied"].as_array().unwrap().len(), 1);
        assert_eq!(app.get("/api/v1/routing/rules").await.body.as_array().unwrap().len(), 1);

        // A wrong draft is a 422 naming the draft's field.
        let cases = [
            (json!({"name": "", "actions": {"tags": ["a"]}}), "draft.name"),
            (json!({"name": "x", "actions": {"queue": "no-existe"}}), "draft.actions.queue"),
            (json!({"name": "x", "conditions": {"subject_regex": "(sin cerrar"}, "actions": {"tags": ["a"]}}), "draft.conditions.subject_regex"),
        ];
        for (bad, field) in cases {
            let fields = assert_problem(&app.post("/api/v1/routing/rules/test", ticket("x", &bad)).await, 422);
            assert_eq!(fields, [field], "{bad}");
        }
    }
}

on_all_backends! {
    async fn a_queue_lists_its_waiting_tickets_in_the_order_assignment_takes_them(app) {
        let queues = app.get("/api/v1/queues").await.body;
        let queue = queues.as_array().unwrap().iter().find(|q| q["slug"] == "mesa-de-ayuda").unwrap()["id"].as_i64().unwrap();
        let mut created = Vec::new();
        for (subject, priority) in [("Baja", "low"), ("Urgente", "urgent"), ("Normal", "normal"), ("Alta", "high")] {
            let mut body = ticket_body(subject, "espera@proveedor.cl");
            body["priority"] = json!(priority);
            created.push(app.post("/api/v1/tickets", body).await.body["id"].as_i64().unwrap());
        }
        let waiting = app.get(&format!("/api/v1/queues/{queue}/waiting?limit=10")).await;
        assert_eq!(waiting.status, StatusCode::OK, "{}", waiting.body);
        let order: Vec<i64> = waiting.body.as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect();
        assert_eq!(order, [created[1], created[3], created[2], created[0]], "urgent, high, normal, low");

        // Pull mode takes exactly the first one; the list then starts with the second.
        let agent = app.token(Role::Agent).await;
        let me = app.call(Method::GET, "/api/v1/agents/me", Some(&agent), None).await.body["id"].as_i64().unwrap();
        app.patch(&format!("/api/v1/queues/{queue}/routing"), json!({"members": [me]})).await;
        app.call(Method::PUT, &format!("/api/v1/agents/{me}/presence"), Some(&agent), Some(&json!({"presence": "available"}))).await;
        let taken = app.call(Method::POST, &format!("/api/v1/queues/{queue}/next"), Some(&agent), None).await;
        assert_eq!(taken.body["id"].as_i64(), Some(order[0]), "{}", taken.body);
        let after = app.get(&format!("/api/v1/queues/{queue}/waiting")).await.body;
        assert_eq!(after[0]["id"].as_i64(), Some(order[1]));

        assert_eq!(assert_problem(&app.get(&format!("/api/v1/queues/{queue}/waiting?limit=0")).await, 422), ["limit"]);
        // A capacity names the four channels only.
        let chat = json!({"capacity": {"phone": 1, "email": 8, "web": 8, "api": 8, "chat": 3}});
        let fields = assert_problem(&app.patch(&format!("/api/v1/agents/{me}/routing"), chat).await, 422);
        assert!(fields.iter().all(|f| f.starts_with("capacity")) && !fields.is_empty(), "{fields:?}");
        assert_problem(&app.get("/api/v1/queues/999999/waiting").await, 404);
    }
}

on_all_backends! {
    async fn the_team_view_lists_every_active_agent_with_presence_and_open_work(app) {
        let q = queue(&app, "equipo").await;
        let (zoe, zoe_token) = agent(&app, "Zoe Valdés").await;
        let (bruno, _) = agent(&app, "Bruno Díaz").await;
        let (gone, _) = agent(&app, "Aurora Ida").await;
        routing(&app, q, json!({"members": [zoe, bruno]})).await;
        presence(&app, zoe, "available").await;
        app.post("/api/v1/tickets", json!({"subject": "Abierto", "body": "x", "queue": "equipo", "assignee_id": zoe, "channel": "email",
            "requester": {"name": "X", "email": "x@example.cl"}})).await;
        assert_eq!(app.call(Method::DELETE, &format!("/api/v1/agents/{gone}"), Some(&app.admin), None).await.status, StatusCode::NO_CONTENT);

        let team = app.get("/api/v1/routing/agents").await;
        assert_eq!(team.status, StatusCode::OK, "{}", team.body);
        let rows = team.body.as_array().unwrap();
        let ids: Vec<i64> = rows.iter().map(|r| r["agent_id"].as_i64().unwrap()).collect();
        // By name; the deactivated agent is not there.
        let (b, z) = (ids.iter().position(|&i| i == bruno).unwrap(), ids.iter().position(|&i| i == zoe).unwrap());
        assert!(b < z && !ids.contains(&gone), "{ids:?}");
        let zoe_row = &rows[z];
        assert_eq!((zoe_row["presence"].as_str(), zoe_row["load"]["email"].as_u64()), (Some("available"), Some(1)));
        assert!(zoe_row["presence_since"].is_string() && zoe_row["queues"] == json!(["equipo"]), "{zoe_row}");
        assert_eq!(rows[b]["presence"], "offline");
        // Supervisors watch the team; an agent does not.
        let supervisor = app.token(Role::Supervisor).await;
        assert_eq!(app.call(Method::GET, "/api/v1/routing/agents", Some(&supervisor), None).await.status, StatusCode::OK);
        assert_problem(&app.call(Method::GET, "/api/v1/routing/agents", Some(&zoe_token), None).await, 403);
    }
}
