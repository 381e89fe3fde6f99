//! Catalog import: the shared result types, format detection, and the step that writes
//! parsed products to the store.
//!
//! Each file format has its own module (`aisle_csv`, `shopify`, `luma`); they all read
//! CSV through [`Table`] (columns found by header name, lines counted as a human counts
//! them) and build products through [`ProductDraft`], so every format yields products
//! that pass `Product::validate`. Parsing never panics and never stops at a bad row:
//! the row is reported with its line and skipped, good rows still import.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

use crate::domain::{Currency, Product, ProductId, Sku, TenantId, Variant, VariantId};
use crate::ports::store::{Store, StoreError, Upserted};

use super::text::{clean_title, collapse_whitespace, html_to_text};

/// The stock given to a variant whose file does not track inventory (Shopify's 2025
/// export has no `Variant Inventory Qty` column; an Aisle CSV may leave `stock` empty).
/// Large enough to never block a sale, small enough to stay far from overflow.
pub const UNTRACKED_STOCK: i64 = 1_000_000;

/// A row that could not be imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportError {
    /// The CSV line the row starts on, as a human counts (the header is line 1).
    pub line: u64,
    pub message: String,
}

impl ImportError {
    pub fn new(line: u64, message: impl Into<String>) -> Self {
        Self { line, message: message.into() }
    }
}

/// What a parser made of a file.
#[derive(Clone, Debug, Default)]
pub struct ParsedCatalog {
    pub products: Vec<Product>,
    /// Rows that were wrong and skipped.
    pub errors: Vec<ImportError>,
    /// Rows that were fine but deliberately not imported (a Shopify draft or archived
    /// product), with the reason: not errors, but an admin wants to know.
    pub skipped: Vec<ImportError>,
}

impl ParsedCatalog {
    /// A catalog that is one error (an unreadable file).
    pub fn failed(line: u64, message: impl Into<String>) -> Self {
        Self { errors: vec![ImportError::new(line, message)], ..Self::default() }
    }

    pub fn variant_count(&self) -> usize {
        self.products.iter().map(|p| p.variants.len()).sum()
    }
}

/// The formats `detect_and_parse` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatalogFormat {
    Aisle,
    Shopify,
}

/// Picks the format from the header row: Shopify's export always has `Handle`; the
/// Aisle format has `sku`, `title` and `price`.
pub fn detect_format(bytes: &[u8]) -> Option<CatalogFormat> {
    let text = decode(bytes);
    // Only the header row is read: the parser reads the whole file afterwards.
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let header = reader.records().next()?.ok()?;
    let has = |name: &str| header.iter().any(|h| h.trim().eq_ignore_ascii_case(name));
    if has("handle") {
        Some(CatalogFormat::Shopify)
    } else if has("sku") && has("title") && has("price") {
        Some(CatalogFormat::Aisle)
    } else {
        None
    }
}

/// Parses an upload in whichever supported format its header row shows.
/// `currency` is used where the file names none (Shopify's export never does).
pub fn detect_and_parse(tenant: &TenantId, currency: Currency, bytes: &[u8]) -> ParsedCatalog {
    match detect_format(bytes) {
        Some(CatalogFormat::Shopify) => super::shopify::parse_shopify_csv(tenant, currency, bytes),
        Some(CatalogFormat::Aisle) => super::aisle_csv::parse_aisle_csv(tenant, currency, bytes),
        None if decode(bytes).trim().is_empty() => ParsedCatalog::failed(1, "the file is empty"),
        None => ParsedCatalog::failed(
            1,
            "unrecognised header: expected the Aisle format (sku,title,description,category,price,currency,stock,image_url,tags) or a Shopify product export (Handle,Title,...)",
        ),
    }
}

/// How an import went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
}

/// Upserts each product (by SKU: importing the same SKU again updates that product).
/// Stops at the first store error: the store, not a row, is then at fault.
pub async fn import_products(store: &dyn Store, products: Vec<Product>) -> Result<ImportReport, StoreError> {
    let mut report = ImportReport::default();
    for mut product in products {
        match store.upsert_product(&mut product).await? {
            Upserted::Created => report.created += 1,
            Upserted::Updated => report.updated += 1,
        }
    }
    Ok(report)
}

// --- shared reading ---------------------------------------------------------------

/// The file as text: a UTF-8 byte-order mark dropped; a file that is not UTF-8 is read
/// as Latin-1 (what spreadsheet programs commonly write), so it never fails to decode.
pub(super) fn decode(bytes: &[u8]) -> Cow<'_, str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(bytes.iter().map(|&b| b as char).collect()),
    }
}

