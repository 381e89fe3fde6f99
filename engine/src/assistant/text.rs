//! Normalising a shopper's message (and a product's title) into words the rules can
//! compare: lower case, ™/® and quotes dropped, apostrophes folded (`I'll` → `ill`),
//! prices taken out, numbers read, plurals folded to one stem.
//!
//! Titles and messages go through the same functions, so "Hoodies", "hoodie" and
//! "HOODIE™" meet on one stem. Prices are taken out first, so "$1" is never read as a
//! quantity; they are kept aside (`Text::prices`) for the filters a later rule reads.

/// Stands where the message had `,` `;` `.` `!` `?` `:`: the rules split clauses there.
pub const SEP: &str = "|";

/// One word of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    /// Lower-cased, apostrophes removed (`whats`, `ill`, `dont`).
    pub raw: String,
    /// The matching stem (see [`stem`]).
    pub norm: String,
    /// The number this word is, if it is one (`2`, `x2`, `two`).
    pub num: Option<i64>,
}

impl Word {
    pub fn is_sep(&self) -> bool {
        self.raw == SEP
    }
}

/// A message, read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Text {
    pub words: Vec<Word>,
    /// Amounts of money the shopper wrote (`40`, `19.99`), in the order written.
    pub prices: Vec<String>,
    /// The message has a `?`.
    pub question_mark: bool,
}

fn is_currency_symbol(c: char) -> bool {
    matches!(c, '$' | '€' | '£' | '¥' | '₹')
}

const PRICE_WORDS: &[&str] =
    &["dollar", "dollars", "usd", "buck", "bucks", "euro", "euros", "eur", "pound", "pounds", "gbp", "cents"];

/// Reads a message (or a title) into words.
pub fn read(input: &str) -> Text {
    let chars: Vec<char> = input.chars().flat_map(char::to_lowercase).collect();
    let mut tokens: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut i = 0;
    let flush = |cur: &mut String, tokens: &mut Vec<String>| {
        if !cur.is_empty() {
            tokens.push(std::mem::take(cur));
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let prev = if i > 0 { Some(chars[i - 1]) } else { None };
        if is_currency_symbol(c) && next.is_some_and(|n| n.is_ascii_digit()) {
            flush(&mut cur, &mut tokens);
            let mut amount = String::new();
            i += 1;
            while i < chars.len() {
                let d = chars[i];
                let more = chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
                if d.is_ascii_digit() || ((d == '.' || d == ',') && more) {
                    if d != ',' {
                        amount.push(d);
                    }
                    i += 1;
                } else {
                    break;
                }
            }
            // Marked with '$' (no word has one) so prices keep the order written.
            tokens.push(format!("${amount}"));
            continue;
        }
        if c.is_alphanumeric() {
            cur.push(c);
        } else if (c == '\'' || c == '’' || c == '‘')
            && prev.is_some_and(char::is_alphanumeric)
            && next.is_some_and(char::is_alphanumeric)
        {
            // I'll → ill, what's → whats: one word, as the rules list them.
        } else if c == '.' && prev.is_some_and(|p| p.is_ascii_digit()) && next.is_some_and(|n| n.is_ascii_digit()) {
            cur.push('.');
        } else {
            flush(&mut cur, &mut tokens);
            if matches!(c, ',' | ';' | '.' | '!' | '?' | ':') && tokens.last().is_some_and(|t| t != SEP) {
                tokens.push(SEP.to_string());
            }
        }
        i += 1;
    }
    flush(&mut cur, &mut tokens);

    // "40 dollars" is a price, not a quantity of 40.
    let mut prices = Vec::new();
    let mut words = Vec::with_capacity(tokens.len());
    let mut k = 0;
    while k < tokens.len() {
        let t = &tokens[k];
        if let Some(amount) = t.strip_prefix('$') {
            prices.push(amount.to_string());
            k += 1;
            continue;
        }
        let is_amount = !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.');
        if is_amount && tokens.get(k + 1).is_some_and(|n| PRICE_WORDS.contains(&n.as_str())) {
            prices.push(t.clone());
            k += 2;
            continue;
        }
        if is_amount && t.contains('.') {
            // A decimal that is not money ("2.5") is no quantity either; keep it as a word.
            words.push(Word { raw: t.clone(), norm: t.clone(), num: None });
        } else {
            words.push(Word { raw: t.clone(), norm: stem(t), num: number(t) });
        }
        k += 1;
    }
    if words.last().is_some_and(Word::is_sep) {
        words.pop();
    }
    Text { words, prices, question_mark: input.contains('?') }
}

/// The value of a number word or digits (`3`, `x3`, `3x`, `three`), up to 999.
pub fn number(t: &str) -> Option<i64> {
    let digits = t.strip_prefix('x').or_else(|| t.strip_suffix('x')).unwrap_or(t);
    if !digits.is_empty() && digits.len() <= 3 && digits.bytes().all(|b| b.is_ascii_digit()) {
        return digits.parse().ok();
    }
    const WORDS: &[&str] =
        &["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"];
    if let Some(n) = WORDS.iter().position(|w| *w == t) {
        return Some(n as i64);
    }
    match t {
        "dozen" => Some(12),
        "twenty" => Some(20),
        _ => None,
    }
}

/// Folds plurals and the -y/-ie endings to one stem, for matching only:
/// hoodies, hoodie, hoody → `hoodi`; bottles → `bottle`; boxes → `box`; dresses → `dress`.
pub fn stem(w: &str) -> String {
    if w.chars().count() <= 3 || w.chars().any(|c| c.is_ascii_digit()) {
        return w.to_string();
    }
    let mut s = w.to_string();
    if let Some(base) = w.strip_suffix("ies") {
        s = format!("{base}i");
    } else if ["ches", "shes", "xes", "sses", "zes"].iter().any(|suf| w.ends_with(suf)) {
        s.truncate(s.len() - 2);
    } else if w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") {
        s.pop();
    }
    if let Some(base) = s.strip_suffix("ie") {
        s = format!("{base}i");
    } else if s.len() > 3
        && let Some(base) = s.strip_suffix('y')
    {
        s = format!("{base}i");
    }
    s
}

