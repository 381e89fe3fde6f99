//! The words the rules know, in one place: grammar that never names a product, the
//! words of each intent, and small helpers to find phrases in a clause.
//!
//! Lists, not a model: a rule that misreads a phrasing is fixed by adding a word here,
//! and the change is visible in review. Everything is lower case, apostrophes folded
//! as `text::read` folds them (`dont`, `ill`, `whats`).

/// Words that never name a product: grammar, and the words of the intents themselves.
#[rustfmt::skip]
pub const STOPWORDS: &[&str] = &[
    "a", "an", "the", "some", "any", "of", "for", "to", "in", "on", "at", "with", "and", "or", "my", "me", "i", "im",
    "ill", "id", "ive", "you", "your", "youre", "we", "us", "our", "it", "its", "them", "those", "these", "that", "this",
    "one", "ones", "please", "pls", "plz", "do", "does", "did", "have", "has", "had", "got", "show", "tell", "about",
    "how", "much", "many", "is", "are", "was", "were", "be", "been", "what", "whats", "which", "add", "take", "want",
    "wanna", "like", "would", "could", "can", "get", "buy", "put", "grab", "purchase", "need", "cart", "basket",
    "remove", "delete", "drop", "price", "prices", "priced", "cost", "costs", "size", "sizes", "color",
    "colors", "colour", "colours", "there", "here", "also", "too", "then", "now", "just", "more", "info",
    "information", "details", "detail", "describe", "sell", "carry", "stock", "available", "availability", "looking",
    "look", "search", "find", "see", "qty", "quantity", "pair", "pairs", "x", "hi", "hello", "hey", "thanks", "thank",
    "so", "very", "really", "yes", "yeah", "yep", "ok", "okay", "give", "again", "other", "another", "instead", "item",
    "items", "product", "products", "something", "anything", "lets", "let", "set", "change", "make", "update", "from",
    "out", "into", "up", "all", "everything", "dont", "not", "no", "recommend", "suggest", "good", "best", "cool",
    "nice", "great", "him", "her", "he", "she", "they", "u", "ur", "will", "should", "shall", "may", "might", "sure",
    "well", "know", "if", "as", "by", "am", "where", "when", "why", "who", "than", "only", "each", "both", "either",
    "option", "options", "version", "model", "come", "comes", "came", "offer", "offers", "under", "below", "over",
    "above", "less", "between", "cheap", "cheaper", "cheapest", "expensive", "pricey", "priciest", "dearest",
    "affordable", "lowest", "highest", "least", "most", "budget", "maximum", "minimum", "min", "around",
    "actually", "but", "first", "second", "third", "fourth", "fifth", "last",
    "number", "no", "one", "same", "kind", "sort", "way", "thing", "things", "stuff", "please", "thx",
    "still", "yet", "ready", "done", "fine", "alright", "hmm", "um", "uh", "oh", "ah", "wow", "lol", "haha",
    "mine", "myself", "currently", "right", "exactly", "maybe", "perhaps", "think", "guess", "wondering",
    "wonder", "interested", "question", "quick", "keep", "swap", "replace", "exchange", "switch", "rather", "prefer",
    "fewer", "total", "subtotal", "owe", "again", "today", "tomorrow", "shop", "store", "website", "away",
    "anymore", "longer", "made", "material", "materials", "fabric", "thats", "whichever", "whatever",
    "else", "pop", "chuck", "bung", "bin", "scrap", "nix", "ditch", "difference", "differences", "compare", "comparison", "differ", "versus", "vs", "between", "ones", "gimme", "lemme", "wanna", "gonna", "ya", "yall", "carts", "baskets",
];

pub const GREETINGS: &[&str] =
    &["hi", "hello", "hey", "hiya", "howdy", "yo", "greetings", "morning", "evening", "afternoon", "heya", "hallo"];
pub const THANKS: &[&str] =
    &["thanks", "thank", "thx", "ty", "cheers", "appreciated", "appreciate", "awesome", "perfect", "cool", "great"];
pub const BYE: &[&str] = &["bye", "goodbye", "cya", "later", "farewell"];

/// Words that may surround a greeting, a thanks or a checkout request without changing it.
#[rustfmt::skip]
pub const FILLER: &[&str] = &[
    "there", "you", "so", "much", "a", "lot", "good", "ok", "okay", "please", "pls", "now", "lets", "let", "us", "me",
    "i", "id", "im", "like", "to", "want", "wanna", "would", "can", "could", "my", "the", "cart", "order", "yes",
    "yeah", "go", "ahead", "and", "then", "ready", "everything", "all", "it", "them", "just", "do", "that", "this",
    "purchase", "time", "right", "away", "bot", "again", "very", "thats", "for", "today", "oh", "well",
    "alright", "sure", "finally", "done", "we", "are", "is", "actually", "great", "cool", "perfect", "awesome", "nice", "fine",
    "really", "guys", "folks", "friend", "buddy", "mate", "man", "dude", "sir", "madam", "basket", "stuff",
    "things", "items", "ill", "will", "think", "guess", "need", "to", "be", "going", "gonna", "also", "have", "got",
    "lol", "haha", "hmm", "um", "uh", "ah", "wow", "kk", "k", "yep", "yup", "mhm", "good", "morning", "evening",
    "afternoon", "day", "soon", "bye", "see", "ya", "care", "help", "helpful", "your", "was", "very",
];

