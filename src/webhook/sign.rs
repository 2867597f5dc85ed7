//! Signing by the Standard Webhooks scheme: `webhook-id`, `webhook-timestamp` and
//! `webhook-signature` over `{id}.{timestamp}.{body}`.

use base64::{Engine, engine::general_purpose::STANDARD};
use rand::RngCore;
use sea_orm::ConnectionTrait;

use crate::{config::Secret, db};

const SECRET_SETTING: &str = "webhook_secret";

/// Signs webhook bodies with the service's secret.
#[derive(Clone)]
pub struct WebhookSigner {
    inner: std::sync::Arc<standardwebhooks::Webhook>,
}

impl std::fmt::Debug for WebhookSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSigner(***)")
    }
}

/// The three headers of a signed webhook.
pub struct SignedHeaders {
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp`, Unix seconds.
    pub timestamp: i64,
    /// `webhook-signature`, `v1,<base64>`.
    pub signature: String,
}

impl WebhookSigner {
    /// A signer for a `whsec_…` secret.
    pub fn new(secret: &Secret) -> anyhow::Result<Self> {
        let key = secret.webhook_key().map_err(|e| anyhow::anyhow!("IMGBATCH_WEBHOOK_SECRET: {e}"))?;
        let inner =
            standardwebhooks::Webhook::from_bytes(key).map_err(|e| anyhow::anyhow!("IMGBATCH_WEBHOOK_SECRET: {e}"))?;
        Ok(Self { inner: inner.into() })
    }

    /// The configured secret, or the one stored in the database, or a new one generated,
    /// stored and printed once.
    pub async fn load_or_generate(db: &impl ConnectionTrait, configured: Option<&Secret>) -> anyhow::Result<Self> {
        if let Some(secret) = configured {
            return Self::new(secret);
        }
        if let Some(stored) = db::settings::get(db, SECRET_SETTING).await? {
            return Self::new(&Secret::new(stored));
        }
        let fresh = generate_secret();
        let stored = db::settings::get_or_insert(db, SECRET_SETTING, fresh.expose()).await?;
        if stored == fresh.expose() {
            // Shown on the terminal once, never through the log subscriber.
            println!(
                "imgbatch: generated the webhook signing secret (shown once, stored in the database):\n  {stored}"
            );
        }
        Self::new(&Secret::new(stored))
    }

    /// Signs `body` as message `id` sent at `timestamp`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> anyhow::Result<SignedHeaders> {
        let signature = self.inner.sign(id, timestamp, body).map_err(|e| anyhow::anyhow!("signing webhook: {e}"))?;
        Ok(SignedHeaders { id: id.to_owned(), timestamp, signature })
    }
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

    #[test]
    fn signatures_verify_with_the_standard_verifier() {
        let secret = generate_secret();
        let signer = WebhookSigner::new(&secret).unwrap();
        let now = chrono::Utc::now().timestamp();
        let body = br#"{"type":"request.completed"}"#;
        let signed = signer.sign("msg_1", now, body).unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert("webhook-id", signed.id.parse().unwrap());
        headers.insert("webhook-timestamp", signed.timestamp.to_string().parse().unwrap());
        headers.insert("webhook-signature", signed.signature.parse().unwrap());
        let verifier = standardwebhooks::Webhook::new(secret.expose()).unwrap();
        verifier.verify(body, &headers).unwrap();
        assert!(verifier.verify(b"{}", &headers).is_err(), "a changed body must not verify");
    }
}
