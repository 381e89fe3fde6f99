//! Catalog import: the shared result types, format detection, and the step that writes
//! parsed products to the store.
//!
//! Each file format has its own module (`aisle_csv`, `shopify`, `luma`); they all read
//! CSV through [`Table`] (columns found by header name, lines counted as a human counts
//! them) and build products through [`ProductDraft`], so every format yields products
//! that pass `Product::validate`. Parsing never panics and never stops at a bad row:
//! the row is reported with its line and skipped, good rows still import.

use std::collections::{BTreeMap, HashSet};

use crate::domain::{Currency, Product, ProductId, Sku, TenantId, Variant, VariantId};
use crate::ports::store::{Store, StoreError, Upserted};

use super::limits::*;
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

    /// Sorts the errors by line and keeps the first [`MAX_REPORTED_ERRORS`], with a last
    /// entry that counts the rest, so a file of bad rows gives a report of bounded size.
    pub(super) fn finish(mut self) -> Self {
        self.errors.sort_by_key(|e| e.line);
        if self.errors.len() > MAX_REPORTED_ERRORS {
            let rest = self.errors.len() - MAX_REPORTED_ERRORS;
            let line = self.errors[MAX_REPORTED_ERRORS].line;
            self.errors.truncate(MAX_REPORTED_ERRORS);
            self.errors.push(ImportError::new(line, format!("and {rest} more rows with errors from here on, not listed")));
        }
        self.skipped.truncate(MAX_REPORTED_ERRORS);
        self
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
    // Only the header row is read: the parser reads the whole file afterwards.
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(strip_bom(bytes));
    let mut header = csv::ByteRecord::new();
    if !reader.read_byte_record(&mut header).ok()? {
        return None;
    }
    let has = |name: &str| header.iter().any(|h| h.trim_ascii().eq_ignore_ascii_case(name.as_bytes()));
    if has("handle") {
        Some(CatalogFormat::Shopify)
    } else if has("sku") && has("title") && has("price") {
        Some(CatalogFormat::Aisle)
    } else {
        None
    }
}

/// Parses an upload in whichever supported format its header row shows, for a shop
/// that sells in `currency` (the tenant's): every product is priced in it, and a row
/// that names another currency is a line error.
pub fn detect_and_parse(tenant: &TenantId, currency: Currency, bytes: &[u8]) -> ParsedCatalog {
    if let Some(why) = unreadable(bytes) {
        return ParsedCatalog::failed(1, why);
    }
    match detect_format(bytes) {
        Some(CatalogFormat::Shopify) => super::shopify::parse_shopify_csv(tenant, currency, bytes),
        Some(CatalogFormat::Aisle) => super::aisle_csv::parse_aisle_csv(tenant, currency, bytes),
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

/// The body without a UTF-8 byte-order mark.
fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// Why a body cannot be read at all, before any row is: empty, or UTF-16 (which
/// spreadsheet programs write as "Unicode text").
pub(super) fn unreadable(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        Some("the file is UTF-16 text; save it as CSV in UTF-8")
    } else if strip_bom(bytes).iter().all(u8::is_ascii_whitespace) {
        Some("the file is empty")
    } else {
        None
    }
}

/// One data row with the line it starts on: a view into its [`Table`].
#[derive(Clone, Copy)]
pub(super) struct Row<'t> {
    pub line: u64,
    buf: &'t str,
    cells: &'t [(u32, u32)],
}

impl<'t> Row<'t> {
    /// The trimmed cell of a column, empty when the column or the cell is missing.
    pub fn get(&self, col: Option<usize>) -> &'t str {
        col.and_then(|i| self.cells.get(i)).map_or("", |&(a, b)| self.buf[a as usize..b as usize].trim())
    }
}

