//! The portal's schema: which object types exist, their properties, pipelines, owners and
//! association types. Built-in definitions follow HubSpot's names and default property sets
//! (§2 of the API facts); the custom properties and the custom object are this sandbox's own
//! portal configuration, chosen to exercise normalization (enumerations, unique ids, phones,
//! dates, booleans, owner pickers).

use std::collections::BTreeMap;

use super::model::{
    AssocCategory, AssociationDef, ObjectType, Owner, Pipeline, PropertyDef, Stage,
};

/// The custom object's type id. `2-` plus a portal-specific number, as in HubSpot.
pub const CUSTOM_OBJECT_ID: &str = "2-7350152";
/// The custom object's name (its path segment besides the id).
pub const CUSTOM_OBJECT_NAME: &str = "projects";

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_string()).collect()
}

#[allow(clippy::too_many_arguments)]
fn object_type(
    id: &str,
    name: &str,
    singular: &str,
    labels: (&str, &str),
    defaults: &[&str],
    searchable: &[&str],
    primary: &str,
    scopes: (&str, &str),
) -> ObjectType {
    let custom = id.starts_with("2-");
    let modified = hubspot_wire::objects::last_modified_property(name);
    let created = if custom {
        "hs_createdate"
    } else {
        "createdate"
    };
    ObjectType {
        id: id.into(),
        name: name.into(),
        singular: singular.into(),
        label_singular: labels.0.into(),
        label_plural: labels.1.into(),
        default_properties: strings(defaults),
        searchable_properties: strings(searchable),
        primary_display_property: primary.into(),
        required_properties: if custom {
            vec![primary.to_string()]
        } else {
            Vec::new()
        },
        read_scope: scopes.0.into(),
        write_scope: scopes.1.into(),
        custom,
        modified_property: modified.into(),
        created_property: created.into(),
    }
}

/// A standard type: its id, singular and scopes come from the shared table.
fn standard(
    name: &str,
    labels: (&str, &str),
    defaults: &[&str],
    searchable: &[&str],
    primary: &str,
) -> ObjectType {
    let o = hubspot_wire::objects::by_name(name).expect("a standard object type");
    object_type(
        o.type_id,
        o.name,
        o.singular,
        labels,
        defaults,
        searchable,
        primary,
        (o.read_scope, o.write_scope),
    )
}

/// Every object type the sandbox serves.
pub fn object_types() -> Vec<ObjectType> {
    vec![
        standard(
            "contacts",
            ("Contact", "Contacts"),
            &[
                "firstname",
                "lastname",
                "email",
                "lastmodifieddate",
                "hs_object_id",
                "createdate",
            ],
            &[
                "firstname",
                "lastname",
                "email",
                "phone",
                "mobilephone",
                "company",
                "hs_additional_emails",
            ],
            "email",
        ),
        standard(
            "companies",
            ("Company", "Companies"),
            &[
                "name",
                "domain",
                "createdate",
                "hs_lastmodifieddate",
                "hs_object_id",
            ],
            &["name", "domain", "website", "phone"],
            "name",
        ),
        standard(
            "deals",
            ("Deal", "Deals"),
            &[
                "dealname",
                "amount",
                "closedate",
                "pipeline",
                "dealstage",
                "createdate",
                "hs_lastmodifieddate",
                "hs_object_id",
            ],
            &["dealname"],
            "dealname",
        ),
        standard(
            "tickets",
            ("Ticket", "Tickets"),
            &[
                "subject",
                "content",
                "hs_pipeline",
                "hs_pipeline_stage",
                "hs_ticket_priority",
                "createdate",
                "hs_lastmodifieddate",
                "hs_object_id",
            ],
            &["subject", "content"],
            "subject",
        ),
        standard(
            "notes",
            ("Note", "Notes"),
            &[
                "hs_note_body",
                "hs_timestamp",
                "hubspot_owner_id",
                "createdate",
                "hs_lastmodifieddate",
                "hs_object_id",
            ],
            &["hs_note_body"],
            "hs_note_body",
        ),
        standard(
            "tasks",
            ("Task", "Tasks"),
            &[
                "hs_task_subject",
                "hs_task_body",
                "hs_task_status",
                "hs_task_priority",
                "hs_timestamp",
                "hubspot_owner_id",
                "createdate",
                "hs_lastmodifieddate",
                "hs_object_id",
            ],
            &["hs_task_subject", "hs_task_body"],
            "hs_task_subject",
        ),
        object_type(
            CUSTOM_OBJECT_ID,
            CUSTOM_OBJECT_NAME,
            "project",
            ("Project", "Projects"),
            &[
                "project_name",
                "project_status",
                "hs_createdate",
                "hs_lastmodifieddate",
                "hs_object_id",
            ],
            &["project_name", "project_code"],
            "project_name",
            ("crm.objects.custom.read", "crm.objects.custom.write"),
        ),
    ]
}

