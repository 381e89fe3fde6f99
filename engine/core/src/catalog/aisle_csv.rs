//! The Aisle catalog CSV (contract §2): one row per product, or per variant when the
//! row names a `parent_sku`.
//!
//! Header: `sku,title,description,category,price,currency,stock,image_url,tags`,
//! optionally `,parent_sku,options`; columns are found by name, so any order works and
//! unknown columns are ignored. Only `sku`, `title` and `price` are required columns.
//!
//! Rules, chosen so a shop's spreadsheet imports predictably:
//! - `tags` are separated by `|`; `options` are written `size=M|color=Black`, option
//!   names lower-cased (`colour` is read as `color`).
//! - A row whose SKU another row names as `parent_sku` is a parent: it gives the
//!   product's title, description, category, tags and image, and is not itself sellable
//!   (its price and stock are ignored and may be empty). Variants may come before or
//!   after their parent.
//! - A row without `parent_sku` that no row names as parent is a simple product: one
//!   variant with the row's own SKU, price and stock.
//! - An empty `stock` means the shop does not track stock: the variant gets
//!   [`UNTRACKED_STOCK`](super::import::UNTRACKED_STOCK).
//! - `price` is read by the currency's ISO 4217 exponent ([`Money::parse_decimal`]:
//!   digits and at most one `.`, no commas). `currency` may be empty or name the shop's
//!   own currency; any other (a product the shop's carts could never take) is refused.
//! - Field sizes are limited (see [`super::limits`]); text must be UTF-8.
//! - A bad row (missing SKU, bad price or stock, broken options, a variant whose parent
//!   is missing, a duplicate SKU...) is reported with its line and skipped.

use std::collections::{HashMap, HashSet};

use crate::domain::{Currency, Money, Sku, TenantId};

use super::import::{
    ImportError, ParsedCatalog, ProductDraft, Table, UNTRACKED_STOCK, VariantDraft, check_variant_options, clean_tags,
    parse_option_list, parse_stock, short,
};

/// The cells of one row, by meaning (borrowed from the table: nothing is copied).
struct AisleRow<'t> {
    line: u64,
    sku: Sku,
    title: &'t str,
    description: &'t str,
    category: &'t str,
    price: &'t str,
    currency: &'t str,
    stock: &'t str,
    image_url: &'t str,
    tags: &'t str,
    parent_sku: &'t str,
    options: &'t str,
}

/// Parses an Aisle catalog CSV for a shop selling in `shop_currency`: rows with no
/// `currency` are in it, rows naming another are refused.
pub fn parse_aisle_csv(tenant: &TenantId, shop_currency: Currency, bytes: &[u8]) -> ParsedCatalog {
    parse(tenant, shop_currency, bytes).finish()
}

