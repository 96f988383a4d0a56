//! CRM objects, batch, associations, metadata, scopes, faults and the request log, over HTTP.

use std::time::Duration;

use hubspot_sandbox::faults::{FaultKind, FaultSpec};
use hubspot_sandbox::limits::Policy;
use hubspot_sandbox::oauth::{StaticToken, TokenKind};
use serde_json::{json, Value};

use crate::support::{small, spawn, Api, SandboxConfig};

fn ids(n: usize, start: u64) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"id": (start + i as u64).to_string()}))
        .collect()
}

#[tokio::test]
async fn crud_round_trip_on_both_path_styles_with_string_values() {
    let sb = spawn(small()).await;
    let api = Api::new(&sb);
    for prefix in ["/crm/v3/objects", "/crm/objects/2026-03"] {
        let email = format!("Round.Trip+{}@Example.com ", prefix.len());
        let r = api.post(&format!("{prefix}/contacts"), json!({"properties": {"email": email, "firstname": "Ada", "customer_tier": "gold", "vip": true}})).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let id = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(
            r.body["properties"]["email"],
            email.trim().to_lowercase(),
            "HubSpot stores emails lowercased"
        );
        let got = api
            .get(&format!(
                "{prefix}/contacts/{id}?properties=firstname,customer_tier,vip"
            ))
            .await;
        assert_eq!(got.status, 200);
        assert_eq!(got.body["properties"]["vip"], "true", "values are strings");
        assert_eq!(got.body["properties"]["customer_tier"], "gold");
        let up = api
            .patch(
                &format!("{prefix}/contacts/{id}"),
                json!({"properties": {"firstname": "Ada L."}}),
            )
            .await;
        assert_eq!(up.status, 200);
        assert_eq!(
            api.delete(&format!("{prefix}/contacts/{id}")).await.status,
            204
        );
        assert_eq!(
            api.get(&format!("{prefix}/contacts/{id}")).await.status,
            404
        );
        assert_eq!(
            api.get(&format!("{prefix}/contacts/{id}?archived=true"))
                .await
                .status,
            200
        );
    }
}

#[tokio::test]
async fn default_property_sets_are_returned_when_none_are_named() {
    let sb = spawn(small()).await;
    let api = Api::new(&sb);
    let r = api.get("/crm/v3/objects/deals?limit=1").await;
    let props = r.body["results"][0]["properties"].as_object().unwrap();
    let mut keys: Vec<&str> = props.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "amount",
            "closedate",
            "createdate",
            "dealname",
            "dealstage",
            "hs_lastmodifieddate",
            "hs_object_id",
            "pipeline"
        ]
    );
}

