//! Where compressed images live: one struct over `object_store`, so a local directory and an
//! S3-compatible bucket are the same code. Keys are content hashes, so a stored object never
//! changes and can be cached forever. Clients always fetch outputs through `GET /files/{key}`,
//! whatever the store: one URL scheme, no presigned links that expire, and the bucket stays private.

use std::{
    path::{Path as FsPath, PathBuf},
    str::FromStr,
    sync::Arc,
};

use anyhow::Context;
use bytes::Bytes;
use object_store::{
    BackoffConfig, ClientConfigKey, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
    aws::{AmazonS3Builder, AmazonS3ConfigKey},
    local::LocalFileSystem,
    path::Path,
    prefix::PrefixStore,
};
use sha2::{Digest, Sha256};

use crate::domain::transform::OutputFormat;

/// The key of a stored object: for an output, the SHA-256 of its bytes and its extension; for an
/// uploaded input (never served), `inputs/` and the SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageKey(String);

/// The prefix of uploaded inputs' keys.
const INPUTS: &str = "inputs/";

fn sha256_hex(bytes: &[u8]) -> String {
    let mut hex = String::with_capacity(64 + 8);
    for b in Sha256::digest(bytes) {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl StorageKey {
    /// The key of an output with these bytes, in `format`.
    pub fn for_output(bytes: &[u8], format: OutputFormat) -> Self {
        let mut hex = sha256_hex(bytes);
        hex.push('.');
        hex.push_str(format.extension());
        Self(hex)
    }

    /// The key of an uploaded input with these bytes.
    pub fn for_input(bytes: &[u8]) -> Self {
        Self(format!("{INPUTS}{}", sha256_hex(bytes)))
    }

    /// A key read back from a row: an output's or an input's.
    pub fn from_stored(s: &str) -> Option<Self> {
        match s.strip_prefix(INPUTS) {
            Some(hash) => is_hash(hash).then(|| Self(s.to_owned())),
            None => Self::parse(s),
        }
    }

    /// The key of a JPEG with these bytes.
    pub fn for_jpeg(bytes: &[u8]) -> Self {
        Self::for_output(bytes, OutputFormat::Jpeg)
    }

    /// Parses a key from a URL path segment; only keys this service could have made are accepted.
    pub fn parse(s: &str) -> Option<Self> {
        let (hash, ext) = s.split_once('.')?;
        let ok = is_hash(hash) && OutputFormat::from_extension(ext).is_some();
        ok.then(|| Self(s.to_owned()))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The content type of what is stored under this key.
    pub fn content_type(&self) -> &'static str {
        let ext = self.0.rsplit('.').next().unwrap_or_default();
        OutputFormat::from_extension(ext).unwrap_or_default().content_type()
    }

    fn path(&self) -> Path {
        match self.0.strip_prefix(INPUTS) {
            Some(hash) => Path::from(format!("inputs/{}/{hash}", &hash[..2])),
            None => Path::from(format!("images/{}/{}", &self.0[..2], self.0)),
        }
    }
}

/// Where outputs go, as `IMGBATCH_STORAGE` says: a local directory, or `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageLocation {
    /// A directory on this machine.
    Local(PathBuf),
    /// A bucket of S3 or an S3-compatible server, under a key prefix. Credentials, region and
    /// endpoint come from the usual `AWS_*` variables (`AWS_ENDPOINT_URL` and `AWS_ALLOW_HTTP=true`
    /// for a local server).
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix, without leading or trailing slashes (may be empty).
        prefix: String,
    },
}

impl FromStr for StorageLocation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let Some(rest) = s.strip_prefix("s3://") else {
            return Ok(Self::Local(PathBuf::from(s)));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("expected s3://bucket/prefix, got {s:?}"));
        }
        Ok(Self::S3 { bucket: bucket.to_owned(), prefix: prefix.trim_matches('/').to_owned() })
    }
}

/// The output store.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
}

