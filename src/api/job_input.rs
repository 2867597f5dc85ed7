//! Reading a job's submission, three ways: a multipart form with the image as `file` (or a `url`
//! field), JSON with the image as base64 `data`, or JSON with a `url`. Every option is checked
//! and the image sniffed by its bytes before anything is stored.

use axum::{
    extract::{FromRequest, Multipart, Request},
    http::header,
};
use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::extract::{broken, non_empty, parse_webhook_url, read_text};
use crate::{
    domain::{
        product::check_url,
        quality::Quality,
        transform::{Fields, Fit, OutputFormat, Transform},
    },
    error::ApiError,
    net,
    pipeline::compress::ImageKind,
    state::AppState,
};

/// A job's image, as given.
pub enum Given {
    /// Its bytes (uploaded or base64), sniffed as an image.
    Bytes(Bytes),
    /// A URL to fetch it from, checked under the outbound policy.
    Url(url::Url),
}

/// A validated job submission, before anything is stored.
pub struct JobRequest {
    /// The image.
    pub image: Given,
    /// Where its `job.completed` event goes.
    pub webhook_url: Option<url::Url>,
    /// Encoder quality.
    pub quality: Quality,
    /// The box, fit and format.
    pub transform: Transform,
}

/// A job as JSON: the image as base64 `data` or as a `url`, and the options.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://cdn.example.com/shoe.jpg", "width": 256, "height": 256, "fit": "cover", "format": "webp"}))]
pub struct JobJson {
    /// The image, base64 (standard alphabet); a `data:image/…;base64,` prefix is allowed.
    data: Option<String>,
    /// Where to fetch the image (http or https).
    url: Option<String>,
    /// Width of the box, 1–10000.
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 10000)]
    width: Option<Value>,
    /// Height of the box, 1–10000.
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 10000)]
    height: Option<Value>,
    /// `inside` (default), `cover` or `contain`.
    #[schema(value_type = Option<Fit>)]
    fit: Option<String>,
    /// `jpeg` (default), `webp` or `png`.
    #[schema(value_type = Option<OutputFormat>)]
    format: Option<String>,
    /// Encoder quality for JPEG and WebP, 1–100 (default: `IMGBATCH_JPEG_QUALITY`).
    #[schema(value_type = Option<u8>, minimum = 1, maximum = 100)]
    quality: Option<Value>,
    /// Where to POST the signed `job.completed` event.
    webhook_url: Option<String>,
}

/// A job as a multipart form.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct JobForm {
    /// The image: JPEG, PNG, GIF or WebP. Give it or `url`.
    #[schema(value_type = Option<String>, format = Binary, content_media_type = "image/*")]
    file: Option<Vec<u8>>,
    /// Where to fetch the image instead (http or https).
    url: Option<String>,
    /// Width of the box, 1–10000.
    #[schema(minimum = 1, maximum = 10000, example = 256)]
    width: Option<u32>,
    /// Height of the box, 1–10000.
    #[schema(minimum = 1, maximum = 10000, example = 256)]
    height: Option<u32>,
    /// `inside` (default), `cover` or `contain`.
    #[schema(value_type = Option<Fit>, example = "cover")]
    fit: Option<String>,
    /// `jpeg` (default), `webp` or `png`.
    #[schema(value_type = Option<OutputFormat>, example = "webp")]
    format: Option<String>,
    /// Encoder quality for JPEG and WebP, 1–100.
    #[schema(minimum = 1, maximum = 100, example = 50)]
    quality: Option<u8>,
    /// Where to POST the signed `job.completed` event.
    webhook_url: Option<String>,
}

/// The most bytes a job's body may have: the image's limit in base64, plus room for the options.
pub fn job_body_limit(config: &crate::Config) -> u64 {
    config.max_image_bytes.0.saturating_mul(4).div_ceil(3).saturating_add(64 << 10)
}

/// Reads and checks a job's body, by its content type.
pub async fn read_job(state: &AppState, request: Request) -> Result<JobRequest, ApiError> {
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let fields = match essence.as_str() {
        "multipart/form-data" => {
            let form = Multipart::from_request(request, state).await.map_err(|e| {
                ApiError::bad_request(format!("expected a multipart/form-data body: {}", e.body_text()))
            })?;
            read_form(state, form).await?
        }
        "application/json" => read_json(state, request).await?,
        _ => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "send the image as multipart/form-data (a `file` or `url` field) or as application/json \
                 ({{\"data\": \"<base64>\"}} or {{\"url\": \"https://…\"}}), not {:?}",
                content_type
            )));
        }
    };
    fields.check(state).await
}

