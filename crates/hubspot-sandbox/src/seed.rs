//! Deterministic, realistic seeded data: the same seed gives the same portal, byte for byte.
//!
//! By default 5,000 contacts, 1,000 companies, 2,000 deals and 3,000 tickets (the 11,000
//! records later issues backfill), plus notes on tickets and custom-object projects, with
//! associations, owners, pipelines and custom properties.
//!
//! The data is deliberately messy where real portals are: about 3% of people are duplicated
//! with their email in other case or with stray spaces (as imports leave them), phones come in
//! a dozen formats, and some fields are blank. Ticket and note text comes from
//! [`seed_text`](super::seed_text): real topics in varied words, with each record's topic kept
//! as ground truth for retrieval benchmarks (never as a property, so it cannot leak).

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::catalog::{CUSTOM_OBJECT_ID, DEAL_STAGE_OPTIONS};
use super::model::{AssocCategory, AssocType};
use super::seed_text::{note_text, ticket_text, TOPICS};
use super::store::Store;
use hubspot_wire::time::iso_ms;

/// How many records of each type to seed.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct RecordCounts {
    pub contacts: usize,
    pub companies: usize,
    pub deals: usize,
    pub tickets: usize,
    pub notes: usize,
    pub projects: usize,
}

impl Default for RecordCounts {
    fn default() -> Self {
        Self::scaled(5_000)
    }
}

impl RecordCounts {
    /// Counts scaled from a number of contacts, in the default proportions.
    pub fn scaled(contacts: usize) -> Self {
        Self {
            contacts,
            companies: contacts / 5,
            deals: contacts * 2 / 5,
            tickets: contacts * 3 / 5,
            notes: contacts * 3 / 10,
            projects: contacts / 25,
        }
    }

    /// No records at all (tests that build their own data).
    pub fn empty() -> Self {
        Self {
            contacts: 0,
            companies: 0,
            deals: 0,
            tickets: 0,
            notes: 0,
            projects: 0,
        }
    }
}

/// The fixed point seeded dates are spread back from (2026-06-01T00:00:00Z), so the data does
/// not depend on when it is generated.
pub const ANCHOR_MS: i64 = 1_780_272_000_000;
const DAY: i64 = 86_400_000;

const FIRST: &[&str] = &[
    "James", "Mary", "Wei", "Fatima", "Carlos", "Anna", "Kenji", "Olivia", "Mohammed", "Sofia",
    "Liam", "Chloe", "Noah", "Amara", "Lukas", "Isabella", "Raj", "Emma", "Mateo", "Hannah",
    "Yuki", "Ethan", "Zara", "Oscar", "Leila", "Felix", "Grace", "Ivan", "Nora", "Samuel", "Mei",
    "Diego", "Ingrid", "Tariq", "Lucia", "Henrik", "Aisha", "Pierre", "Maya", "Jonas",
];
const LAST: &[&str] = &[
    "Smith",
    "Garcia",
    "Chen",
    "Khan",
    "Müller",
    "Rossi",
    "Tanaka",
    "Johnson",
    "Okafor",
    "Silva",
    "Novak",
    "Dubois",
    "Kowalski",
    "Nguyen",
    "Andersson",
    "O'Brien",
    "Patel",
    "Schmidt",
    "Cohen",
    "Santos",
    "Larsen",
    "Ivanova",
    "Moreau",
    "Fischer",
    "Haddad",
    "Brown",
    "Kim",
    "Lopez",
    "Wright",
    "Yilmaz",
];
const CO_A: &[&str] = &[
    "Blue",
    "Northwind",
    "Summit",
    "Acme",
    "Bright",
    "Harbor",
    "Granite",
    "Silver",
    "Pioneer",
    "Vertex",
    "Cedar",
    "Quantum",
    "Atlas",
    "Evergreen",
    "Redwood",
    "Orbit",
    "Lumen",
    "Keystone",
];
const CO_B: &[&str] = &[
    "Analytics",
    "Logistics",
    "Health",
    "Systems",
    "Retail",
    "Capital",
    "Labs",
    "Foods",
    "Energy",
    "Media",
    "Robotics",
    "Learning",
    "Freight",
    "Software",
];
const CO_SUFFIX: &[&str] = &["Inc.", "LLC", "GmbH", "Ltd", "Group", "Co.", "SA", ""];
const TLD: &[&str] = &["com", "io", "co", "de", "co.uk", "net"];
const CITIES: &[(&str, &str)] = &[
    ("Boston", "United States"),
    ("Austin", "United States"),
    ("San Francisco", "United States"),
    ("London", "United Kingdom"),
    ("Manchester", "United Kingdom"),
    ("Berlin", "Germany"),
    ("Munich", "Germany"),
    ("Paris", "France"),
    ("Toronto", "Canada"),
    ("Sydney", "Australia"),
    ("Dublin", "Ireland"),
    ("Tokyo", "Japan"),
];
const TITLES: &[&str] = &[
    "CTO",
    "VP Sales",
    "Head of Support",
    "IT Administrator",
    "Operations Manager",
    "CFO",
    "Marketing Director",
    "Data Engineer",
    "Customer Success Lead",
    "Founder",
    "",
];
const INDUSTRIES: &[&str] = &[
    "COMPUTER_SOFTWARE",
    "FINANCIAL_SERVICES",
    "HOSPITAL_HEALTH_CARE",
    "RETAIL",
    "MARKETING_AND_ADVERTISING",
    "LOGISTICS_AND_SUPPLY_CHAIN",
    "EDUCATION_MANAGEMENT",
    "MANUFACTURING",
];
const PRODUCTS: &[&str] = &[
    "Platform",
    "Analytics add-on",
    "Support seats",
    "Data connector",
    "Enterprise plan",
    "Onboarding package",
];

