//! JWT verification through the public API: the attack matrix (each case asserts the error
//! kind and message), happy paths for HS256/RS256/ES256, JWKS caching and refetching, claim
//! paths and Supabase-shaped tokens. The JWKS is served by an in-memory `HttpClient` fake.
//!
//! Everything sits under `mod auth` so that `cargo test -p shared auth` selects it.

mod auth {
    mod support {
        use std::cell::{Cell, RefCell};
        use std::collections::HashMap;
        use std::sync::OnceLock;

        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        use futures::StreamExt;
        use hmac::{Hmac, Mac};
        use mcp_client::http::{HttpClient, HttpRequest, HttpResponse, Method};
        use mcp_client::McpError;
        use p256::ecdsa::signature::{SignatureEncoding, Signer};
        use rsa::traits::PublicKeyParts;
        use rsa::RsaPrivateKey;
        use serde_json::{json, Value};
        use sha2::Sha256;
        use shared::auth::{authenticate, Algorithm, AuthConfig, IdentitySource};
        use shared::cache::MemoryCache;
        use shared::identity::Identity;
        use shared::{Error, Result};

        pub const SECRET: &str = "test-secret-of-at-least-32-bytes-0123456789";
        pub const JWKS_URL: &str = "https://idp.example/.well-known/jwks.json";
        /// 2026-01-01T00:00:00Z
        pub const NOW: u64 = 1_767_225_600;

        pub fn b64(bytes: impl AsRef<[u8]>) -> String {
            URL_SAFE_NO_PAD.encode(bytes)
        }

        pub fn signing_input(header: &Value, claims: &Value) -> String {
            format!("{}.{}", b64(header.to_string()), b64(claims.to_string()))
        }

        pub fn hs256_with(header: &Value, claims: &Value, secret: &[u8]) -> String {
            hs256_raw(&signing_input(header, claims), secret)
        }

        /// Signs an arbitrary signing input (`header.payload`, already encoded).
        pub fn hs256_raw(input: &str, secret: &[u8]) -> String {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
            mac.update(input.as_bytes());
            format!("{input}.{}", b64(mac.finalize().into_bytes()))
        }

        pub fn hs256(claims: &Value) -> String {
            hs256_with(
                &json!({"alg": "HS256", "typ": "JWT"}),
                claims,
                SECRET.as_bytes(),
            )
        }

        pub fn rs256_with(header: &Value, claims: &Value, key: &RsaPrivateKey) -> String {
            let input = signing_input(header, claims);
            let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(key.clone());
            let sig = signer.sign(input.as_bytes()).to_vec();
            format!("{input}.{}", b64(sig))
        }

        pub fn rs256(kid: &str, claims: &Value, key: &RsaPrivateKey) -> String {
            rs256_with(
                &json!({"alg": "RS256", "typ": "JWT", "kid": kid}),
                claims,
                key,
            )
        }

        pub fn es256_with(header: &Value, claims: &Value, key: &p256::ecdsa::SigningKey) -> String {
            let input = signing_input(header, claims);
            let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
            format!("{input}.{}", b64(sig.to_bytes()))
        }

        pub fn es256(kid: &str, claims: &Value, key: &p256::ecdsa::SigningKey) -> String {
            es256_with(
                &json!({"alg": "ES256", "typ": "JWT", "kid": kid}),
                claims,
                key,
            )
        }

        fn rsa_key(slot: &'static OnceLock<RsaPrivateKey>) -> &'static RsaPrivateKey {
            slot.get_or_init(|| RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap())
        }

        /// The identity provider's RSA key, generated once per test binary.
        pub fn rsa() -> &'static RsaPrivateKey {
            static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
            rsa_key(&KEY)
        }

        /// Another RSA key: an attacker's, or the provider's next one after rotation.
        pub fn rsa_other() -> &'static RsaPrivateKey {
            static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
            rsa_key(&KEY)
        }

