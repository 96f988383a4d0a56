//! The CRM store: records, the unique-value index, associations, and the change events that
//! feed the webhook sender.
//!
//! One `RwLock` guards the whole store (see `SandboxState`): the sandbox answers in
//! microseconds, so one lock is simpler than sharding and never the bottleneck at HubSpot's
//! request rates (the `sandbox` benchmark measures it). Every mutation appends
//! [`ChangeEvent`]s to an outbox that the caller drains after releasing the lock, so webhook
//! delivery never happens under the lock.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

use super::error::{property_error, ErrorDetail, HsError};
use super::model::{
    AssocCategory, AssocType, AssociationDef, ObjectType, Owner, Pipeline, PropertyDef, Record,
    Version, API_SOURCE,
};
use hubspot_wire::time::{iso_ms, parse_hs_datetime};

/// A change to the CRM, as the webhook sender needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeKind {
    Creation,
    PropertyChange {
        name: String,
        value: String,
    },
    Deletion,
    PrivacyDeletion,
    Restore,
    Merge {
        primary_id: u64,
        merged_ids: Vec<u64>,
        new_id: u64,
    },
    AssociationChange {
        to_type: String,
        to_id: u64,
        type_id: u32,
        removed: bool,
        primary: bool,
    },
}

/// One change event, emitted by a store mutation.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent {
    pub object_type_id: String,
    pub object_id: u64,
    pub occurred_at_ms: i64,
    pub kind: ChangeKind,
}

/// (object type id, record id).
type RecordKey = (String, u64);

/// Records, metadata and associations of one portal.
#[derive(Debug)]
pub struct Store {
    pub portal_id: u64,
    pub types: Vec<ObjectType>,
    pub properties: BTreeMap<String, Vec<PropertyDef>>,
    pub pipelines: BTreeMap<String, Vec<Pipeline>>,
    pub owners: Vec<Owner>,
    pub assoc_defs: Vec<AssociationDef>,
    /// Records per object type id, ordered by id (list and search order).
    pub records: HashMap<String, BTreeMap<u64, Record>>,
    /// Unique property values: (type id, property) → lowercase value → record id.
    unique: HashMap<(String, String), HashMap<String, u64>>,
    /// Associations: (type, id) → (to type, to id) → association types.
    assoc: HashMap<RecordKey, BTreeMap<RecordKey, BTreeSet<AssocType>>>,
    /// Topic index of seeded tickets and notes (ground truth for retrieval benchmarks).
    pub topics: HashMap<u64, usize>,
    /// Search indexing lag applied to every write.
    pub index_lag_ms: i64,
    next_id: u64,
    next_type_id: u32,
    outbox: Vec<ChangeEvent>,
}

/// The outcome of validating a property map.
pub type Validated = Result<BTreeMap<String, String>, Vec<ErrorDetail>>;

impl Store {
    /// An empty store with the given schema.
    pub fn new(
        portal_id: u64,
        types: Vec<ObjectType>,
        properties: BTreeMap<String, Vec<PropertyDef>>,
        pipelines: BTreeMap<String, Vec<Pipeline>>,
        owners: Vec<Owner>,
        assoc_defs: Vec<AssociationDef>,
    ) -> Self {
        let records = types
            .iter()
            .map(|t| (t.id.clone(), BTreeMap::new()))
            .collect();
        Self {
            portal_id,
            types,
            properties,
            pipelines,
            owners,
            assoc_defs,
            records,
            unique: HashMap::new(),
            assoc: HashMap::new(),
            topics: HashMap::new(),
            index_lag_ms: 0,
            next_id: 10_000_001,
            next_type_id: 5_000,
            outbox: Vec::new(),
        }
    }

    /// Takes the events emitted since the last call.
    pub fn take_events(&mut self) -> Vec<ChangeEvent> {
        std::mem::take(&mut self.outbox)
    }

    fn emit(&mut self, object_type_id: &str, object_id: u64, now: i64, kind: ChangeKind) {
        self.outbox.push(ChangeEvent {
            object_type_id: object_type_id.to_string(),
            object_id,
            occurred_at_ms: now,
            kind,
        });
    }

