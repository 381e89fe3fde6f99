//! What the shopper asked for: a message is split into clauses ("add 2 of them | and
//! check out"), and each clause gets one intent by keyword rules, checked from the
//! most consequential (safety, checkout, removal) to the least (browsing), plus what
//! the clause says besides: a reference ("the second one"), the aspect asked about
//! (price, colours, stock), a superlative, price bounds, a cart question.
//!
//! Nothing here looks at the catalog: which product a clause names, which options and
//! how many are resolved in `resolve`, so these rules stay small and testable alone.
//! Checkout is read strictly: only a checkout phrase with nothing else in its clause
//! ("check out the backpack" is browsing), never negated, never a question about it,
//! never in a message that tries to rewrite the rules or the prices.

use crate::domain::Currency;

use super::lexicon::*;
use super::phrases::{checkout_intent, checkout_span, is_injection, is_price_change, price_bounds};
use super::text::{SEP_Q, Text, Word, read, read_in};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    Greet,
    Thanks,
    Bye,
    /// "ok", "lol", "hmm": nothing to do.
    Ack,
    Help,
    /// A question or wish about products: search, describe, price, stock.
    Browse,
    /// "I want / need / I'd like …": an add when it names one product, else a search.
    Want,
    Add,
    /// "another one", "two more": more of what was just talked about.
    More,
    /// "one less", "minus one".
    Less,
    SetQuantity,
    /// "swap the roller for a yoga brick".
    Swap,
    Remove,
    ClearCart,
    /// Show the cart, or a question about it (`Clause::cart_question`).
    ViewCart,
    Checkout,
    /// "how does checkout work?", "can I pay by card?": answered, never acted on.
    CheckoutQuestion,
    /// "don't check out yet", "I'll check out later".
    HoldCheckout,
    /// "set the price to $5", "give me a discount": refused.
    PriceChange,
    /// Questions about the assistant's instructions, or other shops: declined.
    Meta,
    /// Shipping, returns, delivery, warranty: not in the catalog; said so.
    Policy,
    Yes,
    No,
    /// Only a number ("99 then"): a quantity for what was just talked about.
    Quantity,
    Unknown,
}

impl Intent {
    pub fn is_courtesy(self) -> bool {
        matches!(self, Intent::Greet | Intent::Thanks | Intent::Bye | Intent::Ack | Intent::Unknown | Intent::Yes)
    }
}

