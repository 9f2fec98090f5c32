//! Object locations: `s3://bucket/key`, the one way every part of the pipeline names data.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A bucket and a key (possibly empty, or a prefix ending in `/`), written `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ObjectUri {
    bucket: String,
    key: String,
}

/// Why a text is not an `s3://bucket/key` URI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    #[error("'{0}' is not an S3 URI: expected s3://bucket/key")]
    NotS3(String),
    #[error("'{uri}' has an invalid {problem}")]
    BadBucket {
        uri: String,
        bucket: String,
        /// What S3's naming rules say is wrong with it.
        problem: String,
    },
    #[error("'{uri}' has a key longer than 1024 bytes")]
    KeyTooLong { uri: String },
}

impl ObjectUri {
    /// A URI from its parts; the bucket name is checked like S3 checks it.
    pub fn new(bucket: impl Into<String>, key: impl Into<String>) -> Result<Self, UriError> {
        let bucket = bucket.into();
        let key = key.into();
        let uri = format!("s3://{bucket}/{key}");
        if let Some(problem) = bucket_name_problem(&bucket) {
            return Err(UriError::BadBucket {
                uri,
                bucket,
                problem,
            });
        }
        if key.len() > 1024 {
            return Err(UriError::KeyTooLong { uri });
        }
        Ok(Self { bucket, key })
    }

    /// Parses `s3://bucket/key`; `s3://bucket` alone means the whole bucket (empty key).
    pub fn parse(text: &str) -> Result<Self, UriError> {
        let rest = text
            .strip_prefix("s3://")
            .ok_or_else(|| UriError::NotS3(text.to_owned()))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        Self::new(bucket, key)
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key, or the prefix when this names a folder.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// True when the key is empty or ends in `/`: the URI names a prefix, not an object.
    pub fn is_prefix(&self) -> bool {
        self.key.is_empty() || self.key.ends_with('/')
    }

    /// The URI of `name` under this prefix (a `/` is put between them when missing).
    pub fn join(&self, name: &str) -> Self {
        let key = if self.key.is_empty() || self.key.ends_with('/') {
            format!("{}{name}", self.key)
        } else {
            format!("{}/{name}", self.key)
        };
        Self {
            bucket: self.bucket.clone(),
            key,
        }
    }

    /// True when `other` lies at or under this URI's key (same bucket, key prefix).
    pub fn contains(&self, other: &ObjectUri) -> bool {
        self.bucket == other.bucket && other.key.starts_with(&self.key)
    }

    /// The last path segment of the key (the file name).
    pub fn file_name(&self) -> &str {
        self.key
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("")
    }
}

/// Why S3 would refuse to create a general purpose bucket named `name`, per AWS's documented
/// naming rules ("General purpose bucket naming rules", Amazon S3 User Guide); `None` when it
/// is a valid name.
pub fn bucket_name_problem(name: &str) -> Option<String> {
    const RESERVED_PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
    const RESERVED_SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
    let problem = if !(3..=63).contains(&name.len()) {
        format!("is {} characters long; use 3 to 63", name.len())
    } else if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        format!("contains '{c}'; use only lowercase letters, digits, dots and hyphens")
    } else if !name.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !name.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        "must begin and end with a letter or digit".to_owned()
    } else if name.contains("..") {
        "contains two adjacent dots".to_owned()
    } else if name.parse::<std::net::Ipv4Addr>().is_ok() {
        "is formatted as an IP address".to_owned()
    } else if let Some(p) = RESERVED_PREFIXES.iter().find(|p| name.starts_with(*p)) {
        format!("starts with '{p}', which S3 reserves")
    } else if let Some(x) = RESERVED_SUFFIXES.iter().find(|x| name.ends_with(*x)) {
        format!("ends with '{x}', which S3 reserves")
    } else {
        return None;
    };
    Some(format!("bucket name '{name}' {problem}"))
}

impl fmt::Display for ObjectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

impl FromStr for ObjectUri {
    type Err = UriError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for ObjectUri {
    type Error = UriError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ObjectUri> for String {
    fn from(u: ObjectUri) -> String {
        u.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bucket_and_key() {
        let u = ObjectUri::parse("s3://my-bucket/jobs/a b.json").unwrap();
        assert_eq!((u.bucket(), u.key()), ("my-bucket", "jobs/a b.json"));
        assert_eq!(u.to_string(), "s3://my-bucket/jobs/a b.json");
        assert!(!u.is_prefix());
        assert!(ObjectUri::parse("s3://my-bucket").unwrap().is_prefix());
    }

    #[test]
    fn rejects_what_s3_rejects() {
        assert!(matches!(
            ObjectUri::parse("/tmp/x"),
            Err(UriError::NotS3(_))
        ));
        assert!(matches!(
            ObjectUri::parse("s3://My_Bucket/x"),
            Err(UriError::BadBucket { .. })
        ));
        assert!(matches!(
            ObjectUri::parse("s3://ab/x"),
            Err(UriError::BadBucket { .. })
        ));
        // S3's other naming rules hold for every URI, not only the local store's
        for bad in [
            "my..bucket",
            "192.168.5.4",
            "xn--bucket",
            "sthree-data",
            "data-s3alias",
            "data--ol-s3",
            "-data",
        ] {
            let e = ObjectUri::parse(&format!("s3://{bad}/x")).unwrap_err();
            assert!(
                e.to_string().contains(&format!("bucket name '{bad}'")),
                "{e}"
            );
        }
        for good in ["data-1", "my.bucket.name", "abc", "a1b"] {
            assert!(
                ObjectUri::parse(&format!("s3://{good}/x")).is_ok(),
                "{good}"
            );
        }
    }

    #[test]
    fn join_and_contains() {
        let p = ObjectUri::parse("s3://b-1/out").unwrap();
        assert_eq!(p.join("part-0.csv").to_string(), "s3://b-1/out/part-0.csv");
        assert!(p.contains(&p.join("x")));
        assert!(!p.contains(&ObjectUri::parse("s3://b-2/out/x").unwrap()));
    }
}
