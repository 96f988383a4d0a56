//! Knowledge articles in the index: added from files, replaced when a file changes, gone
//! when it is removed, and returned by `semantic_search` beside records. Every effect is read
//! back from the index (a search, a count) and the catalogue, not from what `add` reported.

use std::sync::Arc;

use hubspot_mcp::index::{SearchFilter, VectorStore};
use hubspot_mcp::knowledge::{KnowledgeBase, KIND};
use serde_json::{json, Value};

use crate::support::{embedder, tempdir};

const SSO: &str = "# Rotating the SAML certificate\n\nWhen the identity provider's signing certificate expires, single sign-on fails for every user with an invalid signature error.\n\nUpload the new certificate under Settings, Security, Single sign-on, then ask one user to log in again before you retire the old one.\n";
const REFUND: &str = "# Refunding a duplicate charge\n\nA card charged twice for one invoice is refunded from Billing, Payments: choose the second charge and refund it in full. The customer sees the money back in five to ten business days.\n";
const WEBHOOKS: &str = "<html><head><title>Webhook signatures</title></head><body><h1>Verify webhook signatures</h1><p>Every delivery carries an X-HubSpot-Signature-v3 header: an HMAC of the method, URL, body and timestamp.</p><p>Reject a delivery whose timestamp is more than five minutes old.</p></body></html>";

fn kb_in(dir: &std::path::Path) -> (KnowledgeBase, Arc<dyn VectorStore>) {
    let (kb, store, _) = kb_and_state(dir);
    (kb, store)
}

fn kb_and_state(
    dir: &std::path::Path,
) -> (
    KnowledgeBase,
    Arc<dyn VectorStore>,
    Arc<hubspot_mcp::sync::queue::Queue>,
) {
    let e = embedder();
    let store: Arc<dyn VectorStore> = Arc::new(hubspot_mcp::index::Blocking::new(
        hubspot_mcp::index::edge::EdgeStore::open(
            &dir.join("index"),
            e.dimensions(),
            Default::default(),
        )
        .unwrap(),
    ));
    let state = Arc::new(hubspot_mcp::sync::queue::Queue::open(&dir.join("sync.sqlite")).unwrap());
    (
        KnowledgeBase::new(store.clone(), state.clone(), e),
        store,
        state,
    )
}

