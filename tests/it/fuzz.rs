//! Property-based fuzzing on the stable toolchain (cargo-fuzz needs nightly). Each target
//! feeds generated hostile input to a parser or checker that faces callers and asserts that
//! it never panics and never accepts what it must refuse.
//!
//! Cases per target: `HUBSPOT_MCP_FUZZ_CASES` (default 1,000, which CI runs; a long run is
//! `HUBSPOT_MCP_FUZZ_CASES=200000 cargo test --test it fuzz -- --test-threads 2`). The path
//! builder's target lives with it (`hubspot::path`), the limiter's with it (`hubspot::limit`).

use hubspot_mcp::hubspot::model::CrmObject;
use hubspot_mcp::mcp::tools::{GetObjectsParams, SearchObjectsParams, UpdateObjectsParams};
use hubspot_mcp::sync::normalize::{normalize, normalize_value, FieldKind, Labels, Mapping};
use hubspot_mcp::webhook::receiver::parse_batch;
use hubspot_mcp::webhook::signature::{sign_v3, verify_v3};
use proptest::prelude::*;
use serde_json::{json, Value};

fn cases() -> u32 {
    std::env::var("HUBSPOT_MCP_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

/// Any JSON value, nested a few levels, with strings that look like what attackers send.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        prop_oneof![
            any::<String>(),
            Just("../../../../crm/v3/objects".to_string()),
            Just("%2e%2e/%2e%2e".to_string()),
            Just("\u{0}\u{202e}".to_string()),
            "[0-9]{1,25}",
            "[a-z_]{1,12}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A webhook event with each field possibly wrong.
fn webhook_event() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            Just("contact.propertyChange"),
            Just("object.creation"),
            Just("deal.merge"),
            Just("ticket.associationChange"),
            Just("contact.privacyDeletion"),
            Just("nonsense"),
            Just("x.y.z"),
        ],
        json_value(),
        json_value(),
        prop_oneof![any::<i64>().prop_map(|n| json!(n)), json_value()],
    )
        .prop_map(|(kind, id, type_id, occurred)| {
            json!({"subscriptionType": kind, "objectId": id, "objectTypeId": type_id,
                   "occurredAt": occurred, "eventId": 1, "mergedObjectIds": [id],
                   "fromObjectId": 1, "toObjectId": id})
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn webhook_parsing_never_panics_on_bytes(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_batch(&body);
    }

    #[test]
    fn webhook_parsing_takes_only_what_it_understands(events in proptest::collection::vec(webhook_event(), 0..120)) {
        let body = serde_json::to_vec(&events).unwrap();
        match parse_batch(&body) {
            Ok(changes) => {
                prop_assert!(events.len() <= 100, "more than 100 events accepted");
                prop_assert_eq!(changes.len(), events.len());
                for c in changes {
                    prop_assert!(!c.key.is_empty() && !c.object_type.is_empty() && !c.object_id.is_empty());
                }
            }
            Err(reason) => prop_assert!(!reason.is_empty()),
        }
    }

    /// A signature verifies only for exactly what was signed, inside the time window.
    #[test]
    fn signatures_verify_only_what_was_signed(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        uri in "https://[a-z]{1,10}\\.example/[ -~]{0,40}",
        flip in any::<prop::sample::Index>(),
        skew in -400_000i64..120_000,
        garbage in "[ -~]{0,90}",
    ) {
        let now = 1_780_272_000_000i64;
        let ts = now - skew;
        let sig = sign_v3("secret", "POST", &uri, &body, ts);
        let fresh = skew <= 300_000 && -skew <= 60_000;
        prop_assert_eq!(verify_v3("secret", "POST", &uri, &body, &ts.to_string(), &sig, now, 60_000).is_ok(), fresh);
        if !body.is_empty() {
            let mut altered = body.clone();
            let i = flip.index(altered.len());
            altered[i] ^= 0x01;
            prop_assert!(verify_v3("secret", "POST", &uri, &altered, &ts.to_string(), &sig, now, 60_000).is_err());
        }
        prop_assert!(verify_v3("other", "POST", &uri, &body, &ts.to_string(), &sig, now, 60_000).is_err());
        prop_assert!(verify_v3("secret", "POST", &uri, &body, &garbage, &garbage, now, 60_000).is_err() || garbage == sig);
    }

    /// Tool arguments decode or fail with an error, never a panic, whatever the JSON.
    #[test]
    fn tool_arguments_decode_or_fail_cleanly(v in json_value()) {
        let _ = serde_json::from_value::<SearchObjectsParams>(v.clone());
        let _ = serde_json::from_value::<GetObjectsParams>(v.clone());
        let _ = serde_json::from_value::<UpdateObjectsParams>(v);
    }

    /// Search filters: every operator, any value type, decodes or fails cleanly.
    #[test]
    fn search_filters_decode_or_fail_cleanly(
        op in prop_oneof![Just("EQ"), Just("BETWEEN"), Just("IN"), Just("HAS_PROPERTY"), Just("CONTAINS_TOKEN"), Just("eq"), Just("DROP TABLE")],
        value in json_value(),
        values in json_value(),
    ) {
        let args = json!({"objectType": "contacts", "filters": [{"property": "email", "operator": op, "value": value, "values": values}]});
        let _ = serde_json::from_value::<SearchObjectsParams>(args);
    }

    /// Normalization never panics and keeps its promises: emails are lowercase, numbers
    /// parse, whatever the record holds.
    #[test]
    fn normalization_never_panics(
        props in proptest::collection::btree_map("[a-z_]{1,16}", proptest::option::of(any::<String>()), 0..12),
        raw in any::<String>(),
    ) {
        let mapping = Mapping::builtin();
        let labels = Labels::new();
        for ty in mapping.object_types() {
            let record = CrmObject {
                id: "1".into(),
                properties: props.clone(),
                created_at: None,
                updated_at: Some(raw.clone()),
                archived: false,
                object_write_trace_id: None,
                properties_with_history: Default::default(),
                new: None,
            };
            let _ = normalize(&mapping, &ty, &record, &labels, Default::default());
        }
        for kind in [FieldKind::Text, FieldKind::Email, FieldKind::Phone, FieldKind::Domain, FieldKind::Date, FieldKind::Enum, FieldKind::Bool, FieldKind::Number] {
            if let Some(v) = normalize_value(kind, &raw, None, "US") {
                if kind == FieldKind::Email {
                    let s = v.as_str().unwrap_or_default();
                    prop_assert_eq!(s.to_string(), s.to_lowercase());
                }
                if kind == FieldKind::Number {
                    // A number, or the text kept as it was when it is not one.
                    prop_assert!(v.is_number() || v == json!(raw.trim()), "{v}");
                }
            }
        }
    }
}
