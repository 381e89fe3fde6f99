//! A need said instead of a product ("something warm for a cold morning run", "cheap
//! gear for the gym", "my phone dies on long trips"), read into the kinds of things
//! that meet it and the activity it is for, and a shop's words for "what is it?" to
//! tell a kind the shop does not sell ("running shoes", "a yoga mat").
//!
//! The table is the shopper's side only: which of its kinds a shop sells is read from
//! the catalog (`CatalogIndex::sells`), so one table serves a sportswear shop, a phone
//! shop or a home-goods shop, and a kind no shop product has is simply never asked for.

use super::text::{Word, stem};

/// One way of saying a need: the words that say it, the kinds of things that meet it
/// (tried in order) and words of the activity it is for (searched with each kind).
struct Cue {
    words: &'static [&'static str],
    kinds: &'static [&'static str],
    context: &'static [&'static str],
}

/// "A gift for my wife": the kinds people give, unless the need says more ("she does
/// yoga": yoga things).
const GIFT: Cue = Cue {
    words: &["gift", "gifts", "present", "presents", "birthday", "anniversary", "valentine", "valentines", "christmas"],
    kinds: &["necklace", "earring", "bracelet", "ring", "watch", "candle", "bag", "wallet"],
    context: &[],
};

#[rustfmt::skip]
const CUES: &[Cue] = &[
    // Weather.
    Cue { words: &["cold", "warm", "warmer", "chilly", "freezing", "winter", "snow", "frosty", "cosy", "cozy"],
          kinds: &["jacket", "hoodie", "fleece", "pullover", "sweatshirt", "sweater", "jumper", "coat", "cardigan",
                   "scarf", "beanie", "glove", "thermal", "blanket", "throw"], context: &[] },
    Cue { words: &["rain", "raining", "rainy", "wet", "dry", "waterproof", "storm", "drizzle", "windy", "wind"],
          kinds: &["jacket", "shell", "raincoat", "coat", "windbreaker"], context: &["rain", "waterproof", "weather"] },
    Cue { words: &["hot", "summer", "heat", "humid", "sweaty", "sunny", "heatwave"],
          kinds: &["tank", "short", "tee", "top", "bra"], context: &["cool", "breathable", "lightweight"] },
    // Phones and gadgets.
    Cue { words: &["dies", "dying", "dead", "died", "recharge"],
          kinds: &["charger", "battery", "power bank"], context: &["portable"] },
    Cue { words: &["dropping", "dropped", "protect", "protection", "scratches", "cracked", "shatter", "shattered"],
          kinds: &["case", "protector", "cover"], context: &[] },
    Cue { words: &["car", "driving", "drive", "vehicle"],
          kinds: &["mount", "charger"], context: &["car", "vehicle"] },
    Cue { words: &["hold", "holding", "holder"],
          kinds: &["armband", "holder", "clip", "pouch", "bag"], context: &[] },
    Cue { words: &["selfie", "selfies", "photos", "pictures", "vlog", "vlogging"],
          kinds: &["selfie stick", "tripod", "lens"], context: &[] },
    Cue { words: &["beach", "swim", "swimming", "pool", "sunbathing"],
          kinds: &["swimsuit", "bikini", "trunk", "short", "tank", "sunglasses", "hat", "towel"], context: &[] },
    Cue { words: &["wedding", "party", "formal", "interview", "office", "date", "dinner", "gala"],
          kinds: &["tuxedo", "suit", "dress", "blouse", "shirt", "top", "jacket", "necklace", "earring"], context: &[] },
    Cue { words: &["thirsty", "hydrated", "hydration", "hydrate"], kinds: &["bottle", "flask"], context: &[] },
    Cue { words: &["jewelry", "jewellery", "bling", "accessorize", "accessorise"],
          kinds: &["necklace", "earring", "bracelet", "ring", "pendant", "bangle", "choker"], context: &[] },
    // Home and garden.
    Cue { words: &["sit", "sitting", "seat", "seating", "lounge", "lounging"],
          kinds: &["sofa", "couch", "chair", "armchair", "beanbag", "stool", "bench"], context: &[] },
    Cue { words: &["sleep", "sleeping", "bedroom", "nap"],
          kinds: &["bed", "pillow", "bedside", "blanket", "light", "lamp"], context: &["bedroom"] },
    Cue { words: &["dark", "lighting", "reading", "dim"], kinds: &["light", "lamp", "candle"], context: &[] },
    Cue { words: &["garden", "gardening", "plants", "plant", "yard", "backyard", "patio"],
          kinds: &[], context: &["garden", "plants", "outdoor"] },
    Cue { words: &["school", "college", "class", "commute", "commuting"],
          kinds: &["backpack", "bag", "messenger", "tote"], context: &[] },
    // Activities.
    Cue { words: &["run", "runs", "running", "jog", "jogging", "marathon", "runner", "sprint"],
          kinds: &[], context: &["running"] },
    Cue { words: &["gym", "workout", "workouts", "lifting", "weights", "training", "exercise", "exercising", "crossfit"],
          kinds: &[], context: &["gym", "workout", "fitness", "training"] },
    Cue { words: &["yoga", "pilates", "stretching"], kinds: &[], context: &["yoga"] },
    Cue { words: &["hike", "hiking", "trek", "trekking", "camping", "outdoors", "mountains"],
          kinds: &[], context: &["hiking", "trek", "trail", "outdoor"] },
    Cue { words: &["travel", "travelling", "traveling", "trip", "trips", "vacation", "holiday", "flight"],
          kinds: &["bag", "duffle", "backpack", "charger"], context: &["travel"] },
];