fn system_props(created: &str, modified: &str) -> Vec<PropertyDef> {
    vec![
        PropertyDef::builtin(
            "hs_object_id",
            "Record ID",
            "number",
            "number",
            "properties",
        )
        .read_only()
        .unique(),
        PropertyDef::builtin(created, "Create Date", "datetime", "date", "properties").read_only(),
        PropertyDef::builtin(
            modified,
            "Last Modified Date",
            "datetime",
            "date",
            "properties",
        )
        .read_only(),
        PropertyDef::builtin(
            "hubspot_owner_id",
            "Owner",
            "enumeration",
            "select",
            "properties",
        )
        .owner_picker(),
        PropertyDef::builtin(
            "hs_createdate",
            "Object create date/time",
            "datetime",
            "date",
            "properties",
        )
        .read_only(),
        PropertyDef::builtin(
            "hs_lastmodifieddate",
            "Object last modified date/time",
            "datetime",
            "date",
            "properties",
        )
        .read_only(),
        PropertyDef::custom("crm_external_id", "External ID", "string", "text", "sync").unique(),
    ]
}

const TIERS: &[(&str, &str)] = &[
    ("bronze", "Bronze"),
    ("silver", "Silver"),
    ("gold", "Gold"),
    ("platinum", "Platinum"),
];
const BOOL: &[(&str, &str)] = &[("true", "Yes"), ("false", "No")];

