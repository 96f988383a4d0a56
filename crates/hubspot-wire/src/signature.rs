//! HubSpot request signatures, v1, v2 and v3, as pure functions.
//!
//! Implements <https://developers.hubspot.com/docs/api/webhooks/validating-requests>
//! (../shared/docs/hubspot-api.md §12):
//!
//! | version | string to sign | digest |
//! |---|---|---|
//! | v1 | `secret + body` | SHA-256, hex |
//! | v2 | `secret + METHOD + uri + body` | SHA-256, hex |
//! | v3 | `METHOD + decoded_uri + body + timestamp_ms` | HMAC-SHA256 keyed by the secret, base64 |
//!
//! v3 decodes *only* the twelve `%XX` sequences HubSpot lists; every other escape stays as it
//! is (neither official SDK does this step, which is why receivers behind such URIs fail).
//! Verification compares digests in constant time (`subtle`). The sandbox signs with these
//! same functions, and the test vectors pin them to HubSpot's published values.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How far in the past a v3 timestamp may be (HubSpot: 5 minutes).
pub const MAX_V3_AGE_MS: i64 = 300_000;

/// The escapes v3 decodes, and nothing else.
const V3_DECODED: [(&str, char); 12] = [
    ("%3A", ':'),
    ("%2F", '/'),
    ("%3F", '?'),
    ("%40", '@'),
    ("%21", '!'),
    ("%24", '$'),
    ("%27", '\''),
    ("%28", '('),
    ("%29", ')'),
    ("%2A", '*'),
    ("%2C", ','),
    ("%3B", ';'),
];

/// Signature v1: hex SHA-256 of `secret + body`.
pub fn sign_v1(secret: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(secret.as_bytes());
    h.update(body);
    hex::encode(h.finalize())
}

/// Signature v2: hex SHA-256 of `secret + METHOD + uri + body`.
pub fn sign_v2(secret: &str, method: &str, uri: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(secret.as_bytes());
    h.update(method.as_bytes());
    h.update(uri.as_bytes());
    h.update(body);
    hex::encode(h.finalize())
}

/// Decodes only the `%XX` sequences that HubSpot's v3 rule lists (hex digits in either case).
pub fn decode_v3_uri(uri: &str) -> String {
    let bytes = uri.as_bytes();
    let mut out = String::with_capacity(uri.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            let esc = &uri[i..i + 3];
            if let Some((_, c)) = V3_DECODED.iter().find(|(e, _)| e.eq_ignore_ascii_case(esc)) {
                out.push(*c);
                i += 3;
                continue;
            }
        }
        // Copy one UTF-8 character.
        let ch = uri[i..].chars().next().unwrap_or('\u{fffd}');
        out.push(ch);
        i += ch.len_utf8().max(1);
    }
    out
}

