//! Text analysis shared by indexing and querying: both sides must turn "Hoodies™" and
//! "hoodie" into the same term, or keyword search misses the obvious.
//!
//! Deliberately small and predictable: lower-casing, splitting on anything that is not
//! a letter or digit (so ™, ®, punctuation and hyphens separate words), a short English
//! stop-word list, a few plural/suffix rules, and a handful of general synonyms. No
//! language detection and no dictionary: shops' texts are short and full of names.

/// Words that carry no product meaning in a shopper's request or a description.
const STOP_WORDS: &[&str] = &[
    "a", "about", "all", "also", "an", "and", "any", "anything", "are", "as", "at", "be", "below", "but", "by",
    "can", "cheaper", "could", "do", "does", "for", "from", "get", "got", "has", "have", "i", "im", "in", "into",
    "is", "it", "its", "just", "less", "like", "looking", "me", "more", "my", "need", "of", "on", "or", "our",
    "please", "show", "so", "some", "something", "than", "that", "the", "these", "this", "those", "to", "under",
    "up", "us", "very", "want", "we", "what", "which", "with", "would", "you", "your",
];

/// Query-side synonyms: a term on the left also searches the terms on the right, at a
/// lower weight. Written in stemmed form. Kept small and general: words shops and
/// shoppers use for the same thing, not tuned to any catalog.
const SYNONYMS: &[(&str, &[&str])] = &[
    ("hoody", &["sweatshirt", "pullover"]),
    ("sweatshirt", &["hoody"]),
    ("pullover", &["hoody", "sweater"]),
    ("sweater", &["jumper", "pullover"]),
    ("jumper", &["sweater"]),
    ("bag", &["backpack", "duffle", "duffel", "tote", "messenger"]),
    ("backpack", &["rucksack", "bag"]),
    ("rucksack", &["backpack"]),
    ("tee", &["tshirt", "shirt"]),
    ("tshirt", &["tee", "shirt"]),
    ("shirt", &["tee"]),
    ("trouser", &["pant"]),
    ("pant", &["trouser"]),
    ("legging", &["tight"]),
    ("tight", &["legging"]),
    ("sneaker", &["trainer", "shoe"]),
    ("trainer", &["sneaker"]),
    ("coat", &["jacket"]),
    ("jacket", &["coat"]),
    ("couch", &["sofa"]),
    ("sofa", &["couch"]),
    ("grey", &["gray"]),
    ("gray", &["grey"]),
    ("colour", &["color"]),
    ("phone", &["smartphone", "cellphone"]),
    ("cellphone", &["phone"]),
    ("smartphone", &["phone"]),
];

/// The weight of a synonym's match relative to the word the shopper typed.
pub const SYNONYM_WEIGHT: f32 = 0.5;

pub fn is_stop_word(token: &str) -> bool {
    STOP_WORDS.binary_search(&token).is_ok()
}

/// Lower-case words of `text`, split on anything that is not a letter or a digit. Single
/// letters are dropped (the `t` of "t-shirt", the `s` of "men's"); single digits stay.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let flush = |cur: &mut String, out: &mut Vec<String>| {
        if !cur.is_empty() {
            let keep = cur.chars().count() > 1 || cur.chars().all(|c| c.is_ascii_digit());
            if keep {
                out.push(std::mem::take(cur));
            } else {
                cur.clear();
            }
        }
    };
    for c in text.chars() {
        if c.is_alphanumeric() {
            cur.extend(c.to_lowercase());
        } else {
            flush(&mut cur, &mut out);
        }
    }
    flush(&mut cur, &mut out);
    out
}

/// The terms of `text` as indexed and searched: words without stop words, stemmed.
pub fn analyze(text: &str) -> Vec<String> {
    words(text).into_iter().filter(|w| !is_stop_word(w)).map(|w| stem(&w)).collect()
}