fn parse(tenant: &TenantId, default_currency: Currency, bytes: &[u8]) -> ParsedCatalog {
    let mut table = match Table::read(bytes) {
        Ok(t) => t,
        Err(e) => return ParsedCatalog { errors: vec![e], ..Default::default() },
    };
    let missing: Vec<&str> = ["sku", "title", "price"].into_iter().filter(|c| table.col(c).is_none()).collect();
    if !missing.is_empty() {
        return ParsedCatalog::failed(1, format!("missing column(s): {}", missing.join(", ")));
    }
    let mut out = ParsedCatalog { errors: table.take_errors(), ..Default::default() };
    if table.is_empty() && out.errors.is_empty() {
        out.errors.push(ImportError::new(1, "the file has a header but no product rows"));
        return out;
    }
    let c = |name: &str| table.col(name);
    let (c_sku, c_title, c_desc, c_cat, c_price, c_cur, c_stock, c_img, c_tags, c_parent, c_opts) = (
        c("sku"),
        c("title"),
        c("description"),
        c("category"),
        c("price"),
        c("currency"),
        c("stock"),
        c("image_url"),
        c("tags"),
        c("parent_sku"),
        c("options"),
    );

    // Pass 1: every row with a valid, unique SKU.
    let mut rows: Vec<AisleRow> = Vec::new();
    let mut first_line: HashMap<String, u64> = HashMap::new();
    for r in table.rows() {
        let raw_sku = r.get(c_sku);
        if raw_sku.is_empty() {
            out.errors.push(ImportError::new(r.line, "sku is missing"));
            continue;
        }
        let sku = match Sku::parse(raw_sku) {
            Ok(s) => s,
            Err(e) => {
                out.errors.push(ImportError::new(r.line, e.to_string()));
                continue;
            }
        };
        if let Some(first) = first_line.get(sku.as_str()) {
            out.errors.push(ImportError::new(r.line, format!("duplicate SKU {sku} (first on line {first})")));
            continue;
        }
        first_line.insert(sku.as_str().to_string(), r.line);
        rows.push(AisleRow {
            line: r.line,
            sku,
            title: r.get(c_title),
            description: r.get(c_desc),
            category: r.get(c_cat),
            price: r.get(c_price),
            currency: r.get(c_cur),
            stock: r.get(c_stock),
            image_url: r.get(c_img),
            tags: r.get(c_tags),
            parent_sku: r.get(c_parent),
            options: r.get(c_opts),
        });
    }

    // Pass 2: products (simple ones and parents) in file order.
    let named_parents: HashSet<&str> =
        rows.iter().filter(|r| !r.parent_sku.is_empty()).map(|r| r.parent_sku).collect();
    let variant_rows: HashSet<&str> =
        rows.iter().filter(|r| !r.parent_sku.is_empty()).map(|r| r.sku.as_str()).collect();
    // Each accepted parent: its draft, and the lines of its variants (for error reports).
    let mut drafts: Vec<(u64, ProductDraft, Vec<u64>)> = Vec::new();
    let mut parent_at: HashMap<&str, usize> = HashMap::new();
    let mut rejected_parent: HashMap<&str, u64> = HashMap::new();
    for row in rows.iter().filter(|r| r.parent_sku.is_empty()) {
        let is_parent = named_parents.contains(row.sku.as_str());
        match product_from_row(row, default_currency, is_parent) {
            Ok(draft) => {
                if is_parent {
                    parent_at.insert(row.sku.as_str(), drafts.len());
                }
                drafts.push((row.line, draft, Vec::new()));
            }
            Err(msg) => {
                out.errors.push(ImportError::new(row.line, msg));
                if is_parent {
                    rejected_parent.insert(row.sku.as_str(), row.line);
                }
            }
        }
    }

    // Pass 3: variants onto their parents.
    for row in rows.iter().filter(|r| !r.parent_sku.is_empty()) {
        let parent = row.parent_sku;
        let Some(&at) = parent_at.get(parent) else {
            let msg = if parent == row.sku.as_str() {
                "a row cannot be its own parent".to_string()
            } else if let Some(line) = rejected_parent.get(parent) {
                format!("parent {} was not imported (see line {line})", short(parent))
            } else if variant_rows.contains(parent) {
                format!("parent {} is itself a variant", short(parent))
            } else {
                format!("parent SKU {} not found", short(parent))
            };
            out.errors.push(ImportError::new(row.line, msg));
            continue;
        };
        let currency = drafts[at].1.currency;
        match variant_from_row(row, currency) {
            Ok(v) => {
                drafts[at].1.variants.push(v);
                drafts[at].2.push(row.line);
            }
            Err(msg) => out.errors.push(ImportError::new(row.line, msg)),
        }
    }

    for (line, mut draft, mut variant_lines) in drafts {
        // Drop variants that disagree with the first one, reporting each, then build.
        loop {
            match check_variant_options(&draft.variants) {
                Ok(names) => {
                    draft.options = names;
                    break;
                }
                Err((i, msg)) => {
                    let vline = if i < variant_lines.len() { variant_lines.remove(i) } else { line };
                    out.errors.push(ImportError::new(vline, msg));
                    draft.variants.remove(i);
                }
            }
        }
        if draft.variants.is_empty() {
            out.errors.push(ImportError::new(line, format!("product {} has no valid variants", draft.sku)));
            continue;
        }
        match draft.into_product(tenant) {
            Ok(p) => out.products.push(p),
            Err(msg) => out.errors.push(ImportError::new(line, msg)),
        }
    }
    out
}

/// A product from a row without `parent_sku`. A parent's own price and stock are
/// ignored: it is sold through its variants.
fn product_from_row(row: &AisleRow, default_currency: Currency, is_parent: bool) -> Result<ProductDraft, String> {
    if row.title.trim().is_empty() {
        return Err("title is missing".into());
    }
    let currency = row_currency(row.currency, default_currency)?;
    let mut draft = ProductDraft {
        sku: row.sku.clone(),
        title: row.title.to_string(),
        description_html: row.description.to_string(),
        category: row.category.to_string(),
        tags: clean_tags(row.tags.split('|')),
        image_url: Some(row.image_url.to_string()),
        options: Vec::new(),
        currency,
        variants: Vec::new(),
    };
    if !is_parent {
        if !row.options.is_empty() {
            // Options without a parent describe nothing to choose between; refuse
            // rather than silently drop what the shop meant.
            parse_option_list(row.options, '|')?;
            return Err("options are only allowed on variant rows (rows with a parent_sku)".into());
        }
        draft.variants.push(VariantDraft {
            sku: row.sku.clone(),
            options: Vec::new(),
            price_minor: price(row.price, currency)?,
            stock: stock(row.stock)?,
        });
    }
    Ok(draft)
}

