//! The rejects file: rows skipped under `skip`, with where they were and why.

use crate::error::{Error, RowPlace};
use crate::storage::{Location, OutputSink, Storage};

/// `rejects-<shard>.csv`, created at the first rejected row.
pub(super) struct Rejects<'a> {
    pub storage: &'a Storage,
    pub location: Location,
    pub sink: Option<csv::Writer<OutputSink>>,
}

impl Rejects<'_> {
    pub fn write(&mut self, place: &RowPlace, reason: &str, raw: &[u8]) -> Result<(), Error> {
        if self.sink.is_none() {
            let sink = self.storage.create(&self.location)?;
            let mut w = csv::Writer::from_writer(sink);
            w.write_record(["source", "line", "byte_offset", "reason", "row"])
                .map_err(|e| self.error(e))?;
            self.sink = Some(w);
        }
        let line = place.line.map(|l| l.to_string()).unwrap_or_default();
        let offset = place.byte_offset.to_string();
        let row = String::from_utf8_lossy(raw);
        if let Some(w) = &mut self.sink {
            w.write_record([place.source.as_str(), &line, &offset, reason, &row])
                .map_err(|e| Error::Stream {
                    location: self.location.to_string(),
                    source: std::io::Error::other(e),
                })?;
        }
        Ok(())
    }

    fn error(&self, e: csv::Error) -> Error {
        Error::Stream {
            location: self.location.to_string(),
            source: std::io::Error::other(e),
        }
    }
}

// csv::Writer wraps the sink; finishing and aborting go through the inner sink
pub(super) trait SinkLike {
    fn finish(self) -> Result<(), Error>;
    fn abort(self);
}

impl SinkLike for csv::Writer<OutputSink> {
    fn finish(self) -> Result<(), Error> {
        match self.into_inner() {
            Ok(s) => s.finish(),
            Err(e) => Err(Error::Stream {
                location: "rejects file".to_owned(),
                source: std::io::Error::other(e.error().to_string()),
            }),
        }
    }
    fn abort(self) {
        if let Ok(s) = self.into_inner() {
            s.abort();
        }
    }
}