        pub fn ec() -> p256::ecdsa::SigningKey {
            p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng)
        }

        pub fn rsa_jwk(key: &RsaPrivateKey, kid: &str) -> Value {
            let public = key.to_public_key();
            json!({
                "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                "n": b64(public.n().to_bytes_be()),
                "e": b64(public.e().to_bytes_be()),
            })
        }

        pub fn ec_jwk(key: &p256::ecdsa::SigningKey, kid: &str) -> Value {
            let point = key.verifying_key().to_encoded_point(false);
            json!({
                "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
                "x": b64(point.x().unwrap()),
                "y": b64(point.y().unwrap()),
            })
        }

        pub fn jwks(keys: Vec<Value>) -> String {
            json!({ "keys": keys }).to_string()
        }

        /// Valid Supabase-shaped claims for `NOW`.
        pub fn claims() -> Value {
            json!({
                "sub": "user-1",
                "exp": NOW + 3600,
                "iat": NOW - 10,
                "user_metadata": {"team_id": "team-1", "role": "member"},
            })
        }

        /// `claims()` with `patch`'s top-level entries replaced (null removes one).
        pub fn claims_with(patch: Value) -> Value {
            let mut c = claims();
            for (k, v) in patch.as_object().unwrap() {
                if v.is_null() {
                    c.as_object_mut().unwrap().remove(k);
                } else {
                    c[k] = v.clone();
                }
            }
            c
        }

        /// Serves JWKS documents from memory and counts requests.
        #[derive(Default)]
        pub struct FakeIdp {
            docs: RefCell<HashMap<String, (u16, String)>>,
            requests: RefCell<Vec<HttpRequest>>,
            fetches: Cell<usize>,
        }

        impl FakeIdp {
            pub fn serving(body: String) -> Self {
                let idp = FakeIdp::default();
                idp.serve(JWKS_URL, 200, body);
                idp
            }
            pub fn serve(&self, url: &str, status: u16, body: String) {
                self.docs.borrow_mut().insert(url.into(), (status, body));
            }
            pub fn fetches(&self) -> usize {
                self.fetches.get()
            }
            pub fn requested_urls(&self) -> Vec<String> {
                self.requests
                    .borrow()
                    .iter()
                    .map(|r| r.url.clone())
                    .collect()
            }
        }

        impl HttpClient for FakeIdp {
            async fn send(&self, request: HttpRequest) -> Result<HttpResponse, McpError> {
                assert_eq!(request.method, Method::Get);
                self.fetches.set(self.fetches.get() + 1);
                self.requests.borrow_mut().push(request.clone());
                let Some((status, body)) = self.docs.borrow().get(&request.url).cloned() else {
                    return Err(McpError::transport("connection refused"));
                };
                Ok(HttpResponse {
                    status,
                    headers: vec![("content-type".into(), "application/json".into())],
                    body: futures::stream::once(async move { Ok(body.into_bytes()) }).boxed_local(),
                })
            }
        }

        /// These tests exercise verification and claim walking, so they run in claim mode on
        /// the Supabase-shaped paths the fixtures carry (built directly: `from_settings` refuses
        /// user-editable paths, see `auth_config_refuses_user_editable_claims…`).
        pub fn claim_mode(config: AuthConfig) -> AuthConfig {
            AuthConfig {
                identity_source: IdentitySource::Claims {
                    team_claim: "user_metadata.team_id".into(),
                    role_claim: "user_metadata.role".into(),
                },
                ..config
            }
        }

        pub fn hs_config() -> AuthConfig {
            claim_mode(AuthConfig::hs256(SECRET))
        }

        pub fn rs_config() -> AuthConfig {
            claim_mode(AuthConfig::jwks(vec![Algorithm::RS256], JWKS_URL))
        }

        pub fn es_config() -> AuthConfig {
            claim_mode(AuthConfig::jwks(vec![Algorithm::ES256], JWKS_URL))
        }

        /// Authenticates with a fresh cache against `idp`; the claimed team and role as an
        /// identity (claim mode).
        pub async fn run(token: &str, config: &AuthConfig, idp: &FakeIdp) -> Result<Identity> {
            let verified = authenticate(token, config, NOW, idp, &MemoryCache::new()).await?;
            let claimed = verified.claimed.expect("claim mode");
            Ok(Identity {
                user_id: verified.user_id,
                team_id: claimed.team_id,
                role: claimed.role,
            })
        }

        /// Authenticates with HS256 (no JWKS involved).
        pub async fn run_hs(token: &str) -> Result<Identity> {
            run(token, &hs_config(), &FakeIdp::default()).await
        }

        /// Asserts an `Error::Auth` whose message is exactly `expected`, and that it holds
        /// neither the token nor the secret.
        pub fn assert_auth<T: std::fmt::Debug>(result: Result<T>, expected: &str, token: &str) {
            match result {
                Err(Error::Auth(message)) => {
                    assert_eq!(message, expected);
                    if token.len() > 8 {
                        assert!(!message.contains(token), "token echoed: {message}");
                    }
                    assert!(!message.contains(SECRET), "secret echoed: {message}");
                    let err = Error::Auth(message);
                    assert_eq!((err.status(), err.code()), (401, "auth_error"));
                }
                other => panic!("expected Error::Auth({expected:?}), got {other:?}"),
            }
        }
    }

    /// Each case asserts the exact rejection.
    mod attacks {
        use rsa::pkcs1::EncodeRsaPublicKey;
        use rsa::pkcs8::EncodePublicKey;
        use serde_json::json;
        use shared::auth::{Algorithm, AuthConfig, MAX_TOKEN_BYTES};
        use shared::Error;

        use super::support::*;

        const BAD_SIG: &str = "token signature is invalid";

        #[tokio::test]
        async fn expired_token_is_rejected() {
            // 31 s past exp: beyond the 30 s leeway.
            let token = hs256(&claims_with(json!({"exp": NOW - 31})));
            assert_auth(run_hs(&token).await, "token expired", &token);
            let token = hs256(&claims_with(json!({"exp": NOW - 3600})));
            assert_auth(run_hs(&token).await, "token expired", &token);
        }

        #[tokio::test]
        async fn token_without_exp_is_rejected() {
            let token = hs256(&claims_with(json!({"exp": null})));
            assert_auth(run_hs(&token).await, "token has no exp claim", &token);
            let token = hs256(&claims_with(json!({"exp": "tomorrow"})));
            assert_auth(
                run_hs(&token).await,
                "token exp claim is not a number of seconds",
                &token,
            );
        }

        #[tokio::test]
        async fn not_yet_valid_token_is_rejected() {
            let token = hs256(&claims_with(json!({"nbf": NOW + 31})));
            assert_auth(
                run_hs(&token).await,
                "token is not valid yet (nbf is in the future)",
                &token,
            );
            let token = hs256(&claims_with(json!({"iat": NOW + 3600})));
            assert_auth(
                run_hs(&token).await,
                "token was issued in the future (iat)",
                &token,
            );
        }

        #[tokio::test]
        async fn bad_signature_is_rejected_for_every_algorithm() {
            // HS256 signed with another secret.
            let token = hs256_with(
                &json!({"alg": "HS256"}),
                &claims(),
                b"another-secret-of-at-least-32-bytes!!",
            );
            assert_auth(run_hs(&token).await, BAD_SIG, &token);

            // HS256 with the claims changed after signing (team hijack).
            let good = hs256(&claims());
            let parts: Vec<&str> = good.split('.').collect();
            let forged_claims = claims_with(json!({"user_metadata": {"team_id": "team-2"}}));
            let token = format!(
                "{}.{}.{}",
                parts[0],
                b64(forged_claims.to_string()),
                parts[2]
            );
            assert_auth(run_hs(&token).await, BAD_SIG, &token);

            // HS256 with a truncated MAC.
            let token = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..20]);
            assert_auth(run_hs(&token).await, BAD_SIG, &token);

            // RS256 signed by a key other than the one its kid names.
            let idp = FakeIdp::serving(jwks(vec![rsa_jwk(rsa(), "k1")]));
            let token = rs256("k1", &claims(), rsa_other());
            assert_auth(run(&token, &rs_config(), &idp).await, BAD_SIG, &token);

            // ES256 signed by another key.
            let provider = ec();
            let idp = FakeIdp::serving(jwks(vec![ec_jwk(&provider, "e1")]));
            let token = es256("e1", &claims(), &ec());
            assert_auth(run(&token, &es_config(), &idp).await, BAD_SIG, &token);
        }

        #[tokio::test]
        async fn es256_der_signature_is_rejected() {
            let key = ec();
            let idp = FakeIdp::serving(jwks(vec![ec_jwk(&key, "e1")]));
            let raw = es256("e1", &claims(), &key);
            assert!(run(&raw, &es_config(), &idp).await.is_ok());
            // The same signature re-encoded as DER (SEQUENCE { INTEGER r, INTEGER s }).
            let (input, sig_b64) = raw.rsplit_once('.').unwrap();
            let sig = base64_decode(sig_b64);
            let int = |bytes: &[u8]| {
                let mut v = vec![0x02];
                let pad = bytes[0] & 0x80 != 0;
                v.push((bytes.len() + pad as usize) as u8);
                if pad {
                    v.push(0);
                }
                v.extend_from_slice(bytes);
                v
            };
            let body = [int(&sig[..32]), int(&sig[32..])].concat();
            let der = [vec![0x30, body.len() as u8], body].concat();
            let token = format!("{input}.{}", b64(der));
            assert_auth(run(&token, &es_config(), &idp).await, BAD_SIG, &token);
        }

        fn base64_decode(s: &str) -> Vec<u8> {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s)
                .unwrap()
        }

        #[tokio::test]
        async fn alg_none_is_rejected_even_when_signed_or_cased_oddly() {
            let expected = "token is unsigned (alg none); unsigned tokens are never accepted";
            for alg in ["none", "None", "NONE", "nOnE"] {
                let input = signing_input(&json!({"alg": alg, "typ": "JWT"}), &claims());
                for token in [format!("{input}."), format!("{input}.AAAA")] {
                    assert_auth(run_hs(&token).await, expected, &token);
                    let idp = FakeIdp::serving(jwks(vec![rsa_jwk(rsa(), "k1")]));
                    assert_auth(run(&token, &rs_config(), &idp).await, expected, &token);
                }
            }
        }

        #[tokio::test]
        async fn alg_not_in_pinned_list_is_rejected() {
            // An algorithm we never implement.
            let token = hs256_with(&json!({"alg": "HS512"}), &claims(), SECRET.as_bytes());
            assert_auth(
                run_hs(&token).await,
                "token signed with alg HS512; this deployment accepts HS256",
                &token,
            );
            let idp = FakeIdp::serving(jwks(vec![rsa_jwk(rsa(), "k1")]));
            assert_auth(
                run(&token, &rs_config(), &idp).await,
                "token signed with alg HS512; this deployment accepts RS256",
                &token,
            );
            // A supported algorithm that this deployment does not allow: a valid RS256 token
            // against an HS256 deployment, and a valid ES256 token against an RS256 one.
            let token = rs256("k1", &claims(), rsa());
            assert_auth(
                run_hs(&token).await,
                "token signed with alg RS256; this deployment accepts HS256",
                &token,
            );
            let key = ec();
            let token = es256("e1", &claims(), &key);
            let idp = FakeIdp::serving(jwks(vec![rsa_jwk(rsa(), "k1"), ec_jwk(&key, "e1")]));
            assert_auth(
                run(&token, &rs_config(), &idp).await,
                "token signed with alg ES256; this deployment accepts RS256",
                &token,
            );
            assert_eq!(idp.fetches(), 0, "a refused alg must not reach the JWKS");
            // Lower-case variants are not the pinned algorithm.
            let token = hs256_with(&json!({"alg": "hs256"}), &claims(), SECRET.as_bytes());
            assert_auth(
                run_hs(&token).await,
                "token signed with alg hs256; this deployment accepts HS256",
                &token,
            );
        }

        /// The classic confusion: an attacker signs HS256 with the provider's public key (which
        /// is public) as the HMAC secret, hoping the verifier feeds the RSA key to HMAC.
        #[tokio::test]
        async fn hs256_signed_with_the_rsa_public_key_is_rejected_by_an_rs256_deployment() {
            let public = rsa().to_public_key();
            let spki_pem = public.to_public_key_pem(Default::default()).unwrap();
            let pkcs1_pem = public.to_pkcs1_pem(Default::default()).unwrap();
            let spki_der = public.to_public_key_der().unwrap().as_bytes().to_vec();
            let jwk_json = rsa_jwk(rsa(), "k1").to_string();
            let secrets: Vec<Vec<u8>> = vec![
                spki_pem.as_bytes().to_vec(),
                pkcs1_pem.as_bytes().to_vec(),
                spki_der,
                jwk_json.into_bytes(),
            ];
            let idp = FakeIdp::serving(jwks(vec![rsa_jwk(rsa(), "k1")]));
            let mut mixed = rs_config();
            mixed.algorithms = vec![Algorithm::RS256, Algorithm::HS256];
            mixed.hs256_secret = Some(SECRET.into());
            for secret in &secrets {
                let token = hs256_with(&json!({"alg": "HS256", "kid": "k1"}), &claims(), secret);
                // RS256-only: HS256 is not even considered.
                assert_auth(
                    run(&token, &rs_config(), &idp).await,
                    "token signed with alg HS256; this deployment accepts RS256",
                    &token,
                );
                // RS256 + HS256: HS256 uses only the configured secret, never the JWKS key.
                assert_auth(run(&token, &mixed, &idp).await, BAD_SIG, &token);
            }
            assert_eq!(idp.fetches(), 0, "HS256 must never look at the JWKS");
        }

        #[tokio::test]
        async fn symmetric_keys_in_the_jwks_are_never_used() {
            // A JWKS that (wrongly) publishes an `oct` key: a token signed with it must fail.
            let leaked = b"published-symmetric-key-0123456789abcdef";
            let oct = json!({"kty": "oct", "kid": "s1", "alg": "HS256", "k": b64(leaked)});
            let idp = FakeIdp::serving(jwks(vec![oct.clone(), rsa_jwk(rsa(), "k1")]));
            let token = hs256_with(&json!({"alg": "HS256", "kid": "s1"}), &claims(), leaked);
            assert_auth(
                run(&token, &rs_config(), &idp).await,
                "token signed with alg HS256; this deployment accepts RS256",
                &token,
            );
            // An RS256 token naming the oct key is a key/alg mismatch.
            let token = rs256("s1", &claims(), rsa());
            assert_auth(
                run(&token, &rs_config(), &idp).await,
                "token signed with alg RS256 but its kid names a symmetric (oct) key",
                &token,
            );
        }

        #[tokio::test]
        async fn key_named_by_kid_must_be_for_the_token_alg() {
            let ec_key = ec();
            let both = claim_mode(AuthConfig::jwks(
                vec![Algorithm::RS256, Algorithm::ES256],
                JWKS_URL,
            ));
            let idp =
                FakeIdp::serving(jwks(vec![rsa_jwk(rsa(), "rsa-1"), ec_jwk(&ec_key, "ec-1")]));
            // ES256 token naming the RSA key.
            let token = es256("rsa-1", &claims(), &ec_key);
            assert_auth(
                run(&token, &both, &idp).await,
                "token signed with alg ES256 but its kid names an RSA key",
                &token,
            );
            // RS256 token naming the EC key.
            let token = rs256("ec-1", &claims(), rsa());
            assert_auth(
                run(&token, &both, &idp).await,
                "token signed with alg RS256 but its kid names an EC key",
                &token,
            );
            // An RSA key published for another RSA algorithm.
            let mut ps = rsa_jwk(rsa(), "ps-1");
            ps["alg"] = json!("PS256");
            let idp = FakeIdp::serving(jwks(vec![ps]));
            let token = rs256("ps-1", &claims(), rsa());
            assert_auth(
                run(&token, &rs_config(), &idp).await,
                "token signed with alg RS256 but its kid names a key published for another algorithm",
                &token,
            );
            // An encryption key.
            let mut enc = rsa_jwk(rsa(), "enc-1");
            enc["use"] = json!("enc");
            let idp = FakeIdp::serving(jwks(vec![enc]));
            let token = rs256("enc-1", &claims(), rsa());
            assert_auth(
                run(&token, &rs_config(), &idp).await,
                "token signed with alg RS256 but its kid names a key not meant for signatures",
                &token,
            );
        }

        #[tokio::test]
        async fn header_supplied_keys_are_ignored() {
            // The attacker embeds their own key (jwk) and key URL (jku) and reuses a real kid.
            let attacker = rsa_other();
            let idp = FakeIdp::serving(jwks(vec![rsa_jwk(rsa(), "k1")]));
            idp.serve(
                "https://attacker.example/jwks.json",
                200,
                jwks(vec![rsa_jwk(attacker, "k1")]),
            );
            let header = json!({
                "alg": "RS256", "kid": "k1",
                "jwk": rsa_jwk(attacker, "k1"),
                "jku": "https://attacker.example/jwks.json",
                "x5u": "https://attacker.example/cert.pem",
            });
            let token = rs256_with(&header, &claims(), attacker);
            assert_auth(run(&token, &rs_config(), &idp).await, BAD_SIG, &token);
            assert_eq!(idp.requested_urls(), vec![JWKS_URL.to_string()]);
        }

        #[tokio::test]
        async fn short_rsa_keys_in_the_jwks_are_refused() {
            let weak = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024).unwrap();
            let idp = FakeIdp::serving(jwks(vec![rsa_jwk(&weak, "weak")]));
            let token = rs256("weak", &claims(), &weak);
            let err = run(&token, &rs_config(), &idp).await.unwrap_err();
            assert_eq!(
                err,
                Error::Upstream(
                    "an RSA key in the identity provider's JWKS is shorter than 2048 bits".into()
                )
            );
        }

        #[tokio::test]
        async fn wrong_or_missing_issuer_is_rejected() {
            let mut config = hs_config();
            config.issuer = Some("https://idp.example/auth/v1".into());
            let idp = FakeIdp::default();
            let token = hs256(&claims_with(json!({"iss": "https://evil.example/auth/v1"})));
            assert_auth(
                run(&token, &config, &idp).await,
                "token issuer does not match; this deployment requires issuer https://idp.example/auth/v1",
                &token,
            );
            let token = hs256(&claims_with(
                json!({"iss": ["https://idp.example/auth/v1"]}),
            ));
            assert_auth(
                run(&token, &config, &idp).await,
                "token issuer does not match; this deployment requires issuer https://idp.example/auth/v1",
                &token,
            );
            let token = hs256(&claims());
            assert_auth(
                run(&token, &config, &idp).await,
                "token has no iss claim; this deployment requires issuer https://idp.example/auth/v1",
                &token,
            );
            let token = hs256(&claims_with(json!({"iss": "https://idp.example/auth/v1"})));
            assert!(run(&token, &config, &idp).await.is_ok());
        }

        #[tokio::test]
        async fn wrong_or_missing_audience_is_rejected() {
            let mut config = hs_config();
            config.audience = Some("authenticated".into());
            let idp = FakeIdp::default();
            let expected =
                "token audience does not include authenticated, which this deployment requires";
            for aud in [
                json!("anon"),
                json!(["anon", "service"]),
                json!([]),
                json!("authenticated "),
                json!({"aud": "authenticated"}),
                json!(null),
            ] {
                let token = hs256(&claims_with(json!({ "aud": aud })));
                assert_auth(run(&token, &config, &idp).await, expected, &token);
            }
            for aud in [json!("authenticated"), json!(["api", "authenticated"])] {
                let token = hs256(&claims_with(json!({ "aud": aud })));
                assert!(run(&token, &config, &idp).await.is_ok());
            }
        }

        #[tokio::test]
        async fn missing_sub_or_team_is_rejected() {
            let token = hs256(&claims_with(json!({"sub": null})));
            assert_auth(
                run_hs(&token).await,
                "token has no user claim at sub",
                &token,
            );
            let token = hs256(&claims_with(json!({"user_metadata": {"role": "admin"}})));
            assert_auth(
                run_hs(&token).await,
                "token has no team claim at user_metadata.team_id",
                &token,
            );
            let token = hs256(&claims_with(json!({"user_metadata": null})));
            assert_auth(
                run_hs(&token).await,
                "token has no team claim at user_metadata.team_id",
                &token,
            );
            let token = hs256(&claims_with(json!({"user_metadata": {"team_id": ""}})));
            assert_auth(
                run_hs(&token).await,
                "token team claim at user_metadata.team_id is empty",
                &token,
            );
            let token = hs256(&claims_with(json!({"user_metadata": {"team_id": 7}})));
            assert_auth(
                run_hs(&token).await,
                "token team claim at user_metadata.team_id is not a string",
                &token,
            );
        }

        #[tokio::test]
        async fn garbage_tokens_are_rejected() {
            let header = b64(json!({"alg": "HS256"}).to_string());
            let payload = b64(claims().to_string());
            let valid = hs256(&claims());
            let cases: Vec<(String, &str)> = vec![
                ("".into(), "token is empty"),
                (
                    "justonepart".into(),
                    "token is not a compact JWS: expected 3 dot-separated parts, found 1",
                ),
                (
                    format!("{header}.{payload}"),
                    "token is not a compact JWS: expected 3 dot-separated parts, found 2",
                ),
                (
                    format!("{valid}.extra"),
                    "token is not a compact JWS: expected 3 dot-separated parts, found 4",
                ),
                (
                    format!("{header}!.{payload}.AAAA"),
                    "token header is not valid unpadded base64url",
                ),
                (
                    format!("{header}.{payload}=.AAAA"),
                    "token payload is not valid unpadded base64url",
                ),
                (
                    format!("{header}.{payload}.AA+A/A=="),
                    "token signature is not valid unpadded base64url",
                ),
                (
                    format!("{}.{payload}.AAAA", b64("not json")),
                    "token header is not a JSON object",
                ),
                (
                    format!("{}.{payload}.AAAA", b64("[\"HS256\"]")),
                    "token header is not a JSON object",
                ),
                (
                    format!("{}.{payload}.AAAA", b64("{\"alg\":\"HS256\"")),
                    "token header is not a JSON object",
                ),
                (
                    format!("{header}.{payload}."),
                    "token has an empty signature",
                ),
            ];
            for (token, expected) in cases {
                assert_auth(run_hs(&token).await, expected, &token);
            }
            // A correctly signed token whose payload is not JSON fails after the signature.
            let token = hs256_raw(&format!("{header}.{}", b64("not json")), SECRET.as_bytes());
            assert_auth(
                run_hs(&token).await,
                "token payload is not a JSON object",
                &token,
            );
        }

        #[tokio::test]
        async fn oversize_token_is_rejected_before_anything_else() {
            let expected = format!("token is longer than the {MAX_TOKEN_BYTES}-byte limit");
            let token = "a".repeat(MAX_TOKEN_BYTES + 1);
            assert_auth(run_hs(&token).await, &expected, &token);
            // Even when correctly signed.
            let token = hs256(&claims_with(
                json!({"padding": "x".repeat(MAX_TOKEN_BYTES)}),
            ));
            assert_auth(run_hs(&token).await, &expected, &token);
        }

        #[tokio::test]
        async fn invalid_configuration_is_an_internal_error_not_a_pass() {
            let mut config = hs_config();
            config.hs256_secret = None;
            let token = hs256(&claims());
            let err = run(&token, &config, &FakeIdp::default()).await.unwrap_err();
            assert!(matches!(err, Error::Internal(_)), "{err:?}");
            let mut config = rs_config();
            config.jwks_url = None;
            let err = run(&token, &config, &FakeIdp::default()).await.unwrap_err();
            assert!(matches!(err, Error::Internal(_)), "{err:?}");
        }
    }

    mod happy {
        use serde_json::json;
        use shared::auth::{
            authenticate, bearer_token, Algorithm, AuthConfig, IdentitySource, Verified,
        };
        use shared::cache::MemoryCache;
        use shared::identity::{Identity, Role};

        use super::support::*;

        fn identity(user: &str, team: &str, role: Role) -> Identity {
            Identity {
                user_id: user.into(),
                team_id: team.into(),
                role,
            }
        }

        #[tokio::test]
        async fn hs256_token_authenticates() {
            let token = hs256(&claims());
            assert_eq!(
                run_hs(&token).await.unwrap(),
                identity("user-1", "team-1", Role::Member)
            );
            // Through the Authorization header, with leeway on a just-expired token.
            let token = hs256(&claims_with(json!({"exp": NOW - 29, "nbf": NOW + 29})));
            let header = format!("Bearer {token}");
            let extracted = bearer_token(Some(&header)).unwrap();
            assert!(run_hs(extracted).await.is_ok());
        }

        #[tokio::test]
        async fn rs256_token_authenticates_via_jwks() {
            let idp = FakeIdp::serving(jwks(vec![
                rsa_jwk(rsa_other(), "old"),
                rsa_jwk(rsa(), "k1"),
            ]));
            let token = rs256(
                "k1",
                &claims_with(json!({"user_metadata": {"team_id": "t", "role": "admin"}})),
                rsa(),
            );
            assert_eq!(
                run(&token, &rs_config(), &idp).await.unwrap(),
                identity("user-1", "t", Role::Admin)
            );
            assert_eq!(idp.fetches(), 1);
        }

        #[tokio::test]
        async fn es256_token_authenticates_via_jwks() {
            let key = ec();
            let idp = FakeIdp::serving(jwks(vec![ec_jwk(&key, "e1")]));
            let token = es256("e1", &claims(), &key);
            assert_eq!(
                run(&token, &es_config(), &idp).await.unwrap(),
                identity("user-1", "team-1", Role::Member)
            );
        }

        #[tokio::test]
        async fn token_without_kid_uses_the_keys_fit_for_its_alg() {
            let key = ec();
            let both = claim_mode(AuthConfig::jwks(
                vec![Algorithm::RS256, Algorithm::ES256],
                JWKS_URL,
            ));
            let mut bare = ec_jwk(&key, "e1");
            bare.as_object_mut().unwrap().remove("kid");
            bare.as_object_mut().unwrap().remove("alg");
            let idp = FakeIdp::serving(jwks(vec![rsa_jwk(rsa(), "k1"), bare]));
            let token = es256_with(&json!({"alg": "ES256"}), &claims(), &key);
            assert!(run(&token, &both, &idp).await.is_ok());
            let token = rs256_with(&json!({"alg": "RS256"}), &claims(), rsa());
            assert!(run(&token, &both, &idp).await.is_ok());
        }

        /// A token as Supabase Auth issues it with asymmetric signing keys (ES256, kid, JWKS at
        /// /auth/v1/.well-known/jwks.json), team and role in user_metadata.
        #[tokio::test]
        async fn supabase_shaped_es256_token_authenticates() {
            let key = ec();
            let url = "https://abcdefgh.supabase.co/auth/v1/.well-known/jwks.json";
            let idp = FakeIdp::default();
            idp.serve(
                url,
                200,
                jwks(vec![ec_jwk(&key, "7c1e2b3a-0000-4000-8000-000000000001")]),
            );
            let config = AuthConfig::from_settings(|name| {
                match name {
                    "JWT_ALGORITHMS" => Some("ES256"),
                    "JWT_JWKS_URL" => Some(url),
                    "JWT_ISSUER" => Some("https://abcdefgh.supabase.co/auth/v1"),
                    "JWT_AUDIENCE" => Some("authenticated"),
                    _ => None,
                }
                .map(String::from)
            })
            .unwrap();
            let claims = json!({
                "iss": "https://abcdefgh.supabase.co/auth/v1",
                "sub": "5f3c9a2e-1b7d-4c8e-9a6f-2d1e0b3c4a5f",
                "aud": "authenticated",
                "exp": NOW + 3600,
                "iat": NOW,
                "email": "ada@example.com",
                "phone": "",
                "app_metadata": {"provider": "email", "providers": ["email"]},
                "user_metadata": {
                    "email_verified": true,
                    "team_id": "0b8e8f2c-team",
                    "role": "owner"
                },
                "role": "authenticated",
                "aal": "aal1",
                "amr": [{"method": "password", "timestamp": NOW}],
                "session_id": "1d2c3b4a",
                "is_anonymous": false
            });
            let token = es256_with(
                &json!({"alg": "ES256", "kid": "7c1e2b3a-0000-4000-8000-000000000001", "typ": "JWT"}),
                &claims,
                &key,
            );
            let cache = MemoryCache::new();
            let verified = authenticate(&token, &config, NOW, &idp, &cache)
                .await
                .unwrap();
            // The default (membership) mode: the user's own `user_metadata` team and "owner"
            // role are ignored; team and role come from team_members.
            assert_eq!(
                verified,
                Verified {
                    user_id: "5f3c9a2e-1b7d-4c8e-9a6f-2d1e0b3c4a5f".into(),
                    claimed: None
                }
            );
        }

        /// Supabase's legacy shared-secret tokens: HS256, no kid.
        #[tokio::test]
        async fn supabase_shaped_hs256_token_authenticates() {
            let mut config = hs_config();
            config.audience = Some("authenticated".into());
            let claims = json!({
                "aud": "authenticated", "exp": NOW + 60, "iat": NOW,
                "sub": "u-9", "role": "authenticated",
                "user_metadata": {"team_id": "team-9"}
            });
            let token = hs256(&claims);
            let id = run(&token, &config, &FakeIdp::default()).await.unwrap();
            assert_eq!(id, identity("u-9", "team-9", Role::Member));
        }

        #[tokio::test]
        async fn nested_and_namespaced_claim_paths_are_configurable() {
            let mut config = hs_config();
            config.user_claim = "https://example.com/uid".into();
            config.identity_source = IdentitySource::Claims {
                team_claim: "app_metadata.org.id".into(),
                role_claim: "app_metadata.org.membership.role".into(),
            };
            let claims = json!({
                "sub": "ignored",
                "https://example.com/uid": "auth0|42",
                "exp": NOW + 60,
                "app_metadata": {"org": {"id": "org-7", "membership": {"role": "admin"}}},
            });
            let token = hs256(&claims);
            let id = run(&token, &config, &FakeIdp::default()).await.unwrap();
            assert_eq!(id, identity("auth0|42", "org-7", Role::Admin));
            // The top-level `role` Supabase sets ("authenticated") never grants admin, and a
            // missing role claim is member.
            let claims = json!({
                "sub": "u", "exp": NOW + 60, "role": "admin",
                "app_metadata": {"org": {"id": "org-7"}},
                "https://example.com/uid": "u",
            });
            let token = hs256(&claims);
            let id = run(&token, &config, &FakeIdp::default()).await.unwrap();
            assert_eq!(id.role, Role::Member);
            // Missing team under a custom path names that path.
            let claims = json!({"sub": "u", "exp": NOW + 60, "https://example.com/uid": "u"});
            let token = hs256(&claims);
            assert_auth(
                run(&token, &config, &FakeIdp::default()).await,
                "token has no team claim at app_metadata.org.id",
                &token,
            );
        }
    }

    mod jwks_cache {
        use shared::auth::{authenticate, jwks_cache_key, JWKS_TTL_SECS};
        use shared::cache::{Cache, MemoryCache};
        use shared::Error;

        use super::support::*;

        #[tokio::test]
        async fn jwks_is_fetched_once_then_served_from_the_cache() {
            let idp = FakeIdp::serving(jwks(vec![rsa_jwk(rsa(), "k1")]));
            let cache = MemoryCache::new();
            let config = rs_config();
            for _ in 0..3 {
                let token = rs256("k1", &claims(), rsa());
                authenticate(&token, &config, NOW, &idp, &cache)
                    .await
                    .unwrap();
            }
            assert_eq!(idp.fetches(), 1);
            assert_eq!(cache.ttl_of(&jwks_cache_key(JWKS_URL)), Some(JWKS_TTL_SECS));
            assert_eq!(JWKS_TTL_SECS, 3600);
            // A rejected token (bad signature) with a known kid does not refetch either.
            let token = rs256("k1", &claims(), rsa_other());
            let err = authenticate(&token, &config, NOW, &idp, &cache).await;
            assert_auth(err, "token signature is invalid", &token);
            assert_eq!(idp.fetches(), 1);
        }

        #[tokio::test]
        async fn unknown_kid_triggers_exactly_one_refetch_which_finds_a_rotated_key() {
            let idp = FakeIdp::serving(jwks(vec![rsa_jwk(rsa(), "k1")]));
            let cache = MemoryCache::new();
            let config = rs_config();
            let token = rs256("k1", &claims(), rsa());
            authenticate(&token, &config, NOW, &idp, &cache)
                .await
                .unwrap();
            assert_eq!(idp.fetches(), 1);
            // The provider rotates to k2; the cache still holds only k1.
            idp.serve(
                JWKS_URL,
                200,
                jwks(vec![rsa_jwk(rsa(), "k1"), rsa_jwk(rsa_other(), "k2")]),
            );
            let token = rs256("k2", &claims(), rsa_other());
            authenticate(&token, &config, NOW, &idp, &cache)
                .await
                .unwrap();
            assert_eq!(idp.fetches(), 2);
            // The refetched set replaced the cached one: k2 now needs no fetch.
            authenticate(&token, &config, NOW, &idp, &cache)
                .await
                .unwrap();
            assert_eq!(idp.fetches(), 2);
        }

        #[tokio::test]
        async fn unknown_kid_refetches_once_then_fails_and_refetches_are_throttled() {
            let idp = FakeIdp::serving(jwks(vec![rsa_jwk(rsa(), "k1")]));
            let cache = MemoryCache::new();
            let config = rs_config();
            authenticate(&rs256("k1", &claims(), rsa()), &config, NOW, &idp, &cache)
                .await
                .unwrap();
            assert_eq!(idp.fetches(), 1);
            let expected = "token key id (kid) is not in the identity provider's JWKS";
            let token = rs256("made-up-1", &claims(), rsa_other());
            assert_auth(
                authenticate(&token, &config, NOW, &idp, &cache).await,
                expected,
                &token,
            );
            assert_eq!(idp.fetches(), 2, "exactly one refetch");
            // Within the refetch interval, more made-up kids cost no fetch at all.
            for i in 0..5 {
                let token = rs256(&format!("made-up-{i}"), &claims(), rsa_other());
                assert_auth(
                    authenticate(&token, &config, NOW, &idp, &cache).await,
                    expected,
                    &token,
                );
            }
            assert_eq!(idp.fetches(), 2);
        }

        #[tokio::test]
        async fn unknown_kid_on_a_fresh_fetch_does_not_fetch_twice() {
            let idp = FakeIdp::serving(jwks(vec![rsa_jwk(rsa(), "k1")]));
            let token = rs256("nope", &claims(), rsa());
            assert_auth(
                run(&token, &rs_config(), &idp).await,
                "token key id (kid) is not in the identity provider's JWKS",
                &token,
            );
            assert_eq!(idp.fetches(), 1);
        }

        #[tokio::test]
        async fn jwks_outages_are_upstream_errors_and_are_not_cached() {
            let cache = MemoryCache::new();
            let config = rs_config();
            let token = rs256("k1", &claims(), rsa());
            let idp = FakeIdp::default();
            idp.serve(JWKS_URL, 503, "down".into());
            let err = authenticate(&token, &config, NOW, &idp, &cache)
                .await
                .unwrap_err();
            assert_eq!(
                err,
                Error::Upstream("the identity provider's JWKS URL answered HTTP 503".into())
            );
            idp.serve(JWKS_URL, 200, "<html>login</html>".into());
            let err = authenticate(&token, &config, NOW, &idp, &cache)
                .await
                .unwrap_err();
            assert_eq!(
                err,
                Error::Upstream("the identity provider's JWKS URL did not answer a JWK set".into())
            );
            let unreachable = FakeIdp::default();
            let err = authenticate(&token, &config, NOW, &unreachable, &cache)
                .await
                .unwrap_err();
            assert_eq!(err.code(), "upstream_error");
            assert!(
                cache.is_empty(),
                "nothing may be cached from a failed fetch"
            );
            // Once the provider is back, the token passes.
            idp.serve(JWKS_URL, 200, jwks(vec![rsa_jwk(rsa(), "k1")]));
            authenticate(&token, &config, NOW, &idp, &cache)
                .await
                .unwrap();
        }

        #[tokio::test]
        async fn a_corrupt_cache_entry_is_refetched() {
            let idp = FakeIdp::serving(jwks(vec![rsa_jwk(rsa(), "k1")]));
            let cache = MemoryCache::new();
            cache
                .put(&jwks_cache_key(JWKS_URL), "{not json", 3600)
                .await
                .unwrap();
            let token = rs256("k1", &claims(), rsa());
            authenticate(&token, &rs_config(), NOW, &idp, &cache)
                .await
                .unwrap();
            assert_eq!(idp.fetches(), 1);
            let cached = cache.get(&jwks_cache_key(JWKS_URL)).await.unwrap().unwrap();
            assert!(cached.contains("\"k1\""), "{cached}");
        }
    }
}