/// One data row with the line it starts on.
pub(super) struct Row {
    pub line: u64,
    fields: Vec<String>,
}

impl Row {
    /// The trimmed cell of a column, empty when the column or the cell is missing.
    pub fn get(&self, col: Option<usize>) -> &str {
        col.and_then(|i| self.fields.get(i)).map_or("", |s| s.trim())
    }

    fn is_blank(&self) -> bool {
        self.fields.iter().all(|f| f.trim().is_empty())
    }
}

/// A CSV file read whole: its header names and its non-blank rows.
pub(super) struct Table {
    header: Vec<String>,
    pub rows: Vec<Row>,
    /// A CSV syntax problem that ended reading early (rows before it are kept).
    pub error: Option<ImportError>,
}

impl Table {
    /// Reads the header (line 1) and every row. Rows may have fewer or more cells than
    /// the header; missing cells read as empty.
    pub fn read(text: &str) -> Result<Table, ImportError> {
        let lines = LineIndex::new(text);
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
        let mut records = reader.records();
        let header = match records.next() {
            None => return Err(ImportError::new(1, "the file is empty")),
            Some(Err(e)) => return Err(ImportError::new(1, format!("unreadable header: {e}"))),
            Some(Ok(r)) => r.iter().map(|h| h.trim().to_string()).collect::<Vec<_>>(),
        };
        if header.iter().all(String::is_empty) {
            return Err(ImportError::new(1, "the header row is empty"));
        }
        let mut rows = Vec::new();
        let mut error = None;
        for rec in records {
            match rec {
                Ok(r) => {
                    let line = r.position().map_or(0, |p| lines.line_of(p.byte()));
                    let row = Row { line, fields: r.iter().map(str::to_string).collect() };
                    if !row.is_blank() {
                        rows.push(row);
                    }
                }
                Err(e) => {
                    let line = e.position().map_or(0, |p| lines.line_of(p.byte()));
                    error = Some(ImportError::new(line, format!("unreadable CSV: {e}")));
                    break;
                }
            }
        }
        Ok(Table { header, rows, error })
    }

    /// The index of a column by name, ignoring case and surrounding spaces.
    pub fn col(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h.eq_ignore_ascii_case(name))
    }
}

/// Maps byte offsets to human line numbers. The csv crate's own line counter skips
/// blank lines and miscounts `\r\n`, and its record offsets point just after the
/// previous record's terminator, so we find the record's first byte ourselves.
struct LineIndex<'a> {
    text: &'a [u8],
    /// Offsets of every line break (`\n`, or a `\r` not followed by `\n`).
    breaks: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(text: &'a str) -> Self {
        let b = text.as_bytes();
        let breaks = (0..b.len())
            .filter(|&i| b[i] == b'\n' || (b[i] == b'\r' && b.get(i + 1) != Some(&b'\n')))
            .collect();
        Self { text: b, breaks }
    }

    fn line_of(&self, byte: u64) -> u64 {
        let mut at = usize::try_from(byte).unwrap_or(usize::MAX).min(self.text.len());
        while at < self.text.len() && matches!(self.text[at], b'\r' | b'\n') {
            at += 1;
        }
        self.breaks.partition_point(|&b| b < at) as u64 + 1
    }
}

// --- shared field parsing ---------------------------------------------------------

/// A stock count: a whole number (`12`, or `12.0000` as Magento writes it), not negative.
pub(super) fn parse_stock(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let whole = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b == b'0');
    if !whole {
        if t.starts_with('-') {
            return Err(format!("stock must not be negative, got {t:?}"));
        }
        return Err(format!("stock must be a whole number, got {:?}", short(t)));
    }
    int.parse::<i64>().map_err(|_| format!("stock is too large: {:?}", short(t)))
}

/// Option names are stored lower-case, and the British spelling of colour is folded
/// into `color` so filters and the assistant need to know only one.
pub(super) fn normalize_option_name(name: &str) -> String {
    let n = collapse_whitespace(name).to_lowercase();
    if n == "colour" { "color".to_string() } else { n }
}

