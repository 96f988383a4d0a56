//! How HubSpot reads a property value it is sent, by the property's type.
//!
//! Every value on a HubSpot record is a string, and HubSpot reads what it is sent before it
//! stores it: a number is trimmed (`" 999999"` is stored as `999999`, `"1e6"` as a million), a
//! boolean is `true`/`false` in any case, a date is midnight UTC, a datetime is ISO 8601 or
//! epoch milliseconds. Enumerations are matched exactly (their values are case-sensitive), and
//! so are strings.
//!
//! The product's handoff gate judges a change by the value HubSpot will store, never by the
//! text it was given (a padded `" 999999"` once passed a threshold that `"999999"` would not),
//! and the sandbox stores what HubSpot would. Both call [`read_value`], so they cannot disagree.

use crate::time::{iso_ms, parse_hs_datetime};

/// Why HubSpot would refuse a value, as its validation error code and the reading it expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {expected}")]
pub struct ValueError {
    /// HubSpot's error code (`INVALID_DECIMAL`, `INVALID_BOOLEAN`, `INVALID_DATE`, ...).
    pub code: &'static str,
    /// What the property takes, in words.
    pub expected: &'static str,
    /// The value as sent.
    pub value: String,
    /// A value HubSpot would take instead, when one is obvious (`"1,000"` → `1000`).
    pub suggestion: Option<String>,
}

/// The value HubSpot stores when `value` is written to a property of type `kind` (`number`,
/// `bool`, `date`, `datetime`, `enumeration`, `string`, ...). Empty clears the value. Types
/// this module does not read (strings, enumerations, phone numbers) are returned unchanged:
/// enumeration values are checked against the property's options by the caller.
///
/// # Errors
/// [`ValueError`] when HubSpot would refuse the value.
pub fn read_value(kind: &str, value: &str) -> Result<String, ValueError> {
    if value.is_empty() {
        return Ok(String::new());
    }
    let err = |code, expected, suggestion| ValueError {
        code,
        expected,
        value: value.to_string(),
        suggestion,
    };
    match kind {
        "number" => read_number(value).ok_or_else(|| {
            err(
                "INVALID_DECIMAL",
                "number (digits, an optional sign, decimal point and exponent; no thousands separators)",
                suggest_number(value),
            )
        }),
        "bool" => match value.trim().to_ascii_lowercase().as_str() {
            "true" => Ok("true".into()),
            "false" => Ok("false".into()),
            _ => Err(err("INVALID_BOOLEAN", "boolean (true or false)", None)),
        },
        // A time outside what can be written as a date is refused, never turned into an
        // empty value (which would clear the property) or into 1970.
        "date" => match parse_hs_datetime(value).map(|ms| (ms, chrono::DateTime::from_timestamp_millis(ms))) {
            Some((ms, Some(d))) if ms.rem_euclid(86_400_000) == 0 => Ok(d.format("%Y-%m-%d").to_string()),
            Some((_, Some(_))) => Err(err("INVALID_DATE", "date (midnight UTC: YYYY-MM-DD)", None)),
            _ => Err(err("INVALID_DATE", "date (YYYY-MM-DD)", None)),
        },
        "datetime" => parse_hs_datetime(value)
            .filter(|ms| chrono::DateTime::from_timestamp_millis(*ms).is_some())
            .map(iso_ms)
            .ok_or_else(|| err("INVALID_DATETIME", "datetime (ISO 8601 or epoch milliseconds)", None)),
        _ => Ok(value.to_string()),
    }
}

/// A number as HubSpot reads it: surrounding whitespace is ignored; the rest must be a finite
/// decimal (`+5`, `.5`, `1e6` are numbers; `1,000`, `0x10`, `NaN`, `Infinity` are not).
/// Plain decimals keep their digits (no precision is lost); other spellings are written out.
fn read_number(value: &str) -> Option<String> {
    let v = value.trim();
    let plain = {
        let body = v.strip_prefix('-').unwrap_or(v);
        !body.is_empty()
            && body.chars().all(|c| c.is_ascii_digit() || c == '.')
            && body.chars().filter(|c| *c == '.').count() <= 1
            && body.chars().next().is_some_and(|c| c.is_ascii_digit())
            && body.chars().last().is_some_and(|c| c.is_ascii_digit())
    };
    // Rust's float syntax is a superset of the decimal syntax, except for the words it takes.
    if v.chars()
        .any(|c| c.is_ascii_alphabetic() && !matches!(c, 'e' | 'E'))
    {
        return None;
    }
    let n: f64 = v.parse().ok().filter(|n: &f64| n.is_finite())?;
    Some(if plain {
        v.to_string()
    } else {
        format_number(n)
    })
}