/// Folds common English plural and suffix forms so singular and plural meet:
/// `hoodies`/`hoodie` → `hoody`, `batteries` → `battery`, `watches` → `watch`,
/// `bottles` → `bottle`, `glasses` → `glass`. The result is a search key, not a word.
pub fn stem(word: &str) -> String {
    let n = word.chars().count();
    if n <= 3 || !word.is_ascii() {
        return word.to_string();
    }
    if let Some(base) = word.strip_suffix("ies")
        && n > 4
    {
        return format!("{base}y");
    }
    if let Some(base) = word.strip_suffix("ie")
        && n >= 5
    {
        // `hoodie` and `hoodies` meet at `hoody`; so do `cookie`/`cookies`.
        return format!("{base}y");
    }
    for suffix in ["ches", "shes", "sses", "xes", "zzes"] {
        if word.ends_with(suffix) {
            return word[..word.len() - 2].to_string();
        }
    }
    if word.ends_with('s') && !word.ends_with("ss") && !word.ends_with("us") && !word.ends_with("is") {
        return word[..word.len() - 1].to_string();
    }
    word.to_string()
}

/// Other terms to search when a query has `term` (both stemmed).
pub fn synonyms(term: &str) -> &'static [&'static str] {
    SYNONYMS.iter().find(|(t, _)| *t == term).map_or(&[], |(_, s)| s)
}

/// Whether two words are at most one edit apart (insert, delete, substitute, or swap of
/// two neighbours), for typo tolerance.
pub fn within_one_edit(a: &[char], b: &[char]) -> bool {
    let (la, lb) = (a.len(), b.len());
    if la.abs_diff(lb) > 1 {
        return false;
    }
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    if prefix == la && prefix == lb {
        return true;
    }
    let (ra, rb) = (&a[prefix..], &b[prefix..]);
    match la.cmp(&lb) {
        std::cmp::Ordering::Equal => {
            ra[1..] == rb[1..] || (ra.len() >= 2 && ra[0] == rb[1] && ra[1] == rb[0] && ra[2..] == rb[2..])
        }
        std::cmp::Ordering::Less => ra == &rb[1..],
        std::cmp::Ordering::Greater => &ra[1..] == rb,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        let mut sorted = STOP_WORDS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, STOP_WORDS);
    }

    #[test]
    fn words_split_on_symbols_and_lower_case() {
        assert_eq!(words("Mars HeatTech™ Pullover"), vec!["mars", "heattech", "pullover"]);
        assert_eq!(words("Men's T-Shirt, 2 pack®"), vec!["men", "shirt", "2", "pack"]);
        assert_eq!(words("FÄRG: Svart"), vec!["färg", "svart"]);
        assert!(words("  ,;  ").is_empty());
    }

    #[test]
    fn plurals_meet_their_singular() {
        for (a, b) in [
            ("hoodies", "hoodie"),
            ("bottles", "bottle"),
            ("jackets", "jacket"),
            ("watches", "watch"),
            ("batteries", "battery"),
            ("glasses", "glass"),
            ("boxes", "box"),
            ("pants", "pant"),
        ] {
            assert_eq!(stem(a), stem(b), "{a} vs {b}");
        }
        assert_eq!(stem("dress"), "dress");
        assert_eq!(stem("bus"), "bus");
        assert_eq!(stem("canvas"), "canva");
        assert_eq!(stem("tee"), "tee");
    }

    #[test]
    fn analysis_drops_stop_words_and_stems() {
        assert_eq!(analyze("Show me the water bottles, please"), vec!["water", "bottle"]);
        assert!(analyze("do you have any").is_empty());
    }

    #[test]
    fn one_edit_apart() {
        let c = |s: &str| s.chars().collect::<Vec<_>>();
        assert!(within_one_edit(&c("jacket"), &c("jaket")));
        assert!(within_one_edit(&c("jacket"), &c("jackett")));
        assert!(within_one_edit(&c("jacket"), &c("jakcet")));
        assert!(within_one_edit(&c("jacket"), &c("jackat")));
        assert!(within_one_edit(&c("jacket"), &c("jacket")));
        assert!(!within_one_edit(&c("jacket"), &c("jkcaet")));
        assert!(!within_one_edit(&c("jacket"), &c("packets")));
        assert!(within_one_edit(&c(""), &c("a")));
    }

    #[test]
    fn synonyms_are_stemmed_terms() {
        for (term, syns) in SYNONYMS {
            assert_eq!(stem(term), *term);
            for s in *syns {
                assert_eq!(stem(s), *s, "{s}");
            }
        }
    }
}
