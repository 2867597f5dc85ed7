//! `imgbatch login`: trades an email and password for a token, kept in the user's config
//! directory (readable by the user only) for the other commands to use when no API key is given.

use std::{io::IsTerminal, path::PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// A token kept by `login`, for one server.
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    server: String,
    access_token: String,
    /// Seconds since the epoch.
    expires_at: u64,
}

/// `$XDG_CONFIG_HOME/imgbatch/token.json`, else `~/.config/imgbatch/token.json`.
fn path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(base.join("imgbatch").join("token.json"))
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// The kept token for `server`, if there is one that has not expired.
pub fn stored_token(server: &str) -> Option<String> {
    let stored: Stored = serde_json::from_slice(&std::fs::read(path()?).ok()?).ok()?;
    (stored.server == server && stored.expires_at > now() + 5).then_some(stored.access_token)
}

/// Signs in as `email` on `server` (the password from a prompt on a terminal, else the first
/// line of standard input) and keeps the token.
pub async fn login(server: &super::Server, email: &str) -> anyhow::Result<()> {
    let password = match std::io::stdin().is_terminal() {
        true => rpassword::prompt_password(format!("password for {email}: "))?,
        false => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).context("cannot read the password from standard input")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let client = super::Client::new(server)?;
    let body = serde_json::json!({"email": email, "password": password});
    let answer = client.json(client.http.post(format!("{}/api/v1/auth/login", client.base)).json(&body)).await?;
    let stored = Stored {
        server: client.base.clone(),
        access_token: answer["access_token"].as_str().context("the answer has no access_token")?.to_owned(),
        expires_at: now() + answer["expires_in"].as_u64().unwrap_or(0),
    };
    let path = path().context("no config directory: set HOME or XDG_CONFIG_HOME")?;
    write_private(&path, &serde_json::to_vec_pretty(&stored)?)?;
    eprintln!(
        "signed in as {email}; the token (valid {} min) is kept in {}",
        answer["expires_in"].as_u64().unwrap_or(0) / 60,
        path.display()
    );
    Ok(())
}

/// Writes `bytes` to `path`, readable and writable by the user only, replacing it whole.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let dir = path.parent().context("a config path has a directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let partial = path.with_extension("json.partial");
    let _ = std::fs::remove_file(&partial);
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&partial)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&partial, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
