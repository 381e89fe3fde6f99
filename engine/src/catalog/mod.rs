//! The catalog: snapshots for fast reads, and import from CSV files.

mod snapshot;

pub use snapshot::{CatalogCache, CatalogSnapshot};
