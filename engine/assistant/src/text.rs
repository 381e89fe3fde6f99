//! Normalising a shopper's message (and a product's title) into words the rules can
//! compare: lower case, ™/® and quotes dropped, apostrophes folded (`I'll` → `ill`),
//! amounts of money marked, numbers and ordinals read, plurals folded to one stem.
//!
//! Titles and messages go through the same functions, so "Hoodies", "hoodie" and
//! "HOODIE™" meet on one stem. Money is marked first, so "$1" is never read as a
//! quantity; it stays in place (`Word::money`) so filters can read "under $40".

use crate::domain::{Currency, Money};

/// Stands where the message had `,` `;` `.` `!` `:`: the rules split clauses there.
pub const SEP: &str = "|";
/// Stands where the message had `?`: a separator that also makes its clause a question.
pub const SEP_Q: &str = "|?";

/// One word of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    /// Lower-cased, apostrophes removed (`whats`, `ill`, `dont`).
    pub raw: String,
    /// The matching stem (see [`stem`]).
    pub norm: String,
    /// The number this word is, if it can be a quantity (`2`, `x2`, `two`, `dozen`).
    pub num: Option<i64>,
    /// A position in a list (`second`, `2nd`, `#2`); `-1` is `last`.
    pub ord: Option<i64>,
    /// An amount of money in minor units of the shop's currency (`$40`, `19.99 dollars`,
    /// `¥4000`), read by the same rule as a catalog price ([`Money::parse_decimal`]).
    pub money: Option<i64>,
    /// The amount is a price bound's ("under $15"): a filter, never part of a name.
    pub bound: bool,
}

impl Word {
    pub fn new(raw: &str) -> Word {
        Word { raw: raw.to_string(), norm: stem(raw), num: number(raw), ord: ordinal(raw), money: None, bound: false }
    }

    pub fn is_sep(&self) -> bool {
        self.raw == SEP || self.raw == SEP_Q
    }

    fn money(amount_minor: i64, raw: &str) -> Word {
        Word { raw: raw.to_string(), norm: raw.to_string(), num: None, ord: None, money: Some(amount_minor), bound: false }
    }
}

/// A message, read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Text {
    pub words: Vec<Word>,
    /// The message has a `?`.
    pub question_mark: bool,
}

impl Text {
    /// Amounts of money the shopper wrote, in order.
    #[cfg(test)]
    pub fn money(&self) -> Vec<i64> {
        self.words.iter().filter_map(|w| w.money).collect()
    }
}

fn is_currency_symbol(c: char) -> bool {
    matches!(c, '$' | '€' | '£' | '¥' | '₹')
}

const PRICE_WORDS: &[&str] = &[
    "dollar", "dollars", "usd", "buck", "bucks", "euro", "euros", "eur", "pound", "pounds", "gbp", "rupees", "rs",
    "inr", "yen", "jpy",
];

/// An amount the shopper wrote, in minor units of the shop's `currency`, by the rule
/// catalog prices follow ([`Money::parse_decimal`]): `40` → 4000 in USD and 40 in JPY,
/// `19.99` → 1999 in USD and nothing in JPY; a comma (`1,000`, `19,99`) is ambiguous, so
/// no amount. At most nine integer digits, so bounds computed from it cannot overflow.
fn to_minor(amount: &str, currency: Currency) -> Option<i64> {
    let int = amount.split_once('.').map_or(amount, |(i, _)| i);
    if int.len() > 9 {
        return None;
    }
    Money::parse_decimal(amount, currency).ok().map(|m| m.minor)
}

/// Splits into lower-case tokens: words, `$amount` marks, separators.
fn tokens(input: &str) -> Vec<String> {
    let chars: Vec<char> = input.chars().flat_map(char::to_lowercase).map(|c| if c == '×' { 'x' } else { c }).collect();
    let mut tokens: Vec<String> = Vec::new();
    let mut cur = String::new();
    let flush = |cur: &mut String, tokens: &mut Vec<String>| {
        if !cur.is_empty() {
            tokens.push(std::mem::take(cur));
        }
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let prev = if i > 0 { Some(chars[i - 1]) } else { None };
        let digits_follow = next.is_some_and(|n| n.is_ascii_digit());
        if (is_currency_symbol(c) || c == '#') && digits_follow {
            flush(&mut cur, &mut tokens);
            let mut amount = String::new();
            i += 1;
            while i < chars.len() {
                let d = chars[i];
                let more = chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
                if d.is_ascii_digit() || ((d == '.' || d == ',') && more && c != '#') {
                    // A comma is kept, so the amount is refused as ambiguous.
                    amount.push(d);
                    i += 1;
                } else {
                    break;
                }
            }
            // `$` marks money and `#` a position; no word has either.
            tokens.push(format!("{}{amount}", if c == '#' { '#' } else { '$' }));
            continue;
        }
        if c.is_alphanumeric() {
            cur.push(c);
        } else if (c == '\'' || c == '’' || c == '‘') && prev.is_some_and(char::is_alphanumeric) {
            // I'll → ill, what's → whats, shoes' → shoes.
        } else if c == '.' && prev.is_some_and(|p| p.is_ascii_digit()) && digits_follow {
            cur.push('.');
        } else if is_currency_symbol(c) && prev.is_some_and(|p| p.is_ascii_digit()) {
            // "40$": the amount came first.
            if cur.bytes().all(|b| b.is_ascii_digit() || b == b'.') && !cur.is_empty() {
                let amount = std::mem::take(&mut cur);
                tokens.push(format!("${amount}"));
            }
        } else {
            flush(&mut cur, &mut tokens);
            if c == '?' {
                // A question mark wins over a separator just before it ("ok, really?").
                if tokens.last().is_some_and(|t| t == SEP) {
                    tokens.pop();
                }
                if tokens.last().is_some_and(|t| t != SEP_Q) {
                    tokens.push(SEP_Q.to_string());
                }
            } else if matches!(c, ',' | ';' | '.' | '!' | ':' | '\n')
                && tokens.last().is_some_and(|t| t != SEP && t != SEP_Q)
            {
                tokens.push(SEP.to_string());
            }
        }
        i += 1;
    }
    flush(&mut cur, &mut tokens);
    tokens
}