fn slug(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase()
}

fn ascii(s: &str) -> String {
    s.replace('ü', "ue").replace('\'', "")
}

/// A phone number in one of the formats real portals hold.
fn phone(rng: &mut ChaCha8Rng, country: &str) -> String {
    let (a, b, c) = (
        rng.gen_range(200..999),
        rng.gen_range(200..999),
        rng.gen_range(1000..9999),
    );
    match country {
        "United Kingdom" | "Ireland" => {
            let n = rng.gen_range(1000..9999);
            let formats = [
                format!("+44 20 {b}{} {n}", c % 10),
                format!("020 {b}{} {n}", c % 10),
                format!("(020) {b}{}-{n}", c % 10),
                format!("0044 20{b}{}{n}", c % 10),
            ];
            formats.choose(rng).cloned().unwrap_or_default()
        }
        "Germany" => {
            let formats = [
                format!("+49 30 {b}{c}"),
                format!("030 / {b} {c}"),
                format!("+49 (0)30-{b}-{c}"),
            ];
            formats.choose(rng).cloned().unwrap_or_default()
        }
        _ => {
            let formats = [
                format!("+1 ({a}) {b}-{c}"),
                format!("{a}.{b}.{c}"),
                format!("{a}{b}{c}"),
                format!("({a}){b}-{c}"),
                format!("+1-{a}-{b}-{c}"),
                format!("1 {a} {b} {c}"),
                format!("{a}-{b}-{c} ext {}", rng.gen_range(10..99)),
            ];
            formats.choose(rng).cloned().unwrap_or_default()
        }
    }
}

/// Messes up an email the way imports do: other case, stray spaces.
fn messy_email(rng: &mut ChaCha8Rng, email: &str) -> String {
    match rng.gen_range(0..4) {
        0 => email.to_uppercase(),
        1 => format!(" {email} "),
        2 => {
            let mut chars: Vec<char> = email.chars().collect();
            if let Some(c) = chars.first_mut() {
                *c = c.to_ascii_uppercase();
            }
            chars.into_iter().collect::<String>() + " "
        }
        _ => {
            let (local, domain) = email.split_once('@').unwrap_or((email, ""));
            format!("{}@{}", local, domain.to_uppercase())
        }
    }
}

fn when(rng: &mut ChaCha8Rng, max_days_back: i64) -> i64 {
    ANCHOR_MS - rng.gen_range(0..max_days_back * DAY)
}

fn put(props: &mut BTreeMap<String, String>, k: &str, v: impl Into<String>) {
    let v = v.into();
    if !v.is_empty() {
        props.insert(k.to_string(), v);
    }
}

fn link(store: &mut Store, from: &str, a: u64, to: &str, b: u64, type_id: u32) {
    let cat = if from.starts_with("2-") || to.starts_with("2-") {
        AssocCategory::UserDefined
    } else {
        AssocCategory::HubspotDefined
    };
    let _ = store.associate(
        from,
        a,
        to,
        b,
        AssocType {
            category: cat,
            type_id,
        },
        ANCHOR_MS,
        false,
    );
}

