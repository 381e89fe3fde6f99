//! The dialogue suite's second shop: Best Buy's "Cell Phones" department
//! (`engine/tests/fixtures/bestbuy_products_3291.csv`, see the fixtures' README),
//! turned into Aisle products.
//!
//! The file has one row per sellable item and no stock. A shop would sell the colours
//! (and carriers) of one phone or case as variants of one product, so rows whose names
//! differ only after the last " - " (`Apple - iPhone 7 128GB - Jet Black (AT&T)`) are
//! grouped into one product titled with the common part (`Apple - iPhone 7 128GB`),
//! with a `color` option and, when every row of the group names one in brackets, a
//! `carrier` option. A row alone keeps its full name and has no options.
//! Stock is not in the file: every variant gets [`STOCK`] units.

use std::collections::{BTreeMap, HashMap};

use engine::catalog::text::clean_title;
use engine::domain::{Currency, Money, Product, ProductId, Sku, TenantId, Variant, VariantId};

/// Units in stock of every variant (the file has no stock).
pub const STOCK: i64 = 25;

const CSV: &str = include_str!("../../fixtures/bestbuy_products_3291.csv");

struct Row {
    sku: String,
    name: String,
    description: String,
    brand: String,
    category: String,
    price_minor: i64,
    popularity: i64,
}

/// "Jet Black (AT&T)" → ("Jet Black", Some("AT&T")).
fn split_carrier(suffix: &str) -> (String, Option<String>) {
    if let Some(open) = suffix.rfind(" (")
        && suffix.ends_with(')')
    {
        let color = suffix[..open].trim().to_string();
        let carrier = suffix[open + 2..suffix.len() - 1].trim().to_string();
        if !color.is_empty() && !carrier.is_empty() {
            return (color, Some(carrier));
        }
    }
    (suffix.to_string(), None)
}

/// The Best Buy catalog as products of `tenant`, most popular first.
pub fn catalog(tenant: &TenantId) -> Vec<Product> {
    let mut reader = csv::Reader::from_reader(CSV.as_bytes());
    let mut rows: Vec<Row> = Vec::new();
    for rec in reader.records() {
        let rec = rec.expect("the Best Buy fixture parses");
        let get = |i: usize| rec.get(i).unwrap_or("").trim().to_string();
        let (sku, price) = (get(0), get(5));
        let Ok(price) = Money::parse_decimal(&price, Currency::USD) else { continue };
        if sku.is_empty() {
            continue;
        }
        rows.push(Row {
            sku,
            name: clean_title(&get(1)),
            // The file's descriptions carry HTML entities ("&#402;"); a shop's import
            // would have decoded them.
            description: engine::catalog::text::html_to_text(&get(2)),
            brand: get(3),
            category: get(4).replace(" > ", "/"),
            price_minor: price.minor,
            popularity: get(7).parse().unwrap_or(0),
        });
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.popularity));

    // Group by the name before its last " - " (only names with a brand and a suffix).
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        // "Brand - Model - Colour": the colour is the part after the last " - ".
        // The file spells one model two ways at times ("MOTO G", "Moto G"): group
        // case-insensitively. A name without a colour part is a group of its own.
        let key = match r.name.rsplit_once(" - ") {
            Some((head, _)) if head.contains(" - ") => head.to_lowercase(),
            _ => format!("\u{0}{}", r.name),
        };
        match at.get(&key) {
            Some(&g) => groups[g].1.push(i),
            None => {
                at.insert(key.clone(), groups.len());
                groups.push((key, vec![i]));
            }
        }
    }

    let mut seen_skus = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (head, members) in groups {
        let members: Vec<&Row> = members.iter().map(|&i| &rows[i]).filter(|r| seen_skus.insert(r.sku.clone())).collect();
        let Some(first) = members.first() else { continue };
        let suffixes: Vec<(String, Option<String>)> =
            members.iter().map(|r| split_carrier(r.name.rsplit_once(" - ").map_or("", |(_, s)| s))).collect();
        let distinct: std::collections::HashSet<&(String, Option<String>)> = suffixes.iter().collect();
        let grouped = members.len() > 1 && distinct.len() == members.len();
        let (title, options, variants) = if grouped {
            let with_carrier = suffixes.iter().all(|(_, c)| c.is_some());
            let options: Vec<String> =
                if with_carrier { vec!["color".into(), "carrier".into()] } else { vec!["color".into()] };
            let variants = members
                .iter()
                .zip(&suffixes)
                .map(|(r, (color, carrier))| {
                    let mut opts = BTreeMap::new();
                    if with_carrier {
                        opts.insert("color".to_string(), color.clone());
                        opts.insert("carrier".to_string(), carrier.clone().unwrap_or_default());
                    } else {
                        let full = r.name.rsplit_once(" - ").map_or("", |(_, s)| s).to_string();
                        opts.insert("color".to_string(), full);
                    }
                    let title = options.iter().map(|o| opts[o].clone()).collect::<Vec<_>>().join(" / ");
                    variant(r, title, opts)
                })
                .collect();
            let title = first.name.rsplit_once(" - ").map_or(head.as_str(), |(h, _)| h).to_string();
            (title, options, variants)
        } else {
            // Rows that share a name but not a distinct suffix stay products of their own.
            for r in &members[1..] {
                out.push(simple(tenant, r));
            }
            (first.name.clone(), Vec::new(), vec![variant(first, first.name.clone(), BTreeMap::new())])
        };
        out.push(Product {
            id: ProductId::generate(),
            tenant_id: tenant.clone(),
            sku: Sku::parse(format!("BB-{}", first.sku)).expect("sku"),
            title,
            description_html: first.description.clone(),
            description_text: first.description.clone(),
            category: first.category.clone(),
            tags: vec![first.brand.clone()],
            image_url: None,
            options,
            currency: Currency::USD,
            variants,
        });
    }
    for p in &out {
        p.validate().unwrap_or_else(|e| panic!("{}: {e}", p.title));
    }
    out
}

fn variant(r: &Row, title: String, options: BTreeMap<String, String>) -> Variant {
    Variant {
        id: VariantId::generate(),
        sku: Sku::parse(&r.sku).expect("sku"),
        title,
        options,
        price_minor: r.price_minor,
        stock: STOCK,
    }
}

fn simple(tenant: &TenantId, r: &Row) -> Product {
    Product {
        id: ProductId::generate(),
        tenant_id: tenant.clone(),
        sku: Sku::parse(format!("BB-{}", r.sku)).expect("sku"),
        title: r.name.clone(),
        description_html: r.description.clone(),
        description_text: r.description.clone(),
        category: r.category.clone(),
        tags: vec![r.brand.clone()],
        image_url: None,
        options: Vec::new(),
        currency: Currency::USD,
        variants: vec![variant(r, r.name.clone(), BTreeMap::new())],
    }
}