const UNITS: &[&str] = &[
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
];
const TENS: &[&str] = &["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];

/// Reads a title or a remembered query into words. Amounts are read as US cents: here
/// they only need telling apart from words (a shopper's message goes through
/// [`read_in`] with the shop's currency).
pub fn read(input: &str) -> Text {
    read_in(input, Currency::USD)
}

/// Reads a message (or a title) into words, amounts of money in minor units of
/// `currency` (the shop's).
pub fn read_in(input: &str, currency: Currency) -> Text {
    let tokens = tokens(input);
    let mut words: Vec<Word> = Vec::with_capacity(tokens.len());
    let mut k = 0;
    while k < tokens.len() {
        let t = tokens[k].as_str();
        let next = tokens.get(k + 1).map(String::as_str);
        if let Some(amount) = t.strip_prefix('$') {
            match to_minor(amount, currency) {
                Some(m) => words.push(Word::money(m, t)),
                None => words.push(Word::new(amount)),
            }
            k += 1;
            continue;
        }
        if let Some(n) = t.strip_prefix('#') {
            let mut w = Word::new(t);
            w.ord = n.parse().ok().filter(|n| (1..=50).contains(n));
            words.push(w);
            k += 1;
            continue;
        }
        let is_amount = !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        if is_amount && next.is_some_and(|n| PRICE_WORDS.contains(&n))
            && let Some(m) = to_minor(t, currency) {
                words.push(Word::money(m, t));
                k += 2;
                continue;
            }
        // "twenty five" / "twenty-five" is one number.
        if let (Some(tens), Some(unit)) = (
            TENS.iter().position(|w| *w == t),
            next.and_then(|n| UNITS.iter().position(|w| *w == n)).filter(|u| (1..=9).contains(u)),
        ) {
            let n = (tens as i64 + 2) * 10 + unit as i64;
            let mut w = Word::new(&n.to_string());
            w.num = Some(n);
            words.push(w);
            k += 2;
            continue;
        }
        // "half a dozen", "two dozen": the dozen counts what came before it.
        if t == "dozen" {
            let before: Vec<&str> = words.iter().rev().take(2).map(|w| w.raw.as_str()).collect();
            let mut w = Word::new(t);
            if before.first() == Some(&"a") && before.get(1) == Some(&"half") {
                w.num = Some(6);
                words.truncate(words.len() - 2);
            } else if let Some(n) = words.last().and_then(|w| w.num).filter(|n| (1..=8).contains(n)) {
                w.num = Some(n * 12);
                words.pop();
            }
            words.push(w);
            k += 1;
            continue;
        }
        if is_amount && t.contains('.') {
            // A decimal that is not money ("2.5") is no quantity either; keep it as a word.
            words.push(Word { raw: t.to_string(), norm: t.to_string(), num: None, ord: None, money: None, bound: false });
        } else {
            words.push(Word::new(t));
        }
        k += 1;
    }
    // A trailing "?" stays: it tells the last clause is a question.
    if words.last().is_some_and(|w| w.raw == SEP) {
        words.pop();
    }
    Text { words, question_mark: input.contains('?') }
}

/// The value of a number word or digits (`3`, `x3`, `3x`, `three`, `dozen`,
/// `couple`), up to 999.
pub fn number(t: &str) -> Option<i64> {
    let digits = t.strip_prefix('x').or_else(|| t.strip_suffix('x')).unwrap_or(t);
    if !digits.is_empty() && digits.len() <= 3 && digits.bytes().all(|b| b.is_ascii_digit()) {
        return digits.parse().ok();
    }
    if let Some(n) = UNITS.iter().position(|w| *w == t) {
        return Some(n as i64);
    }
    if let Some(n) = TENS.iter().position(|w| *w == t) {
        return Some((n as i64 + 2) * 10);
    }
    match t {
        "dozen" => Some(12),
        "couple" => Some(2),
        "hundred" => Some(100),
        "single" => Some(1),
        _ => None,
    }
}

/// A position in a list: `first`, `2nd`, `last`(-1).
pub fn ordinal(t: &str) -> Option<i64> {
    const WORDS: &[&str] =
        &["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"];
    if let Some(i) = WORDS.iter().position(|w| *w == t) {
        return Some(i as i64 + 1);
    }
    if matches!(t, "last" | "final" | "latter") {
        return Some(-1);
    }
    if t == "former" {
        return Some(1);
    }
    for suffix in ["st", "nd", "rd", "th"] {
        if let Some(d) = t.strip_suffix(suffix)
            && !d.is_empty()
            && d.len() <= 2
            && d.bytes().all(|b| b.is_ascii_digit())
        {
            return d.parse().ok().filter(|n| *n >= 1);
        }
    }
    None
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
    } else if w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") && !w.ends_with("is") {
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

thread_local! {
    /// Option values are read again for every product a message may name; their
    /// stems are remembered per thread (a catalog has a few hundred distinct values).
    static VALUE_STEMS: std::cell::RefCell<std::collections::HashMap<String, std::rc::Rc<Vec<String>>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// [`stems`], remembered: for option values and other short catalog strings.
pub fn cached_stems(s: &str) -> std::rc::Rc<Vec<String>> {
    VALUE_STEMS.with(|cache| {
        if let Some(hit) = cache.borrow().get(s) {
            return hit.clone();
        }
        let value = std::rc::Rc::new(stems(s));
        let mut map = cache.borrow_mut();
        if map.len() > 50_000 {
            map.clear();
        }
        map.insert(s.to_string(), value.clone());
        value
    })
}

/// Whether two words are one typo apart (an insertion, deletion, substitution or
/// swap of neighbours); only words of 4+ letters, where one edit still says which.
pub fn one_typo_apart(a: &str, b: &str) -> bool {
    let (ca, cb): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    ca.len().min(cb.len()) >= 4
        && ca != cb
        && !ca.iter().chain(&cb).any(char::is_ascii_digit)
        && crate::retrieval::analyze::within_one_edit(&ca, &cb)
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

    fn nums(s: &str) -> Vec<i64> {
        read(s).words.into_iter().filter_map(|w| w.num).collect()
    }

    #[test]
    fn folds_case_marks_and_apostrophes() {
        assert_eq!(raws("I'll take the HERO™ Hoodie®!"), ["ill", "take", "the", "hero", "hoodie"]);
        assert_eq!(raws("What’s in my cart?"), ["whats", "in", "my", "cart", "|?"]);
        assert_eq!(raws("hi, add it"), ["hi", "|", "add", "it"]);
        assert_eq!(raws("ok, really?"), ["ok", "|", "really", "|?"]);
    }

    #[test]
    fn money_is_marked_and_never_counted() {
        let t = read("add the backpack for $1");
        assert_eq!(t.money(), [100]);
        assert!(t.words.iter().all(|w| w.num.is_none()));
        let t = read("anything under 40 dollars or €19.99? or 25$");
        assert_eq!(t.money(), [4000, 1999, 2500]);
        assert!(t.question_mark);
    }

    #[test]
    fn money_is_read_by_the_shops_currency() {
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(read_in("under ¥4000 or 500 yen", jpy).money(), [4000, 500]);
        assert_eq!(read_in("under $40", Currency::USD).money(), [4000]);
        // Refused like a catalog price: no decimals in yen, no commas anywhere.
        assert!(read_in("under ¥4000.5", jpy).money().is_empty());
        assert!(read_in("under $1,000 or $19,99", Currency::USD).money().is_empty());
        assert!(read_in("under $1234567890", Currency::USD).money().is_empty(), "at most nine digits");
    }

    #[test]
    fn reads_numbers_and_positions() {
        assert_eq!(number("3"), Some(3));
        assert_eq!(number("x2"), Some(2));
        assert_eq!(number("2x"), Some(2));
        assert_eq!(number("two"), Some(2));
        assert_eq!(number("xl"), None);
        assert_eq!(number("1234"), None);
        assert_eq!(nums("add a couple of bottles"), [2]);
        assert_eq!(nums("a dozen bricks"), [12]);
        assert_eq!(nums("half a dozen bricks"), [6]);
        assert_eq!(nums("two dozen"), [24]);
        assert_eq!(nums("twenty-five straps"), [25]);
        assert_eq!(nums("bottle ×3"), [3]);
        let ords: Vec<i64> = read("the 2nd one, #3, the last, third").words.iter().filter_map(|w| w.ord).collect();
        assert_eq!(ords, [2, 3, -1, 3]);
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
        assert!(one_typo_apart("fusoin", "fusion"));
        assert!(!one_typo_apart("the", "tee"));
        assert!(!one_typo_apart("55", "65"));
    }

    #[test]
    fn pieces_rejoin_exactly() {
        let text = "Added 2 × Hero Hoodie (M / Black) to your cart. Your cart: 2 items, subtotal $108.00.";
        let p = pieces(text, 4);
        assert!(p.len() > 3);
        assert_eq!(p.concat(), text);
    }
}
