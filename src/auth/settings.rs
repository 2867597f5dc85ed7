//! Settings of who may call the API and how much: authentication, tokens, webhook secret
//! rotation, per-tenant fair shares and limits. Part of [`Config`](crate::Config).

use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::config::{Secret, parse_duration};

/// Whether calls need credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// Every `/api/v1` call but register and login needs a bearer token or API key.
    On,
    /// No credentials: one tenant, open to anyone who reaches the port.
    Off,
}

/// Whether anyone may make an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Registration {
    /// `POST /api/v1/auth/register` makes accounts.
    Open,
    /// Only `imgbatch tenant create` makes accounts.
    Closed,
}

/// Authentication and per-tenant limits.
#[derive(Debug, Clone, Args)]
pub struct AccessSettings {
    /// `on`: every `/api/v1` call needs credentials. `off`: a single-tenant service open to anyone
    /// who reaches it (refused on a non-loopback address unless IMGBATCH_AUTH_OFF_I_UNDERSTAND).
    #[arg(long = "auth", env = "IMGBATCH_AUTH", value_enum, default_value = "on")]
    pub auth: AuthMode,

    /// Allow `IMGBATCH_AUTH=off` on an address other than loopback.
    #[arg(long = "auth-off-i-understand", env = "IMGBATCH_AUTH_OFF_I_UNDERSTAND", default_value_t = false, action = clap::ArgAction::Set)]
    pub auth_off_understood: bool,

    /// `open`: anyone may register an account. `closed`: only `imgbatch tenant create`.
    #[arg(long, env = "IMGBATCH_REGISTRATION", value_enum, default_value = "open")]
    pub registration: Registration,

    /// Key that signs imgbatch's own tokens (HS256), at least 32 bytes. Generated on first start
    /// and kept in the database when unset.
    #[arg(long, env = "IMGBATCH_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,

    /// Public key (PEM text, or a file holding it; RSA for RS256 or EC P-256 for ES256) of an
    /// outside identity provider whose tokens are accepted too: their `sub` is the tenant.
    #[arg(long, env = "IMGBATCH_JWT_PUBLIC_KEY")]
    pub jwt_public_key: Option<String>,

    /// The `iss` an outside token must have (required with IMGBATCH_JWT_PUBLIC_KEY).
    #[arg(long, env = "IMGBATCH_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// The `aud` an outside token must have (required with IMGBATCH_JWT_PUBLIC_KEY).
    #[arg(long, env = "IMGBATCH_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// Take a client's address from the last `X-Forwarded-For` entry (the one the proxy in front
    /// appended) rather than the connection's, for limits kept per client. Only behind a proxy
    /// that sets it: otherwise a client could name any address.
    #[arg(long, env = "IMGBATCH_TRUST_FORWARDED_FOR", default_value_t = false, action = clap::ArgAction::Set)]
    pub trust_forwarded_for: bool,

    /// How long a token from `POST /api/v1/auth/login` lasts.
    #[arg(long, env = "IMGBATCH_TOKEN_TTL", default_value = "1h", value_parser = parse_duration)]
    pub token_ttl: Duration,

    /// How long a rotated-out webhook secret keeps signing beside the new one.
    #[arg(long, env = "IMGBATCH_WEBHOOK_SECRET_OVERLAP", default_value = "24h", value_parser = parse_duration)]
    pub webhook_secret_overlap: Duration,

    /// Uploads a tenant may make per minute.
    #[arg(long, env = "IMGBATCH_RATE_UPLOADS", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_uploads: u32,

    /// Single-image jobs a tenant may submit per minute (each may store an upload of up to
    /// `IMGBATCH_MAX_IMAGE_BYTES`).
    #[arg(long, env = "IMGBATCH_RATE_JOBS", default_value_t = 600, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_jobs: u32,

    /// Images of one tenant in the job queue at once, over every worker process: a small upload
    /// waits behind at most this many images of another tenant's big one.
    #[arg(long, env = "IMGBATCH_TENANT_WINDOW", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub tenant_window: u64,

    /// Images a tenant may have waiting to be processed, over all its requests.
    #[arg(long, env = "IMGBATCH_TENANT_MAX_PENDING_IMAGES", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub tenant_max_pending_images: u64,
}

impl AccessSettings {
    /// Checks what clap's per-value parsing cannot; the error names the setting.
    pub fn validate(&self, bind: std::net::SocketAddr) -> Result<(), String> {
        if self.auth == AuthMode::Off && !bind.ip().is_loopback() && !self.auth_off_understood {
            return Err(format!(
                "IMGBATCH_AUTH: off would let anyone who reaches {bind} read and upload everything; bind a \
                 loopback address, or set IMGBATCH_AUTH_OFF_I_UNDERSTAND=true"
            ));
        }
        if let Some(secret) = &self.jwt_secret
            && secret.expose().len() < 32
        {
            return Err("IMGBATCH_JWT_SECRET: use at least 32 characters".into());
        }
        // Without both, any token the provider signs for any of its other applications would do.
        if self.jwt_public_key.is_some() && (self.jwt_issuer.is_none() || self.jwt_audience.is_none()) {
            return Err("IMGBATCH_JWT_PUBLIC_KEY: set IMGBATCH_JWT_ISSUER and IMGBATCH_JWT_AUDIENCE too".into());
        }
        if self.token_ttl < Duration::from_secs(60) || self.token_ttl > Duration::from_secs(30 * 86_400) {
            return Err("IMGBATCH_TOKEN_TTL: must be from 1m to 30d".into());
        }
        if self.webhook_secret_overlap > Duration::from_secs(30 * 86_400) {
            return Err("IMGBATCH_WEBHOOK_SECRET_OVERLAP: must be at most 30d".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;

    #[test]
    fn auth_off_is_refused_beyond_loopback_unless_understood() {
        let mut c = Config::defaults();
        c.access.auth = super::AuthMode::Off;
        c.validate().unwrap();
        c.bind = "0.0.0.0:8080".parse().unwrap();
        c.public_url = Some("https://img.example.com".parse().unwrap());
        assert!(c.validate().unwrap_err().starts_with("IMGBATCH_AUTH"));
        c.access.auth_off_understood = true;
        c.validate().unwrap();
    }

    #[test]
    fn short_jwt_secrets_and_odd_token_lifetimes_are_refused() {
        let mut c = Config::defaults();
        c.access.jwt_secret = Some(crate::config::Secret::new("short"));
        assert!(c.validate().unwrap_err().starts_with("IMGBATCH_JWT_SECRET"));
        c.access.jwt_secret = None;
        c.access.token_ttl = std::time::Duration::from_secs(1);
        assert!(c.validate().unwrap_err().starts_with("IMGBATCH_TOKEN_TTL"));
        c.access.token_ttl = std::time::Duration::from_secs(3600);
        c.access.jwt_public_key = Some("-----BEGIN PUBLIC KEY-----".into());
        c.access.jwt_issuer = Some("https://idp.example.com/".into());
        assert!(c.validate().unwrap_err().starts_with("IMGBATCH_JWT_PUBLIC_KEY"), "an audience is needed too");
    }
}