impl Storage {
    /// The store a location names; `endpoint` overrides `AWS_ENDPOINT_URL` for S3.
    pub fn open(location: &StorageLocation, endpoint: Option<&str>) -> anyhow::Result<Self> {
        match location {
            StorageLocation::Local(dir) => Self::local(dir),
            StorageLocation::S3 { bucket, prefix } => {
                let mut builder = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    // A put that fails is retried by the pipeline, for as long as the store is
                    // down; the client's own retries only smooth over blips. Its defaults (ten
                    // retries over three minutes, 30 s per request) would hold an image, and
                    // `/readyz`, for minutes.
                    .with_retry(RetryConfig {
                        backoff: BackoffConfig::default(),
                        max_retries: 2,
                        retry_timeout: std::time::Duration::from_secs(10),
                    })
                    .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout), "3s")
                    .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::Timeout), "15s");
                if let Some(endpoint) = endpoint {
                    builder = builder.with_endpoint(endpoint);
                }
                let s3 =
                    builder.build().context("IMGBATCH_STORAGE: cannot configure S3 (check the AWS_* variables)")?;
                let store: Arc<dyn ObjectStore> = match prefix.is_empty() {
                    true => Arc::new(s3),
                    false => Arc::new(PrefixStore::new(s3, prefix.as_str())),
                };
                Ok(Self { store })
            }
        }
    }

    /// Files under a local directory, created if missing.
    pub fn local(dir: &FsPath) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("IMGBATCH_STORAGE: cannot create {}", dir.display()))?;
        let store = LocalFileSystem::new_with_prefix(dir)
            .with_context(|| format!("IMGBATCH_STORAGE: cannot use {}", dir.display()))?;
        Ok(Self { store: Arc::new(store) })
    }

    /// A store in memory, for unit tests.
    #[cfg(test)]
    fn in_memory() -> Self {
        Self { store: Arc::new(object_store::memory::InMemory::new()) }
    }

    /// Stores bytes under their key; storing the same bytes twice is harmless.
    pub async fn put(&self, key: &StorageKey, bytes: Bytes) -> anyhow::Result<()> {
        self.store
            .put(&key.path(), PutPayload::from(bytes))
            .await
            .with_context(|| format!("storing {}", key.as_str()))?;
        Ok(())
    }

    /// Reads what is stored under a key, or `None` when nothing is.
    pub async fn get(&self, key: &StorageKey) -> anyhow::Result<Option<Bytes>> {
        match self.store.get(&key.path()).await {
            Ok(found) => Ok(Some(found.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// True when something is stored under a key.
    pub async fn exists(&self, key: &StorageKey) -> anyhow::Result<bool> {
        match self.store.head(&key.path()).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes what is stored under a key; removing what is not there is harmless.
    pub async fn delete(&self, key: &StorageKey) -> anyhow::Result<()> {
        match self.store.delete(&key.path()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(anyhow::Error::new(e).context(format!("deleting {}", key.as_str()))),
        }
    }

    /// Paths of every object stored under a top-level `prefix` (`images` or `inputs`).
    pub async fn keys(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        use futures::TryStreamExt;
        let listed: Vec<_> = self.store.list(Some(&Path::from(prefix))).try_collect().await?;
        Ok(listed.into_iter().map(|meta| meta.location.to_string()).collect())
    }

    /// Checks that the store answers: a listing fails on a missing bucket, where a lookup of one
    /// key would only say "not found".
    pub async fn ping(&self) -> anyhow::Result<()> {
        self.store.list_with_delimiter(Some(&Path::from("images"))).await.map(drop).context("store unreachable")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_directories_or_s3_buckets_with_a_prefix() {
        assert_eq!("./data/files".parse(), Ok(StorageLocation::Local("./data/files".into())));
        assert_eq!(
            "s3://outputs/imgbatch/prod/".parse(),
            Ok(StorageLocation::S3 { bucket: "outputs".into(), prefix: "imgbatch/prod".into() })
        );
        assert_eq!("s3://outputs".parse(), Ok(StorageLocation::S3 { bucket: "outputs".into(), prefix: String::new() }));
        assert!("s3://".parse::<StorageLocation>().is_err());
    }

    #[test]
    fn keys_are_content_hashes_and_parse_back() {
        let key = StorageKey::for_jpeg(b"abc");
        assert_eq!(key.as_str(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad.jpg");
        assert_eq!(StorageKey::parse(key.as_str()), Some(key));
        assert_eq!(StorageKey::parse("../etc/passwd"), None);
        let input = StorageKey::for_input(b"abc");
        assert_eq!(input.as_str(), "inputs/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(StorageKey::parse(input.as_str()), None, "inputs are never served");
        assert_eq!(StorageKey::from_stored(input.as_str()), Some(input));
        assert_eq!(StorageKey::from_stored("inputs/../x"), None);
        assert_eq!(StorageKey::parse("abc.jpg"), None);
    }

    #[tokio::test]
    async fn stored_bytes_read_back() {
        let storage = Storage::in_memory();
        let key = StorageKey::for_jpeg(b"x");
        assert!(storage.get(&key).await.unwrap().is_none());
        storage.put(&key, Bytes::from_static(b"x")).await.unwrap();
        assert_eq!(storage.get(&key).await.unwrap().unwrap(), &b"x"[..]);
    }
}
