//! Magento's Luma sample store, the demo shop's catalog (contract §3).
//!
//! The embedded default must start with a realistic shop and zero setup, so the files
//! (with their licence note, `engine/data/luma/README.md`) are compiled into the binary.
//!
//! - `configurable_products.csv` (Magento import format): each `configurable` row is a
//!   product; its variants are the `simple` rows listed in its `configurable_variations`
//!   (`sku=MH01-XS-Black,size=XS,color=Black|...`), each with its own price and `qty`
//!   (0 when `is_in_stock` is 0). Options are ordered size, then color.
//! - `products_gear_*.csv`: simple products (bags, fitness equipment, watches). The
//!   stasis balls come as three rows per size that differ only in colour, with identical
//!   names, so the colour is added to the title to tell them apart.
//! - Category: the most specific path of the product (most levels; the first on a tie)
//!   with the `Default Category/` root dropped, e.g. `Men/Tops/Hoodies & Sweatshirts`.
//!   The leaves of its other paths (`Eco Friendly`, `Erin Recommends`...) and a few
//!   attributes (material, style, activity, features) become tags, for search.
//! - Prices in USD. Image paths are relative with no public host, so `image_url` is
//!   left empty rather than pointing shoppers' browsers at a 404.

use std::collections::{HashMap, HashSet};

use crate::domain::{Currency, Money, Sku, TenantId};

use super::import::{
    ImportError, ParsedCatalog, ProductDraft, Row, Table, VariantDraft, check_variant_options, clean_tags, parse_stock,
    short,
};
use super::text::clean_title;

const CONFIGURABLE: &[u8] = include_bytes!("../../../data/luma/configurable_products.csv");
const GEAR: [&[u8]; 5] = [
    include_bytes!("../../../data/luma/products_gear_bags.csv"),
    include_bytes!("../../../data/luma/products_gear_fitness_equipment.csv"),
    include_bytes!("../../../data/luma/products_gear_fitness_equipment_ball.csv"),
    include_bytes!("../../../data/luma/products_gear_fitness_equipment_strap.csv"),
    include_bytes!("../../../data/luma/products_gear_watches.csv"),
];

/// The demo shop's catalog: the embedded Luma files, parsed for `tenant`.
pub fn demo_catalog(tenant: &TenantId) -> ParsedCatalog {
    parse_luma(tenant, CONFIGURABLE, &GEAR)
}

/// Parses Magento's Luma sample files: the configurable products file and any number
/// of gear files. Errors name the file (`configurable` or `gear file N`, 1-based) in
/// their message, since each file counts its own lines.
pub fn parse_luma(tenant: &TenantId, configurable_csv: &[u8], gear_csvs: &[&[u8]]) -> ParsedCatalog {
    let mut out = ParsedCatalog::default();
    parse_configurable(tenant, configurable_csv, &mut out);
    for (i, gear) in gear_csvs.iter().enumerate() {
        parse_gear(tenant, gear, &format!("gear file {}", i + 1), &mut out);
    }
    out
}

