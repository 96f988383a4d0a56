//! The search API: operators, AND within groups and OR across them, sorts, limits, the
//! 10,000-result cap and the indexing lag.

use std::time::Duration;

use hubspot_sandbox::seed::RecordCounts;
use serde_json::{json, Value};

use crate::support::{small, spawn, spawn_manual, Api, SandboxConfig};

async fn total(api: &Api, t: &str, body: Value) -> u64 {
    let r = api.post(&format!("/crm/v3/objects/{t}/search"), body).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["total"].as_u64().unwrap()
}

fn filter(p: &str, op: &str, v: Value) -> Value {
    json!({"propertyName": p, "operator": op, "value": v})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operator_filters_as_documented() {
    let sb = spawn(SandboxConfig {
        records: RecordCounts::empty(),
        ..Default::default()
    })
    .await;
    let api = Api::new(&sb);
    for (name, amount, stage, close) in [
        ("Alpha renewal", "100", "closedwon", "2026-01-10T00:00:00Z"),
        (
            "Beta expansion",
            "250.5",
            "qualifiedtobuy",
            "2026-02-10T00:00:00Z",
        ),
        ("Gamma renewal", "900", "closedlost", "2026-03-10T00:00:00Z"),
        ("Delta", "", "qualifiedtobuy", "2026-04-10T00:00:00Z"),
    ] {
        let mut props = json!({"dealname": name, "dealstage": stage, "pipeline": "default", "closedate": close});
        if !amount.is_empty() {
            props["amount"] = json!(amount);
        }
        assert_eq!(
            api.post("/crm/v3/objects/deals", json!({"properties": props}))
                .await
                .status,
            201
        );
    }
    sb.reset_limits();
    let one = |f: Value| json!({"filterGroups": [{"filters": [f]}]});
    let cases = [
        (filter("dealname", "EQ", json!("alpha renewal")), 1),
        (filter("dealname", "NEQ", json!("Alpha renewal")), 3),
        (filter("amount", "LT", json!("250.5")), 1),
        (filter("amount", "LTE", json!(250.5)), 2),
        (filter("amount", "GT", json!("100")), 2),
        (filter("amount", "GTE", json!("100")), 3),
        (
            json!({"propertyName": "amount", "operator": "BETWEEN", "value": "100", "highValue": "300"}),
            2,
        ),
        (
            json!({"propertyName": "dealstage", "operator": "IN", "values": ["closedwon", "closedlost"]}),
            2,
        ),
        (
            json!({"propertyName": "dealstage", "operator": "NOT_IN", "values": ["closedwon", "closedlost"]}),
            2,
        ),
        (
            json!({"propertyName": "dealname", "operator": "IN", "values": ["Delta"]}),
            0,
        ),
        (
            json!({"propertyName": "dealname", "operator": "IN", "values": ["delta"]}),
            1,
        ),
        (
            json!({"propertyName": "amount", "operator": "HAS_PROPERTY"}),
            3,
        ),
        (
            json!({"propertyName": "amount", "operator": "NOT_HAS_PROPERTY"}),
            1,
        ),
        (filter("dealname", "CONTAINS_TOKEN", json!("renewal")), 2),
        (filter("dealname", "CONTAINS_TOKEN", json!("*ansion")), 1),
        (
            filter("dealname", "NOT_CONTAINS_TOKEN", json!("renewal")),
            2,
        ),
        (filter("closedate", "GTE", json!("1770681600000")), 3),
        (filter("closedate", "LT", json!("2026-02-01")), 1),
        (filter("dealstage", "EQ", json!("CLOSEDWON")), 0),
    ];
    for (i, (f, want)) in cases.iter().enumerate() {
        if i % 5 == 4 {
            tokio::time::sleep(Duration::from_millis(1_050)).await;
        }
        assert_eq!(
            total(&api, "deals", one(f.clone())).await,
            *want,
            "case {i}: {f}"
        );
    }
    tokio::time::sleep(Duration::from_millis(1_050)).await;
    // AND within a group, OR across groups.
    let and = json!({"filterGroups": [{"filters": [filter("dealname", "CONTAINS_TOKEN", json!("renewal")), filter("dealstage", "EQ", json!("closedwon"))]}]});
    assert_eq!(total(&api, "deals", and).await, 1);
    let or = json!({"filterGroups": [{"filters": [filter("dealstage", "EQ", json!("closedwon"))]}, {"filters": [filter("dealstage", "EQ", json!("closedlost"))]}]});
    assert_eq!(total(&api, "deals", or).await, 2);
    // Sorts: only the first applies; numbers sort numerically; blanks last.
    let r = api.post("/crm/v3/objects/deals/search", json!({"sorts": [{"propertyName": "amount", "direction": "DESCENDING"}, {"propertyName": "dealname"}], "properties": ["amount"]})).await;
    let amounts: Vec<Value> = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["properties"]["amount"].clone())
        .collect();
    assert_eq!(
        amounts,
        [json!("900"), json!("250.5"), json!("100"), Value::Null]
    );
    let r = api
        .post(
            "/crm/v3/objects/deals/search",
            json!({"sorts": ["-dealname"], "properties": ["dealname"], "limit": 1}),
        )
        .await;
    assert_eq!(
        r.body["results"][0]["properties"]["dealname"],
        "Gamma renewal"
    );
    // Free text.
    assert_eq!(total(&api, "deals", json!({"query": "renew"})).await, 2);
}