/// Signature v3: base64 HMAC-SHA256 (key: client secret) of `METHOD + decoded_uri + body + timestamp`.
pub fn sign_v3(secret: &str, method: &str, uri: &str, body: &[u8], timestamp_ms: i64) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(method.as_bytes());
    mac.update(decode_v3_uri(uri).as_bytes());
    mac.update(body);
    mac.update(timestamp_ms.to_string().as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Why a signature was rejected. Receivers answer every variant with the same bare 401, so
/// the detail goes to logs and metrics only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No signature header of the expected version was sent.
    #[error("the request carries no {0} signature header")]
    Missing(&'static str),
    /// The timestamp header is not an integer number of milliseconds.
    #[error("the X-HubSpot-Request-Timestamp header is not epoch milliseconds")]
    BadTimestamp,
    /// The timestamp is older than five minutes (a replay, or a badly skewed clock).
    #[error("the request timestamp is {age_ms} ms old, over the 300000 ms HubSpot allows")]
    Stale { age_ms: i64 },
    /// The timestamp is further in the future than the configured skew allowance.
    #[error("the request timestamp is {ahead_ms} ms in the future")]
    FromTheFuture { ahead_ms: i64 },
    /// The digest does not match: wrong secret, altered body, or a different URI.
    #[error("the signature does not match the request")]
    Mismatch,
}

/// Constant-time equality of two signature strings.
pub fn signatures_equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Verifies a v3 signature, including the timestamp window.
///
/// Checks a v3 `X-HubSpot-Request-Timestamp` alone: at most [`MAX_V3_AGE_MS`] old and
/// `max_future_ms` ahead. A receiver can run this before reading the body.
///
/// # Errors
/// [`SignatureError::BadTimestamp`], [`SignatureError::Stale`] or
/// [`SignatureError::FromTheFuture`].
pub fn check_v3_timestamp(
    timestamp_header: &str,
    now_ms: i64,
    max_future_ms: i64,
) -> Result<i64, SignatureError> {
    let ts: i64 = timestamp_header
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    if now_ms.saturating_sub(ts) > MAX_V3_AGE_MS {
        return Err(SignatureError::Stale {
            age_ms: now_ms.saturating_sub(ts),
        });
    }
    if ts.saturating_sub(now_ms) > max_future_ms {
        return Err(SignatureError::FromTheFuture {
            ahead_ms: ts.saturating_sub(now_ms),
        });
    }
    Ok(ts)
}

/// `max_future_ms` bounds how far ahead of `now_ms` the timestamp may be (clock skew).
///
/// # Errors
/// Returns the [`SignatureError`] naming the first check that failed.
#[allow(clippy::too_many_arguments)]
pub fn verify_v3(
    secret: &str,
    method: &str,
    uri: &str,
    body: &[u8],
    timestamp_header: &str,
    signature: &str,
    now_ms: i64,
    max_future_ms: i64,
) -> Result<(), SignatureError> {
    let ts = check_v3_timestamp(timestamp_header, now_ms, max_future_ms)?;
    let expected = sign_v3(secret, method, uri, body, ts);
    if signatures_equal(&expected, signature.trim()) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Verifies a v1 signature (no timestamp, so no replay protection: accept only when configured).
///
/// # Errors
/// [`SignatureError::Mismatch`] when the digest differs.
pub fn verify_v1(secret: &str, body: &[u8], signature: &str) -> Result<(), SignatureError> {
    if signatures_equal(
        &sign_v1(secret, body),
        &signature.trim().to_ascii_lowercase(),
    ) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Verifies a v2 signature (no timestamp: accept only when configured).
///
/// # Errors
/// [`SignatureError::Mismatch`] when the digest differs.
pub fn verify_v2(
    secret: &str,
    method: &str,
    uri: &str,
    body: &[u8],
    signature: &str,
) -> Result<(), SignatureError> {
    let expected = sign_v2(secret, method, uri, body);
    if signatures_equal(&expected, &signature.trim().to_ascii_lowercase()) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &str = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
    const URI: &str = "https://www.example.com/webhook_uri";
    const BODY: &str = r#"{"example_field":"example_value"}"#;

    #[test]
    fn matches_hubspot_v1_test_vector() {
        let body = r#"[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]"#;
        assert_eq!(
            sign_v1(SECRET, body.as_bytes()),
            "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
        );
    }

    #[test]
    fn matches_hubspot_v2_test_vectors() {
        assert_eq!(
            sign_v2(SECRET, "GET", URI, b""),
            "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
        );
        assert_eq!(
            sign_v2(SECRET, "POST", URI, BODY.as_bytes()),
            "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900"
        );
    }

    #[test]
    fn matches_v3_vector() {
        assert_eq!(
            sign_v3(SECRET, "POST", URI, BODY.as_bytes(), 1_700_000_000_000),
            "rQEKkaNUiu+1qGF//O/pw4BCzstSqO1PyUnGICmf+7o="
        );
    }

    #[test]
    fn v3_decodes_only_the_listed_escapes() {
        assert_eq!(
            decode_v3_uri("https://h.example/a%3Ab%2Fc?x=%40y%20z%2a%E2%9C%93"),
            "https://h.example/a:b/c?x=@y%20z*%E2%9C%93"
        );
        // Encoded and decoded spellings of the same URI sign identically.
        let enc = sign_v3(SECRET, "POST", "https://h.example/hook%3Fa", b"[]", 1);
        let dec = sign_v3(SECRET, "POST", "https://h.example/hook?a", b"[]", 1);
        assert_eq!(enc, dec);
    }

    #[test]
    fn rejects_timestamp_older_than_five_minutes() {
        let ts = 1_700_000_000_000_i64;
        let sig = sign_v3(SECRET, "POST", URI, BODY.as_bytes(), ts);
        let ok = verify_v3(
            SECRET,
            "POST",
            URI,
            BODY.as_bytes(),
            &ts.to_string(),
            &sig,
            ts + 299_999,
            60_000,
        );
        assert_eq!(ok, Ok(()));
        let stale = verify_v3(
            SECRET,
            "POST",
            URI,
            BODY.as_bytes(),
            &ts.to_string(),
            &sig,
            ts + 300_001,
            60_000,
        );
        assert!(matches!(stale, Err(SignatureError::Stale { .. })));
        let future = verify_v3(
            SECRET,
            "POST",
            URI,
            BODY.as_bytes(),
            &ts.to_string(),
            &sig,
            ts - 60_001,
            60_000,
        );
        assert!(matches!(future, Err(SignatureError::FromTheFuture { .. })));
    }

    #[test]
    fn rejects_altered_body_uri_and_method() {
        let ts = 1_700_000_000_000_i64;
        let sig = sign_v3(SECRET, "POST", URI, BODY.as_bytes(), ts);
        let t = ts.to_string();
        assert_eq!(
            verify_v3(SECRET, "POST", URI, b"{}", &t, &sig, ts, 0),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_v3(
                SECRET,
                "POST",
                "https://www.example.com/other",
                BODY.as_bytes(),
                &t,
                &sig,
                ts,
                0
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_v3(SECRET, "PUT", URI, BODY.as_bytes(), &t, &sig, ts, 0),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_v3("other", "POST", URI, BODY.as_bytes(), &t, &sig, ts, 0),
            Err(SignatureError::Mismatch)
        );
    }

    proptest! {
        #[test]
        fn verify_accepts_own_signature_and_rejects_any_flipped_byte(
            body in proptest::collection::vec(any::<u8>(), 1..256),
            flip in any::<prop::sample::Index>(),
            ts in 1_600_000_000_000_i64..1_900_000_000_000,
        ) {
            let sig = sign_v3(SECRET, "POST", URI, &body, ts);
            prop_assert_eq!(verify_v3(SECRET, "POST", URI, &body, &ts.to_string(), &sig, ts, 0), Ok(()));
            let mut altered = body.clone();
            let i = flip.index(altered.len());
            altered[i] ^= 0x01;
            prop_assert_eq!(verify_v3(SECRET, "POST", URI, &altered, &ts.to_string(), &sig, ts, 0), Err(SignatureError::Mismatch));
            let v1 = sign_v1(SECRET, &body);
            prop_assert!(verify_v1(SECRET, &body, &v1).is_ok());
            prop_assert!(verify_v1(SECRET, &altered, &v1).is_err());
        }
    }
}
