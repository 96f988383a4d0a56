//! The sandbox's data model: object types, property definitions, records, owners, pipelines
//! and association definitions, in HubSpot's wire shapes (§2, §4–8 of the API facts).
//!
//! Property definitions drive validation: a write of an unknown property, a read-only property,
//! a bad number, date or enumeration option is rejected exactly as HubSpot would. Values are
//! always strings on the wire; the model stores them as strings too.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A CRM object type the sandbox serves.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectType {
    /// `0-1`, `0-2`, …, `2-…` for custom objects.
    pub id: String,
    /// The plural path name (`contacts`), or the custom object's name.
    pub name: String,
    /// Singular name used in events and association types (`contact`).
    pub singular: String,
    /// Labels for schemas.
    pub label_singular: String,
    pub label_plural: String,
    /// Properties returned when a request names none (HubSpot's default sets).
    pub default_properties: Vec<String>,
    /// Properties the free-text `query` of search looks at.
    pub searchable_properties: Vec<String>,
    /// The property shown as the record's name.
    pub primary_display_property: String,
    /// Properties required on create (custom objects).
    pub required_properties: Vec<String>,
    /// OAuth scopes for read and write.
    pub read_scope: String,
    pub write_scope: String,
    /// Is this a custom object (`2-…`)?
    pub custom: bool,
    /// The property the "last modified" timestamp is written to.
    pub modified_property: String,
    /// The property the creation timestamp is written to.
    pub created_property: String,
}

impl ObjectType {
    /// Does `name` refer to this type (`contacts`, `contact`, `0-1`, a custom FQN)?
    pub fn answers_to(&self, name: &str, portal_id: u64) -> bool {
        let n = name.to_ascii_lowercase();
        n == self.id
            || n == self.name
            || n == self.singular
            || (self.custom && n == format!("p{portal_id}_{}", self.name))
    }
}

/// One enumeration option.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PropertyOption {
    pub label: String,
    pub value: String,
    #[serde(default)]
    pub display_order: i32,
    #[serde(default)]
    pub hidden: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `modificationMetadata` of a property.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ModificationMetadata {
    pub archivable: bool,
    pub read_only_definition: bool,
    pub read_only_value: bool,
}

/// A property definition, in HubSpot's full shape.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PropertyDef {
    pub name: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub field_type: String,
    pub group_name: String,
    pub description: String,
    pub options: Vec<PropertyOption>,
    pub display_order: i32,
    pub has_unique_value: bool,
    pub hidden: bool,
    pub form_field: bool,
    pub calculated: bool,
    pub external_options: bool,
    pub hubspot_defined: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referenced_object_type: Option<String>,
    pub modification_metadata: ModificationMetadata,
    pub data_sensitivity: String,
    pub created_at: String,
    pub updated_at: String,
    pub archived: bool,
}

impl PropertyDef {
    /// A built-in, writable property.
    pub fn builtin(name: &str, label: &str, kind: &str, field_type: &str, group: &str) -> Self {
        Self {
            name: name.into(),
            label: label.into(),
            kind: kind.into(),
            field_type: field_type.into(),
            group_name: group.into(),
            description: String::new(),
            options: Vec::new(),
            display_order: -1,
            has_unique_value: false,
            hidden: false,
            form_field: true,
            calculated: false,
            external_options: false,
            hubspot_defined: true,
            referenced_object_type: None,
            modification_metadata: ModificationMetadata {
                archivable: false,
                read_only_definition: true,
                read_only_value: false,
            },
            data_sensitivity: "non_sensitive".into(),
            created_at: "2019-08-06T02:41:08.029Z".into(),
            updated_at: "2025-11-20T16:14:31.000Z".into(),
            archived: false,
        }
    }

    /// A portal-defined (custom) property.
    pub fn custom(name: &str, label: &str, kind: &str, field_type: &str, group: &str) -> Self {
        let mut p = Self::builtin(name, label, kind, field_type, group);
        p.hubspot_defined = false;
        p.display_order = 0;
        p.modification_metadata = ModificationMetadata {
            archivable: true,
            read_only_definition: false,
            read_only_value: false,
        };
        p.created_at = "2024-02-12T09:30:00.000Z".into();
        p.updated_at = "2024-02-12T09:30:00.000Z".into();
        p
    }

    /// Marks the value read-only (system-maintained).
    pub fn read_only(mut self) -> Self {
        self.modification_metadata.read_only_value = true;
        self.form_field = false;
        self
    }

