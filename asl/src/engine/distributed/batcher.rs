//! `ItemBatcher`: groups selected items into child inputs `{"Items": [...], ...BatchInput}`,
//! closing a batch at `MaxItemsPerBatch` items or before it would pass
//! `MaxInputBytesPerBatch` bytes.

use serde_json::{Map, Value};

use crate::engine::json_size;

/// Bytes of `{"Items":[]}` around a batch's items.
const ENVELOPE_BYTES: usize = 12;

/// Items grouped into batches as they arrive.
pub(super) struct Batcher {
    max_items: usize,
    max_bytes: usize,
    batch_input: Option<Map<String, Value>>,
    items: Vec<Value>,
    bytes: usize,
}

impl Batcher {
    /// A batcher closing batches at `max_items` items or `max_bytes` bytes (0: no limit);
    /// `batch_input` is merged into every batch.
    pub(super) fn new(
        max_items: u64,
        max_bytes: u64,
        batch_input: Option<Map<String, Value>>,
    ) -> Self {
        let limit = |n: u64| {
            if n == 0 {
                usize::MAX
            } else {
                usize::try_from(n).unwrap_or(usize::MAX)
            }
        };
        let extra = batch_input
            .as_ref()
            .map_or(0, |m| json_size(&Value::Object(m.clone())));
        Batcher {
            max_items: limit(max_items),
            max_bytes: limit(max_bytes).saturating_sub(extra),
            batch_input,
            items: Vec::new(),
            bytes: ENVELOPE_BYTES,
        }
    }

    /// Adds an item; returns the batch it closed (the one before it, full), with its item count.
    pub(super) fn push(&mut self, item: Value) -> Option<(Value, u64)> {
        let size = json_size(&item) + 1;
        let full = self.items.len() >= self.max_items || self.bytes + size > self.max_bytes;
        let closed = if self.items.is_empty() || !full {
            None
        } else {
            self.take()
        };
        self.bytes += size;
        self.items.push(item);
        closed
    }

    /// The last, partly filled batch.
    pub(super) fn finish(&mut self) -> Option<(Value, u64)> {
        self.take()
    }

    fn take(&mut self) -> Option<(Value, u64)> {
        if self.items.is_empty() {
            return None;
        }
        let items = std::mem::take(&mut self.items);
        self.bytes = ENVELOPE_BYTES;
        let n = items.len() as u64;
        let mut m = Map::new();
        m.insert("Items".into(), Value::Array(items));
        if let Some(b) = &self.batch_input {
            for (k, v) in b {
                m.insert(k.clone(), v.clone());
            }
        }
        Some((Value::Object(m), n))
    }
}