fn parse_configurable(tenant: &TenantId, bytes: &[u8], out: &mut ParsedCatalog) {
    const FILE: &str = "configurable";
    let mut table = match Table::read(bytes) {
        Ok(t) => t,
        Err(e) => return out.errors.push(in_file(FILE, e)),
    };
    let read_errors = table.take_errors();
    let col = |n: &str| table.col(n);
    let (c_sku, c_type, c_cats, c_name, c_desc, c_price, c_qty, c_in_stock, c_attrs, c_vars) = (
        col("sku"),
        col("product_type"),
        col("categories"),
        col("name"),
        col("description"),
        col("price"),
        col("qty"),
        col("is_in_stock"),
        col("additional_attributes"),
        col("configurable_variations"),
    );
    if c_sku.is_none() || c_type.is_none() || c_vars.is_none() {
        return out.errors.push(ImportError::new(1, format!("{FILE}: missing sku, product_type or configurable_variations column")));
    }
    let simple: HashMap<&str, Row<'_>> =
        table.rows().filter(|r| r.get(c_type) == "simple").map(|r| (r.get(c_sku), r)).collect();
    let mut used: HashSet<&str> = HashSet::new();

    for parent in table.rows().filter(|r| r.get(c_type) == "configurable") {
        let currency = Currency::USD;
        let mut variants = Vec::new();
        let mut lines = Vec::new();
        for entry in parent.get(c_vars).split('|').filter(|e| !e.trim().is_empty()) {
            let mut sku = "";
            let mut opts: Vec<(String, String)> = Vec::new();
            for kv in entry.split(',') {
                match kv.split_once('=') {
                    Some(("sku", v)) => sku = v.trim(),
                    Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => {
                        opts.push((super::import::normalize_option_name(k), v.trim().to_string()))
                    }
                    _ => {}
                }
            }
            let Some(row) = simple.get(sku) else {
                out.errors.push(ImportError::new(parent.line, format!("{FILE}: variant {} of {} not found", short(sku), parent.get(c_sku))));
                continue;
            };
            used.insert(sku);
            if opts.is_empty() {
                // Fall back to the variant's own attributes.
                opts = attributes(row.get(c_attrs))
                    .into_iter()
                    .filter(|(k, _)| *k == "size" || *k == "color")
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
            }
            opts.sort_by_key(|(k, _)| option_rank(k));
            match luma_variant(row, sku, opts, c_price, c_qty, c_in_stock, parent.get(c_price), currency) {
                Ok(v) => {
                    variants.push(v);
                    lines.push(row.line);
                }
                Err(msg) => out.errors.push(ImportError::new(row.line, format!("{FILE}: {msg}"))),
            }
        }
        let options = loop {
            match check_variant_options(&variants) {
                Ok(names) => break names,
                Err((i, msg)) => {
                    out.errors.push(ImportError::new(lines.remove(i), format!("{FILE}: {msg}")));
                    variants.remove(i);
                }
            }
        };
        if variants.is_empty() {
            out.errors.push(ImportError::new(parent.line, format!("{FILE}: product {} has no valid variants", parent.get(c_sku))));
            continue;
        }
        let sku = match Sku::parse(parent.get(c_sku)) {
            Ok(s) => s,
            Err(e) => {
                out.errors.push(ImportError::new(parent.line, format!("{FILE}: {e}")));
                continue;
            }
        };
        let paths: Vec<Vec<&str>> = category_paths(parent.get(c_cats));
        let (category, leaves) = split_category(&paths);
        let attrs = attributes(parent.get(c_attrs));
        let attr_tags = attrs
            .iter()
            .filter(|(k, _)| matches!(*k, "material" | "style_general" | "style_bottom"))
            .flat_map(|(_, v)| v.split('|'));
        let draft = ProductDraft {
            sku,
            title: parent.get(c_name).to_string(),
            description_html: parent.get(c_desc).to_string(),
            category,
            tags: clean_tags(leaves.into_iter().chain(attr_tags)),
            image_url: None,
            options,
            currency,
            variants,
        };
        match draft.into_product(tenant) {
            Ok(p) => out.products.push(p),
            Err(msg) => out.errors.push(ImportError::new(parent.line, format!("{FILE}: {msg}"))),
        }
    }
    // Simple rows that belong to no configurable product are Magento's hidden variants
    // of something not in this file: note them rather than sell them on their own.
    for r in table.rows().filter(|r| r.get(c_type) == "simple" && !used.contains(r.get(c_sku))) {
        out.skipped.push(ImportError::new(r.line, format!("{FILE}: simple row {} belongs to no configurable product", short(r.get(c_sku)))));
    }
    out.errors.extend(read_errors.into_iter().map(|e| in_file(FILE, e)));
}

