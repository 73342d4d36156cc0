//! Contact-center figures through the API.

use atencion::domain::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

on_all_backends! {
    async fn staffing_forecast_matches_the_published_erlang_c_values(app) {
        // 100 calls per 30 minutes, AHT 180 s: 10 Erlangs; 80 % within 20 s needs 14 agents.
        let input = json!({"arrivals": 100.0, "interval_secs": 1800.0, "aht_secs": 180.0, "target_service_level": 0.8,
            "answer_secs": 20.0, "max_occupancy": 1.0, "shrinkage": 0.3});
        let reply = app.post("/api/v1/kpis/staffing", input.clone()).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let s = &reply.body;
        assert_eq!((s["traffic"].as_f64(), s["agents"].as_u64(), s["scheduled"].as_u64()), (Some(10.0), Some(14), Some(20)));
        assert!((s["probability_of_waiting"].as_f64().unwrap() - 0.1741).abs() < 0.0005, "{s}");
        assert!((s["service_level"].as_f64().unwrap() - 0.888).abs() < 0.001, "{s}");
        assert!((s["asa_seconds"].as_f64().unwrap() - 7.84).abs() < 0.01, "{s}");

        let bad = json!({"arrivals": -1.0, "interval_secs": 0.0, "aht_secs": 180.0, "target_service_level": 1.5,
            "answer_secs": 20.0, "max_occupancy": 1.0, "shrinkage": 0.3});
        assert_eq!(assert_problem(&app.post("/api/v1/kpis/staffing", bad).await, 422), ["arrivals", "interval_secs", "target_service_level"]);
        let agent = app.token(Role::Agent).await;
        assert_problem(&app.call(Method::POST, "/api/v1/kpis/staffing", Some(&agent), Some(&input)).await, 403);
    }
}