/// `size=M|color=Black` (Aisle) into ordered pairs; names normalised, values trimmed.
pub(super) fn parse_option_list(s: &str, pair_sep: char) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for part in s.split(pair_sep).filter(|p| !p.trim().is_empty()) {
        let Some((name, value)) = part.split_once('=') else {
            return Err(format!("option {:?} is not written name=value", short(part)));
        };
        let name = normalize_option_name(name);
        let value = collapse_whitespace(value);
        if name.is_empty() || value.is_empty() {
            return Err(format!("option {:?} needs both a name and a value", short(part)));
        }
        if out.iter().any(|(n, _)| *n == name) {
            return Err(format!("option {name:?} is given twice"));
        }
        out.push((name, value));
    }
    Ok(out)
}

/// A SKU made from parts when the file gives none (a Shopify variant without `Variant
/// SKU`): `handle-blue-l`. Deterministic, so importing the same file again updates the
/// same products; shortened with a hash suffix to stay within the SKU length limit.
pub(super) fn derive_sku(parts: &[&str]) -> Sku {
    let joined: String = parts
        .iter()
        .map(|p| collapse_whitespace(p).to_lowercase().replace(' ', "-"))
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let cleaned: String = joined.chars().filter(|c| !c.is_control()).collect();
    let cleaned = if cleaned.is_empty() { "item".to_string() } else { cleaned };
    let sku = if cleaned.chars().count() > crate::domain::MAX_ID_LEN {
        let head: String = cleaned.chars().take(crate::domain::MAX_ID_LEN - 9).collect();
        format!("{head}-{:08x}", fnv1a(&cleaned))
    } else {
        cleaned
    };
    // Cannot fail: non-empty, bounded, no control characters. Fall back to a hash anyway.
    Sku::parse(&sku).unwrap_or_else(|_| Sku::parse(format!("item-{:08x}", fnv1a(&sku))).expect("hex sku is valid"))
}

fn fnv1a(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ b as u32).wrapping_mul(0x0100_0193))
}

/// Cleaned, non-empty, de-duplicated (ignoring case) tags in first-seen order.
pub(super) fn clean_tags<'a>(raw: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for t in raw {
        let t = clean_title(t);
        if !t.is_empty() && seen.insert(t.to_lowercase()) {
            out.push(t);
        }
    }
    out
}

/// Cuts a cell for an error message, so one huge cell cannot bloat a report.
pub(super) fn short(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX { s.to_string() } else { format!("{}…", s.chars().take(MAX).collect::<String>()) }
}

// --- building products ------------------------------------------------------------

/// A variant as a parser found it, before ids are given.
pub(super) struct VariantDraft {
    pub sku: Sku,
    /// Option name to value, in the file's order.
    pub options: Vec<(String, String)>,
    pub price_minor: i64,
    pub stock: i64,
}

/// A product as a parser found it. `into_product` gives ids, derives variant titles and
/// checks the domain's invariants.
pub(super) struct ProductDraft {
    pub sku: Sku,
    /// Raw; cleaned by `into_product`.
    pub title: String,
    pub description_html: String,
    pub category: String,
    pub tags: Vec<String>,
    pub image_url: Option<String>,
    /// Option names in display order; empty for a simple product.
    pub options: Vec<String>,
    pub currency: Currency,
    pub variants: Vec<VariantDraft>,
}

impl ProductDraft {
    pub fn into_product(self, tenant: &TenantId) -> Result<Product, String> {
        let title = clean_title(&self.title);
        let variants: Vec<Variant> = self
            .variants
            .into_iter()
            .map(|v| {
                let values: Vec<&str> = self
                    .options
                    .iter()
                    .filter_map(|name| v.options.iter().find(|(n, _)| n == name).map(|(_, val)| val.as_str()))
                    .collect();
                let vtitle = if values.is_empty() { title.clone() } else { values.join(" / ") };
                Variant {
                    id: VariantId::generate(),
                    sku: v.sku,
                    title: vtitle,
                    options: v.options.into_iter().collect::<BTreeMap<_, _>>(),
                    price_minor: v.price_minor,
                    stock: v.stock,
                }
            })
            .collect();
        let description_text = html_to_text(&self.description_html);
        let product = Product {
            id: ProductId::generate(),
            tenant_id: tenant.clone(),
            sku: self.sku,
            title,
            description_html: self.description_html.trim().to_string(),
            description_text,
            category: collapse_whitespace(&self.category),
            tags: self.tags,
            image_url: self.image_url.filter(|u| !u.trim().is_empty()).map(|u| u.trim().to_string()),
            options: self.options,
            currency: self.currency,
            variants,
        };
        product.validate().map_err(|e| e.to_string())?;
        Ok(product)
    }
}