    /// Adds enumeration options (value, label).
    pub fn with_options(mut self, options: &[(&str, &str)]) -> Self {
        self.options = options
            .iter()
            .enumerate()
            .map(|(i, (value, label))| PropertyOption {
                label: (*label).into(),
                value: (*value).into(),
                display_order: i as i32,
                hidden: false,
                description: None,
            })
            .collect();
        self
    }

    /// Marks the property unique (usable as `idProperty`).
    pub fn unique(mut self) -> Self {
        self.has_unique_value = true;
        self
    }

    /// An owner picker.
    pub fn owner_picker(mut self) -> Self {
        self.external_options = true;
        self.referenced_object_type = Some("OWNER".into());
        self
    }

    /// Is this a numeric property?
    pub fn is_number(&self) -> bool {
        self.kind == "number"
    }

    /// Is this a date or datetime property?
    pub fn is_temporal(&self) -> bool {
        self.kind == "date" || self.kind == "datetime"
    }

    /// Is this an enumeration (including booleans, which HubSpot models as enumerations)?
    pub fn is_enum(&self) -> bool {
        self.kind == "enumeration" || self.kind == "bool"
    }
}

/// A stored record.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: u64,
    /// Current property values. An absent key is a property with no value.
    pub props: BTreeMap<String, String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub archived_ms: Option<i64>,
    /// What the search index has seen, and when the current version becomes searchable
    /// (indexing lag). `None` with a due time in the future: not yet searchable at all.
    pub indexed: Option<BTreeMap<String, String>>,
    pub index_due_ms: i64,
    /// Each property's values since the record was created through the API, oldest first
    /// (`propertiesWithHistory`). A seeded record starts with none: its seeded values are
    /// rendered as one import-time version.
    pub history: BTreeMap<String, Vec<Version>>,
}

/// One value a property had, and who set it when.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    pub value: String,
    pub at_ms: i64,
    /// HubSpot's `sourceType`: `IMPORT` for seeded values, `INTEGRATION` for API writes.
    pub source_type: &'static str,
    pub source_id: &'static str,
}

/// The source of every API write in the sandbox (one private app).
pub const API_SOURCE: &str = "sandbox-private-app";

impl Record {
    /// The property values search sees at `now_ms`.
    pub fn search_view(&self, now_ms: i64) -> Option<&BTreeMap<String, String>> {
        if self.index_due_ms <= now_ms {
            Some(&self.props)
        } else {
            self.indexed.as_ref()
        }
    }
}

/// A CRM owner (`PublicOwner`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    pub id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub user_id: u64,
    pub user_id_including_inactive: u64,
    #[serde(rename = "type")]
    pub kind: String,
    pub teams: Vec<serde_json::Value>,
    pub archived: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A pipeline stage.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    pub id: String,
    pub label: String,
    pub display_order: i32,
    pub metadata: BTreeMap<String, String>,
    pub write_permissions: String,
    pub archived: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A pipeline with its stages.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pipeline {
    pub id: String,
    pub label: String,
    pub display_order: i32,
    pub archived: bool,
    pub created_at: String,
    pub updated_at: String,
    pub stages: Vec<Stage>,
}

/// An association type between two object types (one direction).
#[derive(Debug, Clone, Serialize)]
pub struct AssociationDef {
    pub from_type: String,
    pub to_type: String,
    /// `HUBSPOT_DEFINED`, `USER_DEFINED` or `INTEGRATOR_DEFINED`.
    pub category: String,
    pub type_id: u32,
    /// `None` for the unlabelled default; `Some("Primary")` etc.
    pub label: Option<String>,
    /// The type id of the same association read from the other side.
    pub inverse_type_id: u32,
    /// Is this the default (unlabelled) type for the pair?
    pub is_default: bool,
}

/// `{category, typeId, label}` as association responses spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AssocType {
    pub category: AssocCategory,
    pub type_id: u32,
}

/// Association categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AssocCategory {
    HubspotDefined,
    UserDefined,
    IntegratorDefined,
    Work,
}

impl AssocCategory {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HubspotDefined => "HUBSPOT_DEFINED",
            Self::UserDefined => "USER_DEFINED",
            Self::IntegratorDefined => "INTEGRATOR_DEFINED",
            Self::Work => "WORK",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "HUBSPOT_DEFINED" => Some(Self::HubspotDefined),
            "USER_DEFINED" => Some(Self::UserDefined),
            "INTEGRATOR_DEFINED" => Some(Self::IntegratorDefined),
            "WORK" => Some(Self::Work),
            _ => None,
        }
    }
}
