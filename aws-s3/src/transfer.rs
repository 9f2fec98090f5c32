//! [`TransferSettings`]: how large objects move — part size, parts in flight, retries per part.
//!
//! One S3 connection delivers on the order of 100 MB/s; AWS's performance guidance is concurrent
//! ranged requests of 8–16 MiB, one per connection. Gets and puts of more than one part use
//! several connections at once, within a memory budget per transfer ([`TransferSettings::memory`]):
//! a read holds at most that many bytes (the part being read, and what was downloaded ahead of
//! it), however many parts are in flight, since a part holds only what has arrived of it; an
//! upload sends at most as many parts at once as fit in it beside the part being filled, and at
//! most [`MAX_UPLOAD_CONCURRENCY`].

use std::time::Duration;

/// The default part size: the low end of AWS's 8–16 MiB guidance, to keep memory small.
pub const DEFAULT_PART_SIZE: u64 = 8 * 1024 * 1024;

/// The smallest part size accepted: S3 refuses multipart upload parts under 5 MiB (but the
/// last), and ranged reads smaller than this cost more in requests than they gain.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// The most parts in flight by default, whatever the vCPUs: 16 connections at 100 MB/s are
/// more than most instances' network.
pub const MAX_DEFAULT_CONCURRENCY: usize = 16;

/// The default memory budget per transfer. A read of 8 parts in flight needs about
/// 28 MiB ahead of its reader when the reader keeps up (the parts are staggered: the one behind
/// the front is nearly whole, the newest nearly empty), so 32 MiB of read-ahead plus the part
/// being read keeps 8 connections busy; a read's connections pause while the budget is full,
/// which happens only when the reader is slower than the network anyway.
pub const DEFAULT_MEMORY: u64 = 40 * 1024 * 1024;

/// The most parts one upload sends at once: outputs are a fraction of their input (the
/// scorer's, about a quarter on the bench file), so three connections (about 300 MB/s) keep up
/// with what two cores produce; each more part in flight holds a part of memory.
pub const MAX_UPLOAD_CONCURRENCY: usize = 3;

/// Environment variable overriding [`TransferSettings::part_size`] (bytes).
pub const PART_SIZE_ENV: &str = "STEPSCORE_S3_PART_SIZE";

/// Environment variable overriding [`TransferSettings::concurrency`] (parts in flight; `1` reads
/// each object with one streaming GET and uploads one part at a time).
pub const CONCURRENCY_ENV: &str = "STEPSCORE_S3_CONCURRENCY";

/// Environment variable overriding [`TransferSettings::memory`] (bytes per transfer).
pub const MEMORY_ENV: &str = "STEPSCORE_S3_MEMORY";

/// How the S3 adapter splits transfers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferSettings {
    /// Bytes per ranged GET and per uploaded part (the first thousand of an upload; see
    /// `crate::s3`). A read of at most this many bytes is one GET.
    pub part_size: u64,
    /// Connections per get (parts in flight), and the most parts in flight per put. `1` turns
    /// ranged reads off: one streaming GET.
    pub concurrency: usize,
    /// The most bytes of part buffers one transfer holds (see the module's doc), at least two
    /// parts: a read keeps `memory - part_size` downloaded ahead of its reader plus the part it
    /// reads; an upload fills one part while the others are sent.
    pub memory: u64,
    /// Attempts per part (the first included) on throttling, 5xx, network errors and bodies cut
    /// mid-part, on top of the SDK's own retries of the request.
    pub part_attempts: u32,
    /// The pause before the second attempt; it doubles for each later one (with jitter).
    pub first_backoff: Duration,
}

/// A transfer setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}={value:?} is not usable: {reason}")]
pub struct TransferSettingsError {
    /// The variable.
    pub name: &'static str,
    /// What it held.
    pub value: String,
    /// Why it was refused, and what would do.
    pub reason: String,
}