/// Words that say "a thing" rather than a kind: a need, not a product.
#[rustfmt::skip]
pub const VAGUE: &[&str] = &[
    "thing", "things", "anything", "something", "everything", "item", "items", "product", "products", "stuff",
    "gear", "clothes", "clothing", "outfit", "apparel", "wear", "equipment", "accessories", "accessory", "kit",
    "ideas", "idea", "options", "suggestions", "recommendations", "gift", "gifts", "present", "presents",
    "help", "else", "new", "one", "ones",
];

/// A need read from a clause.
#[derive(Debug, Default, PartialEq)]
pub struct Need {
    /// Kinds that meet it, as stems, in the order tried.
    pub kinds: Vec<String>,
    /// Words of the activity, as the shopper's words for search.
    pub context: Vec<&'static str>,
    /// "cheap", "budget": the lower half of the prices found.
    pub cheap: bool,
}

/// The need a clause says, if any of its words is a cue.
pub fn read(words: &[Word]) -> Option<Need> {
    let mut need = Need::default();
    let mut cued = false;
    // "carry my phone" is a need; "do you carry hoodies?" asks what the shop sells.
    let carries = words.windows(2).any(|p| p[0].raw == "carry" && matches!(p[1].raw.as_str(), "my" | "it" | "stuff" | "things"));
    let gift = words.iter().any(|w| GIFT.words.contains(&w.raw.as_str()));
    for cue in CUES {
        let hit = words.iter().any(|w| cue.words.contains(&w.raw.as_str()));
        if !(hit || carries && cue.words.contains(&"hold")) {
            continue;
        }
        cued = true;
        for k in cue.kinds {
            let k = stem(k);
            if !need.kinds.contains(&k) {
                need.kinds.push(k);
            }
        }
        for c in cue.context {
            if !need.context.contains(c) {
                need.context.push(c);
            }
        }
    }
    if gift && need.context.is_empty() && need.kinds.is_empty() {
        need.kinds.extend(GIFT.kinds.iter().map(|k| stem(k)));
    }
    need.cheap = words.iter().any(|w| matches!(w.raw.as_str(), "cheap" | "budget" | "inexpensive" | "affordable"));
    (cued || gift).then_some(need)
}

/// Whether a word says a need ("dies", "raining"), rather than a kind.
pub fn is_cue(w: &Word) -> bool {
    CUES.iter().chain([&GIFT]).any(|c| c.words.contains(&w.raw.as_str()))
}

/// The word of a clause that says what kind of thing is asked for ("running *shoes*",
/// "a *tv* for my living room"): the last naming word before the first "for", "with",
/// "to"... that follows one; none when the phrase is vague ("something warm").
pub fn head<'w>(naming: &[&'w Word], words: &[Word]) -> Option<&'w Word> {
    let at = |w: &Word| words.iter().position(|x| std::ptr::eq(x, w)).unwrap_or(usize::MAX);
    // Sizes said as words ("add a medium") are no kinds.
    let naming: Vec<&'w Word> =
        naming.iter().copied().filter(|w| !matches!(w.raw.as_str(), "small" | "medium" | "large" | "extra" | "xsmall" | "xlarge")).collect();
    // The last part of the clause that names anything: "nvm, show me *tees*", "I keep
    // dropping my phone, I need *something* to protect it".
    let last_sep = naming.last().map(|w| at(w)).and_then(|end| words[..end.min(words.len())].iter().rposition(Word::is_sep));
    let naming: Vec<&'w Word> = naming.into_iter().filter(|w| last_sep.is_none_or(|s| at(w) > s)).collect();
    let first = naming.first().map(|w| at(w))?;
    let end = words
        .iter()
        .enumerate()
        .skip(first + 1)
        .find(|(_, w)| {
            w.is_sep() || matches!(w.raw.as_str(), "for" | "with" | "to" | "that" | "which" | "from" | "under" | "below" | "on" | "in" | "like")
        })
        .map_or(words.len(), |(k, _)| k);
    // "dropping *my* phone": what the shopper has, not what they ask for.
    let owned = |w: &Word| {
        let k = at(w);
        k > 0 && k != usize::MAX && matches!(words[k - 1].raw.as_str(), "my" | "our" | "his" | "her" | "their" | "your")
    };
    let phrase: Vec<&&Word> = naming.iter().filter(|w| at(w) < end && !owned(w)).collect();
    let from = last_sep.map_or(0, |s| s + 1);
    if words[from..end.min(words.len())].iter().any(|w| VAGUE.contains(&w.raw.as_str())) {
        return None;
    }
    let head = phrase.last()?;
    let letters = head.raw.chars().all(char::is_alphabetic) && head.raw.chars().count() >= 2;
    letters.then_some(**head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::content;
    use crate::text::read as read_text;

    fn head_of(s: &str) -> Option<String> {
        let words = read_text(s).words;
        let naming = content(&words);
        head(&naming, &words).map(|w| w.raw.clone())
    }

    #[test]
    fn reads_needs_and_heads() {
        let n = read(&read_text("i need something warm for a cold morning run").words).unwrap();
        assert_eq!(n.kinds[0], "jacket");
        assert_eq!(n.context, ["running"]);
        let gym = read(&read_text("any cheap gear for the gym?").words).unwrap();
        assert!(gym.kinds.is_empty() && gym.cheap && gym.context.contains(&"gym"));
        assert_eq!(read(&read_text("show me hoodies").words), None);

        assert_eq!(head_of("do you sell running shoes?").as_deref(), Some("shoes"));
        assert_eq!(head_of("im looking for a tv for my living room").as_deref(), Some("tv"));
        assert_eq!(head_of("cases for the galaxy s7").as_deref(), Some("cases"));
        assert_eq!(head_of("something warm for a run"), None);
    }
}
