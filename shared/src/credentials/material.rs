//! The secret material of one server credential: what an admin sends to `set_credential`,
//! what gets sealed, and the headers it becomes on upstream requests.
//!
//! Invariants:
//! - Validation messages name fields and header names, never a secret value.
//! - Header values are single-line printable text, so a credential can never inject a header.
//! - Reserved headers (transport, MCP session) can never be set by a credential.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::api::field_error;
use crate::error::{Error, Result};

pub const CREDENTIAL_TYPES: [&str; 5] = [
    "api_key",
    "bearer",
    "basic_auth",
    "oauth_token",
    "custom_headers",
];
pub const DEFAULT_API_KEY_HEADER: &str = "X-API-Key";
const MAX_VALUE_LEN: usize = 8192;
const MAX_CUSTOM_HEADERS: usize = 16;
const MAX_EXPIRES_IN_SECS: u64 = 10 * 365 * 86_400;
const RESERVED_HEADERS: [&str; 14] = [
    "host",
    "content-length",
    "content-type",
    "accept",
    "connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
    "cookie",
];

/// The plaintext that gets sealed (serialised as JSON, tagged by type).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Material {
    ApiKey { header_name: String, value: String },
    Bearer { token: String },
    BasicAuth { username: String, password: String },
    OauthToken { access_token: String },
    CustomHeaders { headers: BTreeMap<String, String> },
}

impl std::fmt::Debug for Material {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Material::{}(redacted)", self.credential_type())
    }
}

/// A validated `set_credential` request: the secret plus its non-secret attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCredential {
    pub material: Material,
    /// The header an `api_key` goes in (stored in the clear: it is not secret).
    pub header_name: Option<String>,
    /// Expiry of an `oauth_token`, epoch milliseconds.
    pub expires_at_ms: Option<u64>,
}