fn format_number(n: f64) -> String {
    if n == 0.0 {
        return "0".into();
    }
    // `Display` for f64 never uses an exponent and prints the shortest exact round-trip.
    n.to_string()
}

/// `"1,000,000"` → `1000000`, `"1.000.000,50"` → `1000000.50`, `"$5"` → `5`: a hint only;
/// nothing is written from it.
fn suggest_number(value: &str) -> Option<String> {
    let kept: String = value
        .trim()
        .chars()
        .filter(|c| c.is_ascii_digit() || matches!(c, '.' | ',' | '-'))
        .collect();
    let (int, frac) = match (kept.rfind('.'), kept.rfind(',')) {
        (Some(d), Some(c)) if c > d => (kept[..c].replace(['.', ','], ""), Some(&kept[c + 1..])),
        (Some(d), Some(_)) => (kept[..d].replace(['.', ','], ""), Some(&kept[d + 1..])),
        (None, Some(c)) if kept.len() - c - 1 != 3 => (kept[..c].to_string(), Some(&kept[c + 1..])),
        _ => (kept.replace(',', ""), None),
    };
    let s = match frac {
        Some(f) if !f.is_empty() => format!("{int}.{f}"),
        _ => int,
    };
    read_number(&s).filter(|_| s != value)
}

/// The number a stored value stands for, for rules that compare amounts.
pub fn number_of(stored: &str) -> Option<f64> {
    read_number(stored).and_then(|s| s.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_as_hubspot_reads_them() {
        for (sent, stored) in [
            (" 999999", "999999"),
            ("5000000\n", "5000000"),
            ("\t7777777", "7777777"),
            ("1e6", "1000000"),
            ("2.5E3", "2500"),
            ("+5", "5"),
            (".5", "0.5"),
            ("-12.50", "-12.50"),
            ("12345678901234567890", "12345678901234567890"),
        ] {
            assert_eq!(read_value("number", sent).unwrap(), stored, "{sent:?}");
        }
        for refused in [
            "1,000,000",
            "1.000.000,00",
            "0x10",
            "NaN",
            "inf",
            "Infinity",
            "1e999",
            "5 000",
            "$5",
            "1_000",
            "--1",
        ] {
            let e = read_value("number", refused).unwrap_err();
            assert_eq!(e.code, "INVALID_DECIMAL", "{refused:?}");
        }
        assert_eq!(
            read_value("number", "1,000,000")
                .unwrap_err()
                .suggestion
                .as_deref(),
            Some("1000000")
        );
        assert_eq!(
            read_value("number", "1.000.000,50")
                .unwrap_err()
                .suggestion
                .as_deref(),
            Some("1000000.50")
        );
        assert_eq!(number_of(" 999999"), Some(999_999.0));
    }

    #[test]
    fn booleans_dates_and_datetimes() {
        assert_eq!(read_value("bool", " TRUE ").unwrap(), "true");
        assert!(read_value("bool", "yes").is_err());
        assert_eq!(read_value("date", "2026-03-01").unwrap(), "2026-03-01");
        assert_eq!(read_value("date", "1772323200000").unwrap(), "2026-03-01");
        assert!(read_value("date", "2026-03-01T10:00:00Z").is_err());
        assert_eq!(
            read_value("datetime", "1772323200000").unwrap(),
            "2026-03-01T00:00:00.000Z"
        );
        assert_eq!(read_value("enumeration", " HIGH").unwrap(), " HIGH");
        assert_eq!(read_value("number", "").unwrap(), "");
        assert!(
            read_value("date", "8640000000000000000").is_err(),
            "never cleared"
        );
        assert!(
            read_value("datetime", "8640000000000000000").is_err(),
            "never 1970"
        );
    }
}
