//! HubSpot request paths, built in one place from typed segments.
//!
//! A caller's string never becomes part of a URL path as it is. Every segment that varies is
//! one of two types, each checked when it is made:
//!
//! - [`ObjectType`]: a standard type's path name (`contacts`), a type id (`0-1`, `2-1234`) or
//!   a custom object's name (`p123_cars`): ASCII letters, digits, `_` and `-`, at most 100.
//! - [`RecordId`]: a HubSpot record id, 1 to 20 ASCII digits.
//!
//! Neither can hold `/`, `.`, `%`, `?` or `#`, so neither can climb out of its segment, start
//! a query, or be decoded into one by the URL parser (`%2e%2e` is `..` to it). Paths are
//! [`ApiPath`] values, which only this module makes; the client sends nothing else, so there
//! is no other place where a path could be pasted together. (Unique-property values, such as
//! an email used as an id, travel in JSON bodies, never in paths.)

use std::fmt;

use super::model::ApiVersion;

/// Why a path segment was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("\"{0}\" is not a HubSpot record id: record ids are 1 to 20 digits")]
    RecordId(String),
    #[error("\"{0}\" is not an object type name: use letters, digits, '_' and '-' (at most 100), e.g. contacts, 0-1, 2-1234")]
    ObjectType(String),
}