/// Property definitions per object type id.
pub fn properties() -> BTreeMap<String, Vec<PropertyDef>> {
    let mut all = BTreeMap::new();
    let dedup = |mut v: Vec<PropertyDef>| {
        let mut seen = std::collections::BTreeSet::new();
        v.retain(|p| seen.insert(p.name.clone()));
        v
    };

    let mut contacts = system_props("createdate", "lastmodifieddate");
    contacts.extend([
        PropertyDef::builtin("email", "Email", "string", "text", "contactinformation").unique(),
        PropertyDef::builtin(
            "firstname",
            "First Name",
            "string",
            "text",
            "contactinformation",
        ),
        PropertyDef::builtin(
            "lastname",
            "Last Name",
            "string",
            "text",
            "contactinformation",
        ),
        PropertyDef::builtin(
            "phone",
            "Phone Number",
            "string",
            "phonenumber",
            "contactinformation",
        ),
        PropertyDef::builtin(
            "mobilephone",
            "Mobile Phone Number",
            "string",
            "phonenumber",
            "contactinformation",
        ),
        PropertyDef::builtin(
            "company",
            "Company Name",
            "string",
            "text",
            "contactinformation",
        ),
        PropertyDef::builtin(
            "jobtitle",
            "Job Title",
            "string",
            "text",
            "contactinformation",
        ),
        PropertyDef::builtin("city", "City", "string", "text", "contactinformation"),
        PropertyDef::builtin(
            "country",
            "Country/Region",
            "string",
            "text",
            "contactinformation",
        ),
        PropertyDef::builtin(
            "hs_additional_emails",
            "Additional email addresses",
            "enumeration",
            "checkbox",
            "contactinformation",
        ),
        PropertyDef::builtin(
            "lifecyclestage",
            "Lifecycle Stage",
            "enumeration",
            "radio",
            "contactinformation",
        )
        .with_options(&[
            ("subscriber", "Subscriber"),
            ("lead", "Lead"),
            ("marketingqualifiedlead", "Marketing Qualified Lead"),
            ("salesqualifiedlead", "Sales Qualified Lead"),
            ("opportunity", "Opportunity"),
            ("customer", "Customer"),
            ("evangelist", "Evangelist"),
            ("other", "Other"),
        ]),
        PropertyDef::builtin(
            "hs_lead_status",
            "Lead Status",
            "enumeration",
            "radio",
            "sales_properties",
        )
        .with_options(&[
            ("NEW", "New"),
            ("OPEN", "Open"),
            ("IN_PROGRESS", "In Progress"),
            ("OPEN_DEAL", "Open Deal"),
            ("UNQUALIFIED", "Unqualified"),
            ("ATTEMPTED_TO_CONTACT", "Attempted to Contact"),
            ("CONNECTED", "Connected"),
            ("BAD_TIMING", "Bad Timing"),
        ]),
        PropertyDef::builtin(
            "hs_email_optout",
            "Opted out of all email",
            "bool",
            "booleancheckbox",
            "emailinformation",
        )
        .with_options(BOOL),
        PropertyDef::builtin(
            "notes_last_updated",
            "Last Activity Date",
            "datetime",
            "date",
            "sales_properties",
        )
        .read_only(),
        PropertyDef::custom(
            "customer_tier",
            "Customer tier",
            "enumeration",
            "select",
            "sync",
        )
        .with_options(TIERS),
        PropertyDef::custom(
            "preferred_language",
            "Preferred language",
            "enumeration",
            "select",
            "sync",
        )
        .with_options(&[
            ("en", "English"),
            ("de", "German"),
            ("fr", "French"),
            ("es", "Spanish"),
            ("ja", "Japanese"),
        ]),
        PropertyDef::custom("renewal_date", "Renewal date", "date", "date", "sync"),
        PropertyDef::custom("vip", "VIP", "bool", "booleancheckbox", "sync").with_options(BOOL),
    ]);
    all.insert("0-1".to_string(), dedup(contacts));

    let mut companies = system_props("createdate", "hs_lastmodifieddate");
    companies.extend([
        PropertyDef::builtin(
            "name",
            "Company name",
            "string",
            "text",
            "companyinformation",
        ),
        PropertyDef::builtin(
            "domain",
            "Company Domain Name",
            "string",
            "text",
            "companyinformation",
        ),
        PropertyDef::builtin(
            "website",
            "Website URL",
            "string",
            "text",
            "companyinformation",
        ),
        PropertyDef::builtin(
            "phone",
            "Phone Number",
            "string",
            "phonenumber",
            "companyinformation",
        ),
        PropertyDef::builtin("city", "City", "string", "text", "companyinformation"),
        PropertyDef::builtin(
            "country",
            "Country/Region",
            "string",
            "text",
            "companyinformation",
        ),
        PropertyDef::builtin(
            "numberofemployees",
            "Number of Employees",
            "number",
            "number",
            "companyinformation",
        ),
        PropertyDef::builtin(
            "annualrevenue",
            "Annual Revenue",
            "number",
            "number",
            "companyinformation",
        ),
        PropertyDef::builtin(
            "industry",
            "Industry",
            "enumeration",
            "select",
            "companyinformation",
        )
        .with_options(&[
            ("COMPUTER_SOFTWARE", "Computer Software"),
            ("FINANCIAL_SERVICES", "Financial Services"),
            ("HOSPITAL_HEALTH_CARE", "Hospital & Health Care"),
            ("RETAIL", "Retail"),
            ("MARKETING_AND_ADVERTISING", "Marketing and Advertising"),
            ("LOGISTICS_AND_SUPPLY_CHAIN", "Logistics and Supply Chain"),
            ("EDUCATION_MANAGEMENT", "Education Management"),
            ("MANUFACTURING", "Manufacturing"),
        ]),
        PropertyDef::builtin(
            "lifecyclestage",
            "Lifecycle Stage",
            "enumeration",
            "radio",
            "companyinformation",
        )
        .with_options(&[
            ("lead", "Lead"),
            ("opportunity", "Opportunity"),
            ("customer", "Customer"),
            ("other", "Other"),
        ]),
        PropertyDef::custom(
            "customer_tier",
            "Customer tier",
            "enumeration",
            "select",
            "sync",
        )
        .with_options(TIERS),
        PropertyDef::custom("health_score", "Health score", "number", "number", "sync"),
    ]);
    all.insert("0-2".to_string(), dedup(companies));

    let mut deals = system_props("createdate", "hs_lastmodifieddate");
    deals.extend([
        PropertyDef::builtin("dealname", "Deal Name", "string", "text", "dealinformation"),
        PropertyDef::builtin("amount", "Amount", "number", "number", "dealinformation"),
        PropertyDef::builtin(
            "closedate",
            "Close Date",
            "datetime",
            "date",
            "dealinformation",
        ),
        PropertyDef::builtin(
            "pipeline",
            "Pipeline",
            "enumeration",
            "select",
            "dealinformation",
        )
        .with_options(&[("default", "Sales Pipeline"), ("renewals", "Renewals")]),
        PropertyDef::builtin(
            "dealstage",
            "Deal Stage",
            "enumeration",
            "radio",
            "dealinformation",
        )
        .with_options(&DEAL_STAGE_OPTIONS),
        PropertyDef::builtin(
            "dealtype",
            "Deal Type",
            "enumeration",
            "radio",
            "dealinformation",
        )
        .with_options(&[
            ("newbusiness", "New Business"),
            ("existingbusiness", "Existing Business"),
        ]),
        PropertyDef::builtin(
            "description",
            "Deal Description",
            "string",
            "textarea",
            "dealinformation",
        ),
        PropertyDef::custom(
            "deal_health",
            "Deal health",
            "enumeration",
            "select",
            "sync",
        )
        .with_options(&[
            ("on_track", "On track"),
            ("at_risk", "At risk"),
            ("stalled", "Stalled"),
        ]),
    ]);
    all.insert("0-3".to_string(), dedup(deals));

    let mut tickets = system_props("createdate", "hs_lastmodifieddate");
    tickets.extend([
        PropertyDef::builtin(
            "subject",
            "Ticket name",
            "string",
            "text",
            "ticketinformation",
        ),
        PropertyDef::builtin(
            "content",
            "Ticket description",
            "string",
            "textarea",
            "ticketinformation",
        ),
        PropertyDef::builtin(
            "hs_pipeline",
            "Pipeline",
            "enumeration",
            "select",
            "ticketinformation",
        )
        .with_options(&[("0", "Support Pipeline")]),
        PropertyDef::builtin(
            "hs_pipeline_stage",
            "Ticket status",
            "enumeration",
            "select",
            "ticketinformation",
        )
        .with_options(&TICKET_STAGE_OPTIONS),
        PropertyDef::builtin(
            "hs_ticket_priority",
            "Priority",
            "enumeration",
            "select",
            "ticketinformation",
        )
        .with_options(&[
            ("LOW", "Low"),
            ("MEDIUM", "Medium"),
            ("HIGH", "High"),
            ("URGENT", "Urgent"),
        ]),
        PropertyDef::builtin(
            "hs_ticket_category",
            "Category",
            "enumeration",
            "checkbox",
            "ticketinformation",
        )
        .with_options(&[
            ("PRODUCT_ISSUE", "Product issue"),
            ("BILLING_ISSUE", "Billing issue"),
            ("FEATURE_REQUEST", "Feature request"),
            ("GENERAL_INQUIRY", "General inquiry"),
        ]),
        PropertyDef::builtin(
            "source_type",
            "Source",
            "enumeration",
            "select",
            "ticketinformation",
        )
        .with_options(&[
            ("EMAIL", "Email"),
            ("CHAT", "Chat"),
            ("PHONE", "Phone"),
            ("FORM", "Form"),
        ]),
        PropertyDef::builtin(
            "closed_date",
            "Close date",
            "datetime",
            "date",
            "ticketinformation",
        ),
        PropertyDef::custom(
            "product_area",
            "Product area",
            "enumeration",
            "select",
            "sync",
        )
        .with_options(&[
            ("authentication", "Authentication"),
            ("billing", "Billing"),
            ("platform", "Platform"),
            ("integrations", "Integrations"),
            ("data", "Data"),
            ("mobile", "Mobile"),
            ("email", "Email"),
            ("onboarding", "Onboarding"),
            ("reporting", "Reporting"),
        ]),
        PropertyDef::custom(
            "ai_suggested_priority",
            "AI suggested priority",
            "enumeration",
            "select",
            "ai_governance",
        )
        .with_options(&[
            ("LOW", "Low"),
            ("MEDIUM", "Medium"),
            ("HIGH", "High"),
            ("URGENT", "Urgent"),
        ]),
        PropertyDef::custom(
            "ai_confidence",
            "AI confidence",
            "number",
            "number",
            "ai_governance",
        ),
    ]);
    all.insert("0-5".to_string(), dedup(tickets));

    let mut notes = system_props("createdate", "hs_lastmodifieddate");
    notes.extend([
        PropertyDef::builtin("hs_note_body", "Note body", "string", "html", "note"),
        PropertyDef::builtin("hs_timestamp", "Activity date", "datetime", "date", "note"),
    ]);
    all.insert("0-46".to_string(), dedup(notes));

    let mut tasks = system_props("createdate", "hs_lastmodifieddate");
    tasks.extend([
        PropertyDef::builtin("hs_task_subject", "Task title", "string", "text", "task"),
        PropertyDef::builtin("hs_task_body", "Task notes", "string", "html", "task"),
        PropertyDef::builtin(
            "hs_task_status",
            "Task status",
            "enumeration",
            "select",
            "task",
        )
        .with_options(&[
            ("NOT_STARTED", "Not started"),
            ("IN_PROGRESS", "In progress"),
            ("WAITING", "Waiting"),
            ("COMPLETED", "Completed"),
            ("DEFERRED", "Deferred"),
        ]),
        PropertyDef::builtin(
            "hs_task_priority",
            "Priority",
            "enumeration",
            "select",
            "task",
        )
        .with_options(&[
            ("NONE", "None"),
            ("LOW", "Low"),
            ("MEDIUM", "Medium"),
            ("HIGH", "High"),
        ]),
        PropertyDef::builtin("hs_task_type", "Task type", "enumeration", "select", "task")
            .with_options(&[("TODO", "To-do"), ("CALL", "Call"), ("EMAIL", "Email")]),
        PropertyDef::builtin("hs_timestamp", "Due date", "datetime", "date", "task"),
    ]);
    all.insert("0-27".to_string(), dedup(tasks));

    let mut projects = system_props("hs_createdate", "hs_lastmodifieddate");
    projects.extend([
        PropertyDef::custom(
            "project_name",
            "Project name",
            "string",
            "text",
            "projectinformation",
        ),
        PropertyDef::custom(
            "project_code",
            "Project code",
            "string",
            "text",
            "projectinformation",
        )
        .unique(),
        PropertyDef::custom(
            "project_status",
            "Status",
            "enumeration",
            "select",
            "projectinformation",
        )
        .with_options(&[
            ("planned", "Planned"),
            ("active", "Active"),
            ("on_hold", "On hold"),
            ("done", "Done"),
        ]),
        PropertyDef::custom("budget", "Budget", "number", "number", "projectinformation"),
        PropertyDef::custom(
            "go_live_date",
            "Go-live date",
            "date",
            "date",
            "projectinformation",
        ),
    ]);
    all.insert(CUSTOM_OBJECT_ID.to_string(), dedup(projects));
    all
}