/// What the body said, not checked yet.
#[derive(Default)]
struct Raw {
    bytes: Option<Bytes>,
    data: Option<String>,
    url: Option<String>,
    width: Option<String>,
    height: Option<String>,
    fit: Option<String>,
    format: Option<String>,
    quality: Option<String>,
    webhook_url: Option<String>,
}

async fn read_form(state: &AppState, mut form: Multipart) -> Result<Raw, ApiError> {
    let limit = job_body_limit(&state.config);
    let max_image = state.config.max_image_bytes.0;
    let mut raw = Raw::default();
    while let Some(mut field) = form.next_field().await.map_err(broken(limit))? {
        let name = field.name().unwrap_or_default().to_owned();
        let slot = match name.as_str() {
            "file" if raw.bytes.is_some() => return Err(ApiError::bad_request("more than one `file` field")),
            "file" => {
                let mut buf = BytesMut::new();
                while let Some(chunk) = field.chunk().await.map_err(broken(limit))? {
                    if (buf.len() + chunk.len()) as u64 > max_image {
                        return Err(ApiError::PayloadTooLarge { limit: max_image });
                    }
                    buf.extend_from_slice(&chunk);
                }
                raw.bytes = Some(buf.freeze());
                continue;
            }
            "url" => &mut raw.url,
            "width" => &mut raw.width,
            "height" => &mut raw.height,
            "fit" => &mut raw.fit,
            "format" => &mut raw.format,
            "quality" => &mut raw.quality,
            "webhook_url" => &mut raw.webhook_url,
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown form field {other:?}; expected file, url, width, height, fit, format, quality, webhook_url"
                )));
            }
        };
        *slot = non_empty(read_text(field, limit).await?);
    }
    Ok(raw)
}

async fn read_json(state: &AppState, request: Request) -> Result<Raw, ApiError> {
    let limit = job_body_limit(&state.config);
    let body =
        axum::body::to_bytes(request.into_body(), usize::try_from(limit).unwrap_or(usize::MAX)).await.map_err(|e| {
            match over_limit(&e) {
                true => ApiError::PayloadTooLarge { limit: state.config.max_image_bytes.0 },
                false => ApiError::bad_request(format!("the body could not be read: {e}")),
            }
        })?;
    let json: JobJson =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("expected a JSON body: {e}")))?;
    // Numbers and strings are both taken, and checked with the form's words.
    let text = |v: Option<Value>| match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => non_empty(s),
        Some(other) => Some(other.to_string()),
    };
    Ok(Raw {
        bytes: None,
        data: json.data,
        url: json.url.and_then(non_empty),
        width: text(json.width),
        height: text(json.height),
        fit: json.fit.and_then(non_empty),
        format: json.format.and_then(non_empty),
        quality: text(json.quality),
        webhook_url: json.webhook_url.and_then(non_empty),
    })
}

