//! Facts of the CRM Search API that both sides of the wire must agree on.

/// The filter operators a search accepts (`filterGroups[].filters[].operator`).
pub const OPERATORS: &[&str] = &[
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
];