#[tokio::test]
async fn writing_an_unknown_property_is_a_validation_error() {
    let sb = spawn(small()).await;
    let api = Api::new(&sb);
    let r = api
        .post(
            "/crm/v3/objects/companies",
            json!({"properties": {"name": "X", "favourite_colour": "blue"}}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["category"], "VALIDATION_ERROR");
    assert_eq!(r.body["errors"][0]["code"], "PROPERTY_DOESNT_EXIST");
    assert_eq!(
        r.body["errors"][0]["context"]["propertyName"][0],
        "favourite_colour"
    );
    assert!(r.body["correlationId"].is_string());
    assert_eq!(
        r.header("x-hubspot-correlation-id"),
        r.body["correlationId"].as_str()
    );
    // Bad enumeration options, numbers and read-only values are rejected too.
    let r = api.post("/crm/v3/objects/tickets", json!({"properties": {"subject": "x", "hs_ticket_priority": "CRITICAL", "ai_confidence": "high", "hs_object_id": "1"}})).await;
    let codes: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(r.status, 400);
    for code in ["INVALID_OPTION", "INVALID_DECIMAL", "READ_ONLY_VALUE"] {
        assert!(codes.contains(&code), "{codes:?}");
    }
}

#[tokio::test]
async fn the_101st_batch_input_is_refused() {
    let sb = spawn(small()).await;
    let api = Api::new(&sb);
    for op in ["read", "create", "update", "upsert", "archive"] {
        let r = api
            .post(
                &format!("/crm/v3/objects/contacts/batch/{op}"),
                json!({"inputs": ids(101, 1)}),
            )
            .await;
        assert_eq!(r.status, 400, "{op}");
        assert!(
            r.body["message"].as_str().unwrap().contains("at most 100"),
            "{op}: {:?}",
            r.body
        );
    }
    // The first 100 seeded ids are companies.
    let r = api
        .post(
            "/crm/v3/objects/companies/batch/read",
            json!({"inputs": ids(100, 10_000_001), "properties": ["name"]}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["results"].as_array().unwrap().len(), 100);
}

#[tokio::test]
async fn batch_read_reports_missing_ids_with_207() {
    let sb = spawn(small()).await;
    let api = Api::new(&sb);
    let r = api
        .post(
            "/crm/objects/2026-03/companies/batch/read",
            json!({"inputs": [{"id": "10000001"}, {"id": 5}]}),
        )
        .await;
    assert_eq!(r.status, 207);
    assert_eq!(r.body["numErrors"], 1);
    assert_eq!(r.body["errors"][0]["category"], "OBJECT_NOT_FOUND");
    assert_eq!(r.body["errors"][0]["context"]["ids"][0], "5");
    // HubSpot's StandardError (2026-03 OpenAPI) requires `errors` and `links` on every item.
    assert!(r.body["errors"][0]["errors"].is_array(), "{:?}", r.body);
    assert!(r.body["errors"][0]["links"].is_object(), "{:?}", r.body);
}

#[tokio::test]
async fn batch_create_is_all_or_nothing_without_trace_ids_and_207_with_them() {
    let sb = spawn(small()).await;
    let api = Api::new(&sb);
    let before = api
        .post("/crm/v3/objects/companies/search", json!({"limit": 1}))
        .await
        .body["total"]
        .as_u64()
        .unwrap();
    let bad = json!({"inputs": [{"properties": {"name": "Good Co"}}, {"properties": {"name": "Bad Co", "nope": "x"}}]});
    let r = api
        .post("/crm/v3/objects/companies/batch/create", bad)
        .await;
    assert_eq!(r.status, 400);
    let after = api
        .post("/crm/v3/objects/companies/search", json!({"limit": 1}))
        .await
        .body["total"]
        .as_u64()
        .unwrap();
    assert_eq!(before, after, "nothing was written");

    let traced = json!({"inputs": [
        {"properties": {"name": "Good Co"}, "objectWriteTraceId": "t-1"},
        {"properties": {"name": "Bad Co", "nope": "x"}, "objectWriteTraceId": "t-2"},
    ]});
    let r = api
        .post("/crm/v3/objects/companies/batch/create", traced)
        .await;
    assert_eq!(r.status, 207, "{:?}", r.body);
    assert_eq!(r.body["results"][0]["objectWriteTraceId"], "t-1");
    assert_eq!(
        r.body["errors"][0]["context"]["objectWriteTraceId"][0],
        "t-2"
    );
    assert_eq!(
        r.body["errors"][0]["errors"][0]["code"],
        "PROPERTY_DOESNT_EXIST"
    );
}

#[tokio::test]
async fn batch_upsert_creates_then_updates_by_unique_property() {
    let sb = spawn(small()).await;
    let api = Api::new(&sb);
    let body = json!({"inputs": [{"id": "EXT-1", "idProperty": "crm_external_id", "properties": {"firstname": "Up"}}]});
    let r = api
        .post("/crm/v3/objects/contacts/batch/upsert", body.clone())
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["results"][0]["new"], true);
    let id = r.body["results"][0]["id"].clone();
    let r = api
        .post("/crm/v3/objects/contacts/batch/upsert", body)
        .await;
    assert_eq!(r.body["results"][0]["new"], false);
    assert_eq!(r.body["results"][0]["id"], id);
    let r = api
        .post(
            "/crm/v3/objects/contacts/batch/upsert",
            json!({"inputs": [{"id": "x", "idProperty": "firstname", "properties": {}}]}),
        )
        .await;
    assert_eq!(r.status, 400, "upsert needs a unique property");
}

#[tokio::test]
async fn creating_a_duplicate_email_conflicts() {
    let sb = spawn(small()).await;
    let api = Api::new(&sb);
    assert_eq!(
        api.post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"email": "dupe@x.io"}})
        )
        .await
        .status,
        201
    );
    let r = api
        .post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"email": "DUPE@x.io"}}),
        )
        .await;
    assert_eq!(r.status, 409);
    assert!(r.body["message"]
        .as_str()
        .unwrap()
        .starts_with("Contact already exists. Existing ID:"));
}

