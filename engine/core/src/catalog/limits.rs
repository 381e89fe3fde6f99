//! Every size limit of a catalog import, in one place (README "Catalog CSV rules").
//!
//! A row that breaks one is a line error and is skipped; the other rows import. The
//! limits keep one product small enough for a shopper's `products` event and an admin
//! listing, and keep an import's memory within a small multiple of the uploaded body:
//! a cell over [`MAX_CELL_BYTES`] is refused while the file is read, before it is ever
//! copied.

/// A product title, in characters (after entities are decoded and spaces collapsed).
pub const MAX_TITLE_CHARS: usize = 300;
/// A description as the shop wrote it (HTML), in bytes of UTF-8.
pub const MAX_DESCRIPTION_BYTES: usize = 64 * 1024;
/// A category path (`Men/Tops/Hoodies`), in characters.
pub const MAX_CATEGORY_CHARS: usize = 300;
/// Tags per product.
pub const MAX_TAGS: usize = 50;
/// One tag, in characters.
pub const MAX_TAG_CHARS: usize = 64;
/// An image URL, in bytes; it must also be `http://` or `https://`.
pub const MAX_IMAGE_URL_BYTES: usize = 2048;
/// Option names per product (`size`, `color`...), as in Shopify.
pub const MAX_OPTIONS: usize = 3;
/// An option name or value, in characters.
pub const MAX_OPTION_CHARS: usize = 64;
/// Variants per product (Shopify's long-standing limit): with the option limits, this
/// keeps a `products` event of maximal products under `views::MAX_PRODUCTS_EVENT_BYTES`.
pub const MAX_VARIANTS: usize = 100;
/// A SKU, in characters: the domain's id limit (`Sku::parse` enforces it).
pub const MAX_SKU_CHARS: usize = crate::domain::MAX_ID_LEN;

/// Any one cell of the file, in bytes: the largest field limit. Checked while reading,
/// so a 16 MiB cell is refused without being copied.
pub const MAX_CELL_BYTES: usize = MAX_DESCRIPTION_BYTES;
/// Cells in one row (Shopify's export has about 50 to 90 columns).
pub const MAX_COLUMNS: usize = 512;
/// Data rows in one file; split a larger catalog into several files.
pub const MAX_ROWS: usize = 200_000;
/// Line errors listed in a report; past it, one last entry counts the rest.
pub const MAX_REPORTED_ERRORS: usize = 1_000;

/// `http://` or `https://`, a host, no spaces or control characters, at most
/// [`MAX_IMAGE_URL_BYTES`].
pub fn check_image_url(url: &str) -> Result<(), String> {
    if url.len() > MAX_IMAGE_URL_BYTES {
        return Err(format!("image_url is {} bytes; at most {MAX_IMAGE_URL_BYTES}", url.len()));
    }
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return Err(format!("image_url must start with http:// or https://, got {:?}", super::import::short(url)));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("image_url is not a valid URL: {:?}", super::import::short(url)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_urls_must_be_http() {
        for ok in ["https://cdn.example/a.jpg", "HTTP://x/y", "https://x"] {
            assert!(check_image_url(ok).is_ok(), "{ok}");
        }
        for bad in ["javascript:alert(1)", "data:image/png;base64,AA", "ftp://x/a", "//x/a.jpg", "https://", "https:///a", "https://x/a b", "/img/a.jpg"] {
            assert!(check_image_url(bad).is_err(), "{bad}");
        }
        assert!(check_image_url(&format!("https://x/{}", "a".repeat(MAX_IMAGE_URL_BYTES))).is_err());
    }
}
