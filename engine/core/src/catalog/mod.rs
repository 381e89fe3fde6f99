//! The catalog: snapshots for fast reads, and import from CSV files.

mod snapshot;

mod aisle_csv;
mod import;
pub mod limits;
mod luma;
mod shopify;
pub mod text;

pub use snapshot::{CatalogCache, CatalogSnapshot};

pub use aisle_csv::parse_aisle_csv;
pub use import::{
    CatalogFormat, ImportError, ImportReport, ParsedCatalog, UNTRACKED_STOCK, detect_and_parse, detect_format,
    import_products,
};
pub use luma::{demo_catalog, parse_luma};
pub use shopify::parse_shopify_csv;