/// The stems of a title or an option value, without separators.
pub fn stems(s: &str) -> Vec<String> {
    read(s).words.into_iter().filter(|w| !w.is_sep()).map(|w| w.norm).collect()
}

/// Splits a reply into pieces of a few words, so it streams like a model's answer.
/// The pieces joined are exactly `text`.
pub fn pieces(text: &str, words_per_piece: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut words = 0;
    for (i, part) in text.split_inclusive(' ').enumerate() {
        cur.push_str(part);
        words += 1;
        let sentence_end = part.trim_end().ends_with(['.', '!', '?', ':']);
        if (words >= words_per_piece || sentence_end) && i > 0 {
            out.push(std::mem::take(&mut cur));
            words = 0;
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raws(s: &str) -> Vec<String> {
        read(s).words.into_iter().map(|w| w.raw).collect()
    }

    #[test]
    fn folds_case_marks_and_apostrophes() {
        assert_eq!(raws("I'll take the HERO™ Hoodie®!"), ["ill", "take", "the", "hero", "hoodie"]);
        assert_eq!(raws("What’s in my cart?"), ["whats", "in", "my", "cart"]);
        assert_eq!(raws("hi, add it"), ["hi", "|", "add", "it"]);
    }

    #[test]
    fn prices_are_taken_out_and_never_counted() {
        let t = read("add the backpack for $1");
        assert_eq!(t.prices, ["1"]);
        assert!(t.words.iter().all(|w| w.num.is_none()));
        let t = read("anything under 40 dollars or €19.99?");
        assert_eq!(t.prices, ["40", "19.99"]);
        assert!(t.question_mark);
    }

    #[test]
    fn reads_numbers() {
        assert_eq!(number("3"), Some(3));
        assert_eq!(number("x2"), Some(2));
        assert_eq!(number("2x"), Some(2));
        assert_eq!(number("two"), Some(2));
        assert_eq!(number("xl"), None);
        assert_eq!(number("1234"), None);
    }

    #[test]
    fn stems_meet() {
        for (a, b) in [
            ("hoodies", "hoodie"),
            ("bottles", "bottle"),
            ("boxes", "box"),
            ("dresses", "dress"),
            ("batteries", "battery"),
            ("shoes", "shoe"),
        ] {
            assert_eq!(stem(a), stem(b), "{a} / {b}");
        }
        assert_eq!(stem("xs"), "xs");
    }

    #[test]
    fn pieces_rejoin_exactly() {
        let text = "Added 2 × Hero Hoodie (M / Black) to your cart. Your cart: 2 items, subtotal $108.00.";
        let p = pieces(text, 4);
        assert!(p.len() > 3);
        assert_eq!(p.concat(), text);
    }
}