#[tokio::test]
async fn list_pages_with_after_until_the_end() {
    let sb = spawn(small()).await;
    let api = Api::new(&sb);
    let mut after: Option<String> = None;
    let mut seen = 0;
    loop {
        let path = match &after {
            Some(a) => format!("/crm/v3/objects/companies?limit=100&after={a}"),
            None => "/crm/v3/objects/companies?limit=100".to_string(),
        };
        let r = api.get(&path).await;
        assert_eq!(r.status, 200);
        seen += r.body["results"].as_array().unwrap().len();
        match r.body["paging"]["next"]["after"].as_str() {
            Some(a) => after = Some(a.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, 100);
    assert_eq!(
        api.get("/crm/v3/objects/companies?limit=101").await.status,
        400
    );
}

#[tokio::test]
async fn associations_v4_batch_read_pages_per_input_and_labels_round_trip() {
    let sb = spawn(SandboxConfig {
        assoc_page_size: 2,
        ..small()
    })
    .await;
    let api = Api::new(&sb);
    let company = api
        .post(
            "/crm/v3/objects/companies",
            json!({"properties": {"name": "Hub"}}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut contacts = Vec::new();
    for i in 0..5 {
        let c = api
            .post(
                "/crm/v3/objects/contacts",
                json!({"properties": {"email": format!("a{i}@hub.io")}}),
            )
            .await;
        contacts.push(c.body["id"].as_str().unwrap().to_string());
    }
    let inputs: Vec<Value> = contacts
        .iter()
        .map(|c| json!({"from": {"id": company}, "to": {"id": c}}))
        .collect();
    let r = api
        .post(
            "/crm/v4/associations/companies/contacts/batch/associate/default",
            json!({"inputs": inputs}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // Paging per input.
    let mut got = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut input = json!({"id": company});
        if let Some(a) = &after {
            input["after"] = json!(a);
        }
        let r = api
            .post(
                "/crm/v4/associations/companies/contacts/batch/read",
                json!({"inputs": [input]}),
            )
            .await;
        let res = &r.body["results"][0];
        for t in res["to"].as_array().unwrap() {
            got.push(t["toObjectId"].to_string());
            assert_eq!(t["associationTypes"][0]["typeId"], 280);
        }
        match res["paging"]["next"]["after"].as_str() {
            Some(a) => after = Some(a.to_string()),
            None => break,
        }
    }
    assert_eq!(got.len(), 5);
    // Inverse direction, per record.
    let r = api
        .get(&format!(
            "/crm/v4/objects/contacts/{}/associations/companies",
            contacts[0]
        ))
        .await;
    assert_eq!(r.body["results"][0]["toObjectId"].to_string(), company);
    assert_eq!(r.body["results"][0]["associationTypes"][0]["typeId"], 279);
    // A new label, used, then removed.
    let r = api
        .post(
            "/crm/v4/associations/contacts/companies/labels",
            json!({"label": "Billing contact", "name": "billing_contact"}),
        )
        .await;
    let type_id = r.body["results"][0]["typeId"].as_u64().unwrap();
    let r = api
        .put(
            &format!(
                "/crm/v4/objects/contacts/{}/associations/companies/{company}",
                contacts[1]
            ),
            json!([{"associationCategory": "USER_DEFINED", "associationTypeId": type_id}]),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["labels"][0], "Billing contact");
    assert_eq!(
        api.delete(&format!(
            "/crm/v4/objects/contacts/{}/associations/companies/{company}",
            contacts[1]
        ))
        .await
        .status,
        204
    );
    let r = api
        .get(&format!(
            "/crm/v4/objects/contacts/{}/associations/companies",
            contacts[1]
        ))
        .await;
    assert_eq!(r.body["results"].as_array().unwrap().len(), 0);
    // At most 1,000 inputs.
    let many: Vec<Value> = (0..1001).map(|i| json!({"id": i.to_string()})).collect();
    assert_eq!(
        api.post(
            "/crm/v4/associations/companies/contacts/batch/read",
            json!({"inputs": many})
        )
        .await
        .status,
        400
    );
}

#[tokio::test]
async fn properties_schemas_owners_and_pipelines_have_full_shapes() {
    let sb = spawn(small()).await;
    let api = Api::new(&sb);
    let r = api
        .get("/crm/properties/2026-03/tickets/hs_ticket_priority")
        .await;
    assert_eq!(r.status, 200);
    for key in [
        "name",
        "label",
        "type",
        "fieldType",
        "groupName",
        "description",
        "options",
        "modificationMetadata",
        "hasUniqueValue",
        "hubspotDefined",
    ] {
        assert!(r.body.get(key).is_some(), "missing {key}");
    }
    assert_eq!(r.body["options"].as_array().unwrap().len(), 4);
    let created = api
        .post("/crm/v3/properties/contacts", json!({"name": "nps_score", "label": "NPS", "type": "number", "fieldType": "number", "groupName": "sync"}))
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(api.post("/crm/v3/properties/contacts", json!({"name": "nps_score", "label": "NPS", "type": "number", "fieldType": "number", "groupName": "sync"})).await.status, 409);
    assert_eq!(
        api.post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"nps_score": "9"}})
        )
        .await
        .status,
        201,
        "a created property is writable"
    );
    let schemas = api.get("/crm-object-schemas/v3/schemas").await;
    assert_eq!(schemas.body["results"][0]["objectTypeId"], "2-7350152");
    assert_eq!(
        api.get("/crm/v3/schemas/2-7350152").await.body["name"],
        "projects"
    );
    let owners = api.get("/crm/v3/owners?limit=5").await;
    assert_eq!(owners.body["results"].as_array().unwrap().len(), 5);
    assert!(owners.body["paging"]["next"]["after"].is_string());
    // A team's id is a string in HubSpot's owners API (2026-03 OpenAPI), as other ids are.
    let team = &owners.body["results"][0]["teams"][0];
    assert!(team["id"].is_string(), "{team:?}");
    assert!(team["primary"].is_boolean(), "{team:?}");
    let pipes = api.get("/crm/pipelines/2026-03/tickets").await;
    assert_eq!(
        pipes.body["results"][0]["stages"].as_array().unwrap().len(),
        4
    );
    let acct = api.get("/account-info/v3/details").await;
    assert_eq!(acct.body["accountType"], "SANDBOX");
}

#[tokio::test]
async fn missing_scopes_get_403_naming_the_scope() {
    let cfg = SandboxConfig {
        static_tokens: vec![StaticToken {
            token: "pat-contacts-only".into(),
            kind: TokenKind::PrivateApp,
            scopes: Some(vec!["crm.objects.contacts.read".into()]),
        }],
        ..small()
    };
    let sb = spawn(cfg).await;
    let api = Api::new(&sb).with_token("pat-contacts-only");
    assert_eq!(
        api.get("/crm/v3/objects/contacts?limit=1").await.status,
        200
    );
    let r = api
        .post("/crm/v3/objects/contacts", json!({"properties": {}}))
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["category"], "MISSING_SCOPES");
    assert_eq!(
        r.body["errors"][0]["context"]["requiredGranularScopes"][0],
        "crm.objects.contacts.write"
    );
    assert_eq!(
        api.get("/crm/v3/objects/tickets?limit=1").await.body["errors"][0]["context"]
            ["requiredGranularScopes"][0],
        "tickets"
    );
    let r = api
        .with_token("nobody")
        .get("/crm/v3/objects/contacts")
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["category"], "INVALID_AUTHENTICATION");
}