/// Deal stages of both pipelines (value, label).
pub const DEAL_STAGE_OPTIONS: [(&str, &str); 10] = [
    ("appointmentscheduled", "Appointment Scheduled"),
    ("qualifiedtobuy", "Qualified To Buy"),
    ("presentationscheduled", "Presentation Scheduled"),
    ("decisionmakerboughtin", "Decision Maker Bought-In"),
    ("contractsent", "Contract Sent"),
    ("closedwon", "Closed Won"),
    ("closedlost", "Closed Lost"),
    ("renewal_upcoming", "Renewal upcoming"),
    ("renewal_won", "Renewed"),
    ("renewal_lost", "Churned"),
];

/// Ticket stages (value, label).
pub const TICKET_STAGE_OPTIONS: [(&str, &str); 4] = [
    ("1", "New"),
    ("2", "Waiting on contact"),
    ("3", "Waiting on us"),
    ("4", "Closed"),
];

fn stage(id: &str, label: &str, order: i32, meta: &[(&str, &str)]) -> Stage {
    Stage {
        id: id.into(),
        label: label.into(),
        display_order: order,
        metadata: meta
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        write_permissions: "CRM_PERMISSIONS_ENFORCEMENT".into(),
        archived: false,
        created_at: "2019-08-06T02:41:08.029Z".into(),
        updated_at: "2025-01-15T10:00:00.000Z".into(),
    }
}

