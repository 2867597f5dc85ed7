//! Downloading one image: streamed, stopped at the byte limit, within the timeout, through the
//! outbound policy on every redirect hop.

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use reqwest::StatusCode;
use url::Url;

use super::attempt::Attempt;
use crate::net;

/// Downloads `url` into memory, refusing more than `max_bytes`.
pub async fn fetch(client: &reqwest::Client, url: &Url, max_bytes: u64, allow_private: bool) -> Result<Bytes, Attempt> {
    net::check_url(url, allow_private).map_err(|e| Attempt::Permanent(e.to_string()))?;
    let response = client.get(url.clone()).send().await.map_err(classify)?;
    let status = response.status();
    if !status.is_success() {
        let msg = format!("the image server answered {status}");
        let transient = status.is_server_error()
            || status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT;
        return Err(if transient { Attempt::Transient(msg) } else { Attempt::Permanent(msg) });
    }
    let too_large = || Attempt::Permanent(format!("the image is larger than the limit of {max_bytes} bytes"));
    let declared = response.content_length();
    if declared.is_some_and(|len| len > max_bytes) {
        return Err(too_large());
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(64 * 1024).min(max_bytes) as usize);
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(classify)?;
        if (body.len() + chunk.len()) as u64 > max_bytes {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn classify(err: reqwest::Error) -> Attempt {
    if let Some(refused) = net::refusal(&err) {
        return Attempt::Permanent(refused.to_string());
    }
    let what = net::chain(&err);
    if err.is_timeout() {
        Attempt::Transient(format!("the download timed out ({what})"))
    } else if err.is_builder() || err.is_redirect() {
        Attempt::Permanent(what)
    } else {
        Attempt::Transient(what)
    }
}
