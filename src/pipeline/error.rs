//! How an image's attempt went wrong: worth retrying, or not.

/// A failed attempt at one image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Transient (connect error, timeout, 5xx, 429): try again later.
    #[error("{0}")]
    Retry(String),
    /// Permanent (404, not an image, over a limit, refused address): fail the image now.
    #[error("{0}")]
    Permanent(String),
}

/// Adapters that classify an error at the call site.
pub trait ResultExt<T> {
    /// A failure here is transient.
    fn retry(self) -> Result<T, JobError>;
    /// A failure here is permanent.
    fn permanent(self) -> Result<T, JobError>;
}

impl<T, E: std::fmt::Display> ResultExt<T> for Result<T, E> {
    fn retry(self) -> Result<T, JobError> {
        self.map_err(|e| JobError::Retry(e.to_string()))
    }
    fn permanent(self) -> Result<T, JobError> {
        self.map_err(|e| JobError::Permanent(e.to_string()))
    }
}

/// An error with its causes, `outer: inner: innermost`, for messages a person reads.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = e.source();
    }
    out
}
