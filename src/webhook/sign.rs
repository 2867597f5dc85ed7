//! Signing by the Standard Webhooks scheme: `webhook-id`, `webhook-timestamp` and
//! `webhook-signature` over `{id}.{timestamp}.{body}`. While a tenant's secret rotation overlaps,
//! the body is signed with each of its secrets (`v1,<new> v1,<old>`), so that a receiver holding
//! either one verifies it.

use base64::{Engine, engine::general_purpose::STANDARD};
use rand::RngCore;

use crate::config::Secret;

/// The three headers of a signed webhook.
pub struct SignedHeaders {
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp`, Unix seconds.
    pub timestamp: i64,
    /// `webhook-signature`: `v1,<base64>` per secret, separated by spaces.
    pub signature: String,
}

/// Signs `body` as message `id` sent at `timestamp` with every one of `secrets`.
pub fn sign(secrets: &[Secret], id: &str, timestamp: i64, body: &[u8]) -> anyhow::Result<SignedHeaders> {
    anyhow::ensure!(!secrets.is_empty(), "the tenant has no webhook signing secret");
    let mut signatures = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let key = secret.webhook_key().map_err(|e| anyhow::anyhow!("webhook secret: {e}"))?;
        let webhook = standardwebhooks::Webhook::from_bytes(key).map_err(|e| anyhow::anyhow!("webhook secret: {e}"))?;
        signatures.push(webhook.sign(id, timestamp, body).map_err(|e| anyhow::anyhow!("signing webhook: {e}"))?);
    }
    Ok(SignedHeaders { id: id.to_owned(), timestamp, signature: signatures.join(" ") })
}

/// A new random secret, `whsec_` and 32 random bytes in base64.
pub fn generate_secret() -> Secret {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    Secret::new(format!("whsec_{}", STANDARD.encode(key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(signed: &SignedHeaders) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert("webhook-id", signed.id.parse().unwrap());
        headers.insert("webhook-timestamp", signed.timestamp.to_string().parse().unwrap());
        headers.insert("webhook-signature", signed.signature.parse().unwrap());
        headers
    }

    #[test]
    fn signatures_verify_with_the_standard_verifier() {
        let secret = generate_secret();
        let now = chrono::Utc::now().timestamp();
        let body = br#"{"type":"request.completed"}"#;
        let signed = sign(std::slice::from_ref(&secret), "msg_1", now, body).unwrap();
        let verifier = standardwebhooks::Webhook::new(secret.expose()).unwrap();
        verifier.verify(body, &headers(&signed)).unwrap();
        assert!(verifier.verify(b"{}", &headers(&signed)).is_err(), "a changed body must not verify");
    }

    #[test]
    fn during_an_overlap_either_secret_verifies_and_no_other() {
        let (new, old) = (generate_secret(), generate_secret());
        let body = b"{}";
        let signed = sign(&[new.clone(), old.clone()], "msg_2", chrono::Utc::now().timestamp(), body).unwrap();
        assert_eq!(signed.signature.split(' ').count(), 2);
        for secret in [&new, &old] {
            standardwebhooks::Webhook::new(secret.expose()).unwrap().verify(body, &headers(&signed)).unwrap();
        }
        let stranger = standardwebhooks::Webhook::new(generate_secret().expose()).unwrap();
        assert!(stranger.verify(body, &headers(&signed)).is_err());
        assert!(sign(&[], "msg_3", 0, body).is_err());
    }
}