async fn articles(store: &dyn VectorStore, query: &str, k: usize) -> Vec<hubspot_mcp::index::Hit> {
    let filter = SearchFilter {
        object_types: vec![KIND.into()],
        ..Default::default()
    };
    hubspot_mcp::sync::engine::search_index(embedder(), store, query, k, &filter, 64)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_changed_file_added_again_replaces_its_chunks_and_a_deleted_one_disappears() {
    let root = tempdir("kb");
    let docs = root.join("docs");
    std::fs::create_dir_all(docs.join("billing")).unwrap();
    std::fs::write(docs.join("sso.md"), SSO).unwrap();
    std::fs::write(docs.join("billing/refund.md"), REFUND).unwrap();
    std::fs::write(docs.join("webhooks.html"), WEBHOOKS).unwrap();
    std::fs::write(docs.join("logo.png"), [0u8, 1, 2]).unwrap();
    let (kb, store) = kb_in(&root);

    let r = kb.add_paths(std::slice::from_ref(&docs)).await.unwrap();
    assert_eq!((r.added, r.replaced, r.unchanged), (3, 0, 0), "{r:?}");
    let listed = kb.list().await.unwrap();
    assert_eq!(listed.len(), 3, "{listed:?}");
    let total: u32 = listed.iter().map(|e| e.chunks).sum();
    assert_eq!(store.count().await.unwrap(), total as usize);
    let hits = articles(
        &*store,
        "users cannot log in, the SAML signature is invalid",
        1,
    )
    .await;
    assert_eq!(hits[0].payload.title, "Rotating the SAML certificate");
    assert!(hits[0]
        .payload
        .url
        .as_deref()
        .unwrap()
        .starts_with("file://"));
    let hits = articles(&*store, "how do I check the HMAC on a webhook delivery", 1).await;
    assert_eq!(hits[0].payload.title, "Webhook signatures");
    assert!(
        !hits[0].payload.snippet.contains('<'),
        "{:?}",
        hits[0].payload.snippet
    );

    // The same files again: nothing is embedded.
    let r = kb.add_paths(std::slice::from_ref(&docs)).await.unwrap();
    assert_eq!((r.unchanged, r.chunks_embedded), (3, 0), "{r:?}");

    // The SSO article is rewritten, shorter and about something else: its old text is gone.
    let before = listed
        .iter()
        .find(|e| e.title.contains("SAML"))
        .unwrap()
        .clone();
    std::fs::write(
        docs.join("sso.md"),
        "# Resetting two-factor authentication\n\nAn admin resets a user's authenticator app from Users, Security; the user enrols again at the next login.\n",
    )
    .unwrap();
    let r = kb.add_paths(std::slice::from_ref(&docs)).await.unwrap();
    assert_eq!((r.replaced, r.unchanged), (1, 2), "{r:?}");
    let after = kb.list().await.unwrap();
    let same = after.iter().find(|e| e.id == before.id).unwrap();
    assert_eq!(same.title, "Resetting two-factor authentication");
    let total: u32 = after.iter().map(|e| e.chunks).sum();
    assert_eq!(
        store.count().await.unwrap(),
        total as usize,
        "no stale chunk is left"
    );
    let hits = articles(&*store, "reset the authenticator app for a user", 1).await;
    assert_eq!(hits[0].record, format!("knowledge/{}", before.id));
    assert!(hits[0].payload.snippet.contains("authenticator"));
    for h in articles(&*store, "SAML certificate expired", 5).await {
        assert!(
            !h.payload.snippet.contains("SAML"),
            "old text still found: {h:?}"
        );
    }

    // A file deleted from the directory disappears when the directory is added again.
    std::fs::remove_file(docs.join("billing/refund.md")).unwrap();
    let r = kb.add_paths(std::slice::from_ref(&docs)).await.unwrap();
    assert_eq!(r.removed, 1, "{r:?}");
    for h in articles(&*store, "refund a card charged twice", 5).await {
        assert!(!h.payload.title.contains("Refund"), "{h:?}");
    }

    // Removed by id: no chunk of it is left.
    let gone = kb.remove(std::slice::from_ref(&same.id)).await.unwrap();
    assert_eq!(gone.len(), 1);
    let left = kb.list().await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(store.count().await.unwrap(), left[0].chunks as usize);
    // The index flushes when dropped: drop it before its directory goes.
    drop((kb, store));
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
async fn a_bad_path_adds_nothing_and_says_which() {
    let root = tempdir("kb-bad");
    std::fs::write(root.join("ok.md"), SSO).unwrap();
    std::fs::write(root.join("binary.md"), [0xffu8, 0xfe, 0x00]).unwrap();
    std::fs::write(root.join("notes.pdf"), b"%PDF").unwrap();
    let (kb, store) = kb_in(&root);
    for (path, says) in [
        (root.join("missing.md"), "missing.md"),
        (root.join("notes.pdf"), "not a Markdown"),
        (root.join("binary.md"), "not UTF-8"),
    ] {
        let err = kb
            .add_paths(&[root.join("ok.md"), path])
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(says), "{err}");
    }
    assert!(kb.list().await.unwrap().is_empty());
    assert_eq!(store.count().await.unwrap(), 0);
    drop((kb, store));
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
async fn semantic_search_returns_articles_beside_records_and_filters_by_kind() {
    let r = crate::sync::rig(60, false).await;
    hubspot_mcp::sync::backfill::full_sync(r.engine(), false, false)
        .await
        .unwrap();
    let docs = tempdir("kb-mcp");
    std::fs::write(docs.join("sso.md"), SSO).unwrap();
    std::fs::write(docs.join("refund.md"), REFUND).unwrap();
    let kb = KnowledgeBase::new(
        r.engine().store().clone(),
        r.engine().state().clone(),
        embedder(),
    );
    kb.add_paths(std::slice::from_ref(&docs)).await.unwrap();

    let server = hubspot_mcp::mcp::HubSpotMcp::new(
        r.client.clone(),
        &hubspot_mcp::mcp::ToolOptions::default(),
    )
    .with_sync(r.engine().clone());
    let mut opts = hubspot_mcp::mcp::http::HttpOptions::loopback(std::net::SocketAddr::from((
        [127, 0, 0, 1],
        0,
    )));
    opts.token_hashes
        .push(hubspot_mcp::mcp::http::hash_token("t"));
    let (addr, stop) = crate::support::serve_mcp(server, opts).await;
    let url = format!("http://{addr}/mcp");
    let call = |id: u64, args: Value| {
        crate::sync::mcp_post(
            reqwest::Client::new(),
            url.clone(),
            "t",
            json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "semantic_search", "arguments": args}}),
        )
    };
    let v = call(1, json!({"query": "customers locked out of single sign-on after the certificate expired", "k": 8})).await;
    let hits = v["result"]["structuredContent"]["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .clone();
    let kinds: Vec<&str> = hits.iter().map(|h| h["kind"].as_str().unwrap()).collect();
    assert!(
        kinds.contains(&"article") && kinds.contains(&"record"),
        "{kinds:?}"
    );
    let article = hits.iter().find(|h| h["kind"] == "article").unwrap();
    assert_eq!(article["title"], "Rotating the SAML certificate");
    assert!(
        article["url"].as_str().unwrap().ends_with("sso.md"),
        "{article}"
    );

    let v = call(
        2,
        json!({"query": "refund a double charge", "kinds": ["articles"], "k": 5}),
    )
    .await;
    let hits = v["result"]["structuredContent"]["results"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(hits.len(), 2, "{v}");
    assert!(hits
        .iter()
        .all(|h| h["kind"] == "article" && h["objectType"] == KIND));
    assert_eq!(hits[0]["title"], "Refunding a duplicate charge");

    let v = call(
        3,
        json!({"query": "refund a double charge", "kinds": ["records"], "k": 5}),
    )
    .await;
    let hits = v["result"]["structuredContent"]["results"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        !hits.is_empty() && hits.iter().all(|h| h["kind"] == "record"),
        "{v}"
    );

    let v = call(
        4,
        json!({"query": "x", "kinds": ["articles"], "objectTypes": ["tickets"]}),
    )
    .await;
    assert!(crate::support::refusal(&v).contains("objectTypes"), "{v}");

    // Records carry a link to HubSpot's UI and their stage's label, not its id.
    let v = call(5, json!({"query": "customers locked out of single sign-on", "objectTypes": ["tickets"], "k": 5})).await;
    let hits = v["result"]["structuredContent"]["results"]
        .as_array()
        .unwrap()
        .clone();
    let labels: Vec<String> = r
        .client
        .pipelines("tickets")
        .await
        .unwrap()
        .iter()
        .flat_map(|p| p.stages.iter().map(|s| s.label.clone()))
        .collect();
    for h in &hits {
        let url = h["url"].as_str().unwrap_or_default();
        let id = h["id"].as_str().unwrap();
        assert!(
            url.starts_with("https://") && url.ends_with(&format!("/record/0-5/{id}")),
            "{h}"
        );
        let stage = h["stage"]
            .as_str()
            .unwrap_or_else(|| panic!("a stage label: {h}"));
        assert!(
            labels.iter().any(|l| l == stage),
            "{stage} is not one of {labels:?}"
        );
        assert!(h["closed"].is_boolean(), "{h}");
    }

    // Similar to a record: the record itself is left out.
    let first = hits[0]["id"].as_str().unwrap().to_string();
    let v = call(
        6,
        json!({"similarTo": format!("tickets/{first}"), "objectTypes": ["tickets"], "k": 5}),
    )
    .await;
    let similar = v["result"]["structuredContent"]["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .clone();
    assert_eq!(similar.len(), 5, "{v}");
    assert!(similar.iter().all(|h| h["id"] != first.as_str()), "{v}");
    for (id, args, says) in [
        (
            7,
            json!({"similarTo": "tickets/999999999"}),
            "does not exist",
        ),
        (8, json!({"similarTo": "tickets"}), "not a record reference"),
        (
            9,
            json!({"query": "x", "similarTo": format!("tickets/{first}")}),
            "not both",
        ),
        (10, json!({}), "give query"),
    ] {
        let v = call(id, args).await;
        assert!(crate::support::refusal(&v).contains(says), "{v}");
    }
    stop.cancel();
    let _ = std::fs::remove_dir_all(&docs);
}

/// Found by a hostile review: a hidden file added by name is not removed when its directory
/// is added again (the walk skips hidden files); the same path twice is one article; a file
/// over the size limit is refused; an unreadable catalogue entry can still be removed.
#[tokio::test]
async fn hidden_files_duplicates_oversized_files_and_broken_entries() {
    let root = tempdir("kb-edge");
    let docs = root.join("docs");
    std::fs::create_dir_all(docs.join(".drafts")).unwrap();
    std::fs::write(docs.join("sso.md"), SSO).unwrap();
    std::fs::write(docs.join(".drafts/refund.md"), REFUND).unwrap();
    let (kb, store, state) = kb_and_state(&root);
    let r = kb
        .add_paths(&[
            docs.join(".drafts/refund.md"),
            docs.join(".drafts/refund.md"),
        ])
        .await
        .unwrap();
    assert_eq!(r.added, 1, "the same path twice is one article: {r:?}");
    let r = kb.add_paths(std::slice::from_ref(&docs)).await.unwrap();
    assert_eq!((r.added, r.removed), (1, 0), "{r:?}");
    assert_eq!(kb.list().await.unwrap().len(), 2);

    let big = docs.join("big.txt");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(hubspot_mcp::knowledge::files::MAX_FILE_BYTES + 1)
        .unwrap();
    let err = kb.add_paths(&[big.clone()]).await.unwrap_err().to_string();
    assert!(err.contains("more than"), "{err}");
    std::fs::remove_file(&big).unwrap();

    // A catalogue entry that is not JSON: not listed, but removable by its id with its chunks.
    let sso = kb
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.title.contains("SAML"))
        .unwrap();
    hubspot_mcp::sync::seams::RecordState::set_checkpoint(
        &*state,
        &format!("knowledge/{}", sso.id),
        Some("{not json"),
    )
    .await
    .unwrap();
    assert_eq!(kb.list().await.unwrap().len(), 1);
    let gone = kb.remove(std::slice::from_ref(&sso.id)).await.unwrap();
    assert_eq!(gone.len(), 1);
    for h in articles(&*store, "SAML certificate expired", 5).await {
        assert_ne!(h.record, format!("knowledge/{}", sso.id), "{h:?}");
    }
    drop((kb, store, state));
    let _ = std::fs::remove_dir_all(&root);
}