#[tokio::test]
async fn faults_apply_per_route_for_n_requests_and_connections_can_drop() {
    let sb = spawn(small()).await;
    let api = Api::new(&sb);
    sb.inject(
        FaultSpec::new(FaultKind::Status { status: 477 })
            .on("/crm/v3/objects/deals*")
            .times(2)
            .retry_after(30),
    );
    let r = api.get("/crm/v3/objects/deals").await;
    assert_eq!(r.status, 477);
    assert_eq!(r.header("retry-after"), Some("30"));
    assert_eq!(
        api.get("/crm/v3/objects/contacts").await.status,
        200,
        "other routes are untouched"
    );
    assert_eq!(api.get("/crm/v3/objects/deals").await.status, 477);
    assert_eq!(
        api.get("/crm/v3/objects/deals").await.status,
        200,
        "the fault retired after two requests"
    );

    sb.inject(
        FaultSpec::new(FaultKind::RateLimit {
            policy: Policy::TenSecondlyRolling,
        })
        .times(1),
    );
    assert_eq!(
        api.get("/crm/v3/owners").await.body["policyName"],
        "TEN_SECONDLY_ROLLING"
    );

    for status in [423u16, 500, 502, 503, 504, 524] {
        sb.inject(FaultSpec::new(FaultKind::Status { status }).times(1));
        assert_eq!(api.get("/crm/v3/owners").await.status, status);
    }

    sb.inject(
        FaultSpec::new(FaultKind::Drop)
            .on("/crm/v3/owners")
            .times(1),
    );
    let err = reqwest::Client::new()
        .get(format!("{}/crm/v3/owners", sb.base_url()))
        .bearer_auth(sb.token())
        .send()
        .await;
    assert!(err.is_err(), "the connection closes without an answer");
    assert_eq!(sb.log_summary().dropped, 1);

    sb.inject(FaultSpec::new(FaultKind::Latency { ms: 150 }).for_duration(Duration::from_secs(60)));
    let t = std::time::Instant::now();
    assert_eq!(api.get("/crm/v3/owners").await.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(150));
    sb.clear_faults();
}