fn variant_from_row(row: &AisleRow, parent_currency: Currency) -> Result<VariantDraft, String> {
    let currency = row_currency(row.currency, parent_currency)?;
    Ok(VariantDraft {
        sku: row.sku.clone(),
        options: parse_option_list(row.options, '|')?,
        price_minor: price(row.price, currency)?,
        stock: stock(row.stock)?,
    })
}

/// The row's currency: empty means the shop's; another than the shop's is refused, since
/// a cart (in the shop's currency) could never take the product.
fn row_currency(cell: &str, shop: Currency) -> Result<Currency, String> {
    if cell.is_empty() {
        return Ok(shop);
    }
    let c = Currency::parse(cell).map_err(|_| {
        format!("currency {:?} is not an ISO 4217 currency in use (e.g. USD, EUR, JPY)", short(cell))
    })?;
    if c != shop {
        return Err(format!("currency {c} is not the shop's currency ({shop}); every product is sold in {shop}"));
    }
    Ok(c)
}

fn price(cell: &str, currency: Currency) -> Result<i64, String> {
    if cell.is_empty() {
        return Err("price is missing".into());
    }
    Money::parse_decimal(cell, currency).map(|m| m.minor).map_err(|e| e.to_string())
}

fn stock(cell: &str) -> Result<i64, String> {
    if cell.is_empty() { Ok(UNTRACKED_STOCK) } else { parse_stock(cell) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> TenantId {
        TenantId::parse("t_test").unwrap()
    }

    #[test]
    fn simple_rows_become_single_variant_products() {
        let csv = "sku,title,description,category,price,currency,stock,image_url,tags\n\
                   MUG-1,Metal &amp; Mug,<p>A <b>mug</b></p>,Kitchen/Mugs,12.50,,7,https://x/m.jpg,steel|  mug |Steel\n";
        let p = parse_aisle_csv(&tenant(), Currency::USD, csv.as_bytes());
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let m = &p.products[0];
        assert_eq!(m.title, "Metal & Mug");
        assert_eq!(m.description_text, "A mug");
        assert_eq!(m.tags, vec!["steel", "mug"]);
        assert_eq!(m.variants.len(), 1);
        assert_eq!(m.variants[0].sku.as_str(), "MUG-1");
        assert_eq!(m.variants[0].price_minor, 1250);
        assert_eq!(m.variants[0].stock, 7);
        assert_eq!(m.variants[0].title, "Metal & Mug");
        assert!(m.options.is_empty());
    }

    #[test]
    fn variants_before_their_parent_still_attach() {
        let csv = "sku,title,price,stock,parent_sku,options\n\
                   H-M,,20,1,H,size=M\n\
                   H,Hoodie,,,,\n\
                   H-L,,22,0,H,Size=L\n";
        let p = parse_aisle_csv(&tenant(), Currency::USD, csv.as_bytes());
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        assert_eq!(p.products.len(), 1);
        let h = &p.products[0];
        assert_eq!(h.options, vec!["size"]);
        assert_eq!(h.variants.iter().map(|v| v.title.as_str()).collect::<Vec<_>>(), vec!["M", "L"]);
        assert_eq!(h.price().minor, 2000);
    }

    #[test]
    fn untracked_stock_and_row_currency() {
        let eur = Currency::parse("EUR").unwrap();
        let csv = "sku,title,price,currency,stock\nA,Thing,5,eur,\nB,Other,5,USD,1\nC,Third,5,,2\n";
        let p = parse_aisle_csv(&tenant(), eur, csv.as_bytes());
        assert_eq!(p.products.len(), 2);
        assert!(p.products.iter().all(|p| p.currency == eur));
        assert_eq!(p.products[0].variants[0].stock, UNTRACKED_STOCK);
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].line, 3);
        assert!(p.errors[0].message.contains("not the shop's currency (EUR)"), "{}", p.errors[0].message);
    }

    #[test]
    fn mismatched_and_repeated_variant_options_are_reported() {
        let csv = "sku,title,price,parent_sku,options\n\
                   P,Tee,,,\n\
                   P-1,,10,P,size=M|color=Red\n\
                   P-2,,10,P,size=L\n\
                   P-3,,10,P,color=red|size=m\n\
                   P-4,,10,P,size=L|color=Red\n";
        let p = parse_aisle_csv(&tenant(), Currency::USD, csv.as_bytes());
        let lines: Vec<u64> = p.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![4, 5], "{:?}", p.errors);
        assert_eq!(p.products[0].variants.len(), 2);
        assert_eq!(p.products[0].options, vec!["size", "color"]);
        assert_eq!(p.products[0].variants[1].title, "L / Red");
    }

    #[test]
    fn options_on_a_simple_row_are_refused() {
        let csv = "sku,title,price,options\nA,Thing,5,size=M\n";
        let p = parse_aisle_csv(&tenant(), Currency::USD, csv.as_bytes());
        assert!(p.products.is_empty());
        assert_eq!(p.errors[0].line, 2);
    }
}
