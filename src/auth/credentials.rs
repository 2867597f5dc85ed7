//! Passwords (argon2id) and API keys (`ib_` and 32 random bytes, stored as their SHA-256).

use std::sync::LazyLock;

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier, password_hash::SaltString};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::Secret;

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest password accepted: argon2 takes any length, but hashing megabytes is a cost
/// anyone could impose.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// What every API key starts with, so that it is recognised (and found by secret scanners).
pub const KEY_PREFIX: &str = "ib_";
/// Characters of a key kept to tell keys apart: `ib_` and the first 8 of the random part.
const SHOWN_PREFIX: usize = 11;

/// Hashes a password with argon2id and a random salt (a PHC string). CPU-heavy: run it off the
/// async threads.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut random = [0u8; 16];
    rand::rng().fill_bytes(&mut random);
    let salt = SaltString::encode_b64(&random).map_err(|e| anyhow::anyhow!("making a salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
}

/// Checks a password against a stored hash; with no hash (an unknown email, an account without a
/// password) a dummy hash is checked instead, so that the answer takes as long either way.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: LazyLock<String> =
        LazyLock::new(|| hash_password("not the password of any account").expect("hashing works"));
    let (hash, real) = match stored {
        Some(h) => (h, true),
        None => (DUMMY.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(hash) else { return false };
    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && real
}

/// A new API key: the key (shown once), the part of it kept to tell it apart, and its hash.
pub fn new_api_key() -> (Secret, String, String) {
    let mut random = [0u8; 32];
    rand::rng().fill_bytes(&mut random);
    let key = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(random));
    let prefix = key[..SHOWN_PREFIX].to_owned();
    let hash = hash_api_key(&key);
    (Secret::new(key), prefix, hash)
}

/// The stored form of an API key (its SHA-256, hex); also the digest a sign-in email is counted
/// under.
pub fn hash_api_key(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks an email address enough to sign in with it; returns it lower-cased.
pub fn normalise_email(raw: &str) -> Result<String, String> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && email.matches('@').count() == 1
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    match valid {
        true => Ok(email),
        false => Err("email must be an address such as merchant@example.com".into()),
    }
}

/// Checks a new password's length.
pub fn check_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!("password must have at least {MIN_PASSWORD_CHARS} characters"));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!("password must be at most {MAX_PASSWORD_BYTES} bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", Some(&hash)));
        assert!(!verify_password("wrong horse battery", Some(&hash)));
        assert!(!verify_password("not the password of any account", None), "the dummy never signs anyone in");
    }

    #[test]
    fn api_keys_are_long_random_and_hashed() {
        let (key, prefix, hash) = new_api_key();
        assert!(key.expose().starts_with("ib_") && key.expose().len() >= 3 + 43);
        assert!(key.expose().starts_with(&prefix));
        assert_eq!(hash, hash_api_key(key.expose()));
        assert_ne!(new_api_key().2, hash);
    }

    #[test]
    fn emails_and_passwords_are_checked() {
        assert_eq!(normalise_email(" Merchant@Example.COM ").unwrap(), "merchant@example.com");
        for bad in ["", "merchant", "a@b", "a@@b.com", "a b@c.com", "@example.com", "a@.com"] {
            assert!(normalise_email(bad).is_err(), "{bad:?}");
        }
        assert!(check_password("short").is_err());
        assert!(check_password("long enough!").is_ok());
        assert!(check_password(&"x".repeat(2000)).is_err());
    }
}
