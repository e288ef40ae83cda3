//! Test tokens: HS256 JWTs shaped like Supabase's (team and role under `user_metadata`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Signs arbitrary claims with HS256.
pub fn sign(secret: &str, claims: &Value) -> String {
    sign_with_header(secret, &json!({"alg": "HS256", "typ": "JWT"}), claims)
}

pub fn sign_with_header(secret: &str, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key size");
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

/// The claims a valid user token carries.
pub fn claims(user: &str, team: &str, role: &str) -> Value {
    let now = now_secs();
    json!({
        "sub": user,
        "iat": now,
        "exp": now + 3600,
        "role": "authenticated",
        "user_metadata": { "team_id": team, "role": role },
    })
}

pub fn token(secret: &str, user: &str, team: &str, role: &str) -> String {
    sign(secret, &claims(user, team, role))
}