fn pipeline(id: &str, label: &str, order: i32, stages: Vec<Stage>) -> Pipeline {
    Pipeline {
        id: id.into(),
        label: label.into(),
        display_order: order,
        archived: false,
        created_at: "2019-08-06T02:41:08.029Z".into(),
        updated_at: "2025-01-15T10:00:00.000Z".into(),
        stages,
    }
}

/// Pipelines per object type id.
pub fn pipelines() -> BTreeMap<String, Vec<Pipeline>> {
    let probs = ["0.2", "0.4", "0.6", "0.8", "0.9", "1.0", "0.0"];
    let sales = DEAL_STAGE_OPTIONS[..7]
        .iter()
        .zip(probs)
        .enumerate()
        .map(|(i, ((id, label), p))| {
            let closed = if *id == "closedwon" || *id == "closedlost" {
                "true"
            } else {
                "false"
            };
            stage(
                id,
                label,
                i as i32,
                &[("probability", p), ("isClosed", closed)],
            )
        })
        .collect();
    let renewals = vec![
        stage(
            "renewal_upcoming",
            "Renewal upcoming",
            0,
            &[("probability", "0.7"), ("isClosed", "false")],
        ),
        stage(
            "renewal_won",
            "Renewed",
            1,
            &[("probability", "1.0"), ("isClosed", "true")],
        ),
        stage(
            "renewal_lost",
            "Churned",
            2,
            &[("probability", "0.0"), ("isClosed", "true")],
        ),
    ];
    let tickets = TICKET_STAGE_OPTIONS
        .iter()
        .enumerate()
        .map(|(i, (id, label))| {
            let state = if *id == "4" { "CLOSED" } else { "OPEN" };
            stage(id, label, i as i32, &[("ticketState", state)])
        })
        .collect();
    let mut all = BTreeMap::new();
    all.insert(
        "0-3".to_string(),
        vec![
            pipeline("default", "Sales Pipeline", 0, sales),
            pipeline("renewals", "Renewals", 1, renewals),
        ],
    );
    all.insert(
        "0-5".to_string(),
        vec![pipeline("0", "Support Pipeline", 0, tickets)],
    );
    all
}