#[tokio::test]
async fn page_size_offset_query_and_filter_limits_get_400() {
    let (sb, clock) = spawn_manual(small()).await;
    let api = Api::new(&sb);
    let f = json!({"propertyName": "firstname", "operator": "HAS_PROPERTY"});
    let bodies = [
        (json!({"limit": 201}), "at most 200"),
        (json!({"after": "10000"}), "capped at 10000"),
        (json!({"query": "x".repeat(3_001)}), "at most 3000"),
        (
            json!({"filterGroups": vec![json!({"filters": [f.clone()]}); 6]}),
            "at most 5",
        ),
        (
            json!({"filterGroups": [{"filters": vec![f.clone(); 7]}]}),
            "at most 6",
        ),
        (
            json!({"filterGroups": vec![json!({"filters": vec![f.clone(); 4]}); 5]}),
            "at most 18",
        ),
        (
            json!({"filterGroups": [{"filters": [{"propertyName": "shoe_size", "operator": "EQ", "value": "9"}]}]}),
            "does not exist",
        ),
        (
            json!({"filterGroups": [{"filters": [{"propertyName": "email", "operator": "LIKE", "value": "9"}]}]}),
            "Unknown operator",
        ),
    ];
    for (body, msg) in bodies {
        clock.advance(Duration::from_secs(1));
        let r = api
            .post("/crm/v3/objects/contacts/search", body.clone())
            .await;
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.body["category"], "VALIDATION_ERROR");
        assert!(
            r.body["message"].as_str().unwrap().contains(msg),
            "{msg}: {:?}",
            r.body["message"]
        );
    }
    clock.advance(Duration::from_secs(1));
    let ok = api
        .post(
            "/crm/v3/objects/contacts/search",
            json!({"limit": 200, "filterGroups": vec![json!({"filters": vec![f.clone(); 3]}); 5]}),
        )
        .await;
    assert_eq!(ok.status, 200, "15 filters in 5 groups are fine");
}

#[tokio::test]
async fn the_ten_thousand_cap_is_beaten_by_restarting_above_the_last_id() {
    let cfg = SandboxConfig {
        records: RecordCounts {
            contacts: 10_450,
            ..RecordCounts::empty()
        },
        limits_enabled: false,
        ..Default::default()
    };
    let sb = spawn(cfg).await;
    let api = Api::new(&sb);
    let sort = json!([{"propertyName": "hs_object_id", "direction": "ASCENDING"}]);
    let r = api
        .post(
            "/crm/v3/objects/contacts/search",
            json!({"limit": 200, "after": "9800", "sorts": sort}),
        )
        .await;
    assert_eq!(r.body["total"], 10_450);
    assert_eq!(
        r.body["paging"]["next"]["after"], "10000",
        "HubSpot hands out the cursor that then fails"
    );
    assert_eq!(
        api.post(
            "/crm/v3/objects/contacts/search",
            json!({"limit": 200, "after": "10000", "sorts": sort})
        )
        .await
        .status,
        400
    );
    let last = r.body["results"][199]["id"].as_str().unwrap().to_string();
    let rest = api
        .post(
            "/crm/v3/objects/contacts/search",
            json!({"limit": 200, "sorts": sort, "filterGroups": [{"filters": [{"propertyName": "hs_object_id", "operator": "GT", "value": last}]}]}),
        )
        .await;
    assert_eq!(rest.body["total"], 450);
}

#[tokio::test]
async fn writes_become_searchable_after_the_indexing_lag() {
    let (sb, clock) = spawn_manual(SandboxConfig {
        search_lag_ms: 2_000,
        ..small()
    })
    .await;
    let api = Api::new(&sb);
    let q = json!({"filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": "late@x.io"}]}]});
    let id = api
        .post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"email": "late@x.io", "firstname": "Before"}}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        api.get(&format!("/crm/v3/objects/contacts/{id}"))
            .await
            .status,
        200,
        "reads see it at once"
    );
    assert_eq!(
        total(&api, "contacts", q.clone()).await,
        0,
        "search does not yet"
    );
    clock.advance(Duration::from_millis(2_000));
    assert_eq!(total(&api, "contacts", q.clone()).await, 1);
    api.patch(
        &format!("/crm/v3/objects/contacts/{id}"),
        json!({"properties": {"firstname": "After"}}),
    )
    .await;
    clock.advance(Duration::from_millis(1_000));
    let by_new = json!({"filterGroups": [{"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "After"}, {"propertyName": "email", "operator": "EQ", "value": "late@x.io"}]}]});
    assert_eq!(
        total(&api, "contacts", by_new.clone()).await,
        0,
        "the old version is what search holds"
    );
    clock.advance(Duration::from_millis(1_000));
    assert_eq!(total(&api, "contacts", by_new).await, 1);
}

#[tokio::test]
async fn association_pseudo_property_filters_by_linked_record() {
    let sb = spawn(small()).await;
    let api = Api::new(&sb);
    let company = api
        .post(
            "/crm/v3/objects/companies",
            json!({"properties": {"name": "Linked"}}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({"properties": {"email": "linked@x.io"}, "associations": [{"to": {"id": company}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}]}]});
    assert_eq!(api.post("/crm/v3/objects/contacts", body).await.status, 201);
    let q = json!({"filterGroups": [{"filters": [{"propertyName": "associations.company", "operator": "EQ", "value": company}]}]});
    assert_eq!(total(&api, "contacts", q).await, 1);
}
