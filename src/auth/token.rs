//! Bearer tokens: imgbatch's own (HS256, `iss` = `imgbatch`, `sub` = the tenant) and, when a public
//! key is configured, an outside identity provider's (RS256 or ES256). The algorithm in a token's
//! header chooses the key, and each key accepts only its own algorithm, so that no token can have
//! a public key taken for an HMAC secret.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode};
use serde::{Deserialize, Serialize};

use crate::{config::Secret, domain::ids::TenantId};

/// The `iss` of imgbatch's own tokens.
const ISSUER: &str = "imgbatch";
/// Clock difference allowed on imgbatch's own tokens (made and checked by the same service).
const OWN_LEEWAY_SECS: u64 = 5;
/// Clock difference allowed on an outside provider's tokens.
const OUTSIDE_LEEWAY_SECS: u64 = 60;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
}

/// Who a valid token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bearer {
    /// The tenant (`sub`).
    pub tenant: TenantId,
    /// True for an outside provider's token: its tenant may be made on first use.
    pub outside: bool,
}

/// Makes and checks tokens.
pub struct Tokens {
    encoding: EncodingKey,
    own: DecodingKey,
    outside: Option<(DecodingKey, Validation)>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens(***)")
    }
}

/// Settings of an outside identity provider.
pub struct Outside<'a> {
    /// PEM of its public key.
    pub pem: &'a str,
    /// The `iss` its tokens must have.
    pub issuer: Option<&'a str>,
    /// The `aud` its tokens must have.
    pub audience: Option<&'a str>,
}

impl Tokens {
    /// Tokens signed with `secret`, and an outside provider's accepted when given.
    pub fn new(secret: &Secret, outside: Option<Outside<'_>>) -> anyhow::Result<Self> {
        let bytes = secret.expose().as_bytes();
        let outside = match outside {
            Some(o) => Some(outside_key(o)?),
            None => None,
        };
        Ok(Self { encoding: EncodingKey::from_secret(bytes), own: DecodingKey::from_secret(bytes), outside })
    }

    /// A token for `tenant` that lasts `ttl`.
    pub fn issue(&self, tenant: &TenantId, ttl: Duration) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        let claims =
            Claims { sub: tenant.to_string(), exp: now + ttl.as_secs(), iat: Some(now), iss: Some(ISSUER.to_owned()) };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| anyhow::anyhow!("signing a token: {e}"))
    }

    /// The tenant a token names, if it is valid now; otherwise why not, in words a caller can act on.
    pub fn verify(&self, token: &str) -> Result<Bearer, String> {
        let header = decode_header(token).map_err(|_| "the bearer token is not a JWT or an API key".to_owned())?;
        let (key, validation, outside) = match header.alg {
            Algorithm::HS256 => {
                let mut v = Validation::new(Algorithm::HS256);
                v.leeway = OWN_LEEWAY_SECS;
                v.set_issuer(&[ISSUER]);
                v.set_required_spec_claims(&["exp", "sub", "iss"]);
                (&self.own, v, false)
            }
            alg => match &self.outside {
                Some((key, v)) if v.algorithms.contains(&alg) => (key, v.clone(), true),
                _ => return Err(format!("tokens signed with {alg:?} are not accepted")),
            },
        };
        let data = decode::<Claims>(token, key, &validation).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => "the token has expired".to_owned(),
            _ => "the token is invalid".to_owned(),
        })?;
        let tenant = data.claims.sub.parse().map_err(|_| "the token's sub is not a tenant id".to_owned())?;
        Ok(Bearer { tenant, outside })
    }
}

fn outside_key(o: Outside<'_>) -> anyhow::Result<(DecodingKey, Validation)> {
    let text = match o.pem.trim_start().starts_with("-----BEGIN") {
        true => o.pem.to_owned(),
        false => std::fs::read_to_string(o.pem)
            .map_err(|e| anyhow::anyhow!("IMGBATCH_JWT_PUBLIC_KEY: not PEM text, and cannot read it as a file: {e}"))?,
    };
    let (key, alg) = match DecodingKey::from_rsa_pem(text.as_bytes()) {
        Ok(key) => (key, Algorithm::RS256),
        Err(_) => match DecodingKey::from_ec_pem(text.as_bytes()) {
            Ok(key) => (key, Algorithm::ES256),
            Err(_) => anyhow::bail!("IMGBATCH_JWT_PUBLIC_KEY: expected an RSA or EC P-256 public key in PEM"),
        },
    };
    let mut v = Validation::new(alg);
    v.leeway = OUTSIDE_LEEWAY_SECS;
    v.validate_nbf = true;
    v.set_required_spec_claims(&["exp", "sub"]);
    if let Some(issuer) = o.issuer {
        v.set_issuer(&[issuer]);
    }
    match o.audience {
        Some(audience) => v.set_audience(&[audience]),
        None => v.validate_aud = false,
    }
    Ok((key, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens::new(&Secret::new("k".repeat(32)), None).unwrap()
    }

    #[test]
    fn own_tokens_name_their_tenant_until_they_expire() {
        let t = tokens();
        let tenant = TenantId::new();
        let token = t.issue(&tenant, Duration::from_secs(60)).unwrap();
        assert_eq!(t.verify(&token).unwrap(), Bearer { tenant: tenant.clone(), outside: false });
        let other = Tokens::new(&Secret::new("j".repeat(32)), None).unwrap();
        assert_eq!(other.verify(&token).unwrap_err(), "the token is invalid");
        let expired = encode(
            &Header::new(Algorithm::HS256),
            &Claims { sub: tenant.to_string(), exp: 1_000, iat: None, iss: Some(ISSUER.into()) },
            &EncodingKey::from_secret("k".repeat(32).as_bytes()),
        )
        .unwrap();
        assert_eq!(t.verify(&expired).unwrap_err(), "the token has expired");
        assert!(t.verify("garbage").is_err());
    }

    #[test]
    fn algorithms_without_a_configured_key_are_refused() {
        let mut header = Header::new(Algorithm::HS384);
        header.typ = Some("JWT".into());
        let claims = Claims { sub: "x".into(), exp: u64::MAX / 2, iat: None, iss: Some(ISSUER.into()) };
        let token = encode(&header, &claims, &EncodingKey::from_secret("k".repeat(32).as_bytes())).unwrap();
        assert!(tokens().verify(&token).unwrap_err().contains("not accepted"));
    }
}
