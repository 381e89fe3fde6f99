//! Shopify's product CSV export (every format from the 2019 sample files to the 2025
//! export), mapped onto Aisle products and variants.
//!
//! Shopify writes one row per variant, grouped by `Handle`; the first row of a handle
//! carries the product (`Title`, `Body (HTML)`, `Type`, `Tags`, option names), later rows
//! only variant cells, and extra rows with nothing but an `Image Src` add images. Columns
//! are found by header name; unknown ones (metafields, market prices) are ignored.
//!
//! Choices, each because the export leaves it open:
//! - The product's SKU is its `Handle` (stable across exports, unique per shop); each
//!   variant keeps its `Variant SKU`, or gets one derived from the handle and its option
//!   values (`gardening-gloves-green`) when the shop left it empty.
//! - `Title`/`Default Title` (Shopify's placeholder option of a product without
//!   options) means no options. `Colour` is read as `color`.
//! - Stock: `Variant Inventory Qty` when the column exists and the cell is filled. The
//!   2025 export dropped that column, and an empty cell means Shopify does not track the
//!   variant, so both give [`UNTRACKED_STOCK`](super::import::UNTRACKED_STOCK): in stock,
//!   never blocking a sale. A negative quantity (Shopify allows overselling) is read as 0.
//! - `Status` `draft` or `archived` (or, in exports without `Status`, `Published` =
//!   `false`): the product is not for sale, so it is skipped and listed in `skipped`.
//! - Category: `Product Category` (Shopify's taxonomy path, ` > ` written as `/`) when
//!   present, else `Type`; the other one and `Vendor` (the brand) become tags.
//! - Prices are in the tenant's currency: the export names none. They are read by its
//!   ISO 4217 exponent ([`Money::parse_decimal`]); field sizes are limited
//!   ([`super::limits`]); text must be UTF-8.

use std::collections::{HashMap, HashSet};

use crate::domain::{Currency, Money, Sku, TenantId};

use super::import::{
    ImportError, ParsedCatalog, ProductDraft, Row, Table, UNTRACKED_STOCK, VariantDraft, check_variant_options,
    clean_tags, derive_sku, normalize_option_name, short,
};

struct Cols {
    handle: Option<usize>,
    title: Option<usize>,
    body: Option<usize>,
    vendor: Option<usize>,
    kind: Option<usize>,
    product_category: Option<usize>,
    tags: Option<usize>,
    published: Option<usize>,
    status: Option<usize>,
    option_name: [Option<usize>; 3],
    option_value: [Option<usize>; 3],
    sku: Option<usize>,
    price: Option<usize>,
    qty: Option<usize>,
    image: Option<usize>,
    variant_image: Option<usize>,
}

impl Cols {
    fn find(t: &Table) -> Cols {
        Cols {
            handle: t.col("Handle"),
            title: t.col("Title"),
            body: t.col("Body (HTML)"),
            vendor: t.col("Vendor"),
            kind: t.col("Type"),
            product_category: t.col("Product Category"),
            tags: t.col("Tags"),
            published: t.col("Published"),
            status: t.col("Status"),
            option_name: [t.col("Option1 Name"), t.col("Option2 Name"), t.col("Option3 Name")],
            option_value: [t.col("Option1 Value"), t.col("Option2 Value"), t.col("Option3 Value")],
            sku: t.col("Variant SKU"),
            price: t.col("Variant Price"),
            qty: t.col("Variant Inventory Qty"),
            image: t.col("Image Src"),
            variant_image: t.col("Variant Image"),
        }
    }

    /// Whether a row describes a variant (rather than only adding an image).
    fn is_variant_row(&self, r: &Row<'_>) -> bool {
        self.option_value.iter().any(|c| !r.get(*c).is_empty()) || !r.get(self.sku).is_empty() || !r.get(self.price).is_empty()
    }
}

/// Parses a Shopify product export. Prices are read in `currency`.
pub fn parse_shopify_csv(tenant: &TenantId, currency: Currency, bytes: &[u8]) -> ParsedCatalog {
    parse(tenant, currency, bytes).finish()
}