/// The portal's users and queues.
pub fn owners() -> Vec<Owner> {
    const PEOPLE: &[(&str, &str, &str)] = &[
        ("Maya", "Okafor", "Support"),
        ("Daniel", "Reyes", "Support"),
        ("Priya", "Natarajan", "Support"),
        ("Tom", "Becker", "Support"),
        ("Aiko", "Tanaka", "Sales"),
        ("Lucas", "Moreau", "Sales"),
        ("Sofia", "Lindqvist", "Sales"),
        ("Omar", "Haddad", "Sales"),
        ("Grace", "Whitfield", "Customer Success"),
        ("Jonas", "Weber", "Customer Success"),
        ("Elena", "Petrova", "Customer Success"),
        ("Sam", "Carter", "Security"),
    ];
    let mut owners: Vec<Owner> = PEOPLE
        .iter()
        .enumerate()
        .map(|(i, (first, last, team))| Owner {
            id: (90_000_001 + i as u64).to_string(),
            email: format!(
                "{}.{}@sandbox-portal.example",
                first.to_lowercase(),
                last.to_lowercase()
            ),
            first_name: (*first).into(),
            last_name: (*last).into(),
            user_id: 7_100_001 + i as u64,
            user_id_including_inactive: 7_100_001 + i as u64,
            kind: "PERSON".into(),
            teams: vec![
                serde_json::json!({"id": team_id(team).to_string(), "name": team, "primary": true}),
            ],
            archived: false,
            created_at: "2023-05-02T08:00:00.000Z".into(),
            updated_at: "2025-09-01T08:00:00.000Z".into(),
        })
        .collect();
    for (i, queue) in ["Tier 2 escalations", "AI review queue"].iter().enumerate() {
        owners.push(Owner {
            id: (90_000_101 + i as u64).to_string(),
            email: String::new(),
            first_name: (*queue).into(),
            last_name: String::new(),
            user_id: 0,
            user_id_including_inactive: 0,
            kind: "QUEUE".into(),
            teams: Vec::new(),
            archived: false,
            created_at: "2024-01-10T08:00:00.000Z".into(),
            updated_at: "2024-01-10T08:00:00.000Z".into(),
        });
    }
    owners
}