/// Seeds `store` deterministically from `seed`.
pub fn populate(store: &mut Store, seed: u64, counts: RecordCounts) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let owners: Vec<String> = store
        .owners
        .iter()
        .filter(|o| o.kind == "PERSON")
        .map(|o| o.id.clone())
        .collect();
    let support: Vec<String> = owners.iter().take(4).cloned().collect();

    // Companies.
    let mut companies = Vec::with_capacity(counts.companies);
    for i in 0..counts.companies {
        let name = format!(
            "{} {} {}",
            CO_A.choose(&mut rng).unwrap_or(&"Acme"),
            CO_B.choose(&mut rng).unwrap_or(&"Labs"),
            CO_SUFFIX.choose(&mut rng).unwrap_or(&"")
        )
        .trim()
        .to_string();
        let domain = format!(
            "{}{}.{}",
            slug(&name.replace(" Inc.", "").replace(" LLC", "")),
            i,
            TLD.choose(&mut rng).unwrap_or(&"com")
        );
        let (city, country) = *CITIES
            .choose(&mut rng)
            .unwrap_or(&("Boston", "United States"));
        let mut p = BTreeMap::new();
        put(&mut p, "name", name.clone());
        put(&mut p, "domain", domain.clone());
        if rng.gen_bool(0.7) {
            put(&mut p, "website", format!("https://www.{domain}"));
        }
        put(&mut p, "city", city);
        put(&mut p, "country", country);
        if rng.gen_bool(0.8) {
            put(&mut p, "phone", phone(&mut rng, country));
        }
        put(
            &mut p,
            "industry",
            *INDUSTRIES.choose(&mut rng).unwrap_or(&"RETAIL"),
        );
        put(
            &mut p,
            "numberofemployees",
            rng.gen_range(5..20_000).to_string(),
        );
        put(
            &mut p,
            "annualrevenue",
            (rng.gen_range(1..5_000) * 10_000).to_string(),
        );
        put(
            &mut p,
            "lifecyclestage",
            *["lead", "opportunity", "customer", "customer", "other"]
                .choose(&mut rng)
                .unwrap_or(&"lead"),
        );
        if rng.gen_bool(0.6) {
            put(
                &mut p,
                "customer_tier",
                *["bronze", "silver", "gold", "platinum"]
                    .choose(&mut rng)
                    .unwrap_or(&"bronze"),
            );
        }
        put(&mut p, "health_score", rng.gen_range(10..100).to_string());
        put(
            &mut p,
            "hubspot_owner_id",
            owners.choose(&mut rng).cloned().unwrap_or_default(),
        );
        put(&mut p, "crm_external_id", format!("CMP-{:05}", i + 1));
        let created = when(&mut rng, 900);
        let id = store.insert_seeded("0-2", p, created, created + rng.gen_range(0..60) * DAY);
        companies.push((id, name, domain, country.to_string()));
    }

    // Contacts, with duplicates.
    let mut contacts: Vec<(u64, Option<usize>)> = Vec::with_capacity(counts.contacts);
    let mut emails: Vec<(String, String, String, Option<usize>)> = Vec::new();
    for i in 0..counts.contacts {
        let mut p = BTreeMap::new();
        let dup = i > 20 && rng.gen_bool(0.03);
        let (first, last, email, company) = if dup {
            let (f, l, e, c) = emails.choose(&mut rng).cloned().unwrap_or_default();
            let messy = messy_email(&mut rng, &e);
            (f, l, messy, c)
        } else {
            let first = FIRST.choose(&mut rng).unwrap_or(&"Alex").to_string();
            let last = LAST.choose(&mut rng).unwrap_or(&"Doe").to_string();
            let company = (!companies.is_empty()).then(|| rng.gen_range(0..companies.len()));
            let domain =
                company.map_or_else(|| "example.com".to_string(), |c| companies[c].2.clone());
            let local = match rng.gen_range(0..4) {
                0 => format!("{}.{}", ascii(&first), ascii(&last)),
                1 => format!("{}{}", &ascii(&first)[..1], ascii(&last)),
                2 => format!("{}_{}", ascii(&first), ascii(&last)),
                _ => ascii(&first),
            }
            .to_lowercase();
            let email = format!("{local}{i}@{domain}");
            emails.push((first.clone(), last.clone(), email.clone(), company));
            (first, last, email, company)
        };
        let country = company.map_or("United States".to_string(), |c| companies[c].3.clone());
        if rng.gen_bool(0.95) {
            put(&mut p, "firstname", first.clone());
        }
        if rng.gen_bool(0.97) {
            put(&mut p, "lastname", last.clone());
        }
        if rng.gen_bool(0.98) {
            put(&mut p, "email", email);
        }
        if rng.gen_bool(0.8) {
            put(&mut p, "phone", phone(&mut rng, &country));
        }
        if rng.gen_bool(0.25) {
            put(&mut p, "mobilephone", phone(&mut rng, &country));
        }
        if let Some(c) = company {
            put(&mut p, "company", companies[c].1.clone());
        }
        put(&mut p, "jobtitle", *TITLES.choose(&mut rng).unwrap_or(&""));
        put(&mut p, "country", country.clone());
        put(
            &mut p,
            "lifecyclestage",
            *[
                "subscriber",
                "lead",
                "marketingqualifiedlead",
                "salesqualifiedlead",
                "opportunity",
                "customer",
                "customer",
            ]
            .choose(&mut rng)
            .unwrap_or(&"lead"),
        );
        if rng.gen_bool(0.5) {
            put(
                &mut p,
                "hs_lead_status",
                *["NEW", "OPEN", "IN_PROGRESS", "CONNECTED", "UNQUALIFIED"]
                    .choose(&mut rng)
                    .unwrap_or(&"NEW"),
            );
        }
        if rng.gen_bool(0.6) {
            put(
                &mut p,
                "customer_tier",
                *["bronze", "silver", "gold", "platinum"]
                    .choose(&mut rng)
                    .unwrap_or(&"bronze"),
            );
        }
        put(
            &mut p,
            "preferred_language",
            *["en", "en", "en", "de", "fr", "es", "ja"]
                .choose(&mut rng)
                .unwrap_or(&"en"),
        );
        if rng.gen_bool(0.3) {
            let d = ANCHOR_MS + rng.gen_range(0..365) * DAY;
            put(
                &mut p,
                "renewal_date",
                chrono::DateTime::from_timestamp_millis(d)
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .unwrap_or_default(),
            );
        }
        put(
            &mut p,
            "vip",
            if rng.gen_bool(0.05) { "true" } else { "false" },
        );
        put(
            &mut p,
            "hs_email_optout",
            if rng.gen_bool(0.1) { "true" } else { "false" },
        );
        if rng.gen_bool(0.8) {
            put(
                &mut p,
                "hubspot_owner_id",
                owners.choose(&mut rng).cloned().unwrap_or_default(),
            );
        }
        if !dup && rng.gen_bool(0.5) {
            put(&mut p, "crm_external_id", format!("CRM-{:06}", i + 1));
        }
        let created = when(&mut rng, 730);
        let id = store.insert_seeded("0-1", p, created, created + rng.gen_range(0..90) * DAY);
        if let Some(c) = company {
            link(store, "0-1", id, "0-2", companies[c].0, 279);
            if rng.gen_bool(0.9) {
                link(store, "0-1", id, "0-2", companies[c].0, 1);
            }
        }
        contacts.push((id, company));
    }

    // Deals.
    for i in 0..counts.deals {
        let mut p = BTreeMap::new();
        let company = (!companies.is_empty()).then(|| rng.gen_range(0..companies.len()));
        let cname = company.map_or("Prospect".to_string(), |c| companies[c].1.clone());
        let renewal = rng.gen_bool(0.2);
        put(
            &mut p,
            "dealname",
            format!(
                "{cname} - {}",
                PRODUCTS.choose(&mut rng).unwrap_or(&"Platform")
            ),
        );
        put(&mut p, "amount", format!("{}", rng.gen_range(5..500) * 100));
        let stage = if renewal {
            DEAL_STAGE_OPTIONS[7 + rng.gen_range(0..3)].0
        } else {
            DEAL_STAGE_OPTIONS[rng.gen_range(0..7)].0
        };
        put(
            &mut p,
            "pipeline",
            if renewal { "renewals" } else { "default" },
        );
        put(&mut p, "dealstage", stage);
        put(
            &mut p,
            "dealtype",
            if renewal {
                "existingbusiness"
            } else {
                "newbusiness"
            },
        );
        put(
            &mut p,
            "closedate",
            iso_ms(ANCHOR_MS + rng.gen_range(-180..180) * DAY),
        );
        if rng.gen_bool(0.5) {
            put(
                &mut p,
                "deal_health",
                *["on_track", "at_risk", "stalled"]
                    .choose(&mut rng)
                    .unwrap_or(&"on_track"),
            );
        }
        put(
            &mut p,
            "hubspot_owner_id",
            owners[4..8.min(owners.len())]
                .choose(&mut rng)
                .cloned()
                .unwrap_or_default(),
        );
        put(&mut p, "crm_external_id", format!("DEAL-{:05}", i + 1));
        let created = when(&mut rng, 540);
        let id = store.insert_seeded("0-3", p, created, created + rng.gen_range(0..60) * DAY);
        if let Some(c) = company {
            link(store, "0-3", id, "0-2", companies[c].0, 341);
            link(store, "0-3", id, "0-2", companies[c].0, 5);
            let people: Vec<u64> = contacts
                .iter()
                .filter(|(_, co)| *co == Some(c))
                .map(|(id, _)| *id)
                .take(3)
                .collect();
            for person in people.into_iter().take(rng.gen_range(1..=3)) {
                link(store, "0-3", id, "0-1", person, 3);
            }
        }
    }

    // Tickets, each on one topic.
    let mut tickets = Vec::with_capacity(counts.tickets);
    for _ in 0..counts.tickets {
        let topic = rng.gen_range(0..TOPICS.len());
        let (subject, content) = ticket_text(&mut rng, topic);
        let t = &TOPICS[topic];
        let mut p = BTreeMap::new();
        put(&mut p, "subject", subject);
        put(&mut p, "content", content);
        put(&mut p, "hs_pipeline", "0");
        put(
            &mut p,
            "hs_pipeline_stage",
            *["1", "2", "3", "4", "4"].choose(&mut rng).unwrap_or(&"1"),
        );
        let priority = if rng.gen_bool(0.7) {
            t.default_priority
        } else {
            ["LOW", "MEDIUM", "HIGH", "URGENT"]
                .choose(&mut rng)
                .copied()
                .unwrap_or("MEDIUM")
        };
        put(&mut p, "hs_ticket_priority", priority);
        put(&mut p, "product_area", t.product_area);
        let category = match t.product_area {
            "billing" => "BILLING_ISSUE",
            _ if t.key.contains("feature") => "FEATURE_REQUEST",
            "onboarding" => "GENERAL_INQUIRY",
            _ => "PRODUCT_ISSUE",
        };
        put(&mut p, "hs_ticket_category", category);
        put(
            &mut p,
            "source_type",
            *["EMAIL", "CHAT", "PHONE", "FORM"]
                .choose(&mut rng)
                .unwrap_or(&"EMAIL"),
        );
        if rng.gen_bool(0.7) {
            put(
                &mut p,
                "hubspot_owner_id",
                support.choose(&mut rng).cloned().unwrap_or_default(),
            );
        }
        let created = when(&mut rng, 365);
        let id = store.insert_seeded("0-5", p, created, created + rng.gen_range(0..20) * DAY);
        store.topics.insert(id, topic);
        if let Some((cid, company)) = contacts.choose(&mut rng).copied() {
            link(store, "0-5", id, "0-1", cid, 16);
            if let Some(c) = company {
                link(store, "0-5", id, "0-2", companies[c].0, 339);
                link(store, "0-5", id, "0-2", companies[c].0, 26);
            }
        }
        tickets.push((id, topic, created));
    }

    // Notes on tickets, about the ticket's topic.
    for _ in 0..counts.notes {
        let Some((ticket, topic, created)) = tickets.choose(&mut rng).copied() else {
            break;
        };
        let mut p = BTreeMap::new();
        put(&mut p, "hs_note_body", note_text(&mut rng, topic));
        let at = created + rng.gen_range(0..10) * DAY;
        put(&mut p, "hs_timestamp", iso_ms(at));
        put(
            &mut p,
            "hubspot_owner_id",
            support.choose(&mut rng).cloned().unwrap_or_default(),
        );
        let id = store.insert_seeded("0-46", p, at, at);
        store.topics.insert(id, topic);
        link(store, "0-46", id, "0-5", ticket, 228);
    }

    // Custom objects: projects.
    for i in 0..counts.projects {
        let mut p = BTreeMap::new();
        let company = (!companies.is_empty()).then(|| rng.gen_range(0..companies.len()));
        let cname = company.map_or("Internal".to_string(), |c| companies[c].1.clone());
        put(
            &mut p,
            "project_name",
            format!(
                "{cname} {} rollout",
                ["pilot", "phase 2", "global", "EMEA", "migration"]
                    .choose(&mut rng)
                    .unwrap_or(&"pilot")
            ),
        );
        put(&mut p, "project_code", format!("PRJ-{:04}", i + 1));
        put(
            &mut p,
            "project_status",
            *["planned", "active", "on_hold", "done"]
                .choose(&mut rng)
                .unwrap_or(&"active"),
        );
        put(
            &mut p,
            "budget",
            (rng.gen_range(10..500) * 1_000).to_string(),
        );
        let golive = ANCHOR_MS + rng.gen_range(-200..200) * DAY;
        put(
            &mut p,
            "go_live_date",
            chrono::DateTime::from_timestamp_millis(golive)
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
        );
        let created = when(&mut rng, 400);
        let id = store.insert_seeded(CUSTOM_OBJECT_ID, p, created, created);
        if let Some(c) = company {
            link(store, CUSTOM_OBJECT_ID, id, "0-2", companies[c].0, 1001);
        }
    }
}