/// A pointer to something said or shown before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reference {
    /// it, that, this (one).
    One,
    /// them, those, these.
    Those,
    /// The n-th (1-based) of what was listed; -1 is the last.
    Position(i64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aspect {
    General,
    Price,
    Colors,
    Sizes,
    Stock,
    /// "what is it made of?"
    Material,
    /// "tell me about", "describe".
    Detail,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Superlative {
    Cheapest,
    Dearest,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CartQuestion {
    List,
    Count,
    Total,
    /// "is the X in my cart?"
    Contains,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Clause {
    pub intent: Intent,
    /// The clause's words, separators kept (they split "a, b and c" into products).
    pub words: Vec<Word>,
    pub reference: Option<Reference>,
    pub aspect: Aspect,
    pub superlative: Option<Superlative>,
    /// "anything cheaper?" (Cheapest) or "something nicer / more expensive?" (Dearest).
    pub comparative: Option<Superlative>,
    pub cart_question: Option<CartQuestion>,
    /// Asked as a question.
    pub question: bool,
    /// Opens with "also" / "and" or ends with "too": goes on with what came before.
    pub continuation: bool,
    /// "instead", "rather": replaces rather than adds.
    pub instead: bool,
    /// Price bounds in minor units ("under $40", "between 20 and 50").
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub in_stock: bool,
    /// States a price of its own ("for $10", "for free"): nothing is bought on it.
    pub price_claim: bool,
}

impl Clause {
    fn new(intent: Intent, words: Vec<Word>) -> Clause {
        Clause {
            intent,
            words,
            reference: None,
            aspect: Aspect::General,
            superlative: None,
            comparative: None,
            cart_question: None,
            question: false,
            continuation: false,
            instead: false,
            min_price: None,
            max_price: None,
            in_stock: false,
            price_claim: false,
        }
    }

    pub fn has_filters(&self) -> bool {
        self.min_price.is_some() || self.max_price.is_some() || self.in_stock
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Understanding {
    pub text: Text,
    pub clauses: Vec<Clause>,
    /// The message opened with a greeting ("hi, do you have…").
    pub greeted: bool,
    /// The message tries to change the assistant's rules ("ignore previous
    /// instructions", "SYSTEM:"): it may still ask questions, never check out.
    pub injection: bool,
    /// A clause states a price of its own: adds wait for the shopper to confirm the
    /// catalog's price.
    pub price_claim: bool,
    /// The message says yes before asking something else ("yes, and check out").
    pub affirmed: bool,
}

/// Reads a message into clauses with intents.
#[cfg(test)]
pub fn understand(message: &str) -> Understanding {
    understand_for(message, "", Currency::USD)
}

/// [`understand`], with the shop's bot name: "hi Luma", "thanks Luma!", "Luma, show
/// me tees" address the bot; the name is not a product's. Amounts of money are read in
/// minor units of the shop's `currency` ("under ¥4000" is 4000 in JPY, "under $40"
/// 4000 in USD).
pub fn understand_for(message: &str, bot_name: &str, currency: Currency) -> Understanding {
    let mut text = read_in(message, currency);
    let name: Vec<String> = read(bot_name).words.into_iter().filter(|w| !w.is_sep()).map(|w| w.raw).collect();
    if let [name] = name.as_slice() {
        let addressing = |i: usize, ws: &[Word]| {
            let before = i.checked_sub(1).map(|k| ws[k].raw.as_str());
            let after = ws.get(i + 1).map(|w| w.raw.as_str());
            before.is_none_or(|b| GREETINGS.contains(&b) || THANKS.contains(&b) || b == "you" || b.starts_with('|'))
                || after.is_none_or(|a| a.starts_with('|'))
        };
        let at: Vec<usize> =
            (0..text.words.len()).filter(|&i| text.words[i].raw == *name && addressing(i, &text.words)).collect();
        for i in at.into_iter().rev() {
            text.words.remove(i);
        }
    }
    // "add the matching… no wait, what pants do you have?": what comes after a
    // correction replaces what came before it.
    let raws: Vec<&str> = text.words.iter().map(|w| w.raw.as_str()).collect();
    let correction = [&["no", "wait"][..], &["wait", "no"], &["scratch", "that"], &["actually", "no"], &["or", "rather"]]
        .iter()
        .filter_map(|p| seq(&raws, p).map(|i| i + p.len()))
        .max();
    if let Some(cut) = correction
        && text.words[cut..].iter().any(|w| !w.is_sep())
    {
        text.words.drain(..cut);
    }
    let all: Vec<&str> = text.words.iter().filter(|w| !w.is_sep()).map(|w| w.raw.as_str()).collect();
    let injection = is_injection(&all);
    let mut out = Vec::new();
    let mut greeted = false;
    for words in split_clauses(&text.words) {
        let mut words = words;
        // A greeting in front of a request is a courtesy, not the request.
        let lead = words
            .iter()
            .take_while(|w| w.is_sep() || GREETINGS.contains(&w.raw.as_str()) || w.raw == "good" || w.raw == "there")
            .count();
        if lead > 0
            && words[..lead].iter().any(|w| GREETINGS.contains(&w.raw.as_str()))
            && words.len() > lead
            && !words[lead..].iter().all(|w| FILLER.contains(&w.raw.as_str()) || w.is_sep())
        {
            greeted = true;
            words.drain(..lead);
        }
        let mut clause = classify(words, currency);
        if injection && matches!(clause.intent, Intent::Checkout | Intent::ClearCart) {
            clause.intent = Intent::Meta;
        }
        out.push(clause);
    }
    let affirmed = out.first().is_some_and(|c| c.intent == Intent::Yes);
    // "ok never mind, remove them": a no in front of a request is only a courtesy.
    if out.len() > 1 && out.iter().skip(1).any(|c| !c.intent.is_courtesy() && c.intent != Intent::No) {
        out.retain(|c| c.intent != Intent::No);
    }
    // Courtesies and stray words next to a request are not requests of their own.
    if out.iter().any(|c| !c.intent.is_courtesy()) {
        greeted |= out.iter().any(|c| c.intent == Intent::Greet);
        out.retain(|c| !c.intent.is_courtesy());
    } else if out.len() > 1 {
        // "thanks, that's all": the most telling courtesy answers for all.
        let best = [Intent::Yes, Intent::Bye, Intent::Thanks, Intent::Greet, Intent::Ack, Intent::Unknown]
            .into_iter()
            .find(|i| out.iter().any(|c| c.intent == *i))
            .unwrap_or(Intent::Unknown);
        out.retain(|c| c.intent == best);
        out.truncate(1);
    }
    if out.is_empty() {
        out.push(Clause::new(Intent::Unknown, Vec::new()));
    }
    let price_claim = out.iter().any(|c| c.price_claim);
    Understanding { text, clauses: out, greeted, injection, price_claim, affirmed }
}

fn split_clauses(ws: &[Word]) -> Vec<Vec<Word>> {
    let mut clauses: Vec<Vec<Word>> = vec![Vec::new()];
    for (i, w) in ws.iter().enumerate() {
        let open = clauses.last().is_some_and(|c| c.iter().any(|w| !w.is_sep()));
        if w.is_sep() {
            if open && ws.get(i + 1).is_some_and(|n| CLAUSE_OPENERS.contains(&n.raw.as_str())) {
                // The separator stays with its clause: a "?" makes that one a question.
                if let Some(c) = clauses.last_mut() {
                    c.push(w.clone());
                }
                clauses.push(Vec::new());
                continue;
            }
            if let Some(c) = clauses.last_mut() {
                c.push(w.clone());
            }
            continue;
        }
        // "add 2 of them and check out": "and"/"then" + an action verb start a clause.
        if ["and", "then", "also", "plus", "but"].contains(&w.raw.as_str())
            && open
            && ws.get(i + 1).is_some_and(|n| SPLIT_VERBS.contains(&n.raw.as_str()))
            // "black and blue" stays; "and check out" splits, but not "and then".
            && !(ws.get(i + 1).is_some_and(|n| n.raw == "check") && ws.get(i + 2).is_none_or(|n| n.raw != "out"))
        {
            clauses.push(Vec::new());
            continue;
        }
        if let Some(c) = clauses.last_mut() {
            c.push(w.clone());
        }
    }
    clauses.into_iter().filter(|c| c.iter().any(|w| !w.is_sep())).collect()
}

fn classify(words: Vec<Word>, currency: Currency) -> Clause {
    let mut words = words;
    let question_mark = words.iter().any(|w| w.raw == SEP_Q);
    let (min_price, max_price, claim) = price_bounds(&mut words, currency);
    let raws: Vec<String> = words.iter().filter(|w| !w.is_sep()).map(|w| w.raw.clone()).collect();
    let r: Vec<&str> = raws.iter().map(String::as_str).collect();
    let r = r.as_slice();
    // "the gray one" has no number in it; "one more", "add one" do.
    let has_number = words.iter().enumerate().any(|(k, w)| {
        w.num.is_some()
            && (w.raw != "one"
                || k == 0
                || words.get(k + 1).is_some_and(|n| !n.is_sep() && (!is_stopword(&n.raw) || n.raw == "more" || n.raw == "less"))
                || matches!(
                    words[k - 1].raw.as_str(),
                    "add" | "get" | "buy" | "take" | "just" | "only" | "to" | "make" | "it" | "remove" | "minus" | "by"
                ))
    });
    let question = question_mark
        || r.first().is_some_and(|w| QUESTION_WORDS.contains(w) || *w == "can" || *w == "could")
            && !r.get(1).is_some_and(|w| *w == "you" || *w == "i") // "can you add" is a request
        || seq(r, &["do", "you", "have"]).is_some();
    let mut c = Clause::new(Intent::Unknown, Vec::new());
    c.question = question;
    c.min_price = min_price;
    c.max_price = max_price;
    c.price_claim = claim || r.contains(&"free") && !r.contains(&"feel");
    c.in_stock = seq(r, &["in", "stock"]).is_some() && !has_any(r, &["is", "are", "it", "they"])
        || (r.contains(&"available") && r.first() != Some(&"is") && r.first() != Some(&"are") && !question);
    c.reference = reference(&words);
    c.aspect = aspect(r);
    c.superlative = superlative(r);
    c.comparative = if has_any(r, &["cheaper", "lower"]) || seq(r, &["less", "expensive"]).is_some() {
        Some(Superlative::Cheapest)
    } else if has_any(r, &["pricier", "dearer"]) || seq(r, &["more", "expensive"]).is_some() && c.superlative.is_none() {
        Some(Superlative::Dearest)
    } else {
        None
    };
    if c.superlative.is_some() {
        c.comparative = None;
    }
    c.continuation = r.first().is_some_and(|w| CONTINUATIONS.contains(w) || *w == "plus")
        || r.last().is_some_and(|w| *w == "too")
        || seq(r, &["as", "well"]).is_some();
    c.instead = has_any(r, &["instead", "rather"]);
    c.intent = intent_of(r, has_number, &c, &words);
    // "at the normal price", "for that price": how the shopper wants to pay, not a
    // product's name.
    if let Some(at) = r.iter().position(|w| matches!(*w, "price" | "prices"))
        && at >= 1
    {
        let from = (at.saturating_sub(3)..at).find(|&i| matches!(r[i], "at" | "for")).unwrap_or(at);
        let drop: Vec<String> = r[from..at].iter().map(|s| s.to_string()).collect();
        if from < at && drop.iter().skip(1).all(|w| w.len() > 1) {
            let mut seen = 0;
            words.retain(|w| {
                if seen < drop.len() && !w.is_sep() && w.raw == drop[seen] {
                    seen += 1;
                    return false;
                }
                true
            });
        }
    }
    if !matches!(c.intent, Intent::Checkout | Intent::CheckoutQuestion | Intent::HoldCheckout)
        && let Some((start, end)) = checkout_span(r)
    {
        // "check out the Fusion Backpack": "check out" means "look at" here; the words
        // are not a product's name.
        let drop: Vec<String> = r[start..end].iter().map(|s| s.to_string()).collect();
        let mut seen = 0;
        words.retain(|w| {
            if seen < drop.len() && !w.is_sep() && w.raw == drop[seen] {
                seen += 1;
                return false;
            }
            true
        });
    }
    c.cart_question = if c.intent == Intent::ViewCart { Some(cart_question(r)) } else { None };
    c.words = words;
    c
}

fn reference(words: &[Word]) -> Option<Reference> {
    let r: Vec<&str> = words.iter().filter(|w| !w.is_sep()).map(|w| w.raw.as_str()).collect();
    // "the second one", "the last", "#2", "number 2"; not "4th generation".
    for (i, w) in words.iter().enumerate() {
        if let Some(n) = w.ord {
            let before = i.checked_sub(1).map(|k| words[k].raw.as_str());
            let after = words.get(i + 1).map(|w| w.raw.as_str());
            let pointed = w.raw.starts_with('#')
                || matches!(before, Some("the" | "that" | "your" | "this"))
                || matches!(after, Some("one" | "ones" | "option" | "item" | "product") | None);
            if pointed && after != Some("time") {
                return Some(Reference::Position(n));
            }
        }
        if w.raw == "number"
            && let Some(n) = words.get(i + 1).and_then(|n| n.num).filter(|n| (1..=20).contains(n))
        {
            return Some(Reference::Position(n));
        }
    }
    if has_any(&r, &["them", "those", "these", "both", "they"]) {
        Some(Reference::Those)
    } else if has_any(&r, &["it", "that", "this", "thing"]) {
        Some(Reference::One)
    } else {
        None
    }
}

fn aspect(r: &[&str]) -> Aspect {
    if seq(r, &["how", "much"]).is_some() && !has_any(r, &["stock", "left"])
        || has_any(r, &["price", "cost", "costs", "priced", "expensive", "pricey"]) && !has_any(r, &["most", "least"])
    {
        Aspect::Price
    } else if has_any(r, &["color", "colors", "colour", "colours", "colorways", "shades"]) {
        Aspect::Colors
    } else if has_any(r, &["size", "sizes", "sizing", "fit", "fits"]) && !r.iter().any(|w| w.parse::<u32>().is_ok()) {
        Aspect::Sizes
    } else if has_any(r, &["stock", "availability", "left", "sold"])
        || (r.contains(&"available") && r.first().is_some_and(|w| *w == "is" || *w == "are"))
        || (seq(r, &["how", "many"]).is_some() && seq(r, &["you", "have"]).is_some())
    {
        Aspect::Stock
    } else if seq(r, &["made", "of"]).is_some() || seq(r, &["made", "from"]).is_some() || has_any(r, &["material", "materials", "fabric"]) {
        Aspect::Material
    } else if seq(r, &["tell", "me"]).is_some()
        || has_any(r, &["describe", "details", "detail", "info", "information", "specs", "features", "about"])
    {
        Aspect::Detail
    } else {
        Aspect::General
    }
}

fn superlative(r: &[&str]) -> Option<Superlative> {
    if has_any(r, &["cheapest", "lowest", "affordable"])
        || seq(r, &["least", "expensive"]).is_some()
        || seq(r, &["least", "pricey"]).is_some()
    {
        Some(Superlative::Cheapest)
    } else if has_any(r, &["priciest", "dearest", "highest"])
        || seq(r, &["most", "expensive"]).is_some()
        || seq(r, &["most", "pricey"]).is_some()
    {
        Some(Superlative::Dearest)
    } else {
        None
    }
}

fn cart_question(r: &[&str]) -> CartQuestion {
    if seq(r, &["how", "many"]).is_some() {
        CartQuestion::Count
    } else if has_any(r, &["total", "subtotal", "owe", "altogether", "together"])
        || seq(r, &["come", "to"]).is_some()
        || seq(r, &["add", "up"]).is_some()
        || seq(r, &["how", "much"]).is_some()
    {
        CartQuestion::Total
    } else if r.first().is_some_and(|w| matches!(*w, "is" | "are" | "did" | "do" | "have"))
        && !has_any(r, &["empty"])
        && r.iter().any(|w| !is_stopword(w) && !matches!(*w, "cart" | "basket" | "added" | "already"))
    {
        CartQuestion::Contains
    } else {
        CartQuestion::List
    }
}

fn intent_of(r: &[&str], has_number: bool, c: &Clause, words: &[Word]) -> Intent {
    let question = c.question;
    if r.is_empty() {
        return Intent::Unknown;
    }
    if has_any(r, INSTRUCTION_WORDS) && !has_any(r, &["size", "sizes", "fit"])
        || is_injection(r)
        || (has_any(r, &["other", "another", "previous", "different", "everyone", "everybody", "all"])
            && has_any(r, &["shops", "shop", "stores", "store", "tenants", "tenant", "customer", "customers", "merchants", "users", "user", "conversation", "people", "peoples", "shoppers", "orders"]))
        || has_any(r, &["admin", "dashboard", "database", "backend", "server", "password", "passwords", "apikey", "credentials", "token"])
    {
        // "the cart of the previous customer" is still this shopper's cart to show.
        if has_any(r, &["cart", "basket"]) && !has_any(r, INSTRUCTION_WORDS) && !is_injection(r) {
            return if has_any(r, &["empty", "clear"]) { Intent::ClearCart } else { Intent::ViewCart };
        }
        return Intent::Meta;
    }
    if is_price_change(r, c) {
        return Intent::PriceChange;
    }
    // "cancel my order": placed orders are the shop's to handle, not the cart's.
    if has_any(r, &["cancel", "cancelled", "canceled"]) && has_any(r, &["order", "orders", "purchase"]) {
        return Intent::Policy;
    }
    let policy = has_any(r, &["ship", "shipping", "shipped", "delivery", "deliver", "delivered", "arrive", "warranty", "guarantee", "tracking", "track", "policy", "policies", "refund", "returns"])
        || (r.contains(&"return") && !has_any(r, &["add", "cart"]))
        || seq(r, &["how", "long"]).is_some() && has_any(r, &["take", "get"]);
    if policy && !has_any(r, &["add", "remove", "checkout"]) {
        return Intent::Policy;
    }
    if has_any(r, OFF_TOPIC) && !has_any(r, &["add", "buy", "show", "have", "sell", "cart"]) {
        return Intent::Unknown;
    }
    if let Some(i) = checkout_intent(r, question) {
        // "check out at $1": a checkout on the shopper's own terms is a price change.
        if c.price_claim && matches!(i, Intent::Checkout) || c.price_claim && checkout_span(r).is_some() && !question {
            return Intent::PriceChange;
        }
        return i;
    }
    if c.price_claim && checkout_span(r).is_some() {
        return Intent::PriceChange;
    }
    let but = has_any(r, &["except", "besides", "excluding"]) || seq(r, &["apart", "from"]).is_some()
        || seq(r, &["other", "than"]).is_some() || r.contains(&"but");
    if (has_any(r, &["empty", "clear"]) && has_any(r, &["cart", "basket", "everything", "all"]))
        || but && has_any(r, &["everything", "all"]) && has_any(r, REMOVE_VERBS)
        || seq(r, &["remove", "everything"]).is_some()
        || seq(r, &["remove", "all"]).is_some() && !r.iter().any(|w| !is_stopword(w))
        || seq(r, &["delete", "everything"]).is_some()
        || seq(r, &["start", "over"]).is_some()
        || seq(r, &["clear", "it"]).is_some()
    {
        return Intent::ClearCart;
    }
    let swap = r.iter().position(|w| SWAP_VERBS.contains(w));
    if let Some(i) = swap
        && r[i + 1..].iter().any(|w| *w == "for" || *w == "with")
        && !(r[i] == "switch" && r.get(i + 1) == Some(&"to"))
    {
        return Intent::Swap;
    }
    // "don't buy anything yet": nothing to do, and certainly no checkout.
    if has_any(r, &["dont", "not", "never"])
        && has_any(r, &["buy", "order", "purchase", "pay"])
        && has_any(r, &["yet", "anything", "now", "later"])
    {
        return Intent::HoldCheckout;
    }
    let less = seq(r, &["one", "less"]).is_some()
        || seq(r, &["one", "fewer"]).is_some()
        || r.iter().enumerate().any(|(i, w)| matches!(*w, "less" | "fewer") && i > 0 && words_num(words, r[i - 1]))
        || seq(r, &["minus", "one"]).is_some()
        || (seq(r, &["take", "one"]).is_some() && has_any(r, &["away", "off", "out"]));
    if less && !question {
        return Intent::Less;
    }
    if r == ["cancel"] || r == ["cancel", "that"] || seq(r, &["never", "mind"]).is_some() {
        return Intent::No;
    }
    // "bin the tank", "scratch the shorts", "forget (about) the bottle": gone.
    let slang_remove = r.len() > 1
        && matches!(r[0], "bin" | "scrap" | "nix" | "ditch" | "scratch" | "forget" | "lose")
        && matches!(r[1], "the" | "that" | "those" | "these" | "my" | "about" | "both" | "all");
    if slang_remove || has_any(r, REMOVE_VERBS) && !(r.contains(&"drop") && r.contains(&"price"))
        || seq(r, &["take", "out"]).is_some()
        || seq(r, &["take", "off"]).is_some()
        || (r.contains(&"take") && r.contains(&"out"))
        || seq(r, &["get", "rid"]).is_some()
        || seq(r, &["dont", "want"]).is_some()
        || seq(r, &["dont", "need"]).is_some()
        || seq(r, &["no", "longer", "want"]).is_some()
        || seq(r, &["no", "longer", "need"]).is_some()
        || seq(r, &["do", "not", "want"]).is_some()
        || seq(r, &["do", "not", "need"]).is_some()
    {
        return Intent::Remove;
    }
    let set_verb = has_any(r, SET_VERBS) && !(r.contains(&"make") && r.contains(&"sure"));
    if set_verb && has_number && !question {
        return Intent::SetQuantity;
    }
    if (r.contains(&"instead") || r.contains(&"only") || r.contains(&"just"))
        && has_number
        && !question
        && !r.iter().any(|w| ADD_VERBS.contains(w))
    {
        // "I want 3 instead", "just one".
        return Intent::SetQuantity;
    }
    if r.contains(&"quantity") && has_number {
        return Intent::SetQuantity;
    }
    let more = r.contains(&"another")
        || r.iter().enumerate().any(|(i, w)| *w == "more" && i > 0 && words_num(words, r[i - 1]))
        || seq(r, &["add", "more"]).is_some()
        || seq(r, &["same", "again"]).is_some();
    if more && !question && !r.contains(&"show") {
        return Intent::More;
    }
    // Only a number, with courtesies around it: "99 then", "ok 3 please".
    if has_number
        && r.iter().all(|w| {
            words_num(words, w)
                || FILLER.contains(w)
                // "oops, I meant 2", "sorry I mean three": a correction of the amount.
                || matches!(*w, "then" | "of" | "those" | "make" | "oops" | "sorry" | "meant" | "mean" | "no" | "whoops")
        })
    {
        return Intent::Quantity;
    }
    // "can I have a look at…", "I'd like to see…", "I need to know…": looking, not
    // buying, unless a buying word says otherwise.
    let looking = has_any(r, &["look", "see", "know", "learn", "hear", "view", "browse", "check", "compare", "about"])
        && !has_any(r, &["add", "buy", "purchase", "order", "put", "cart", "basket"]);
    if looking && !has_any(r, &["take"]) {
        return Intent::Browse;
    }
    let take = !question
        && r.iter().position(|w| *w == "take").is_some_and(|i| {
            !matches!(r.get(i + 1), Some(&"a")) || r.get(i + 2) != Some(&"look")
        });
    // "can you put…", "would you add…", "could u grab…": a request, asked politely.
    let add_word = |w: &str| matches!(w, "add" | "put" | "get" | "grab" | "pop" | "throw" | "chuck" | "include" | "order" | "buy");
    let polite_request = r.len() > 2
        && matches!(r[0], "can" | "could" | "would" | "will" | "pls" | "please")
        && matches!(r[1], "you" | "u")
        && add_word(r[2]);
    let polite_ask = polite_request
        || seq(r, &["can", "i", "get"]).is_some()
        || seq(r, &["can", "i", "have"]).is_some()
        || seq(r, &["could", "i", "get"]).is_some()
        || seq(r, &["could", "i", "have"]).is_some()
        || seq(r, &["can", "you", "add"]).is_some()
        || seq(r, &["could", "you", "add"]).is_some()
        || seq(r, &["ill", "have"]).is_some()
        || seq(r, &["ill", "get"]).is_some()
        || seq(r, &["ill", "buy"]).is_some()
        || seq(r, &["throw", "in"]).is_some();
    let asking = question && !polite_ask;
    if r.contains(&"add")
        || (!asking && has_any(r, &["buy", "purchase", "grab", "put", "include", "order", "pop", "chuck", "bung"]))
        || take
        || polite_ask
        || seq(r, &["get", "me"]).is_some()
        || seq(r, &["give", "me"]).is_some()
    {
        return Intent::Add;
    }
    if has_any(r, &["cart", "basket", "total", "subtotal", "owe"])
        || seq(r, &["the", "damage"]).is_some()
        || seq(r, &["come", "to"]).is_some() && has_any(r, &["all", "everything", "that", "it", "does"])
        || seq(r, &["all", "together"]).is_some()
        || (r.contains(&"together") && seq(r, &["how", "much"]).is_some())
        || r.contains(&"altogether")
        || (seq(r, &["how", "many"]).is_some() && seq(r, &["i", "have"]).is_some())
        || seq(r, &["did", "i", "add"]).is_some()
    {
        return Intent::ViewCart;
    }
    let only = |set: &[&str], extra: &[&str]| r.iter().all(|w| set.contains(w) || extra.contains(w) || FILLER.contains(w));
    if only(GREETINGS, &["good"]) && has_any(r, GREETINGS) {
        return Intent::Greet;
    }
    if only(BYE, &["for", "now", "thats", "all", "see", "you", "thanks", "thank", "thx", "cheers", "great"])
        && (has_any(r, BYE) || seq(r, &["thats", "all"]).is_some())
    {
        return Intent::Bye;
    }
    if only(THANKS, &[]) && has_any(r, THANKS) {
        return Intent::Thanks;
    }
    let about_you = has_any(r, &["you", "your", "u", "ur"])
        && has_any(r, &["name", "robot", "bot", "human", "ai", "person", "real", "chatbot", "machine", "made", "built"]);
    // "help" alone asks for help; "help me find a backpack" asks for a backpack.
    let help_alone = r.contains(&"help") && r.iter().all(|w| is_stopword(w) || FILLER.contains(w) || *w == "help");
    if help_alone
        || about_you
        || seq(r, &["what", "can", "i", "ask"]).is_some()
        || seq(r, &["what", "do", "you", "do"]).is_some()
        || seq(r, &["what", "can", "you", "do"]).is_some()
        || seq(r, &["who", "are", "you"]).is_some()
        || seq(r, &["what", "are", "you"]).is_some()
        || seq(r, &["how", "does", "this", "work"]).is_some()
        || seq(r, &["how", "do", "i", "use"]).is_some()
    {
        return Intent::Help;
    }
    if only(&["yes", "yeah", "yep", "yup", "sure", "ok", "okay", "please", "go", "ahead", "do", "it"], &[])
        && has_any(r, &["yes", "yeah", "yep", "yup", "sure", "ok", "okay", "ahead"])
    {
        return Intent::Yes;
    }
    if r.first().is_some_and(|w| matches!(*w, "no" | "nope" | "nah" | "nevermind"))
        && r.iter().all(|w| FILLER.contains(w) || matches!(*w, "no" | "nope" | "nah" | "thanks" | "thank" | "nevermind"))
        || seq(r, &["never", "mind"]).is_some()
        || seq(r, &["forget", "it"]).is_some()
        || r == ["cancel"]
    {
        return Intent::No;
    }
    if has_any(r, WANT_WORDS) && !question && !r.contains(&"show") {
        return Intent::Want;
    }
    if seq(r, &["thats", "it"]).is_some() && r.iter().all(|w| FILLER.contains(w) || is_stopword(w)) {
        return Intent::Bye;
    }
    if r.iter().all(|w| is_stopword(w) || FILLER.contains(w))
        && c.reference.is_none()
        && c.superlative.is_none()
        && c.aspect == Aspect::General
        && !c.has_filters()
        && !has_any(r, &["show", "have", "sell", "carry", "products", "anything", "something", "recommend", "suggest", "more"])
    {
        return Intent::Ack;
    }
    // Everything else is about products: the resolver decides whether it names one,
    // and a clause that matches nothing is answered as such.
    Intent::Browse
}

fn words_num(words: &[Word], raw: &str) -> bool {
    words.iter().any(|w| w.raw == raw && w.num.is_some())
}

#[cfg(test)]
#[path = "understand_tests.rs"]
mod tests;