/// A CSV file read whole: its header names and its non-blank rows, each cell checked
/// to be UTF-8 and within [`MAX_CELL_BYTES`]. The kept cells are stored back to back in
/// one string (no allocation per cell), so a table takes about the body's size.
pub(super) struct Table {
    header: Vec<String>,
    buf: String,
    cells: Vec<(u32, u32)>,
    /// Line, index of the first cell, number of cells.
    rows: Vec<(u64, u32, u32)>,
    /// Rows refused while reading (not UTF-8, a cell too large, too many cells or rows).
    pub refused: Vec<ImportError>,
    /// A CSV syntax problem that ended reading early (rows before it are kept).
    pub error: Option<ImportError>,
}

impl Table {
    /// Reads the header (line 1) and every row. Rows may have fewer or more cells than
    /// the header; missing cells read as empty. Text must be UTF-8: a row that is not is
    /// refused with its line (never guessed as Latin-1), and the others are read.
    pub fn read(bytes: &[u8]) -> Result<Table, ImportError> {
        let bytes = strip_bom(bytes);
        let mut lines = LineCounter::new(bytes);
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
        let mut rec = csv::ByteRecord::new();
        let header = match reader.read_byte_record(&mut rec) {
            Ok(false) => return Err(ImportError::new(1, "the file is empty")),
            Err(e) => return Err(ImportError::new(1, format!("unreadable header: {e}"))),
            Ok(true) => {
                if rec.len() > MAX_COLUMNS {
                    return Err(ImportError::new(1, format!("the header has {} columns; at most {MAX_COLUMNS}", rec.len())));
                }
                let mut names = Vec::with_capacity(rec.len());
                for cell in rec.iter() {
                    let name = std::str::from_utf8(cell).map_err(|_| {
                        ImportError::new(1, "the header row is not UTF-8 text; save the file as CSV in UTF-8")
                    })?;
                    if name.len() > MAX_HEADER_BYTES {
                        return Err(ImportError::new(1, format!("a column name is {} bytes long; is this a CSV file?", name.len())));
                    }
                    names.push(name.trim().to_string());
                }
                names
            }
        };
        if header.iter().all(String::is_empty) {
            return Err(ImportError::new(1, "the header row is empty"));
        }
        let mut table =
            Table { header, buf: String::new(), cells: Vec::new(), rows: Vec::new(), refused: Vec::new(), error: None };
        loop {
            match reader.read_byte_record(&mut rec) {
                Ok(false) => break,
                Ok(true) => {
                    let line = rec.position().map_or(0, |p| lines.line_of(p.byte()));
                    if rec.iter().all(|c| c.trim_ascii().is_empty()) {
                        continue;
                    }
                    if table.rows.len() >= MAX_ROWS {
                        table.error = Some(ImportError::new(
                            line,
                            format!("the file has more than {MAX_ROWS} rows; this row and those after it were not read (split the file)"),
                        ));
                        break;
                    }
                    match table.check(&rec) {
                        Ok(()) => table.push(line, &rec),
                        Err(msg) => table.refused.push(ImportError::new(line, msg)),
                    }
                }
                Err(e) => {
                    let line = e.position().map_or(0, |p| lines.line_of(p.byte()));
                    table.error = Some(ImportError::new(line, format!("unreadable CSV: {e}")));
                    break;
                }
            }
        }
        Ok(table)
    }

    fn check(&self, rec: &csv::ByteRecord) -> Result<(), String> {
        if rec.len() > MAX_COLUMNS {
            return Err(format!("the row has {} cells; at most {MAX_COLUMNS}", rec.len()));
        }
        if self.buf.len() + rec.as_slice().len() >= u32::MAX as usize {
            return Err("the file is too large to read (4 GiB)".into());
        }
        for (i, cell) in rec.iter().enumerate() {
            let column = || self.header.get(i).filter(|h| !h.is_empty()).map_or_else(|| format!("column {}", i + 1), |h| short(h));
            if cell.len() > MAX_CELL_BYTES {
                return Err(format!(
                    "the {} cell is {} bytes; a cell holds at most {} KiB",
                    column(),
                    cell.len(),
                    MAX_CELL_BYTES / 1024
                ));
            }
            if let Err(e) = std::str::from_utf8(cell) {
                return Err(format!(
                    "the {} cell is not UTF-8 text (byte {} of the cell); save the file as CSV in UTF-8",
                    column(),
                    e.valid_up_to() + 1
                ));
            }
        }
        Ok(())
    }