    /// Resolves `contacts`, `contact`, `0-1`, `p{portal}_projects` or `2-…` to a type.
    ///
    /// # Errors
    /// 400 when no type answers to `name`, as HubSpot does.
    pub fn resolve_type(&self, name: &str) -> Result<&ObjectType, HsError> {
        self.types
            .iter()
            .find(|t| t.answers_to(name, self.portal_id))
            .ok_or_else(|| HsError::validation(format!("Unable to infer object type from: {name}")))
    }

    /// A property definition.
    pub fn property(&self, type_id: &str, name: &str) -> Option<&PropertyDef> {
        self.properties
            .get(type_id)?
            .iter()
            .find(|p| p.name == name && !p.archived)
    }

    /// Records of one type.
    pub fn records_of(&self, type_id: &str) -> &BTreeMap<u64, Record> {
        static EMPTY: std::sync::OnceLock<BTreeMap<u64, Record>> = std::sync::OnceLock::new();
        self.records
            .get(type_id)
            .unwrap_or_else(|| EMPTY.get_or_init(BTreeMap::new))
    }

    /// Validates and stringifies a property map for a write.
    pub fn validate_write(&self, ty: &ObjectType, input: &Map<String, Value>) -> Validated {
        let mut out = BTreeMap::new();
        let mut errors = Vec::new();
        for (name, raw) in input {
            let Some(def) = self.property(&ty.id, name) else {
                errors.push(property_error(
                    "PROPERTY_DOESNT_EXIST",
                    format!("Property \"{name}\" does not exist"),
                    name,
                ));
                continue;
            };
            let value = match raw {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                other => {
                    errors.push(property_error(
                        "INVALID_PROPERTY_VALUE",
                        format!("{other} was not a valid value for property \"{name}\": values must be strings"),
                        name,
                    ));
                    continue;
                }
            };
            if def.modification_metadata.read_only_value {
                errors.push(property_error(
                    "READ_ONLY_VALUE",
                    format!(
                        "Property \"{name}\" is a read only property; its value cannot be set."
                    ),
                    name,
                ));
                continue;
            }
            match check_value(def, &value, &self.owners) {
                Ok(v) => {
                    out.insert(name.clone(), v);
                }
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    fn unique_props(&self, type_id: &str) -> Vec<String> {
        self.properties
            .get(type_id)
            .map(|ps| {
                ps.iter()
                    .filter(|p| p.has_unique_value && p.name != "hs_object_id")
                    .map(|p| p.name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Finds a live record by a unique property value.
    pub fn find_unique(&self, type_id: &str, prop: &str, value: &str) -> Option<u64> {
        if prop == "hs_object_id" {
            let id = value.trim().parse().ok()?;
            return self
                .records_of(type_id)
                .get(&id)
                .filter(|r| r.archived_ms.is_none())
                .map(|r| r.id);
        }
        let id = *self
            .unique
            .get(&(type_id.to_string(), prop.to_string()))?
            .get(&value.trim().to_lowercase())?;
        self.records_of(type_id)
            .get(&id)
            .filter(|r| r.archived_ms.is_none())
            .map(|r| r.id)
    }

    fn check_unique(
        &self,
        ty: &ObjectType,
        props: &BTreeMap<String, String>,
        except: Option<u64>,
    ) -> Result<(), HsError> {
        for prop in self.unique_props(&ty.id) {
            let Some(v) = props.get(&prop).filter(|v| !v.is_empty()) else {
                continue;
            };
            if let Some(existing) = self.find_unique(&ty.id, &prop, v) {
                if Some(existing) != except {
                    let msg = if prop == "email" {
                        format!("Contact already exists. Existing ID: {existing}")
                    } else {
                        format!(
                            "A {} with {prop} \"{v}\" already exists. Existing ID: {existing}",
                            ty.singular
                        )
                    };
                    return Err(
                        HsError::conflict(msg).with_context("id", vec![existing.to_string()])
                    );
                }
            }
        }
        Ok(())
    }

    fn index_unique(
        &mut self,
        type_id: &str,
        id: u64,
        props: &BTreeMap<String, String>,
        only_if_absent: bool,
    ) {
        for prop in self.unique_props(type_id) {
            if let Some(v) = props.get(&prop).filter(|v| !v.is_empty()) {
                let idx = self.unique.entry((type_id.to_string(), prop)).or_default();
                let key = v.trim().to_lowercase();
                if only_if_absent {
                    idx.entry(key).or_insert(id);
                } else {
                    idx.insert(key, id);
                }
            }
        }
    }

    fn unindex_unique(&mut self, type_id: &str, id: u64, props: &BTreeMap<String, String>) {
        for prop in self.unique_props(type_id) {
            if let Some(v) = props.get(&prop) {
                if let Some(idx) = self.unique.get_mut(&(type_id.to_string(), prop)) {
                    let key = v.trim().to_lowercase();
                    if idx.get(&key) == Some(&id) {
                        idx.remove(&key);
                    }
                }
            }
        }
    }

    /// Inserts a record without validation or events (seeding: imported data may be messy,
    /// including duplicates a live create would reject).
    pub fn insert_seeded(
        &mut self,
        type_id: &str,
        mut props: BTreeMap<String, String>,
        created_ms: i64,
        updated_ms: i64,
    ) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let ty = self
            .types
            .iter()
            .find(|t| t.id == type_id)
            .cloned()
            .expect("seeded types exist");
        stamp(&ty, id, &mut props, Some(created_ms), updated_ms);
        self.index_unique(type_id, id, &props, true);
        let record = Record {
            id,
            indexed: Some(props.clone()),
            props,
            created_ms,
            updated_ms,
            archived_ms: None,
            index_due_ms: i64::MIN,
            history: BTreeMap::new(),
        };
        self.records
            .entry(type_id.to_string())
            .or_default()
            .insert(id, record);
        id
    }

    /// Creates a record from validated properties.
    ///
    /// # Errors
    /// 409 when a unique value is taken.
    pub fn create(
        &mut self,
        ty: &ObjectType,
        mut props: BTreeMap<String, String>,
        now: i64,
    ) -> Result<u64, HsError> {
        normalize_email(&mut props);
        self.check_unique(ty, &props, None)?;
        props.retain(|_, v| !v.is_empty());
        let id = self.next_id;
        self.next_id += 1;
        let set: Vec<(String, String)> =
            props.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        stamp(ty, id, &mut props, Some(now), now);
        self.index_unique(&ty.id, id, &props, false);
        let history = set
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    vec![Version {
                        value: v.clone(),
                        at_ms: now,
                        source_type: "INTEGRATION",
                        source_id: API_SOURCE,
                    }],
                )
            })
            .collect();
        let record = Record {
            id,
            indexed: None,
            props,
            created_ms: now,
            updated_ms: now,
            archived_ms: None,
            index_due_ms: now + self.index_lag_ms,
            history,
        };
        self.records
            .entry(ty.id.clone())
            .or_default()
            .insert(id, record);
        self.emit(&ty.id, id, now, ChangeKind::Creation);
        for (name, value) in set {
            self.emit(&ty.id, id, now, ChangeKind::PropertyChange { name, value });
        }
        Ok(id)
    }

    /// Updates a live record.
    ///
    /// # Errors
    /// 404 when it does not exist or is archived; 409 on a unique conflict.
    pub fn update(
        &mut self,
        ty: &ObjectType,
        id: u64,
        mut props: BTreeMap<String, String>,
        now: i64,
    ) -> Result<(), HsError> {
        normalize_email(&mut props);
        if !self.is_live(&ty.id, id) {
            return Err(Self::missing(&id.to_string()));
        }
        self.check_unique(ty, &props, Some(id))?;
        let lag = self.index_lag_ms;
        let rec = self
            .records
            .get_mut(&ty.id)
            .and_then(|m| m.get_mut(&id))
            .expect("checked above");
        let old = rec.props.clone();
        let mut changes = Vec::new();
        for (k, v) in props {
            let prev = rec.props.get(&k).cloned().unwrap_or_default();
            if prev != v {
                let versions = rec.history.entry(k.clone()).or_default();
                if versions.is_empty() && !prev.is_empty() {
                    // A seeded value: it has been there since the record was made.
                    versions.push(Version {
                        value: prev.clone(),
                        at_ms: rec.created_ms,
                        source_type: "IMPORT",
                        source_id: "seed",
                    });
                }
                versions.push(Version {
                    value: v.clone(),
                    at_ms: now,
                    source_type: "INTEGRATION",
                    source_id: API_SOURCE,
                });
                if v.is_empty() {
                    rec.props.remove(&k);
                } else {
                    rec.props.insert(k.clone(), v.clone());
                }
                changes.push((k, v));
            }
        }
        if changes.is_empty() {
            return Ok(());
        }
        if rec.index_due_ms <= now {
            rec.indexed = Some(old.clone());
        }
        rec.index_due_ms = now + lag;
        rec.updated_ms = now;
        stamp(ty, id, &mut rec.props, None, now);
        let new_props = rec.props.clone();
        self.unindex_unique(&ty.id, id, &old);
        self.index_unique(&ty.id, id, &new_props, false);
        for (name, value) in changes {
            self.emit(&ty.id, id, now, ChangeKind::PropertyChange { name, value });
        }
        Ok(())
    }

    /// Archives (soft-deletes) a record. Archiving a missing or archived record is a no-op,
    /// as HubSpot's 204 is.
    pub fn archive(&mut self, ty: &ObjectType, id: u64, now: i64) -> bool {
        let Some(rec) = self.records.get_mut(&ty.id).and_then(|m| m.get_mut(&id)) else {
            return false;
        };
        if rec.archived_ms.is_some() {
            return false;
        }
        rec.archived_ms = Some(now);
        rec.updated_ms = now;
        let props = rec.props.clone();
        self.unindex_unique(&ty.id, id, &props);
        self.emit(&ty.id, id, now, ChangeKind::Deletion);
        true
    }

    /// Permanently deletes a contact (GDPR): the record, its associations and its unique values.
    pub fn purge(&mut self, ty: &ObjectType, id: u64, now: i64) -> bool {
        let Some(rec) = self.records.get_mut(&ty.id).and_then(|m| m.remove(&id)) else {
            return false;
        };
        self.unindex_unique(&ty.id, id, &rec.props);
        if let Some(links) = self.assoc.remove(&(ty.id.clone(), id)) {
            for (to, _) in links {
                if let Some(back) = self.assoc.get_mut(&to) {
                    back.remove(&(ty.id.clone(), id));
                }
            }
        }
        self.emit(&ty.id, id, now, ChangeKind::PrivacyDeletion);
        self.emit(&ty.id, id, now, ChangeKind::Deletion);
        true
    }

    /// Merges `merged` into `primary`: properties missing on the primary are copied over, the
    /// merged record's associations move to the primary, and the merged record is archived.
    ///
    /// # Errors
    /// 404 when either record is missing; 400 when they are the same record.
    pub fn merge(
        &mut self,
        ty: &ObjectType,
        primary: u64,
        merged: u64,
        now: i64,
    ) -> Result<(), HsError> {
        if primary == merged {
            return Err(HsError::validation(
                "The primary and merged object ids must differ.",
            ));
        }
        let recs = self.records_of(&ty.id);
        let (Some(p), Some(m)) = (recs.get(&primary), recs.get(&merged)) else {
            return Err(HsError::not_found("Object not found.")
                .with_context("id", vec![primary.to_string(), merged.to_string()]));
        };
        if p.archived_ms.is_some() || m.archived_ms.is_some() {
            return Err(HsError::not_found("Object not found."));
        }
        let mut fill = BTreeMap::new();
        for (k, v) in &m.props {
            if !p.props.contains_key(k)
                && self.property(&ty.id, k).is_some_and(|d| {
                    !d.modification_metadata.read_only_value && !d.has_unique_value
                })
            {
                fill.insert(k.clone(), v.clone());
            }
        }
        let moved = fill.len();
        let links = self
            .assoc
            .get(&(ty.id.clone(), merged))
            .cloned()
            .unwrap_or_default();
        for ((to_type, to_id), types) in links {
            for t in types {
                let _ = self.associate(&ty.id, primary, &to_type, to_id, t, now, false);
            }
        }
        if let Some(rec) = self
            .records
            .get_mut(&ty.id)
            .and_then(|m| m.get_mut(&merged))
        {
            rec.archived_ms = Some(now);
            let props = rec.props.clone();
            self.unindex_unique(&ty.id, merged, &props);
        }
        self.update(ty, primary, fill, now)?;
        let _ = moved;
        self.emit(
            &ty.id,
            primary,
            now,
            ChangeKind::Merge {
                primary_id: primary,
                merged_ids: vec![merged],
                new_id: primary,
            },
        );
        Ok(())
    }

    /// Looks up an association definition by type id for a pair of object types.
    pub fn assoc_def(&self, from: &str, to: &str, type_id: u32) -> Option<&AssociationDef> {
        self.assoc_defs
            .iter()
            .find(|d| d.from_type == from && d.to_type == to && d.type_id == type_id)
    }

    /// The default (unlabelled) association type for a pair.
    pub fn default_assoc(&self, from: &str, to: &str) -> Option<&AssociationDef> {
        self.assoc_defs
            .iter()
            .find(|d| d.from_type == from && d.to_type == to && d.is_default)
    }

    /// Creates a new label for a pair (and its inverse); returns the new type id.
    pub fn create_label(
        &mut self,
        from: &str,
        to: &str,
        label: &str,
        inverse: Option<&str>,
    ) -> u32 {
        let t = self.next_type_id;
        let inv = t + 1;
        self.next_type_id += 2;
        self.assoc_defs.push(AssociationDef {
            from_type: from.into(),
            to_type: to.into(),
            category: "USER_DEFINED".into(),
            type_id: t,
            label: Some(label.into()),
            inverse_type_id: inv,
            is_default: false,
        });
        self.assoc_defs.push(AssociationDef {
            from_type: to.into(),
            to_type: from.into(),
            category: "USER_DEFINED".into(),
            type_id: inv,
            label: Some(inverse.unwrap_or(label).into()),
            inverse_type_id: t,
            is_default: false,
        });
        t
    }

    /// Is (type, id) a live record?
    pub fn is_live(&self, type_id: &str, id: u64) -> bool {
        self.records_of(type_id)
            .get(&id)
            .is_some_and(|r| r.archived_ms.is_none())
    }

    /// Associates two records with one association type (both directions).
    ///
    /// # Errors
    /// 404 for a missing record, 400 for a type id that does not exist for the pair.
    #[allow(clippy::too_many_arguments)]
    pub fn associate(
        &mut self,
        from_type: &str,
        from_id: u64,
        to_type: &str,
        to_id: u64,
        t: AssocType,
        now: i64,
        emit: bool,
    ) -> Result<(), HsError> {
        for (ty, id) in [(from_type, from_id), (to_type, to_id)] {
            if !self.is_live(ty, id) {
                return Err(HsError::not_found(format!("No {ty} with id {id} exists."))
                    .with_context("id", vec![id.to_string()]));
            }
        }
        let def = self
            .assoc_def(from_type, to_type, t.type_id)
            .cloned()
            .ok_or_else(|| {
                HsError::validation(format!(
                    "associationTypeId {} is not valid between {from_type} and {to_type}.",
                    t.type_id
                ))
            })?;
        let cat = AssocCategory::parse(&def.category).unwrap_or(AssocCategory::HubspotDefined);
        if cat != t.category {
            return Err(HsError::validation(format!(
                "associationCategory {} does not match associationTypeId {} (expected {}).",
                t.category.as_str(),
                t.type_id,
                def.category
            )));
        }
        let inverse = AssocType {
            category: cat,
            type_id: def.inverse_type_id,
        };
        let fresh = self
            .assoc
            .entry((from_type.into(), from_id))
            .or_default()
            .entry((to_type.into(), to_id))
            .or_default()
            .insert(t);
        self.assoc
            .entry((to_type.into(), to_id))
            .or_default()
            .entry((from_type.into(), from_id))
            .or_default()
            .insert(inverse);
        if fresh && emit {
            let primary = def.label.as_deref() == Some("Primary");
            self.emit(
                from_type,
                from_id,
                now,
                ChangeKind::AssociationChange {
                    to_type: to_type.into(),
                    to_id,
                    type_id: t.type_id,
                    removed: false,
                    primary,
                },
            );
        }
        Ok(())
    }

    /// Removes association types between two records; `None` removes every type.
    pub fn dissociate(
        &mut self,
        from_type: &str,
        from_id: u64,
        to_type: &str,
        to_id: u64,
        only: Option<&[AssocType]>,
        now: i64,
    ) -> usize {
        let Some(types) = self
            .assoc
            .get_mut(&(from_type.into(), from_id))
            .and_then(|m| m.get_mut(&(to_type.into(), to_id)))
        else {
            return 0;
        };
        let removed: Vec<AssocType> = match only {
            None => std::mem::take(types).into_iter().collect(),
            Some(list) => list.iter().copied().filter(|t| types.remove(t)).collect(),
        };
        let empty = types.is_empty();
        if empty {
            if let Some(m) = self.assoc.get_mut(&(from_type.into(), from_id)) {
                m.remove(&(to_type.into(), to_id));
            }
        }
        for t in &removed {
            let inv = self
                .assoc_def(from_type, to_type, t.type_id)
                .map(|d| d.inverse_type_id);
            if let Some(back) = self
                .assoc
                .get_mut(&(to_type.into(), to_id))
                .and_then(|m| m.get_mut(&(from_type.into(), from_id)))
            {
                if let Some(inv) = inv {
                    back.remove(&AssocType {
                        category: t.category,
                        type_id: inv,
                    });
                }
            }
            if let Some(m) = self.assoc.get_mut(&(to_type.into(), to_id)) {
                if m.get(&(from_type.into(), from_id))
                    .is_some_and(BTreeSet::is_empty)
                {
                    m.remove(&(from_type.into(), from_id));
                }
            }
            self.emit(
                from_type,
                from_id,
                now,
                ChangeKind::AssociationChange {
                    to_type: to_type.into(),
                    to_id,
                    type_id: t.type_id,
                    removed: true,
                    primary: false,
                },
            );
        }
        removed.len()
    }

    /// Live associations of one record to one object type, ordered by target id.
    pub fn associations(
        &self,
        from_type: &str,
        from_id: u64,
        to_type: &str,
    ) -> Vec<(u64, Vec<AssocType>)> {
        let Some(m) = self.assoc.get(&(from_type.to_string(), from_id)) else {
            return Vec::new();
        };
        m.range((to_type.to_string(), 0)..=(to_type.to_string(), u64::MAX))
            .filter(|((t, id), _)| self.is_live(t, *id))
            .map(|((_, id), types)| (*id, types.iter().copied().collect()))
            .collect()
    }

    /// `{category, typeId, label}` for one association type.
    pub fn assoc_type_json(&self, from: &str, to: &str, t: AssocType) -> Value {
        let label = self
            .assoc_def(from, to, t.type_id)
            .and_then(|d| d.label.clone());
        json!({"category": t.category.as_str(), "typeId": t.type_id, "label": label})
    }

    /// Renders a record in HubSpot's `SimplePublicObject` shape.
    pub fn render(
        &self,
        ty: &ObjectType,
        rec: &Record,
        requested: Option<&[String]>,
        with_history: Option<&[String]>,
    ) -> Value {
        let mut props = Map::new();
        let names: Vec<&String> = match requested {
            Some(list) if !list.is_empty() => list.iter().collect(),
            _ => ty.default_properties.iter().collect(),
        };
        for name in names.iter().copied().chain(
            [
                &"hs_object_id".to_string(),
                &ty.created_property,
                &ty.modified_property,
            ]
            .into_iter()
            .filter(|_| requested.is_some_and(|l| !l.is_empty())),
        ) {
            if self.property(&ty.id, name).is_some() {
                props.insert(
                    name.clone(),
                    rec.props.get(name).map_or(Value::Null, |v| json!(v)),
                );
            }
        }
        let mut obj = json!({
            "id": rec.id.to_string(),
            "properties": props,
            "createdAt": iso_ms(rec.created_ms),
            "updatedAt": iso_ms(rec.updated_ms),
            "archived": rec.archived_ms.is_some(),
        });
        if let Some(at) = rec.archived_ms {
            obj["archivedAt"] = json!(iso_ms(at));
        }
        if let Some(hist) = with_history.filter(|h| !h.is_empty()) {
            let mut h = Map::new();
            // Newest first, as HubSpot lists them; a seeded value is one import-time version.
            for name in hist {
                let versions: Vec<Value> = match rec.history.get(name) {
                    Some(v) if !v.is_empty() => v
                        .iter()
                        .rev()
                        .map(|x| json!({"value": x.value, "timestamp": iso_ms(x.at_ms), "sourceType": x.source_type, "sourceId": x.source_id}))
                        .collect(),
                    _ => rec
                        .props
                        .get(name)
                        .map(|v| vec![json!({"value": v, "timestamp": iso_ms(rec.created_ms), "sourceType": "IMPORT", "sourceId": "seed"})])
                        .unwrap_or_default(),
                };
                if !versions.is_empty() {
                    h.insert(name.clone(), Value::Array(versions));
                }
            }
            obj["propertiesWithHistory"] = Value::Object(h);
        }
        obj
    }

    /// A status error when a record is missing.
    pub fn missing(id: &str) -> HsError {
        HsError::new(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            "Object not found.  objectId are usually numeric.",
        )
        .with_context("id", vec![id.to_string()])
    }
}

/// Lowercases and trims `email`, as HubSpot does on API writes.
fn normalize_email(props: &mut BTreeMap<String, String>) {
    if let Some(e) = props.get_mut("email") {
        *e = e.trim().to_lowercase();
    }
}

/// Writes the system properties HubSpot maintains.
fn stamp(
    ty: &ObjectType,
    id: u64,
    props: &mut BTreeMap<String, String>,
    created: Option<i64>,
    modified: i64,
) {
    props.insert("hs_object_id".into(), id.to_string());
    if let Some(c) = created {
        props.insert(ty.created_property.clone(), iso_ms(c));
        props.insert("hs_createdate".into(), iso_ms(c));
    }
    props.insert(ty.modified_property.clone(), iso_ms(modified));
    props.insert("hs_lastmodifieddate".into(), iso_ms(modified));
}

/// Checks one value against its definition and returns the stored spelling.
fn check_value(def: &PropertyDef, value: &str, owners: &[Owner]) -> Result<String, ErrorDetail> {
    let name = &def.name;
    if value.is_empty() {
        return Ok(String::new());
    }
    let bad = |code: &str, what: &str| {
        property_error(
            code,
            format!("{value} was not a valid {what}. for property \"{name}\""),
            name,
        )
    };
    if def.referenced_object_type.as_deref() == Some("OWNER") {
        return if owners.iter().any(|o| o.id == value) {
            Ok(value.into())
        } else {
            Err(bad("INVALID_OWNER_ID", "owner id"))
        };
    }
    match def.kind.as_str() {
        "number" => hubspot_wire::values::read_value("number", value)
            .map_err(|_| bad("INVALID_DECIMAL", "number")),
        "bool" => match value.trim().to_ascii_lowercase().as_str() {
            "true" => Ok("true".into()),
            "false" => Ok("false".into()),
            _ => Err(bad("INVALID_BOOLEAN", "boolean (true or false)")),
        },
        "date" => match parse_hs_datetime(value) {
            Some(ms) if ms.rem_euclid(86_400_000) == 0 => Ok(chrono::DateTime::from_timestamp_millis(ms).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()),
            Some(_) => Err(property_error("INVALID_DATE", format!("{value} is at a time other than midnight UTC; date property \"{name}\" takes dates only"), name)),
            None => Err(bad("INVALID_DATE", "date")),
        },
        "datetime" => match parse_hs_datetime(value) {
            Some(ms) => Ok(iso_ms(ms)),
            None => Err(bad("INVALID_DATETIME", "datetime")),
        },
        "enumeration" if def.field_type == "checkbox" && def.options.is_empty() => Ok(value.into()),
        "enumeration" => {
            let parts: Vec<&str> = if def.field_type == "checkbox" { value.split(';').collect() } else { vec![value] };
            for p in &parts {
                if !def.options.iter().any(|o| o.value == *p) {
                    let allowed: Vec<&str> = def.options.iter().map(|o| o.value.as_str()).collect();
                    return Err(property_error(
                        "INVALID_OPTION",
                        format!("{p} was not one of the allowed options: [{}] for property \"{name}\"", allowed.join(", ")),
                        name,
                    ));
                }
            }
            Ok(value.into())
        }
        _ => Ok(value.into()),
    }
}

/// The message HubSpot gives a batch of property errors.
pub fn property_errors_message(errors: &[ErrorDetail]) -> String {
    let entries: Vec<Value> = errors
        .iter()
        .map(|e| {
            let name = e.context.as_ref().and_then(|c| c.get("propertyName")).and_then(|v| v.get(0)).cloned().unwrap_or(Value::Null);
            json!({"isValid": false, "message": e.message, "error": e.code, "name": name, "localizedErrorMessage": e.message})
        })
        .collect();
    format!("Property values were not valid: {}", Value::Array(entries))
}

/// The 400 for invalid properties.
pub fn property_validation_error(errors: Vec<ErrorDetail>) -> HsError {
    HsError::validation(property_errors_message(&errors)).with_errors(errors)
}