/// True when reading stopped at a body limit (this route's or the router's), not a broken body.
fn over_limit(e: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

impl Raw {
    async fn check(self, state: &AppState) -> Result<JobRequest, ApiError> {
        let config = &state.config;
        let fields = Fields {
            width: self.width.as_deref(),
            height: self.height.as_deref(),
            fit: self.fit.as_deref(),
            format: self.format.as_deref(),
        };
        let transform = Transform::from_fields(fields).map_err(|e| ApiError::BadRequest(e.0))?;
        let quality = match &self.quality {
            None => config.jpeg_quality,
            Some(q) => Quality::parse(q).map_err(ApiError::BadRequest)?,
        };
        let webhook_url = match &self.webhook_url {
            Some(u) => Some(parse_webhook_url(u, config.allow_private_urls).await?),
            None => None,
        };
        let image = match (self.bytes, self.data, self.url) {
            (Some(bytes), None, None) => Given::Bytes(sniffed(bytes)?),
            (None, Some(data), None) => Given::Bytes(sniffed(decode_base64(&data, config.max_image_bytes.0)?)?),
            (None, None, Some(url)) => Given::Url(check_image_url(&url, config.allow_private_urls)?),
            (None, None, None) => {
                return Err(ApiError::bad_request("no image: give a `file` (multipart), base64 `data` or a `url`"));
            }
            _ => return Err(ApiError::bad_request("give the image one way only: `file`, `data` or `url`")),
        };
        Ok(JobRequest { image, webhook_url, quality, transform })
    }
}

/// The image's bytes, if they start as an image does.
fn sniffed(bytes: Bytes) -> Result<Bytes, ApiError> {
    match ImageKind::sniff(&bytes) {
        Some(_) => Ok(bytes),
        None if bytes.is_empty() => Err(ApiError::bad_request("the image is empty")),
        None => Err(ApiError::UnsupportedMediaType(
            "the image is not a JPEG, PNG, GIF or WebP file (judged by its first bytes)".into(),
        )),
    }
}

/// Decodes base64 `data`, with or without a `data:…;base64,` prefix; line breaks are ignored.
fn decode_base64(data: &str, max_bytes: u64) -> Result<Bytes, ApiError> {
    let data = data.trim();
    let payload = match data.strip_prefix("data:") {
        Some(rest) => {
            let (meta, payload) = rest
                .split_once(',')
                .ok_or_else(|| ApiError::bad_request("data: a data URL needs a comma before its payload"))?;
            if !meta.ends_with(";base64") {
                return Err(ApiError::bad_request("data: a data URL must be base64 (`data:image/png;base64,…`)"));
            }
            payload
        }
        None => data,
    };
    // Every 4 characters are 3 bytes: an encoding longer than the limit allows is refused undecoded.
    if (payload.len() as u64 / 4).saturating_mul(3) > max_bytes.saturating_add(3) {
        return Err(ApiError::PayloadTooLarge { limit: max_bytes });
    }
    let compact: std::borrow::Cow<'_, str> = match payload.bytes().any(|b| b.is_ascii_whitespace()) {
        true => payload.chars().filter(|c| !c.is_ascii_whitespace()).collect::<String>().into(),
        false => payload.into(),
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| ApiError::bad_request(format!("data is not valid base64: {e}")))?;
    if bytes.len() as u64 > max_bytes {
        return Err(ApiError::PayloadTooLarge { limit: max_bytes });
    }
    Ok(bytes.into())
}

/// An image URL: http or https, and no literal address the outbound policy refuses (names are
/// resolved and checked when it is fetched, as for a CSV's URLs).
fn check_image_url(raw: &str, allow_private: bool) -> Result<url::Url, ApiError> {
    let url = check_url(raw.trim()).map_err(|why| ApiError::bad_request(format!("url {why}")))?;
    net::check_url(&url, allow_private).map_err(|e| ApiError::bad_request(format!("url: {e}")))?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_taken_plain_as_a_data_url_and_wrapped_in_lines() {
        let png = b"\x89PNG\r\n\x1a\n rest";
        let plain = base64::engine::general_purpose::STANDARD.encode(png);
        assert_eq!(&decode_base64(&plain, 100).unwrap()[..], png);
        assert_eq!(&decode_base64(&format!("data:image/png;base64,{plain}"), 100).unwrap()[..], png);
        let wrapped = format!("{}\n{}", &plain[..8], &plain[8..]);
        assert_eq!(&decode_base64(&wrapped, 100).unwrap()[..], png);
    }

    #[test]
    fn bad_or_oversized_base64_is_refused_with_its_reason() {
        let bad = decode_base64("!!!!", 100).unwrap_err();
        assert!(bad.to_string().starts_with("data is not valid base64"), "{bad}");
        assert!(matches!(decode_base64("data:image/png,abc", 100), Err(ApiError::BadRequest(_))));
        let big = base64::engine::general_purpose::STANDARD.encode([0u8; 200]);
        assert!(matches!(decode_base64(&big, 100), Err(ApiError::PayloadTooLarge { limit: 100 })));
        let just = base64::engine::general_purpose::STANDARD.encode([0u8; 101]);
        assert!(matches!(decode_base64(&just, 100), Err(ApiError::PayloadTooLarge { limit: 100 })));
    }

    #[test]
    fn bytes_that_are_not_an_image_are_415() {
        assert!(matches!(sniffed(Bytes::from_static(b"<html>")), Err(ApiError::UnsupportedMediaType(_))));
        assert!(matches!(sniffed(Bytes::new()), Err(ApiError::BadRequest(_))));
        assert!(sniffed(Bytes::from_static(b"\xff\xd8\xff\xe0")).is_ok());
    }
}
