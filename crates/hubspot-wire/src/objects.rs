//! The standard CRM object types, once: every fact about a type that more than one module needs.
//!
//! The sandbox builds its catalog from this table, the client and the tools list the types
//! from it, the webhook receiver maps HubSpot's type ids and subscription prefixes with it, and
//! the governance tools find the association type ids for notes and tasks in it. Custom object
//! types are the portal's own and come from its schemas at run time, not from here.

/// One standard object type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandardObject {
    /// The path name: `/crm/objects/2026-03/{name}`.
    pub name: &'static str,
    /// HubSpot's object type id (`0-1`), used in webhooks and association definitions.
    pub type_id: &'static str,
    /// The singular, which is also the prefix of its webhook subscription types
    /// (`contact.creation`).
    pub singular: &'static str,
    /// The OAuth scopes that read and write it.
    pub read_scope: &'static str,
    pub write_scope: &'static str,
    /// The property holding its last-modified time (contacts differ from every other type).
    pub modified_property: &'static str,
    /// Whether webhook subscriptions exist for it (CRM objects yes; engagements no).
    pub webhooks: bool,
    /// The HUBSPOT_DEFINED association type ids from a note and from a task to a record of this
    /// type (`None` for the engagements themselves).
    pub note_association: Option<u32>,
    pub task_association: Option<u32>,
}

/// Contacts, companies, deals and tickets (the CRM records), then notes and tasks.
pub const STANDARD_OBJECTS: &[StandardObject] = &[
    StandardObject {
        name: "contacts",
        type_id: "0-1",
        singular: "contact",
        read_scope: "crm.objects.contacts.read",
        write_scope: "crm.objects.contacts.write",
        modified_property: "lastmodifieddate",
        webhooks: true,
        note_association: Some(202),
        task_association: Some(204),
    },
    StandardObject {
        name: "companies",
        type_id: "0-2",
        singular: "company",
        read_scope: "crm.objects.companies.read",
        write_scope: "crm.objects.companies.write",
        modified_property: "hs_lastmodifieddate",
        webhooks: true,
        note_association: Some(190),
        task_association: Some(192),
    },
    StandardObject {
        name: "deals",
        type_id: "0-3",
        singular: "deal",
        read_scope: "crm.objects.deals.read",
        write_scope: "crm.objects.deals.write",
        modified_property: "hs_lastmodifieddate",
        webhooks: true,
        note_association: Some(214),
        task_association: Some(216),
    },
    StandardObject {
        name: "tickets",
        type_id: "0-5",
        singular: "ticket",
        read_scope: "tickets",
        write_scope: "tickets",
        modified_property: "hs_lastmodifieddate",
        webhooks: true,
        note_association: Some(228),
        task_association: Some(230),
    },
    StandardObject {
        name: "notes",
        type_id: "0-46",
        singular: "note",
        read_scope: "crm.objects.contacts.read",
        write_scope: "crm.objects.contacts.write",
        modified_property: "hs_lastmodifieddate",
        webhooks: false,
        note_association: None,
        task_association: None,
    },
    StandardObject {
        name: "tasks",
        type_id: "0-27",
        singular: "task",
        read_scope: "crm.objects.contacts.read",
        write_scope: "crm.objects.contacts.write",
        modified_property: "hs_lastmodifieddate",
        webhooks: false,
        note_association: None,
        task_association: None,
    },
];

/// The standard type with this path name (`contacts`).
pub fn by_name(name: &str) -> Option<&'static StandardObject> {
    STANDARD_OBJECTS.iter().find(|o| o.name == name)
}

/// The standard type with this type id (`0-1`).
pub fn by_type_id(type_id: &str) -> Option<&'static StandardObject> {
    STANDARD_OBJECTS.iter().find(|o| o.type_id == type_id)
}

/// The standard type whose webhook subscriptions start with `singular` (`contact`).
pub fn by_singular(singular: &str) -> Option<&'static StandardObject> {
    STANDARD_OBJECTS.iter().find(|o| o.singular == singular)
}

/// The property holding a type's last-modified time; custom objects use HubSpot's default.
pub fn last_modified_property(name: &str) -> &'static str {
    by_name(name).map_or("hs_lastmodifieddate", |o| o.modified_property)
}

/// The CRM record types (the ones with webhooks): what sync indexes by default.
pub fn records() -> impl Iterator<Item = &'static StandardObject> {
    STANDARD_OBJECTS.iter().filter(|o| o.webhooks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ids_and_singulars_are_unique_and_round_trip() {
        for o in STANDARD_OBJECTS {
            assert_eq!(by_name(o.name), Some(o));
            assert_eq!(by_type_id(o.type_id), Some(o));
            assert_eq!(by_singular(o.singular), Some(o));
            assert_eq!(o.note_association.is_some(), o.webhooks, "{}", o.name);
        }
        assert_eq!(records().count(), 4);
    }
}