/// Shows at most 40 characters of a refused value, escaped, so an error stays readable and
/// cannot carry control characters into a log line.
fn shown(s: &str) -> String {
    let mut out: String = s.chars().take(40).flat_map(char::escape_default).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

/// An object type as a path segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectType(String);

impl ObjectType {
    /// Checks `s` (trimmed) as an object type segment.
    ///
    /// # Errors
    /// [`PathError::ObjectType`] for anything but `[A-Za-z0-9_-]{1,100}`.
    pub fn parse(s: &str) -> Result<Self, PathError> {
        let t = s.trim();
        let ok = !t.is_empty()
            && t.len() <= 100
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(Self(t.to_string()))
        } else {
            Err(PathError::ObjectType(shown(s)))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A record id as a path segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(String);

impl RecordId {
    /// Checks `s` (trimmed) as a record id.
    ///
    /// # Errors
    /// [`PathError::RecordId`] for anything but 1 to 20 ASCII digits.
    pub fn parse(s: &str) -> Result<Self, PathError> {
        let t = s.trim();
        if !t.is_empty() && t.len() <= 20 && t.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(t.to_string()))
        } else {
            Err(PathError::RecordId(shown(s)))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<u64> for RecordId {
    fn from(n: u64) -> Self {
        Self(n.to_string())
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A path on the HubSpot host, made only by the builders below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiPath(String);

impl ApiPath {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A fixed path (no caller-supplied segment), e.g. `/oauth/v1/token`.
    ///
    /// # Panics
    /// In debug builds, when `p` is not a plain absolute path.
    pub fn fixed(p: &'static str) -> Self {
        debug_assert!(p.starts_with('/') && !p.contains("..") && !p.contains(['?', '#', '%']));
        Self(p.to_string())
    }

    fn join(mut self, seg: impl fmt::Display) -> Self {
        use std::fmt::Write;
        let _ = write!(self.0, "/{seg}");
        self
    }
}

impl fmt::Display for ApiPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The ways an association between two records is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssociationKind {
    /// HubSpot's default (unlabelled) association.
    Default,
    /// A labelled association; the type goes in the body.
    Labelled,
}

impl ApiVersion {
    fn objects_root(self) -> ApiPath {
        ApiPath::fixed(match self {
            Self::Dated => "/crm/objects/2026-03",
            Self::Legacy => "/crm/v3/objects",
        })
    }

    /// `/crm/objects/2026-03/{t}` or `/crm/v3/objects/{t}`.
    pub fn objects(self, t: &ObjectType) -> ApiPath {
        self.objects_root().join(t)
    }

    /// One record: `…/objects/{t}/{id}`.
    pub fn object(self, t: &ObjectType, id: &RecordId) -> ApiPath {
        self.objects(t).join(id)
    }

    /// `…/objects/{t}/batch/{op}` (`read`, `create`, `update`, `upsert`, `archive`).
    pub fn objects_batch(self, t: &ObjectType, op: BatchVerb) -> ApiPath {
        self.objects(t).join("batch").join(op.name())
    }

    /// `…/objects/{t}/search`.
    pub fn search(self, t: &ObjectType) -> ApiPath {
        self.objects(t).join("search")
    }

    /// The association between two records:
    /// `…/objects/{from}/{id}/associations[/default]/{to}/{to_id}` (v4 on the legacy family).
    pub fn association(
        self,
        from: &ObjectType,
        id: &RecordId,
        to: &ObjectType,
        to_id: &RecordId,
        kind: AssociationKind,
    ) -> ApiPath {
        let root = match self {
            Self::Dated => ApiPath::fixed("/crm/objects/2026-03"),
            Self::Legacy => ApiPath::fixed("/crm/v4/objects"),
        };
        let p = root.join(from).join(id).join("associations");
        let p = match kind {
            AssociationKind::Default => p.join("default"),
            AssociationKind::Labelled => p,
        };
        p.join(to).join(to_id)
    }

    /// Association pair routes: `/crm/associations/2026-03/{from}/{to}` (v4 on legacy).
    pub fn associations(self, from: &ObjectType, to: &ObjectType) -> ApiPath {
        ApiPath::fixed(match self {
            Self::Dated => "/crm/associations/2026-03",
            Self::Legacy => "/crm/v4/associations",
        })
        .join(from)
        .join(to)
    }

    /// `…/associations/{from}/{to}/batch/read`.
    pub fn associations_batch_read(self, from: &ObjectType, to: &ObjectType) -> ApiPath {
        self.associations(from, to).join("batch").join("read")
    }

    /// The association labels between two types.
    pub fn association_labels(self, from: &ObjectType, to: &ObjectType) -> ApiPath {
        ApiPath::fixed(match self {
            Self::Dated => "/crm/associations/2026-03",
            Self::Legacy => "/crm/associations/v4",
        })
        .join(from)
        .join(to)
        .join("labels")
    }

    /// Properties of a type.
    pub fn properties(self, t: &ObjectType) -> ApiPath {
        ApiPath::fixed(match self {
            Self::Dated => "/crm/properties/2026-03",
            Self::Legacy => "/crm/v3/properties",
        })
        .join(t)
    }

    /// Owners.
    pub fn owners(self) -> ApiPath {
        ApiPath::fixed(match self {
            Self::Dated => "/crm/owners/2026-03",
            Self::Legacy => "/crm/v3/owners",
        })
    }

    /// Pipelines of a type.
    pub fn pipelines(self, t: &ObjectType) -> ApiPath {
        ApiPath::fixed(match self {
            Self::Dated => "/crm/pipelines/2026-03",
            Self::Legacy => "/crm/v3/pipelines",
        })
        .join(t)
    }

    /// Custom-object schemas.
    pub fn schemas(self) -> ApiPath {
        ApiPath::fixed(match self {
            Self::Dated => "/crm-object-schemas/2026-03/schemas",
            Self::Legacy => "/crm-object-schemas/v3/schemas",
        })
    }

    /// Account details.
    pub fn account_details(self) -> ApiPath {
        ApiPath::fixed(match self {
            Self::Dated => "/account-info/2026-03/details",
            Self::Legacy => "/account-info/v3/details",
        })
    }
}

/// The verbs of the objects batch endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchVerb {
    Read,
    Create,
    Update,
    Upsert,
    Archive,
}

impl BatchVerb {
    fn name(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Create => "create",
            Self::Update => "update",
            Self::Upsert => "upsert",
            Self::Archive => "archive",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn crafted_ids_are_refused() {
        for bad in [
            "../../../../crm/v3/objects/tickets/10008001?",
            "%2e%2e/%2e%2e/crm",
            "1/2",
            "12?x=1",
            "12#f",
            "",
            " ",
            "1.5",
            "123456789012345678901",
            "١٢٣", // Arabic-Indic digits are not ASCII digits
        ] {
            assert!(RecordId::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(RecordId::parse(" 10008001 ").unwrap().as_str(), "10008001");
        for bad in [
            "..",
            "contacts/../deals",
            "2-1%2F",
            "a?b",
            "",
            "x".repeat(101).as_str(),
        ] {
            assert!(ObjectType::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(ObjectType::parse("2-1234").unwrap().as_str(), "2-1234");
    }

    #[test]
    fn refused_values_are_shown_short_and_escaped() {
        let e = RecordId::parse(&format!("\n{}", "9".repeat(100))).unwrap_err();
        let msg = e.to_string();
        assert!(
            !msg.contains('\n') && msg.contains("\\n") && msg.contains('…'),
            "{msg}"
        );
    }

    #[test]
    fn paths_match_hubspots_scheme() {
        let c = ObjectType::parse("contacts").unwrap();
        let co = ObjectType::parse("companies").unwrap();
        let (a, b) = (RecordId::from(1), RecordId::from(2));
        let v = ApiVersion::Dated;
        assert_eq!(
            v.objects_batch(&c, BatchVerb::Read).as_str(),
            "/crm/objects/2026-03/contacts/batch/read"
        );
        assert_eq!(
            v.association(&c, &a, &co, &b, AssociationKind::Default)
                .as_str(),
            "/crm/objects/2026-03/contacts/1/associations/default/companies/2"
        );
        assert_eq!(
            ApiVersion::Legacy
                .association(&c, &a, &co, &b, AssociationKind::Labelled)
                .as_str(),
            "/crm/v4/objects/contacts/1/associations/companies/2"
        );
        assert_eq!(
            v.association_labels(&c, &co).as_str(),
            "/crm/associations/2026-03/contacts/companies/labels"
        );
        assert_eq!(
            ApiVersion::Legacy.search(&c).as_str(),
            "/crm/v3/objects/contacts/search"
        );
    }

    fn cases() -> u32 {
        std::env::var("HUBSPOT_MCP_FUZZ_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2_000)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]

        /// Whatever a caller sends, an accepted value is one plain segment, and the path the
        /// URL parser sees is the path that was built: no `..`, no query, no fragment.
        #[test]
        fn any_accepted_value_stays_in_its_segment(
            id in prop_oneof!["[0-9]{1,20}", " ?[0-9]{1,20} ?", any::<String>()],
            t in prop_oneof!["[A-Za-z0-9_-]{1,100}", "[ -~]{0,12}", "\\PC{0,8}"],
        ) {
            let (Ok(id), Ok(t)) = (RecordId::parse(&id), ObjectType::parse(&t)) else {
                return Ok(());
            };
            let to = ObjectType::parse("companies").unwrap();
            for v in [ApiVersion::Dated, ApiVersion::Legacy] {
                for kind in [AssociationKind::Default, AssociationKind::Labelled] {
                    let p = v.association(&t, &id, &to, &id, kind);
                    let url = reqwest::Url::parse(&format!("https://api.hubapi.com{p}")).unwrap();
                    prop_assert_eq!(url.path(), p.as_str());
                    prop_assert!(url.query().is_none() && url.fragment().is_none());
                    prop_assert!(!p.as_str().split('/').any(|s| s == ".." || s == "."));
                }
            }
        }

        #[test]
        fn digits_are_ids(n in any::<u64>()) {
            prop_assert_eq!(RecordId::parse(&n.to_string()).unwrap(), RecordId::from(n));
        }
    }
}