/// A new clause starts after a separator only when it opens with one of these.
pub const CLAUSE_OPENERS: &[&str] = &[
    "add", "remove", "delete", "drop", "checkout", "check", "place", "show", "view", "buy", "take", "pay", "put",
    "grab", "empty", "clear", "change", "set", "update", "make", "tell", "what", "whats", "how", "do", "does", "and",
    "then", "also", "plus", "ill", "id", "i", "get", "give", "swap", "replace", "is", "are", "can", "could",
    "ok", "okay", "now", "actually", "great", "thanks", "thank", "please", "yes", "no", "nope", "cancel",
];

/// "and" + one of these starts a new clause: "add 2 of them and check out".
pub const SPLIT_VERBS: &[&str] = &[
    "checkout", "check", "place", "pay", "remove", "delete", "add", "show", "empty", "clear", "give", "tell", "take",
    "get", "swap", "replace", "change", "set", "make", "buy", "put", "drop", "what", "whats", "how", "do", "is",
];

/// Lead-ins of a clause that answer or continue ("also the hoodie", "and a dozen bricks").
pub const CONTINUATIONS: &[&str] = &["also", "and", "oh", "then"];

pub const ADD_VERBS: &[&str] = &["add", "buy", "purchase", "grab", "put", "include", "order", "throw"];
pub const REMOVE_VERBS: &[&str] = &["remove", "delete", "drop", "cancel", "minus", "subtract", "ditch", "lose"];
pub const SET_VERBS: &[&str] = &["change", "set", "update", "make", "adjust", "switch", "increase", "decrease", "reduce", "bump", "lower"];
pub const SWAP_VERBS: &[&str] = &["swap", "replace", "exchange", "switch", "trade"];
pub const WANT_WORDS: &[&str] = &["want", "need", "like", "wanted", "looking", "searching", "after", "interested"];
pub const QUESTION_WORDS: &[&str] =
    &["how", "what", "whats", "why", "when", "where", "does", "is", "do", "which", "who", "are", "was", "did", "any", "anything"];
pub const INSTRUCTION_WORDS: &[&str] = &[
    "prompt", "instructions", "instruction", "jailbreak", "developer", "verbatim", "override", "rules",
    "guidelines", "configuration", "config", "dan",
];

/// Verbs of looking rather than buying: a clause with one is a question, not an add.
pub const BROWSE_VERBS: &[&str] = &[
    "show", "find", "search", "see", "look", "looking", "tell", "describe", "have", "sell", "carry", "recommend",
    "suggest", "browse", "compare", "about", "got", "stock", "available",
];

/// Words that make a product an accessory of another ("Back Cover for Galaxy"): when
/// a search does not ask for one, the thing itself comes first.
pub const ACCESSORY_WORDS: &[&str] = &[
    "case", "cover", "protector", "charger", "cable", "adapter", "mount", "holder", "dock", "skin", "pouch",
    "clip", "stylus", "wallet", "sleeve", "battery", "film", "lens",
];

/// Topics a shop assistant is asked about that no catalog answers.
pub const OFF_TOPIC: &[&str] = &[
    "weather", "forecast", "news", "joke", "jokes", "poem", "politics", "president", "election", "recipe",
    "homework", "lyrics", "horoscope", "bitcoin", "crypto", "football", "movie", "movies",
];

/// Words shoppers use for things shops call otherwise; tried when a search finds
/// nothing (retrieval has its own, smaller list). Singular, lower case.
pub const SHOPPER_SYNONYMS: &[(&str, &[&str])] = &[
    ("jumper", &["sweater", "pullover", "sweatshirt", "hoodie"]),
    ("sweater", &["pullover", "sweatshirt", "hoodie"]),
    ("trouser", &["pant"]),
    ("trousers", &["pants"]),
    ("jogger", &["pant", "sweatpant"]),
    ("sweatpant", &["pant"]),
    ("trainer", &["sneaker", "shoe"]),
    ("sneaker", &["shoe", "trainer"]),
    ("tshirt", &["tee", "shirt"]),
    ("shirt", &["tee", "top"]),
    ("vest", &["tank"]),
    ("singlet", &["tank"]),
    ("rucksack", &["backpack"]),
    ("knapsack", &["backpack"]),
    ("purse", &["bag", "tote"]),
    ("handbag", &["bag", "tote"]),
    ("coat", &["jacket", "shell"]),
    ("raincoat", &["jacket", "shell"]),
    ("windbreaker", &["jacket"]),
    ("hoody", &["hoodie"]),
    ("mobile", &["phone", "cell"]),
    ("cellphone", &["phone"]),
    ("smartphone", &["phone"]),
    ("earbud", &["headphone", "earphone", "headset"]),
    ("headphone", &["headset", "earbud"]),
    ("cover", &["case"]),
    ("flask", &["bottle"]),
    ("tights", &["leggings", "tight"]),
    ("timepiece", &["watch"]),
];

/// Whether `pat` occurs in `words` as consecutive words; its start.
pub fn seq(words: &[&str], pat: &[&str]) -> Option<usize> {
    if pat.is_empty() || words.len() < pat.len() {
        return None;
    }
    (0..=words.len() - pat.len()).find(|&i| words[i..i + pat.len()] == *pat)
}

pub fn has_any(words: &[&str], set: &[&str]) -> bool {
    words.iter().any(|w| set.contains(w))
}

pub fn is_stopword(w: &str) -> bool {
    STOPWORDS.contains(&w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_are_found() {
        assert_eq!(seq(&["please", "check", "out"], &["check", "out"]), Some(1));
        assert_eq!(seq(&["check"], &["check", "out"]), None);
        assert!(has_any(&["add", "it"], ADD_VERBS));
    }
}