#[allow(clippy::too_many_arguments)]
fn luma_variant(
    row: &Row<'_>,
    sku: &str,
    options: Vec<(String, String)>,
    c_price: Option<usize>,
    c_qty: Option<usize>,
    c_in_stock: Option<usize>,
    parent_price: &str,
    currency: Currency,
) -> Result<VariantDraft, String> {
    let sku = Sku::parse(sku).map_err(|e| e.to_string())?;
    let price = Some(row.get(c_price)).filter(|p| !p.is_empty()).unwrap_or(parent_price);
    let price_minor = Money::parse_decimal(price, currency).map_err(|e| e.to_string())?.minor;
    let qty = row.get(c_qty);
    let mut stock = if qty.is_empty() { 0 } else { parse_stock(qty)? };
    if row.get(c_in_stock) == "0" {
        stock = 0;
    }
    Ok(VariantDraft { sku, options, price_minor, stock })
}

fn parse_gear(tenant: &TenantId, bytes: &[u8], file: &str, out: &mut ParsedCatalog) {
    let mut table = match Table::read(bytes) {
        Ok(t) => t,
        Err(e) => return out.errors.push(in_file(file, e)),
    };
    let read_errors = table.take_errors();
    let col = |n: &str| table.col(n);
    let (c_cat, c_name, c_sku, c_price, c_qty, c_desc, c_color) =
        (col("category"), col("name"), col("sku"), col("price"), col("qty"), col("description"), col("color"));
    let tag_cols: Vec<Option<usize>> =
        ["activity", "material", "style_bags", "features_bags", "category_gear"].into_iter().map(col).collect();
    let mut seen: HashSet<String> = HashSet::new();
    for r in table.rows() {
        let result = (|| -> Result<ProductDraft, String> {
            let sku = Sku::parse(r.get(c_sku)).map_err(|e| e.to_string())?;
            if !seen.insert(sku.as_str().to_string()) {
                return Err(format!("duplicate SKU {sku}"));
            }
            let currency = Currency::USD;
            let price = Money::parse_decimal(r.get(c_price), currency).map_err(|e| e.to_string())?.minor;
            let qty = r.get(c_qty);
            let stock = if qty.is_empty() { 0 } else { parse_stock(qty)? };
            let color = r.get(c_color);
            let mut title = clean_title(r.get(c_name));
            if !color.is_empty() && !title.to_lowercase().contains(&color.to_lowercase()) {
                title = format!("{title} ({color})");
            }
            // `Gear\nBags\nCollections\nErin Recommends`: pairs of (parent, leaf).
            let levels: Vec<&str> = r.get(c_cat).lines().map(str::trim).filter(|l| !l.is_empty()).collect();
            let category = levels.iter().take(2).copied().collect::<Vec<_>>().join("/");
            let leaves = levels.iter().skip(3).step_by(2).copied();
            let attrs = tag_cols.iter().flat_map(|c| r.get(*c).lines());
            let variants = vec![VariantDraft { sku: sku.clone(), options: Vec::new(), price_minor: price, stock }];
            Ok(ProductDraft {
                sku,
                title,
                description_html: r.get(c_desc).to_string(),
                category,
                tags: clean_tags(leaves.chain(attrs).chain([color])),
                image_url: None,
                options: Vec::new(),
                currency,
                variants,
            })
        })();
        match result.and_then(|d| d.into_product(tenant)) {
            Ok(p) => out.products.push(p),
            Err(msg) => out.errors.push(ImportError::new(r.line, format!("{file}: {msg}"))),
        }
    }
    out.errors.extend(read_errors.into_iter().map(|e| in_file(file, e)));
}

fn in_file(file: &str, e: ImportError) -> ImportError {
    ImportError::new(e.line, format!("{file}: {}", e.message))
}

/// Size first, then colour, then anything else: how shoppers name a variant ("M in black").
fn option_rank(name: &str) -> u8 {
    match name {
        "size" => 0,
        "color" => 1,
        _ => 2,
    }
}

/// `additional_attributes` (`material=Wool,climate=Cool|Indoor`) as pairs.
fn attributes(s: &str) -> Vec<(&str, &str)> {
    s.split(',').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.trim(), v.trim())).collect()
}

