//! Pipeline Lambda handlers.