impl Material {
    pub fn credential_type(&self) -> &'static str {
        match self {
            Material::ApiKey { .. } => "api_key",
            Material::Bearer { .. } => "bearer",
            Material::BasicAuth { .. } => "basic_auth",
            Material::OauthToken { .. } => "oauth_token",
            Material::CustomHeaders { .. } => "custom_headers",
        }
    }

    /// The headers this credential adds to every upstream request.
    pub fn headers(&self) -> Vec<(String, String)> {
        match self {
            Material::ApiKey { header_name, value } => vec![(header_name.clone(), value.clone())],
            Material::Bearer { token }
            | Material::OauthToken {
                access_token: token,
            } => vec![("Authorization".into(), format!("Bearer {token}"))],
            Material::BasicAuth { username, password } => vec![(
                "Authorization".into(),
                format!(
                    "Basic {}",
                    STANDARD.encode(format!("{username}:{password}"))
                ),
            )],
            Material::CustomHeaders { headers } => headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    /// Every value that must never be stored or shown: each header value and the raw secrets
    /// inside them (a bearer token without its scheme, a basic-auth password).
    pub fn secret_values(&self) -> Vec<String> {
        let mut values: Vec<String> = self.headers().into_iter().map(|(_, v)| v).collect();
        match self {
            Material::ApiKey { value, .. } => values.push(value.clone()),
            Material::Bearer { token }
            | Material::OauthToken {
                access_token: token,
            } => values.push(token.clone()),
            Material::BasicAuth { username, password } => {
                values.push(password.clone());
                values.push(format!("{username}:{password}"));
            }
            Material::CustomHeaders { .. } => {}
        }
        values
    }

    pub fn to_plaintext(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("material serialises")
    }

    pub fn from_plaintext(bytes: &[u8]) -> Option<Material> {
        serde_json::from_slice(bytes).ok()
    }
}

/// Validates `credential_type` and the `credential` object of a `set_credential` request.
pub fn parse_new(
    credential_type: &str,
    credential: &Map<String, Value>,
    now_ms: u64,
) -> Result<NewCredential> {
    let fields: &[&str] = match credential_type {
        "api_key" => &["value", "header_name"],
        "bearer" => &["token"],
        "basic_auth" => &["username", "password"],
        "oauth_token" => &["access_token", "expires_at", "expires_in", "token_type"],
        "custom_headers" => &["headers"],
        _ => {
            return Err(field_error(
                "credential_type",
                "must be one of api_key, bearer, basic_auth, oauth_token, custom_headers",
            ))
        }
    };
    if let Some(unknown) = credential.keys().find(|k| !fields.contains(&k.as_str())) {
        return Err(Error::validation_with(
            format!("'credential.{unknown}' is not a field of a {credential_type} credential"),
            serde_json::json!({ "field": format!("credential.{unknown}"), "allowed": fields }),
        ));
    }
    let secret = |name: &str| secret_field(credential, name);
    let new = |material| NewCredential {
        material,
        header_name: None,
        expires_at_ms: None,
    };
    Ok(match credential_type {
        "api_key" => {
            let header_name = match credential.get("header_name") {
                None | Some(Value::Null) => DEFAULT_API_KEY_HEADER.to_string(),
                Some(Value::String(h)) => header_name_checked(h, "credential.header_name")?,
                Some(_) => return Err(field_error("credential.header_name", "must be a string")),
            };
            NewCredential {
                material: Material::ApiKey {
                    header_name: header_name.clone(),
                    value: secret("value")?,
                },
                header_name: Some(header_name),
                expires_at_ms: None,
            }
        }
        "bearer" => new(Material::Bearer {
            token: secret("token")?,
        }),
        "basic_auth" => {
            let username = secret("username")?;
            if username.contains(':') {
                return Err(field_error(
                    "credential.username",
                    "must not contain ':' (HTTP Basic)",
                ));
            }
            new(Material::BasicAuth {
                username,
                password: secret("password")?,
            })
        }
        "oauth_token" => {
            if let Some(t) = credential.get("token_type").and_then(Value::as_str) {
                if !t.eq_ignore_ascii_case("bearer") {
                    return Err(field_error(
                        "credential.token_type",
                        "must be Bearer (the only OAuth token type sent upstream)",
                    ));
                }
            }
            NewCredential {
                material: Material::OauthToken {
                    access_token: secret("access_token")?,
                },
                header_name: None,
                expires_at_ms: oauth_expiry(credential, now_ms)?,
            }
        }
        _ => new(Material::CustomHeaders {
            headers: custom_headers(credential)?,
        }),
    })
}

fn secret_field(credential: &Map<String, Value>, name: &str) -> Result<String> {
    let field = format!("credential.{name}");
    match credential.get(name) {
        Some(Value::String(s)) if !s.is_empty() => header_value_checked(s, &field),
        Some(Value::String(_)) => Err(field_error(&field, "must not be empty")),
        None | Some(Value::Null) => Err(field_error(&field, "is required")),
        Some(_) => Err(field_error(&field, "must be a string")),
    }
}

fn header_value_checked(value: &str, field: &str) -> Result<String> {
    if value.len() > MAX_VALUE_LEN {
        return Err(field_error(
            field,
            &format!("is longer than {MAX_VALUE_LEN} bytes"),
        ));
    }
    if !value
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
    {
        return Err(field_error(
            field,
            "must be printable ASCII on one line (no control characters)",
        ));
    }
    Ok(value.to_string())
}

fn header_name_checked(name: &str, field: &str) -> Result<String> {
    let token = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !token {
        return Err(field_error(field, "is not a valid header name"));
    }
    let lower = name.to_ascii_lowercase();
    if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("mcp-") {
        return Err(field_error(
            field,
            &format!("'{name}' is managed by the MCP transport and cannot be a credential"),
        ));
    }
    Ok(name.to_string())
}

fn custom_headers(credential: &Map<String, Value>) -> Result<BTreeMap<String, String>> {
    let Some(Value::Object(headers)) = credential.get("headers") else {
        return Err(field_error(
            "credential.headers",
            "is required: an object of header name to value",
        ));
    };
    if headers.is_empty() || headers.len() > MAX_CUSTOM_HEADERS {
        return Err(field_error(
            "credential.headers",
            &format!("must hold 1 to {MAX_CUSTOM_HEADERS} headers"),
        ));
    }
    let mut out = BTreeMap::new();
    for (name, value) in headers {
        let field = format!("credential.headers.{name}");
        let name = header_name_checked(name, "credential.headers")?;
        let value = match value {
            Value::String(v) if !v.is_empty() => header_value_checked(v, &field)?,
            _ => return Err(field_error(&field, "must be a non-empty string")),
        };
        if out.keys().any(|k: &String| k.eq_ignore_ascii_case(&name)) {
            return Err(field_error(&field, "is given twice"));
        }
        out.insert(name, value);
    }
    Ok(out)
}

fn oauth_expiry(credential: &Map<String, Value>, now_ms: u64) -> Result<Option<u64>> {
    let at = match (credential.get("expires_at"), credential.get("expires_in")) {
        (Some(_), Some(_)) => {
            return Err(field_error(
                "credential.expires_at",
                "and expires_in are exclusive; send one",
            ))
        }
        (Some(Value::String(s)), None) => Some(parse_iso_ms(s).ok_or_else(|| {
            field_error(
                "credential.expires_at",
                "must be an ISO-8601 UTC time like 2026-11-21T20:17:36Z",
            )
        })?),
        (Some(_), None) => return Err(field_error("credential.expires_at", "must be a string")),
        (None, Some(v)) => match v.as_u64() {
            Some(secs) if (1..=MAX_EXPIRES_IN_SECS).contains(&secs) => Some(now_ms + secs * 1000),
            _ => {
                return Err(field_error(
                    "credential.expires_in",
                    &format!("must be seconds from 1 to {MAX_EXPIRES_IN_SECS}"),
                ))
            }
        },
        (None, None) => None,
    };
    if at.is_some_and(|at| at <= now_ms) {
        return Err(field_error(
            "credential.expires_at",
            "is in the past; send a token that is still valid",
        ));
    }
    Ok(at)
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff](Z|+00:00)` (UTC only) into epoch milliseconds.
pub fn parse_iso_ms(s: &str) -> Option<u64> {
    let body = s.strip_suffix('Z').or_else(|| s.strip_suffix("+00:00"))?;
    let (date, time) = body.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = match time.split_once('.') {
        Some((hms, frac)) => (hms, frac),
        None => (time, ""),
    };
    let mut t = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (hh, mm, ss) = (t.next()??, t.next()??, t.next()??);
    let ms = if frac.is_empty() {
        0
    } else if frac.len() <= 9 && frac.bytes().all(|b| b.is_ascii_digit()) {
        format!("{frac:0<3}")[..3].parse::<i64>().ok()?
    } else {
        return None;
    };
    let valid = (1..=12).contains(&m)
        && (1..=31).contains(&day)
        && (0..24).contains(&hh)
        && (0..60).contains(&mm)
        && (0..61).contains(&ss);
    if !valid || y < 1970 {
        return None;
    }
    let days = days_from_civil(y, m, day);
    u64::try_from(((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000 + ms).ok()
}

/// Howard Hinnant's civil-to-days algorithm (inverse of `time::civil_from_days`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::iso_from_ms;
    use serde_json::json;

    const NOW: u64 = 1_795_292_256_000;

    fn parse(t: &str, c: Value) -> Result<NewCredential> {
        parse_new(t, c.as_object().unwrap(), NOW)
    }

    #[test]
    fn each_type_becomes_its_headers() {
        let h = |t, c| parse(t, c).unwrap().material.headers();
        assert_eq!(
            h(
                "api_key",
                json!({"value": "k", "header_name": "X-Team-Key"})
            ),
            [("X-Team-Key".to_string(), "k".to_string())]
        );
        assert_eq!(h("api_key", json!({"value": "k"}))[0].0, "X-API-Key");
        assert_eq!(h("bearer", json!({"token": "t"}))[0].1, "Bearer t");
        assert_eq!(
            h("basic_auth", json!({"username": "u", "password": "p"}))[0].1,
            "Basic dTpw"
        );
        assert_eq!(
            h(
                "oauth_token",
                json!({"access_token": "a", "expires_in": 60})
            )[0]
            .1,
            "Bearer a"
        );
        assert_eq!(
            h(
                "custom_headers",
                json!({"headers": {"X-A": "1", "X-B": "2"}})
            )
            .len(),
            2
        );
    }

    #[test]
    fn oauth_expiry_comes_from_expires_at_or_expires_in_and_must_be_future() {
        let at = parse(
            "oauth_token",
            json!({"access_token": "a", "expires_at": "2026-11-21T21:17:36Z"}),
        )
        .unwrap();
        assert_eq!(at.expires_at_ms, Some(NOW + 3_600_000));
        let within = parse(
            "oauth_token",
            json!({"access_token": "a", "expires_in": 90}),
        )
        .unwrap();
        assert_eq!(within.expires_at_ms, Some(NOW + 90_000));
        let past = parse(
            "oauth_token",
            json!({"access_token": "a", "expires_at": "2020-01-01T00:00:00Z"}),
        )
        .unwrap_err();
        assert_eq!(past.details()["field"], "credential.expires_at");
    }

    #[test]
    fn iso_parsing_inverts_formatting() {
        for ms in [0, 951_782_400_000, NOW + 123, 4_102_444_800_999] {
            assert_eq!(parse_iso_ms(&iso_from_ms(ms)), Some(ms));
        }
        assert_eq!(parse_iso_ms("2026-11-21T20:17:36+00:00"), Some(NOW));
        for bad in [
            "2026-11-21",
            "2026-13-01T00:00:00Z",
            "2026-11-21T20:17:36+02:00",
            "x",
        ] {
            assert_eq!(parse_iso_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn invalid_input_names_the_field_and_never_the_secret() {
        let secret = "s3cr3t-value";
        for (t, c, field) in [
            ("bearer", json!({}), "credential.token"),
            (
                "bearer",
                json!({"token": format!("{secret}\r\nX-Evil: 1")}),
                "credential.token",
            ),
            (
                "bearer",
                json!({"token": secret, "extra": secret}),
                "credential.extra",
            ),
            (
                "basic_auth",
                json!({"username": "a:b", "password": secret}),
                "credential.username",
            ),
            (
                "api_key",
                json!({"value": secret, "header_name": "Host"}),
                "credential.header_name",
            ),
            (
                "api_key",
                json!({"value": secret, "header_name": "bad name"}),
                "credential.header_name",
            ),
            (
                "custom_headers",
                json!({"headers": {"Mcp-Session-Id": secret}}),
                "credential.headers",
            ),
            (
                "custom_headers",
                json!({"headers": {}}),
                "credential.headers",
            ),
            ("password", json!({}), "credential_type"),
        ] {
            let err = parse(t, c.clone()).unwrap_err();
            assert_eq!(err.details()["field"], field, "{c}");
            assert!(!err.to_string().contains(secret), "{err}");
        }
    }

    #[test]
    fn material_round_trips_and_debug_is_redacted() {
        let m = parse(
            "basic_auth",
            json!({"username": "u", "password": "hunter2"}),
        )
        .unwrap()
        .material;
        assert_eq!(Material::from_plaintext(&m.to_plaintext()), Some(m.clone()));
        assert!(!format!("{m:?}").contains("hunter2"));
    }
}