fn parse(tenant: &TenantId, currency: Currency, bytes: &[u8]) -> ParsedCatalog {
    let mut table = match Table::read(bytes) {
        Ok(t) => t,
        Err(e) => return ParsedCatalog { errors: vec![e], ..Default::default() },
    };
    let cols = Cols::find(&table);
    let missing: Vec<&str> = [("Handle", cols.handle), ("Title", cols.title), ("Variant Price", cols.price)]
        .into_iter()
        .filter(|(_, c)| c.is_none())
        .map(|(n, _)| n)
        .collect();
    if !missing.is_empty() {
        return ParsedCatalog::failed(1, format!("missing column(s): {}", missing.join(", ")));
    }
    let mut out = ParsedCatalog { errors: table.take_errors(), ..Default::default() };
    if table.is_empty() && out.errors.is_empty() {
        out.errors.push(ImportError::new(1, "the file has a header but no product rows"));
        return out;
    }

    // Group rows by handle, in order of first appearance (a handle's rows are normally
    // consecutive, but a hand-edited file may not keep them so).
    let mut groups: Vec<(&str, Vec<Row<'_>>)> = Vec::new();
    let mut group_of: HashMap<&str, usize> = HashMap::new();
    for r in table.rows() {
        let handle = r.get(cols.handle);
        if handle.is_empty() {
            out.errors.push(ImportError::new(r.line, "Handle is missing"));
            continue;
        }
        let at = *group_of.entry(handle).or_insert_with(|| {
            groups.push((handle, Vec::new()));
            groups.len() - 1
        });
        groups[at].1.push(r);
    }
    let mut variant_skus: HashMap<String, u64> = HashMap::new();
    let mut product_skus: HashSet<String> = HashSet::new();
    for (handle, rows) in groups {
        parse_group(tenant, currency, &cols, handle, &rows, &mut variant_skus, &mut product_skus, &mut out);
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn parse_group(
    tenant: &TenantId,
    currency: Currency,
    cols: &Cols,
    handle: &str,
    rows: &[Row<'_>],
    variant_skus: &mut HashMap<String, u64>,
    product_skus: &mut HashSet<String>,
    out: &mut ParsedCatalog,
) {
    // The product row is the first with a title; Shopify puts it first.
    let Some(head) = rows.iter().find(|r| !r.get(cols.title).is_empty()) else {
        out.errors.push(ImportError::new(rows[0].line, format!("product {} has no Title", short(handle))));
        return;
    };
    let status = head.get(cols.status).to_lowercase();
    let unpublished = cols.status.is_none() && head.get(cols.published).eq_ignore_ascii_case("false");
    if (!status.is_empty() && status != "active") || unpublished {
        let why = if unpublished { "not published".to_string() } else { format!("status is {status}") };
        out.skipped.push(ImportError::new(head.line, format!("product {} skipped: {why}", short(handle))));
        return;
    }
    let product_sku = derive_sku(&[handle]);
    if !product_skus.insert(product_sku.as_str().to_string()) {
        out.errors.push(ImportError::new(head.line, format!("handle {} maps to a SKU already used", short(handle))));
        return;
    }

    // Option names come from the product row; `Title` alone is Shopify's "no options".
    let option_names: [String; 3] = std::array::from_fn(|i| normalize_option_name(head.get(cols.option_name[i])));
    let placeholder = option_names[0] == "title"
        && option_names[1].is_empty()
        && head.get(cols.option_value[0]).eq_ignore_ascii_case("Default Title");

    let mut variants: Vec<VariantDraft> = Vec::new();
    let mut lines: Vec<u64> = Vec::new();
    let mut image: Option<String> = None;
    for r in rows {
        if image.is_none() {
            let img = [r.get(cols.image), r.get(cols.variant_image)].into_iter().find(|s| !s.is_empty());
            image = img.map(str::to_string);
        }
        if r.line != head.line && !cols.is_variant_row(r) {
            continue; // an image-only row
        }
        match variant_from_row(cols, r, handle, &option_names, placeholder, currency) {
            Ok(v) => {
                if let Some(first) = variant_skus.get(v.sku.as_str()) {
                    out.errors.push(ImportError::new(r.line, format!("duplicate SKU {} (first on line {first})", v.sku)));
                    continue;
                }
                variant_skus.insert(v.sku.as_str().to_string(), r.line);
                variants.push(v);
                lines.push(r.line);
            }
            Err(msg) => out.errors.push(ImportError::new(r.line, msg)),
        }
    }
    let options = loop {
        match check_variant_options(&variants) {
            Ok(names) => break names,
            Err((i, msg)) => {
                out.errors.push(ImportError::new(lines.remove(i), msg));
                variants.remove(i);
            }
        }
    };
    if variants.is_empty() {
        out.errors.push(ImportError::new(head.line, format!("product {} has no valid variants", short(handle))));
        return;
    }

    let product_category = head.get(cols.product_category);
    let kind = head.get(cols.kind);
    // Newer exports may hold a taxonomy id (`gid://shopify/TaxonomyCategory/...`), which
    // means nothing to a shopper.
    let taxonomy = (!product_category.is_empty() && !product_category.starts_with("gid:"))
        .then(|| product_category.split('>').map(str::trim).collect::<Vec<_>>().join("/"));
    let (category, extra_tag) = match taxonomy {
        Some(path) => (path, kind),
        None => (kind.to_string(), ""),
    };
    let raw_tags = head.get(cols.tags);
    let tags = clean_tags(raw_tags.split(',').chain([extra_tag, head.get(cols.vendor)]));
    let draft = ProductDraft {
        sku: product_sku,
        title: head.get(cols.title).to_string(),
        description_html: head.get(cols.body).to_string(),
        category,
        tags,
        image_url: image,
        options,
        currency,
        variants,
    };
    match draft.into_product(tenant) {
        Ok(p) => out.products.push(p),
        Err(msg) => out.errors.push(ImportError::new(head.line, msg)),
    }
}

fn variant_from_row(
    cols: &Cols,
    r: &Row<'_>,
    handle: &str,
    option_names: &[String; 3],
    placeholder: bool,
    currency: Currency,
) -> Result<VariantDraft, String> {
    let mut options: Vec<(String, String)> = Vec::new();
    if !placeholder {
        for (i, name) in option_names.iter().enumerate() {
            let value = r.get(cols.option_value[i]);
            match (name.is_empty(), value.is_empty()) {
                (_, true) => {}
                (true, false) => return Err(format!("Option{} Value {:?} has no Option{} Name", i + 1, short(value), i + 1)),
                (false, false) => {
                    if options.iter().any(|(n, _)| n == name) {
                        return Err(format!("option {name:?} is named twice"));
                    }
                    options.push((name.clone(), super::text::collapse_whitespace(value)));
                }
            }
        }
    }
    let price_cell = r.get(cols.price);
    if price_cell.is_empty() {
        return Err("Variant Price is missing".into());
    }
    let price_minor = Money::parse_decimal(price_cell, currency).map_err(|e| e.to_string())?.minor;
    let qty = r.get(cols.qty);
    let stock = if qty.is_empty() {
        UNTRACKED_STOCK
    } else {
        let n: i64 = qty.parse().map_err(|_| format!("Variant Inventory Qty must be a whole number, got {:?}", short(qty)))?;
        n.max(0)
    };
    let sku_cell = r.get(cols.sku).trim_start_matches('\'');
    let sku = if sku_cell.is_empty() {
        let mut parts = vec![handle];
        parts.extend(options.iter().map(|(_, v)| v.as_str()));
        derive_sku(&parts)
    } else {
        Sku::parse(sku_cell).map_err(|e| e.to_string())?
    };
    Ok(VariantDraft { sku, options, price_minor, stock })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "Handle,Title,Body (HTML),Vendor,Type,Tags,Status,Option1 Name,Option1 Value,Option2 Name,Option2 Value,Variant SKU,Variant Price,Variant Inventory Qty,Image Src";

    fn parse(body: &str) -> ParsedCatalog {
        let t = TenantId::parse("t_test").unwrap();
        parse_shopify_csv(&t, Currency::USD, format!("{HEADER}\n{body}").as_bytes())
    }

    #[test]
    fn variants_group_by_handle_and_image_rows_are_not_variants() {
        let p = parse(
            "tee,Tee,<p>Soft</p>,Acme,Shirts,\"cotton, summer\",active,Colour,Red,Size,M,,10.00,3,https://i/1.jpg\n\
             tee,,,,,,,,Red,,L,TEE-RL,11.00,-2,\n\
             tee,,,,,,,,,,,,,,https://i/2.jpg\n",
        );
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let tee = &p.products[0];
        assert_eq!(tee.sku.as_str(), "tee");
        assert_eq!(tee.options, vec!["color", "size"]);
        assert_eq!(tee.variants.len(), 2);
        assert_eq!(tee.variants[0].sku.as_str(), "tee-red-m");
        assert_eq!(tee.variants[1].stock, 0);
        assert_eq!(tee.variants[1].title, "Red / L");
        assert_eq!(tee.image_url.as_deref(), Some("https://i/1.jpg"));
        assert_eq!(tee.tags, vec!["cotton", "summer", "Acme"]);
        assert_eq!(tee.category, "Shirts");
    }

    #[test]
    fn default_title_means_no_options_and_drafts_are_skipped() {
        let p = parse(
            "lamp,Lamp,,,,,active,Title,Default Title,,,,5,,\n\
             old,Old,,,,,archived,Title,Default Title,,,,5,1,\n",
        );
        assert_eq!(p.products.len(), 1);
        assert!(p.products[0].options.is_empty());
        assert_eq!(p.products[0].variants[0].stock, UNTRACKED_STOCK);
        assert_eq!(p.skipped.len(), 1);
        assert_eq!(p.skipped[0].line, 3);
    }

    #[test]
    fn bad_variant_rows_are_reported_and_the_rest_imports() {
        let p = parse(
            "cap,Cap,,,,,active,Size,S,,,,abc,1,\n\
             cap,,,,,,,,M,,,,12,1,\n\
             cap,,,,,,,,L,,,,12,lots,\n",
        );
        let lines: Vec<u64> = p.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 4]);
        assert_eq!(p.products[0].variants.len(), 1);
    }
}
