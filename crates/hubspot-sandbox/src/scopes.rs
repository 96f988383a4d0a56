//! Which OAuth scopes a route needs (§13 of the API facts). Each inner list is a set of
//! alternatives; every outer entry must be satisfied. A missing scope gets a 403
//! `MISSING_SCOPES` naming what was required.

use axum::http::Method;

use super::store::Store;

fn reads(method: &Method, tail: &[&str]) -> bool {
    method == Method::GET || tail.last() == Some(&"search") || tail.ends_with(&["batch", "read"])
}

fn object_scope(store: &Store, name: &str, read: bool) -> Option<Vec<String>> {
    let ty = store.resolve_type(name).ok()?;
    Some(vec![if read {
        ty.read_scope.clone()
    } else {
        ty.write_scope.clone()
    }])
}

fn schema_scope(store: &Store, name: &str, read: bool) -> Option<Vec<String>> {
    let ty = store.resolve_type(name).ok()?;
    let what = if ty.custom {
        "custom".to_string()
    } else {
        ty.name.clone()
    };
    let rw = if read { "read" } else { "write" };
    let mut alts = vec![format!("crm.schemas.{what}.{rw}")];
    if read {
        alts.push(ty.read_scope.clone());
    }
    Some(alts)
}

/// The scopes a request needs.
pub fn required(store: &Store, method: &Method, path: &str) -> Vec<Vec<String>> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut out = Vec::new();
    match segs.as_slice() {
        // Per-record associations: /crm/v4/objects/{t}/{id}/associations/{to}/…
        ["crm", _, "objects", t, _, "associations", rest @ ..]
        | ["crm", "objects", _, t, _, "associations", rest @ ..] => {
            let read = method == Method::GET;
            let to = if rest.first() == Some(&"default") {
                rest.get(1)
            } else {
                rest.first()
            };
            out.extend(object_scope(store, t, read));
            if let Some(to) = to {
                out.extend(object_scope(store, to, read));
            }
        }
        ["crm", "v3", "objects", t, tail @ ..] | ["crm", "objects", _, t, tail @ ..] => {
            out.extend(object_scope(store, t, reads(method, tail)));
        }
        ["crm", "v4", "associations", from, to, tail @ ..]
        | ["crm", "associations", _, from, to, tail @ ..] => {
            let read = reads(method, tail);
            out.extend(object_scope(store, from, read));
            out.extend(object_scope(store, to, read));
        }
        ["crm", "v3", "properties", t, ..] | ["crm", "properties", _, t, ..] => {
            out.extend(schema_scope(store, t, method == Method::GET));
        }
        ["crm-object-schemas", ..] | ["crm", "v3", "schemas", ..] => {
            let rw = if method == Method::GET {
                "read"
            } else {
                "write"
            };
            out.push(vec![format!("crm.schemas.custom.{rw}")]);
        }
        ["crm", "v3", "owners", ..] | ["crm", "owners", ..] => {
            out.push(vec!["crm.objects.owners.read".into()])
        }
        ["crm", "v3", "pipelines", t, ..] | ["crm", "pipelines", _, t, ..] => {
            out.extend(object_scope(store, t, method == Method::GET));
        }
        _ => {}
    }
    out
}

/// Every scope the sandbox knows: static tokens without a scope list get all of them.
pub fn all(store: &Store) -> Vec<String> {
    let mut v: Vec<String> = vec![
        "oauth".into(),
        "crm.objects.owners.read".into(),
        "crm.schemas.custom.read".into(),
        "crm.schemas.custom.write".into(),
    ];
    for t in &store.types {
        v.push(t.read_scope.clone());
        v.push(t.write_scope.clone());
        if !t.custom {
            v.push(format!("crm.schemas.{}.read", t.name));
            v.push(format!("crm.schemas.{}.write", t.name));
        }
    }
    v.sort();
    v.dedup();
    v
}
