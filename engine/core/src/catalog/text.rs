//! Text cleaning for catalog imports.
//!
//! Shops' files carry HTML entities in titles (`Mars HeatTech&trade; Pullover`), stray
//! double spaces, and HTML descriptions. We clean titles once, at import, so every
//! reader (retrieval, the assistant, the widget) sees the same text, and we keep a plain
//! text copy of each description for search and for the assistant's words.

/// Decodes HTML entities and collapses whitespace: the form a product title is stored in.
pub fn clean_title(raw: &str) -> String {
    collapse_whitespace(&html_escape::decode_html_entities(raw))
}

/// Collapses every run of whitespace (including newlines and no-break spaces) into one
/// space and trims both ends.
pub fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    out
}

/// Plain text of an HTML fragment: tags removed (block-level tags and `<br>` become a
/// space so words on both sides do not run together), the content of `<script>` and
/// `<style>` dropped, entities decoded, whitespace collapsed.
///
/// Tags are stripped *before* entities are decoded, so `&lt;b&gt;` stays the literal
/// text `<b>` rather than being mistaken for markup. This is not an HTML parser: it is
/// a forgiving scanner that never fails, which is all search text needs.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let after = &rest[lt + 1..];
        // `<` not followed by a tag-like character is text ("a < b").
        let starts_tag = after
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!' || c == '?');
        if !starts_tag {
            out.push('<');
            rest = after;
            continue;
        }
        if let Some(body) = after.strip_prefix("!--") {
            // A comment runs to `-->`; an unclosed one swallows the rest, as browsers do.
            rest = body.find("-->").map_or("", |end| &body[end + 3..]);
            out.push(' ');
            continue;
        }
        let Some(gt) = after.find('>') else {
            // An unclosed tag: drop the rest rather than leak markup into the text.
            rest = "";
            break;
        };
        let tag = &after[..gt];
        rest = &after[gt + 1..];
        let name = tag_name(tag);
        if name == "script" || name == "style" {
            // Skip to the matching close tag (case-insensitive).
            let close = format!("</{name}");
            rest = match find_ascii_ci(rest, &close) {
                Some(i) => rest[i..].find('>').map_or("", |g| &rest[i + g + 1..]),
                None => "",
            };
        }
        if !is_inline(&name) {
            out.push(' ');
        }
    }
    out.push_str(rest);
    collapse_whitespace(&html_escape::decode_html_entities(&out))
}

/// The lower-case name of a tag's body (`/P class=x` → `p`).
fn tag_name(tag: &str) -> String {
    tag.trim_start_matches('/')
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Inline tags do not separate words (`<b>Hoo</b>die` is one word); everything else does.
fn is_inline(name: &str) -> bool {
    matches!(
        name,
        "a" | "b" | "i" | "u" | "em" | "strong" | "span" | "small" | "sup" | "sub" | "font" | "abbr" | "mark" | "s"
    )
}

/// Byte offset of `needle` (ASCII) in `haystack`, ignoring ASCII case. The offset is
/// always on a char boundary because the needle starts with an ASCII byte.
fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    let h = haystack.as_bytes();
    let n = needle.as_bytes();
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_decode_entities_and_collapse_spaces() {
        assert_eq!(clean_title("Mars HeatTech&trade; Pullover"), "Mars HeatTech™ Pullover");
        assert_eq!(clean_title("Gobi HeatTec&reg; Tee"), "Gobi HeatTec® Tee");
        assert_eq!(clean_title("Salt &amp; Pepper"), "Salt & Pepper");
        assert_eq!(clean_title("  Frankie  Sweatshirt \n"), "Frankie Sweatshirt");
        assert_eq!(clean_title("A&nbsp;B"), "A B");
        // Decoded once: a double-encoded entity keeps one level.
        assert_eq!(clean_title("&amp;trade;"), "&trade;");
        assert_eq!(clean_title(""), "");
    }

    #[test]
    fn html_becomes_plain_text() {
        let html = "<p>Ideal for cold-weather training.</p>\n<p>&bull; Two-tone gray heather hoodie.<br />&bull; Machine wash/dry.</p>";
        assert_eq!(html_to_text(html), "Ideal for cold-weather training. • Two-tone gray heather hoodie. • Machine wash/dry.");
        assert_eq!(html_to_text("<b>Hoo</b>die"), "Hoodie");
        assert_eq!(html_to_text("one<br>two"), "one two");
        assert_eq!(html_to_text("<ul><li>a</li><li>b</li></ul>"), "a b");
    }

    #[test]
    fn escaped_markup_stays_text() {
        assert_eq!(html_to_text("&lt;b&gt;bold&lt;/b&gt;"), "<b>bold</b>");
        assert_eq!(html_to_text("1 < 2 and 3 > 2"), "1 < 2 and 3 > 2");
    }

    #[test]
    fn scripts_styles_and_comments_are_dropped() {
        assert_eq!(html_to_text("a<script>alert('x')</script>b"), "a b");
        assert_eq!(html_to_text("a<STYLE type=x>p{}</Style>b"), "a b");
        assert_eq!(html_to_text("a<!-- hidden -->b"), "a b");
        assert_eq!(html_to_text("a<!-- never closed"), "a");
        assert_eq!(html_to_text("a<script>never closed"), "a");
    }

    #[test]
    fn broken_html_never_panics() {
        for s in ["<", "<<", "<p", "</", "<!", "<!-", "é<ü>ß", "<a href='>'>x</a>", "&", "&#xZZ;", "<é>", "\u{0}<\u{0}>"] {
            let _ = html_to_text(s);
            let _ = clean_title(s);
        }
        assert_eq!(html_to_text("text <p unclosed"), "text");
    }

    #[test]
    fn whitespace_collapses_including_unicode_spaces() {
        assert_eq!(collapse_whitespace(" a\t\tb\r\n c\u{a0}d "), "a b c d");
        assert_eq!(collapse_whitespace("   "), "");
    }
}