fn team_id(team: &str) -> u64 {
    match team {
        "Support" => 51_001,
        "Sales" => 51_002,
        "Customer Success" => 51_003,
        _ => 51_004,
    }
}

/// Association types. HubSpot-defined ids follow the published defaults (contact→company 279
/// is documented; the others are the commonly observed ids, UNVERIFIED in §8).
pub fn association_defs() -> Vec<AssociationDef> {
    // (from, to, typeId, inverse typeId, label)
    const PAIRS: &[(&str, &str, u32, u32, Option<&str>)] = &[
        ("0-1", "0-2", 279, 280, None),
        ("0-1", "0-2", 1, 2, Some("Primary")),
        ("0-3", "0-1", 3, 4, None),
        ("0-3", "0-2", 341, 342, None),
        ("0-3", "0-2", 5, 6, Some("Primary")),
        ("0-5", "0-1", 16, 15, None),
        ("0-5", "0-2", 339, 340, None),
        ("0-5", "0-2", 26, 25, Some("Primary")),
        ("0-5", "0-3", 28, 27, None),
        (CUSTOM_OBJECT_ID, "0-2", 1001, 1002, None),
        (CUSTOM_OBJECT_ID, "0-1", 1003, 1004, None),
    ];
    // Notes and tasks to each record type: the ids the product writes with (shared table);
    // the inverse (record → engagement) is the id below it, as HubSpot numbers them.
    let engagements = hubspot_wire::objects::records().flat_map(|o| {
        let note = o
            .note_association
            .map(|t| ("0-46", o.type_id, t, t - 1, None));
        let task = o
            .task_association
            .map(|t| ("0-27", o.type_id, t, t - 1, None));
        note.into_iter().chain(task)
    });
    let pairs: Vec<(&str, &str, u32, u32, Option<&str>)> =
        PAIRS.iter().copied().chain(engagements).collect();
    let mut defs = Vec::new();
    for (from, to, t, inv, label) in &pairs {
        let category = if from.starts_with("2-") {
            AssocCategory::UserDefined
        } else {
            AssocCategory::HubspotDefined
        };
        let is_default = label.is_none();
        defs.push(AssociationDef {
            from_type: (*from).into(),
            to_type: (*to).into(),
            category: category.as_str().into(),
            type_id: *t,
            label: label.map(str::to_string),
            inverse_type_id: *inv,
            is_default,
        });
        defs.push(AssociationDef {
            from_type: (*to).into(),
            to_type: (*from).into(),
            category: category.as_str().into(),
            type_id: *inv,
            label: label.map(str::to_string),
            inverse_type_id: *t,
            is_default,
        });
    }
    defs
}
