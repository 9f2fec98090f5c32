//! Job ids: stable names for a job, usable as a Step Functions execution name.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A job id: `<readable stem>-<16 hex digits>`, at most 80 characters of `[A-Za-z0-9_-]`, so it is
/// a valid StartExecution name as it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobId(String);

/// Why a text is not a job id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a valid job id: use 1-80 characters of letters, digits, '-' and '_'")]
pub struct InvalidJobId(pub String);

/// True for a name this project gives executions, jobs and recorded state machines: 1-80
/// letters, digits, `-` and `_` (Step Functions allows more; these are safe in a URL path, a
/// file name and a DynamoDB key alike).
pub fn is_execution_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 80
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl JobId {
    /// The id of the job carried by one version of one S3 object.
    ///
    /// The same object version always maps to the same id, so a re-delivered S3 event admits
    /// nothing twice; a new upload to the same key has a new version id (or ETag, in an
    /// unversioned bucket) and so is a new job. `version` is the object's version id when the
    /// bucket is versioned, else its ETag.
    pub fn for_object(bucket: &str, key: &str, version: &str) -> Self {
        let mut h = Sha256::new();
        for part in [bucket, key, version] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        let digest = hex::encode(&h.finalize()[..8]);
        let stem = key.rsplit('/').next().unwrap_or(key);
        let stem = stem.strip_suffix(".json").unwrap_or(stem);
        Self::with_stem(stem, &digest)
    }

    /// The id of the job carried by one PUT of one S3 object, from its event's `versionId`,
    /// `eTag` and `sequencer`.
    ///
    /// In a versioned bucket every PUT makes a new version id, which decides alone. In an
    /// unversioned bucket (no version id, or `"null"`) the ETag is the same for a re-upload of
    /// identical bytes, so the event's sequencer tells the PUTs apart: S3 gives each PUT of a
    /// key a new, greater sequencer and a redelivered event carries the same one. So a
    /// deliberate re-upload is a new job and a redelivery is not. Without a sequencer (events
    /// that lack one), the ETag decides as before.
    pub fn for_put(
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        etag: Option<&str>,
        sequencer: Option<&str>,
    ) -> Self {
        let version = match (kept_version_id(version_id), sequencer) {
            (Some(v), _) => v.to_owned(),
            (None, Some(seq)) if !seq.is_empty() => {
                format!(
                    "{}@{}",
                    etag.unwrap_or_default(),
                    Sequencer::new(seq).as_str()
                )
            }
            (None, _) => etag.unwrap_or_default().to_owned(),
        };
        Self::for_object(bucket, key, &version)
    }

    /// The id of a job started without an S3 object (console or schedule): `name` plus a digest
    /// of `salt` (the execution name or the schedule run id).
    pub fn for_name(name: &str, salt: &str) -> Self {
        let digest = hex::encode(&Sha256::digest(format!("{name}\0{salt}").as_bytes())[..8]);
        Self::with_stem(name, &digest)
    }

    fn with_stem(stem: &str, digest: &str) -> Self {
        let mut clean: String = stem
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .take(80 - 1 - digest.len())
            .collect();
        if clean.is_empty() {
            clean.push_str("job");
        }
        JobId(format!("{clean}-{digest}"))
    }

    /// The name of this job's execution number `n` (state machine executions of one job): the
    /// id itself for the first, then `<id>-c<n>`, shortened with a digest of the id when that
    /// would pass Step Functions' 80-character limit. Deterministic, so a retried continuation
    /// starts nothing twice and `stepscore stop` can find every execution of a job.
    pub fn execution_name(&self, n: u32) -> String {
        if n <= 1 {
            return self.0.clone();
        }
        let suffix = format!("-c{n}");
        if self.0.len() + suffix.len() <= 80 {
            return format!("{}{suffix}", self.0);
        }
        let digest = hex::encode(&Sha256::digest(self.0.as_bytes())[..8]);
        // ids are ASCII (letters, digits, '-', '_'), so any byte index is a char boundary
        let keep = 80 - suffix.len() - digest.len() - 1;
        format!("{}-{digest}{suffix}", &self.0[..keep])
    }

    /// Accepts an id written by hand (an execution name, a CLI argument).
    pub fn parse(text: &str) -> Result<Self, InvalidJobId> {
        if is_execution_name(text) {
            Ok(JobId(text.to_owned()))
        } else {
            Err(InvalidJobId(text.to_owned()))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The version id of an S3 event, when the bucket keeps versions: none, an empty one and
/// `"null"` (objects written while versioning was off or suspended) say it does not.
pub(crate) fn kept_version_id(version_id: Option<&str>) -> Option<&str> {
    version_id.filter(|v| !v.is_empty() && *v != "null")
}

/// An S3 event's `sequencer`: hexadecimal, compared (as AWS documents) as strings after
/// left-padding the shorter with zeros, and only meaningful between events of one key.
///
/// Kept normalized (upper case, no leading zeros), so equal sequencers are equal strings and
/// the order is by length, then by text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sequencer(String);

impl Sequencer {
    /// A sequencer from an event's text (`"0055AED6DCD90281E5"`).
    pub fn new(text: &str) -> Self {
        let upper = text.trim().to_ascii_uppercase();
        let trimmed = upper.trim_start_matches('0');
        Sequencer(if trimmed.is_empty() {
            "0".into()
        } else {
            trimmed.into()
        })
    }

    /// The normalized text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Ord for Sequencer {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // without leading zeros, the longer hex number is the greater one
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for Sequencer {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for JobId {
    type Error = InvalidJobId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        JobId::parse(&s)
    }
}

impl From<JobId> for String {
    fn from(id: JobId) -> String {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_object_version_same_id() {
        let a = JobId::for_object("b", "jobs/daily.json", "v1");
        assert_eq!(a, JobId::for_object("b", "jobs/daily.json", "v1"));
        assert!(a.as_str().starts_with("daily-"));
    }

    #[test]
    fn new_upload_new_id() {
        assert_ne!(
            JobId::for_object("b", "jobs/d.json", "v1"),
            JobId::for_object("b", "jobs/d.json", "v2")
        );
        // the separator keeps ("ab","c") and ("a","bc") apart
        assert_ne!(
            JobId::for_object("ab", "c", "v"),
            JobId::for_object("a", "bc", "v")
        );
    }

    #[test]
    fn sequencers_compare_as_left_padded_hex() {
        // AWS's rule: pad the shorter with zeros on the left, then compare as strings
        let a = Sequencer::new("0055AED6DCD90281E5");
        assert_eq!(a, Sequencer::new("55aed6dcd90281e5"));
        assert!(Sequencer::new("0055AED6DCD90281E5") < Sequencer::new("0055AED6DCD90281F0"));
        assert!(Sequencer::new("FF") < Sequencer::new("0100"));
        assert!(Sequencer::new("0100") > Sequencer::new("00FF"));
    }

    #[test]
    fn continued_executions_have_distinct_valid_names() {
        let short = JobId::parse("daily-0123456789abcdef").unwrap();
        assert_eq!(short.execution_name(1), "daily-0123456789abcdef");
        assert_eq!(short.execution_name(2), "daily-0123456789abcdef-c2");
        let long = JobId::for_name(&"x".repeat(200), "salt");
        assert_eq!(long.as_str().len(), 80);
        let names: std::collections::BTreeSet<String> =
            (1..=16).map(|n| long.execution_name(n)).collect();
        assert_eq!(names.len(), 16);
        for n in &names {
            assert!(JobId::parse(n).is_ok(), "{n}");
        }
    }

    #[test]
    fn ids_are_valid_execution_names() {
        let long = "x".repeat(300) + " é/.json";
        for id in [
            JobId::for_object("b", &long, "e"),
            JobId::for_name("héllo wörld", "r"),
            JobId::for_name("", "r"),
        ] {
            assert!(id.as_str().len() <= 80, "{id}");
            assert_eq!(JobId::parse(id.as_str()).unwrap(), id);
        }
        assert!(JobId::parse("a/b").is_err());
    }
}