impl TransferSettingsError {
    fn new(name: &'static str, value: &str, reason: impl Into<String>) -> Self {
        TransferSettingsError {
            name,
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}

/// `value`, the setting of variable `name`, read as a number; refused with `hint` otherwise.
fn number<T: std::str::FromStr>(
    name: &'static str,
    value: &str,
    hint: &str,
) -> Result<T, TransferSettingsError> {
    value
        .trim()
        .parse()
        .map_err(|_| TransferSettingsError::new(name, value, hint))
}

impl Default for TransferSettings {
    /// 8 MiB parts, 4 in flight per vCPU up to 16, 40 MiB per transfer, 5 attempts per part
    /// from 200 ms.
    fn default() -> Self {
        let vcpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        TransferSettings {
            part_size: DEFAULT_PART_SIZE,
            concurrency: default_concurrency(vcpus),
            memory: DEFAULT_MEMORY,
            part_attempts: 5,
            first_backoff: Duration::from_millis(200),
        }
    }
}

impl TransferSettings {
    /// The defaults, with [`PART_SIZE_ENV`] and [`CONCURRENCY_ENV`] applied when set.
    pub fn from_env() -> Result<Self, TransferSettingsError> {
        Self::from_vars(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// The defaults with the variables `var` returns applied (for tests: no process env).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, TransferSettingsError> {
        let mut settings = TransferSettings::default();
        if let Some(value) = var(PART_SIZE_ENV) {
            let size: u64 = number(
                PART_SIZE_ENV,
                &value,
                "give a number of bytes, e.g. 8388608 for 8 MiB",
            )?;
            if size < MIN_PART_SIZE {
                return Err(TransferSettingsError::new(
                    PART_SIZE_ENV,
                    &value,
                    format!(
                        "parts must be at least {MIN_PART_SIZE} bytes (S3's multipart minimum)"
                    ),
                ));
            }
            if size > 1 << 30 {
                return Err(TransferSettingsError::new(
                    PART_SIZE_ENV,
                    &value,
                    "parts over 1 GiB would hold that much memory per connection",
                ));
            }
            settings.part_size = size;
        }
        if let Some(value) = var(CONCURRENCY_ENV) {
            const HINT: &str = "give a whole number of parts in flight, 1 to 64";
            let n: usize = number(CONCURRENCY_ENV, &value, HINT)?;
            if !(1..=64).contains(&n) {
                return Err(TransferSettingsError::new(CONCURRENCY_ENV, &value, HINT));
            }
            settings.concurrency = n;
        }
        // a larger part size alone raises the default budget to the two parts it needs
        settings.memory = settings.memory.max(2 * settings.part_size);
        if let Some(value) = var(MEMORY_ENV) {
            let bytes: u64 = number(
                MEMORY_ENV,
                &value,
                "give a number of bytes, e.g. 41943040 for 40 MiB",
            )?;
            if bytes < 2 * settings.part_size {
                return Err(TransferSettingsError::new(
                    MEMORY_ENV,
                    &value,
                    format!(
                        "a transfer needs at least two parts of memory ({} bytes at {PART_SIZE_ENV}={}): \
                         raise it or lower the part size",
                        2 * settings.part_size,
                        settings.part_size
                    ),
                ));
            }
            settings.memory = bytes;
        }
        Ok(settings)
    }

    /// Bytes a read may hold downloaded ahead of its reader, beside the part it is reading.
    pub fn read_ahead(&self) -> u64 {
        self.memory
            .saturating_sub(self.part_size)
            .max(self.part_size)
    }

    /// Parts an upload sends at once: what fits in [`memory`](Self::memory) beside the part
    /// being filled, at most [`concurrency`](Self::concurrency) and
    /// [`MAX_UPLOAD_CONCURRENCY`].
    pub fn upload_concurrency(&self) -> usize {
        let fit = (self.memory / self.part_size.max(1)).saturating_sub(1) as usize;
        self.concurrency.min(fit).clamp(1, MAX_UPLOAD_CONCURRENCY)
    }
}

/// Four connections per vCPU keep a Batch job's network busy while its cores parse; capped so
/// a large instance does not buffer hundreds of MiB per object.
pub fn default_concurrency(vcpus: usize) -> usize {
    (vcpus.max(1) * 4).min(MAX_DEFAULT_CONCURRENCY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn concurrency_defaults_to_four_per_vcpu_capped_at_sixteen() {
        let got: Vec<usize> = [0, 1, 2, 3, 4, 64]
            .into_iter()
            .map(default_concurrency)
            .collect();
        assert_eq!(got, [4, 4, 8, 12, 16, 16]);
    }

    #[test]
    fn the_environment_sets_part_size_and_concurrency() {
        let s = TransferSettings::from_vars(vars(&[
            (PART_SIZE_ENV, "16777216"),
            (CONCURRENCY_ENV, "1"),
        ]))
        .unwrap();
        assert_eq!((s.part_size, s.concurrency), (16 << 20, 1));
        assert_eq!(s.memory, 40 << 20);
        assert_eq!(
            s.upload_concurrency(),
            1,
            "one stream uploads one part at a time"
        );
        let unset = TransferSettings::from_vars(|_| None).unwrap();
        assert_eq!(unset, TransferSettings::default());
        assert_eq!(unset.part_size, DEFAULT_PART_SIZE);
    }

    #[test]
    fn the_memory_budget_bounds_read_ahead_and_parts_uploaded_at_once() {
        let s = TransferSettings::from_vars(vars(&[(CONCURRENCY_ENV, "8")])).unwrap();
        assert_eq!(s.memory, DEFAULT_MEMORY);
        assert_eq!(s.read_ahead(), 32 << 20);
        assert_eq!(s.upload_concurrency(), MAX_UPLOAD_CONCURRENCY);
        let small =
            TransferSettings::from_vars(vars(&[(CONCURRENCY_ENV, "8"), (MEMORY_ENV, "25165824")]))
                .unwrap();
        assert_eq!(
            (small.read_ahead(), small.upload_concurrency()),
            (16 << 20, 2),
            "24 MiB: one part being read and two ahead; one part filling and two sent"
        );
        // large parts raise the default budget to the two parts a transfer needs
        let large = TransferSettings::from_vars(vars(&[(PART_SIZE_ENV, "67108864")])).unwrap();
        assert_eq!(large.memory, 128 << 20);
    }

    #[test]
    fn unusable_settings_are_refused_naming_the_variable() {
        for (pairs, expected) in [
            (
                &[(PART_SIZE_ENV, "8MiB")][..],
                "STEPSCORE_S3_PART_SIZE=\"8MiB\" is not usable: give a number of bytes",
            ),
            (
                &[(PART_SIZE_ENV, "1024")],
                "STEPSCORE_S3_PART_SIZE=\"1024\" is not usable: parts must be at least 5242880",
            ),
            (
                &[(CONCURRENCY_ENV, "0")],
                "STEPSCORE_S3_CONCURRENCY=\"0\" is not usable: give a whole number",
            ),
            (
                &[(CONCURRENCY_ENV, "many")],
                "STEPSCORE_S3_CONCURRENCY=\"many\" is not usable: give a whole number",
            ),
            (
                &[(MEMORY_ENV, "48MiB")],
                "STEPSCORE_S3_MEMORY=\"48MiB\" is not usable: give a number of bytes",
            ),
            (
                &[(MEMORY_ENV, "8388608")],
                "STEPSCORE_S3_MEMORY=\"8388608\" is not usable: a transfer needs at least two parts of memory (16777216 bytes at STEPSCORE_S3_PART_SIZE=8388608): raise it or lower the part size",
            ),
        ] {
            let pairs: &'static [(&'static str, &'static str)] = Box::leak(pairs.to_vec().into());
            let err = TransferSettings::from_vars(vars(pairs)).unwrap_err();
            assert!(
                err.to_string().starts_with(expected),
                "{err} should start with {expected}"
            );
        }
    }
}