/// Checks a product's variants agree on option names and never repeat a combination.
/// Returns the option names (the first variant's order) or the offending variant's index
/// and the reason.
pub(super) fn check_variant_options(variants: &[VariantDraft]) -> Result<Vec<String>, (usize, String)> {
    let Some(first) = variants.first() else { return Ok(Vec::new()) };
    let names: Vec<String> = first.options.iter().map(|(n, _)| n.clone()).collect();
    let mut combos = HashSet::new();
    for (i, v) in variants.iter().enumerate() {
        let mut vn: Vec<&String> = v.options.iter().map(|(n, _)| n).collect();
        let mut want: Vec<&String> = names.iter().collect();
        vn.sort();
        want.sort();
        if vn != want {
            return Err((i, format!("variant {} has options ({}) but the product's are ({})", v.sku, join_names(&v.options), names.join(", "))));
        }
        let combo: Vec<String> = names
            .iter()
            .map(|n| v.options.iter().find(|(k, _)| k == n).map_or(String::new(), |(_, val)| val.to_lowercase()))
            .collect();
        if !combo.is_empty() && !combos.insert(combo) {
            return Err((i, format!("variant {} repeats an option combination of the same product", v.sku)));
        }
    }
    if names.is_empty() && variants.len() > 1 {
        return Err((1, "a product with several variants needs options to tell them apart".into()));
    }
    Ok(names)
}

fn join_names(opts: &[(String, String)]) -> String {
    opts.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_accepts_whole_numbers_only() {
        assert_eq!(parse_stock("12"), Ok(12));
        assert_eq!(parse_stock(" 100.0000 "), Ok(100));
        assert!(parse_stock("-1").is_err());
        assert!(parse_stock("1.5").is_err());
        assert!(parse_stock("abc").is_err());
        assert!(parse_stock("").is_err());
        assert!(parse_stock("99999999999999999999999").is_err());
    }

    #[test]
    fn option_lists_parse_and_refuse_broken_ones() {
        let o = parse_option_list("Size=M| Colour = Black ", '|').unwrap();
        assert_eq!(o, vec![("size".into(), "M".into()), ("color".into(), "Black".into())]);
        assert!(parse_option_list("size", '|').is_err());
        assert!(parse_option_list("size=", '|').is_err());
        assert!(parse_option_list("=M", '|').is_err());
        assert!(parse_option_list("size=M|size=L", '|').is_err());
        assert_eq!(parse_option_list("", '|').unwrap(), vec![]);
    }

    #[test]
    fn derived_skus_are_stable_and_bounded() {
        assert_eq!(derive_sku(&["gardening-gloves", "Green"]).as_str(), "gardening-gloves-green");
        assert_eq!(derive_sku(&["shirt", "Dark Blue", "XL"]).as_str(), "shirt-dark-blue-xl");
        let long = "x".repeat(200);
        let a = derive_sku(&[&long, "a"]);
        let b = derive_sku(&[&long, "b"]);
        assert!(a.as_str().chars().count() <= 64);
        assert_ne!(a, b);
        assert_eq!(a, derive_sku(&[&long, "a"]));
        assert_eq!(derive_sku(&["", " "]).as_str(), "item");
    }

    #[test]
    fn table_counts_lines_like_a_human() {
        let t = Table::read("a,b\n1,2\n\"multi\nline\",3\n\n4,5\n").unwrap();
        let crlf = Table::read("a,b\r\n1,2\r\n\r\n4,5\r\n").unwrap();
        assert_eq!(crlf.rows.iter().map(|r| r.line).collect::<Vec<_>>(), vec![2, 4]);
        let lines: Vec<u64> = t.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 3, 6]);
        assert_eq!(t.rows[1].get(t.col("A")), "multi\nline");
        assert_eq!(t.rows[0].get(t.col("missing")), "");
    }

    #[test]
    fn non_utf8_is_read_as_latin1() {
        assert_eq!(decode(b"caf\xe9"), "café");
        assert_eq!(decode(b"\xEF\xBB\xBFsku"), "sku");
    }

    #[test]
    fn detection_reads_the_header() {
        assert_eq!(detect_format(b"Handle,Title,Variant Price\n"), Some(CatalogFormat::Shopify));
        assert_eq!(detect_format(b"title,price,sku\n"), Some(CatalogFormat::Aisle));
        assert_eq!(detect_format(b"name,cost\n"), None);
        assert_eq!(detect_format(b""), None);
    }
}