/// `Default Category/Men/Tops/Tees,Default Category/Promotions/Tees,Default Category`
/// as level lists without the root. A comma inside a category name (not a path start)
/// stays part of that name.
fn category_paths(s: &str) -> Vec<Vec<&str>> {
    const ROOT: &str = "Default Category";
    let mut starts: Vec<usize> = s.match_indices(ROOT).map(|(i, _)| i).filter(|&i| i == 0 || s[..i].ends_with(',')).collect();
    if starts.first() != Some(&0) {
        starts.insert(0, 0);
    }
    let mut paths = Vec::new();
    for (k, &from) in starts.iter().enumerate() {
        let to = starts.get(k + 1).map_or(s.len(), |&n| n - 1);
        let path = s[from..to].trim().trim_end_matches(',');
        let levels: Vec<&str> =
            path.split('/').map(str::trim).filter(|l| !l.is_empty()).skip_while(|l| *l == ROOT).collect();
        if !levels.is_empty() {
            paths.push(levels);
        }
    }
    paths
}

/// The most specific path (most levels; the first on a tie) as the category, and the
/// leaves of the others as tags.
fn split_category<'a>(paths: &[Vec<&'a str>]) -> (String, Vec<&'a str>) {
    let mut best: Option<usize> = None;
    for (i, p) in paths.iter().enumerate() {
        if best.is_none_or(|b| p.len() > paths[b].len()) {
            best = Some(i);
        }
    }
    let Some(b) = best else { return (String::new(), Vec::new()) };
    let leaves = paths.iter().enumerate().filter(|(i, _)| *i != b).filter_map(|(_, p)| p.last().copied()).collect();
    (paths[b].join("/"), leaves)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_picks_the_most_specific_path() {
        let paths = category_paths(
            "Default Category/Men/Tops/Hoodies & Sweatshirts,Default Category/Collections/Eco Friendly,Default Category",
        );
        let (cat, leaves) = split_category(&paths);
        assert_eq!(cat, "Men/Tops/Hoodies & Sweatshirts");
        assert_eq!(leaves, vec!["Eco Friendly"]);
        let (cat, _) = split_category(&category_paths("Default Category/Promotions/Tees,Default Category/Women/Tops/Tees"));
        assert_eq!(cat, "Women/Tops/Tees");
        assert_eq!(split_category(&category_paths("")).0, "");
        assert_eq!(split_category(&category_paths("Default Category/A, B/C")).0, "A, B/C");
    }

    #[test]
    fn demo_catalog_parses_cleanly() {
        let t = TenantId::parse("t_demo").unwrap();
        let c = demo_catalog(&t);
        assert!(c.errors.is_empty(), "{:?}", &c.errors[..c.errors.len().min(5)]);
        assert!(c.skipped.is_empty());
        assert_eq!(c.products.len(), 147 + 44);
        let hoodie = c.products.iter().find(|p| p.sku.as_str() == "MH01").unwrap();
        assert_eq!(hoodie.title, "Chaz Kangeroo Hoodie");
        assert_eq!(hoodie.category, "Men/Tops/Hoodies & Sweatshirts");
        assert_eq!(hoodie.options, vec!["size", "color"]);
        assert_eq!(hoodie.variants[0].title, "XS / Black");
        assert_eq!(hoodie.variants[0].stock, 100);
        assert_eq!(hoodie.price().minor, 5200);
        assert!(hoodie.tags.iter().any(|t| t == "Eco Friendly"));
        assert!(c.products.iter().any(|p| p.title == "Mars HeatTech™ Pullover"));
        let ball = c.products.iter().find(|p| p.sku.as_str() == "24-WG081-blue").unwrap();
        assert_eq!(ball.title, "Sprite Stasis Ball 55 cm (Blue)");
        assert_eq!(ball.category, "Gear/Fitness Equipment");
    }
}