    fn push(&mut self, line: u64, rec: &csv::ByteRecord) {
        let first = self.cells.len() as u32;
        for cell in rec.iter() {
            let at = self.buf.len();
            // Checked to be UTF-8 by `check`.
            self.buf.push_str(std::str::from_utf8(cell).unwrap_or(""));
            self.cells.push((at as u32, self.buf.len() as u32));
        }
        self.rows.push((line, first, rec.len() as u32));
    }

    /// The rows, in file order.
    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> + '_ {
        self.rows.iter().map(|&(line, first, n)| Row {
            line,
            buf: &self.buf,
            cells: &self.cells[first as usize..(first + n) as usize],
        })
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The index of a column by name, ignoring case and surrounding spaces.
    pub fn col(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h.eq_ignore_ascii_case(name))
    }

    /// The problems met while reading (refused rows, then a syntax error), for the
    /// parser's report.
    pub fn take_errors(&mut self) -> Vec<ImportError> {
        let mut errors = std::mem::take(&mut self.refused);
        errors.extend(self.error.take());
        errors
    }
}

/// A column name longer than this means the file is not a CSV with a header.
const MAX_HEADER_BYTES: usize = 1024;

/// Turns byte offsets into human line numbers, reading forward only (records come in
/// order), so it keeps no index of the file. The csv crate's own line counter skips
/// blank lines and miscounts `\r\n`, and its record offsets point just after the
/// previous record's terminator, so we find the record's first byte ourselves.
struct LineCounter<'a> {
    text: &'a [u8],
    /// Bytes before `at` are counted; `line` is the line `at` is on.
    at: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a [u8]) -> Self {
        Self { text, at: 0, line: 1 }
    }

    fn line_of(&mut self, byte: u64) -> u64 {
        let t = self.text;
        let mut to = usize::try_from(byte).unwrap_or(usize::MAX).min(t.len());
        while to < t.len() && matches!(t[to], b'\r' | b'\n') {
            to += 1;
        }
        if to < self.at {
            (self.at, self.line) = (0, 1);
        }
        // A line break is `\n`, or a `\r` not followed by `\n`.
        self.line += t[self.at..to]
            .iter()
            .enumerate()
            .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && t.get(self.at + i + 1) != Some(&b'\n')))
            .count() as u64;
        self.at = to;
        self.line
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
    /// Builds the product, or says which limit (see [`super::limits`]) or invariant it
    /// breaks.
    pub fn into_product(self, tenant: &TenantId) -> Result<Product, String> {
        let title = clean_title(&self.title);
        self.check_limits(&title)?;
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

    fn check_limits(&self, title: &str) -> Result<(), String> {
        let chars = |s: &str| s.chars().count();
        if chars(title) > MAX_TITLE_CHARS {
            return Err(format!("title is {} characters; at most {MAX_TITLE_CHARS}", chars(title)));
        }
        let description = self.description_html.trim();
        if description.len() > MAX_DESCRIPTION_BYTES {
            return Err(format!(
                "description is {} bytes; at most {} KiB",
                description.len(),
                MAX_DESCRIPTION_BYTES / 1024
            ));
        }
        let category = collapse_whitespace(&self.category);
        if chars(&category) > MAX_CATEGORY_CHARS {
            return Err(format!("category is {} characters; at most {MAX_CATEGORY_CHARS}", chars(&category)));
        }
        if self.tags.len() > MAX_TAGS {
            return Err(format!("{} tags; at most {MAX_TAGS}", self.tags.len()));
        }
        if let Some(tag) = self.tags.iter().find(|t| chars(t) > MAX_TAG_CHARS) {
            return Err(format!("tag {:?} is {} characters; at most {MAX_TAG_CHARS}", short(tag), chars(tag)));
        }
        if let Some(url) = self.image_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            check_image_url(url)?;
        }
        if self.options.len() > MAX_OPTIONS {
            return Err(format!("{} options; at most {MAX_OPTIONS}", self.options.len()));
        }
        if self.variants.len() > MAX_VARIANTS {
            return Err(format!("{} variants; at most {MAX_VARIANTS}", self.variants.len()));
        }
        for v in &self.variants {
            for (name, value) in &v.options {
                if let Some(long) = [name, value].into_iter().find(|s| chars(s) > MAX_OPTION_CHARS) {
                    return Err(format!(
                        "variant {}: option {:?} is {} characters; at most {MAX_OPTION_CHARS}",
                        v.sku,
                        short(long),
                        chars(long)
                    ));
                }
            }
        }
        Ok(())
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
        let t = Table::read(b"a,b\n1,2\n\"multi\nline\",3\n\n4,5\n").unwrap();
        let crlf = Table::read(b"a,b\r\n1,2\r\n\r\n4,5\r\n").unwrap();
        assert_eq!(crlf.rows().map(|r| r.line).collect::<Vec<_>>(), vec![2, 4]);
        let mac = Table::read(b"a,b\r1,2\r\r4,5").unwrap();
        assert_eq!(mac.rows().map(|r| r.line).collect::<Vec<_>>(), vec![2, 4]);
        let lines: Vec<u64> = t.rows().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 3, 6]);
        let rows: Vec<Row<'_>> = t.rows().collect();
        assert_eq!(rows[1].get(t.col("A")), "multi\nline");
        assert_eq!(rows[2].get(t.col("b")), "5");
        assert_eq!(rows[0].get(t.col("missing")), "");
    }

    #[test]
    fn rows_that_are_not_utf8_are_refused_not_guessed() {
        let mut t = Table::read(b"\xEF\xBB\xBFsku,title\nA,caf\xe9\nB,caf\xc3\xa9\n").unwrap();
        assert_eq!(t.col("sku"), Some(0), "the byte-order mark is dropped");
        let rows: Vec<(u64, &str)> = t.rows().map(|r| (r.line, r.get(Some(1)))).collect();
        assert_eq!(rows, vec![(3, "café")]);
        let errors = t.take_errors();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 2);
        assert!(errors[0].message.contains("title cell is not UTF-8"), "{}", errors[0].message);
        assert!(Table::read(b"sk\xffu,title\n").is_err());
        assert_eq!(unreadable(b"\xFF\xFEs\0k\0u\0"), Some("the file is UTF-16 text; save it as CSV in UTF-8"));
        assert_eq!(unreadable(b"\xEF\xBB\xBF \r\n"), Some("the file is empty"));
    }

    #[test]
    fn a_huge_cell_is_refused_while_reading() {
        let big = "x".repeat(MAX_CELL_BYTES + 1);
        let body = format!("sku,description\nA,{big}\nB,ok\n");
        let mut t = Table::read(body.as_bytes()).unwrap();
        assert_eq!(t.rows().map(|r| r.line).collect::<Vec<_>>(), vec![3]);
        assert!(t.buf.len() < 16, "the big cell was never kept");
        let errors = t.take_errors();
        assert_eq!((errors[0].line, errors[0].message.contains("description cell is 65537 bytes")), (2, true), "{errors:?}");
    }

    #[test]
    fn reports_keep_a_bounded_number_of_errors() {
        let mut c = ParsedCatalog::default();
        for line in (2..MAX_REPORTED_ERRORS as u64 + 12).rev() {
            c.errors.push(ImportError::new(line, "bad"));
        }
        let c = c.finish();
        assert_eq!(c.errors.len(), MAX_REPORTED_ERRORS + 1);
        assert_eq!(c.errors[0].line, 2);
        assert!(c.errors.last().unwrap().message.starts_with("and 10 more rows"), "{:?}", c.errors.last());
    }

    #[test]
    fn detection_reads_the_header() {
        assert_eq!(detect_format(b"Handle,Title,Variant Price\n"), Some(CatalogFormat::Shopify));
        assert_eq!(detect_format(b"title,price,sku\n"), Some(CatalogFormat::Aisle));
        assert_eq!(detect_format(b"name,cost\n"), None);
        assert_eq!(detect_format(b""), None);
    }
}
