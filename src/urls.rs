//! Every URL imgbatch hands out (in answers, the output CSV and webhook events) is built here, on
//! one base: `IMGBATCH_PUBLIC_URL`, or the address the API is bound to.

use crate::domain::ids::RequestId;

/// Builds public URLs on one base.
#[derive(Debug, Clone)]
pub struct Urls {
    base: String,
}

impl Urls {
    /// URLs under `base` (such as `https://img.example.com`; a trailing slash is dropped).
    pub fn new(base: &str) -> Self {
        Self { base: base.trim_end_matches('/').to_owned() }
    }

    /// A request's status.
    pub fn request(&self, id: RequestId) -> String {
        format!("{}/api/v1/requests/{id}", self.base)
    }

    /// A request's output CSV.
    pub fn output_csv(&self, id: RequestId) -> String {
        format!("{}/api/v1/requests/{id}/output.csv", self.base)
    }

    /// A job's status.
    pub fn job(&self, id: RequestId) -> String {
        format!("{}/api/v1/jobs/{id}", self.base)
    }

    /// A job's result (a redirect to its output once it has one).
    pub fn job_result(&self, id: RequestId) -> String {
        format!("{}/api/v1/jobs/{id}/result", self.base)
    }

    /// A stored output, by its key.
    pub fn file(&self, key: &str) -> String {
        format!("{}/files/{key}", self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_share_one_base() {
        let urls = Urls::new("https://img.example.com/");
        let id: RequestId = "01937a1e-8f0c-7cc1-9a51-3c1f2d7e4b10".parse().unwrap();
        assert_eq!(urls.request(id), "https://img.example.com/api/v1/requests/01937a1e-8f0c-7cc1-9a51-3c1f2d7e4b10");
        assert!(urls.output_csv(id).ends_with("/01937a1e-8f0c-7cc1-9a51-3c1f2d7e4b10/output.csv"));
        assert!(urls.job_result(id).ends_with("/api/v1/jobs/01937a1e-8f0c-7cc1-9a51-3c1f2d7e4b10/result"));
        assert_eq!(urls.file("ab.jpg"), "https://img.example.com/files/ab.jpg");
    }
}