#[tokio::test]
async fn admin_route_installs_faults_and_reports_the_log() {
    let sb = spawn(small()).await;
    let api = Api::new(&sb);
    let r = api
        .post(
            "/__sandbox/faults",
            json!({"type": "status", "status": 503, "route": "/crm/v3/owners", "count": 1}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(api.get("/crm/v3/owners").await.status, 503);
    assert_eq!(api.get("/crm/v3/owners").await.status, 200);
    let log = api.get("/__sandbox/log?entries=true").await;
    assert_eq!(
        log.body["summary"]["routes"]["GET /crm/v3/owners"]["count"],
        2
    );
    assert_eq!(
        log.body["summary"]["routes"]["GET /crm/v3/owners"]["statuses"]["503"],
        1
    );
    let entries = log.body["entries"].as_array().unwrap();
    assert!(entries.iter().any(|e| e["fault"] == "status 503"));
}

#[tokio::test]
async fn the_request_log_never_holds_secrets() {
    let sb = spawn(small()).await;
    let api = Api::new(&sb);
    let tok = api
        .form(
            "/oauth/v3/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "sandbox-client-id"),
                ("client_secret", "sandbox-client-secret"),
            ],
        )
        .await;
    let access = tok.body["access_token"].as_str().unwrap().to_string();
    api.get(&format!("/oauth/v1/access-tokens/{access}")).await;
    api.with_token(&access).get("/crm/v3/owners").await;
    let dump = serde_json::to_string(&sb.log_entries()).unwrap();
    for secret in [access.as_str(), "sandbox-client-secret", sb.token()] {
        assert!(!dump.contains(secret), "log leaked a secret");
    }
}

#[tokio::test]
async fn seeded_data_is_deterministic_and_messy() {
    let a = spawn(small()).await;
    let b = spawn(small()).await;
    let (aa, bb) = (Api::new(&a), Api::new(&b));
    let q = json!({"limit": 200, "properties": ["email", "phone", "firstname"], "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]});
    let ra = aa.post("/crm/v3/objects/contacts/search", q.clone()).await;
    let rb = bb.post("/crm/v3/objects/contacts/search", q).await;
    assert_eq!(
        ra.body["results"], rb.body["results"],
        "the same seed gives the same portal"
    );
    let all = a.shared().store.read();
    let contacts: Vec<_> = all.records_of("0-1").values().collect();
    let emails: Vec<String> = contacts
        .iter()
        .filter_map(|r| r.props.get("email").cloned())
        .collect();
    let normalized: std::collections::HashSet<String> =
        emails.iter().map(|e| e.trim().to_lowercase()).collect();
    assert!(
        normalized.len() < emails.len(),
        "some people are duplicated in other case or spacing"
    );
    assert!(emails
        .iter()
        .any(|e| e != e.trim() || e.chars().any(char::is_uppercase)));
    let blanks = contacts
        .iter()
        .filter(|r| !r.props.contains_key("phone"))
        .count();
    assert!(blanks > 0, "some phones are blank");
    let formats: std::collections::HashSet<String> = contacts
        .iter()
        .filter_map(|r| r.props.get("phone"))
        .map(|p| {
            p.chars()
                .map(|c| if c.is_ascii_digit() { '9' } else { c })
                .collect()
        })
        .collect();
    assert!(formats.len() >= 8, "many phone formats: {formats:?}");
    assert_eq!(all.records_of("0-5").len(), 300);
}

#[tokio::test]
async fn default_seed_has_the_documented_counts() {
    let sb = spawn(SandboxConfig::default()).await;
    let store = sb.shared().store.read();
    let counts: Vec<usize> = ["0-1", "0-2", "0-3", "0-5"]
        .iter()
        .map(|t| store.records_of(t).len())
        .collect();
    assert_eq!(counts, [5_000, 1_000, 2_000, 3_000]);
    assert!(!store.records_of("2-7350152").is_empty());
}

#[tokio::test]
async fn merge_and_gdpr_delete_behave_like_hubspot() {
    let sb = spawn(small()).await;
    let api = Api::new(&sb);
    let a = api
        .post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"email": "m1@x.io"}}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = api
        .post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"email": "m2@x.io", "jobtitle": "CTO"}}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = api
        .post(
            "/crm/v3/objects/contacts/merge",
            json!({"primaryObjectId": a, "objectIdToMerge": b}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        api.get(&format!("/crm/v3/objects/contacts/{a}?properties=jobtitle"))
            .await
            .body["properties"]["jobtitle"],
        "CTO"
    );
    assert_eq!(
        api.get(&format!("/crm/v3/objects/contacts/{b}"))
            .await
            .status,
        404
    );
    assert_eq!(
        api.post(
            "/crm/v3/objects/contacts/gdpr-delete",
            json!({"objectId": "m1@x.io", "idProperty": "email"})
        )
        .await
        .status,
        204
    );
    assert_eq!(
        api.get(&format!("/crm/v3/objects/contacts/{a}?archived=true"))
            .await
            .status,
        404,
        "a privacy deletion is permanent"
    );
}
