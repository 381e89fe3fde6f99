//! The held-out shop: a small department store that was never used to tune the offline
//! assistant, for the held-out dialogues (`engine/tests/heldout/`).
//!
//! Its catalog is the three Shopify Partners sample exports in
//! `engine/tests/fixtures/` (apparel, jewellery, home and garden; see the fixtures'
//! README), each read by the project's real Shopify importer
//! ([`engine::catalog::parse_shopify_csv`]) and sold together as one shop, in USD.
//!
//! Stock: the sample files carry placeholder quantities (mostly 1 unit, some 0). One
//! unit of everything would make every "make it two" an out-of-stock answer, so every
//! variant the file has in stock gets [`STOCK`] units, as many as the demo shop's
//! variants have, so that the per-line limit of 99 (not the stock) is what bounds a
//! line. A variant the file has at 0 stays sold out (a real shop has some of those:
//! the Pink Armchair, the 7 Shakra Bracelet in black, the Anchor Bracelet Mens in
//! silver, the Gemstone Necklace in purple, the Wooden outdoor slats).

use engine::catalog::parse_shopify_csv;
use engine::domain::{Currency, Product, TenantId};

/// Units in stock of every variant the file has in stock.
pub const STOCK: i64 = 100;

const FILES: [(&str, &str); 3] = [
    ("apparel", include_str!("../../fixtures/shopify_partners_sample_apparel.csv")),
    ("jewelery", include_str!("../../fixtures/shopify_partners_sample_jewelery.csv")),
    ("home-and-garden", include_str!("../../fixtures/shopify_partners_sample_home-and-garden.csv")),
];

/// The held-out shop's products, as `tenant`'s.
pub fn catalog(tenant: &TenantId) -> Vec<Product> {
    let mut out: Vec<Product> = Vec::new();
    for (name, csv) in FILES {
        let parsed = parse_shopify_csv(tenant, Currency::USD, csv.as_bytes());
        assert!(parsed.errors.is_empty(), "{name}: {:?}", parsed.errors);
        assert!(parsed.skipped.is_empty(), "{name}: {:?}", parsed.skipped);
        out.extend(parsed.products);
    }
    let mut skus = std::collections::HashSet::new();
    for p in &mut out {
        assert!(skus.insert(p.sku.as_str().to_string()), "two products with SKU {}", p.sku.as_str());
        for v in &mut p.variants {
            if v.stock > 0 {
                v.stock = STOCK;
            }
        }
        p.validate().unwrap_or_else(|e| panic!("{}: {e}", p.title));
    }
    assert_eq!(out.len(), 60, "the three sample files hold 20 products each");
    out
}

/// The second held-out shop, `bikes`: Velofant, a Stockholm bike shop, from its real
/// 2025 Shopify export (`engine/tests/fixtures/velofant_real_store_products_export_2025.csv`:
/// second-hand and new bikes, a frame kit in three frame sizes, locks, lights, a bell
/// in two finishes, a handlebar in two colours, a front rack with two mounting options,
/// a wheelset, pedal straps), read by the real Shopify importer, in SEK. Nobody tuning
/// the assistant has used this catalog.
///
/// The export has two archived products (the Crescent CHESS and the Monark), which the
/// importer skips: a shop does not sell them. The 2025 export has no stock column, so
/// the importer reads every variant as untracked (always in stock); each gets
/// [`STOCK`] units, like the first held-out shop, so that the per-line limit of 99
/// bounds a line.
pub fn bikes_catalog(tenant: &TenantId) -> Vec<Product> {
    let csv = include_str!("../../fixtures/velofant_real_store_products_export_2025.csv");
    let parsed = parse_shopify_csv(tenant, Currency::parse("SEK").expect("SEK"), csv.as_bytes());
    assert!(parsed.errors.is_empty(), "velofant: {:?}", parsed.errors);
    assert_eq!(parsed.skipped.len(), 2, "velofant: the two archived bikes, {:?}", parsed.skipped);
    let mut out = parsed.products;
    for p in &mut out {
        for v in &mut p.variants {
            if v.stock > 0 {
                v.stock = STOCK;
            }
        }
        p.validate().unwrap_or_else(|e| panic!("{}: {e}", p.title));
    }
    assert_eq!(out.len(), 12, "the export's 12 active products");
    out
}
