//! Every sentence the offline assistant says, in one place, so a shop can later
//! override them (wording, tone, language) without touching the rules.
//!
//! Functions take facts already resolved from the catalog, the cart or a tool result
//! (titles, amounts as `Money`, option lists) and return text. Nothing the shopper
//! wrote is echoed here: a template can only repeat the shop's own data.

use crate::domain::{Money, Product, describe_options};
use crate::ports::store::TenantSettings;

/// "Hero Hoodie (M / Black)", or the title alone for a product without options.
pub fn item_label(title: &str, variant: Option<&str>) -> String {
    match variant {
        Some(v) if !v.is_empty() && v != title => format!("{title} ({v})"),
        _ => title.to_string(),
    }
}

/// "a, b and c".
pub fn and_list(items: &[String], last_word: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {last_word} {last}", init.join(", ")),
    }
}

pub fn greeting(settings: &TenantSettings) -> String {
    settings.greeting.clone()
}

pub fn hello() -> String {
    "Hi!".into()
}

pub fn help(settings: &TenantSettings) -> String {
    format!(
        "I'm {}. I can find products and answer questions about them, add, change or remove items in your cart, \
         show your cart, and check out when you tell me to. Try \"do you have hoodies?\" or \"add the backpack\".",
        settings.bot_name
    )
}

pub fn thanks() -> String {
    "You're welcome! Anything else I can help you with?".into()
}

pub fn bye() -> String {
    "Thanks for stopping by! Your cart stays here whenever you come back.".into()
}

pub fn ack() -> String {
    "Sure! Anything else I can help you find?".into()
}

pub fn never_mind() -> String {
    "OK, never mind. What else can I help you with?".into()
}

pub fn fallback(settings: &TenantSettings) -> String {
    format!(
        "Sorry, I didn't catch that. I'm {}, and I can find products, answer questions about them, \
         manage your cart and check out when you ask.",
        settings.bot_name
    )
}

pub fn meta_refusal() -> String {
    "Sorry, I can't share how I'm set up, and I only know this shop and your own cart. \
     I'm happy to help you find something or manage your cart, though."
        .into()
}

pub fn policy() -> String {
    "I can't help with shipping, delivery, returns, warranties or placed orders here: the shop's own pages \
     have those details. I can help you find products and manage your cart."
        .into()
}

pub fn price_refusal() -> String {
    "Sorry, I can't change prices or apply discounts: prices always come from the shop's catalog.".into()
}

pub fn hold_checkout() -> String {
    "Sure, I won't place the order until you say \"check out\".".into()
}

pub fn checkout_help() -> String {
    "When you're ready, just say \"check out\" and I'll place the order for what's in your cart; \
     payment details come after that. I never check out unless you ask."
        .into()
}

pub fn checkout_reminder() -> String {
    "Say \"check out\" whenever you're ready.".into()
}

pub fn nothing_found() -> String {
    "Sorry, I couldn't find anything like that in our catalog. Try other words, or ask me what we have.".into()
}

pub fn nothing_fits_filters() -> String {
    "Sorry, I couldn't find anything that fits all of that. Try a wider price range or fewer filters.".into()
}

pub fn product_not_found() -> String {
    "Sorry, I couldn't tell which product you mean. Could you give me its name?".into()
}

/// The lowest price, with "from" when variants differ.
pub fn price_text(p: &Product) -> String {
    let low = p.price();
    let varies = p.variants.iter().any(|v| v.price_minor != low.minor);
    if varies { format!("from {}", low.display()) } else { low.display() }
}

fn first_sentence(text: &str) -> Option<String> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    let end = t.find(['.', '!', '?']).map_or(t.len(), |i| i + 1);
    let s: String = t[..end].chars().take(200).collect();
    Some(if s.ends_with(['.', '!', '?']) { s } else { format!("{s}…") })
}

/// A short, specific answer about one product.
pub fn product_detail(p: &Product) -> String {
    let mut out = format!("{} is {}.", p.title, price_text(p));
    if let Some(s) = first_sentence(&p.description_text) {
        out.push(' ');
        out.push_str(&s);
    }
    let options = p.option_values();
    if !options.is_empty() {
        out.push_str(&format!(" It comes in {}.", describe_options(&options)));
    }
    if p.in_stock() {
        out.push_str(" It's in stock; say \"add it\" to put one in your cart.");
    } else {
        out.push_str(" Sorry, it's out of stock right now.");
    }
    out
}

/// "The Hero Hoodie is $54.00, so 3 would be $162.00."
pub fn price_times(p: &Product, n: i64, total: Money) -> String {
    format!("{} is {}, so {n} would be {}.", p.title, price_text(p), total.display())
}

pub fn product_price(p: &Product) -> String {
    let stock = if p.in_stock() { "" } else { " It's out of stock right now, though." };
    format!("{} is {}.{stock}", p.title, price_text(p))
}

/// "The Hero Hoodie comes in Black, Gray and Green."
pub fn product_values(p: &Product, option: &str, values: &[String]) -> String {
    match values {
        [] => format!("The {} comes in one {option} only; it's {}.", p.title, price_text(p)),
        [one] => format!("The {} comes in {one} only.", p.title),
        many => format!("The {} comes in {}.", p.title, and_list(many, "and")),
    }
}

pub fn product_no_options(p: &Product, option: &str) -> String {
    format!("The {} has no {option} options: there's just one version, at {}.", p.title, price_text(p))
}

/// "What is it made of?": the shop's own tags (materials, uses) and its description.
pub fn product_materials(p: &Product) -> String {
    let mut out = if p.tags.is_empty() {
        format!("Here's what the shop says about the {}:", p.title)
    } else {
        format!("The shop lists the {} as {}.", p.title, and_list(&p.tags, "and"))
    };
    if let Some(s) = first_sentence(&p.description_text) {
        out.push(' ');
        out.push_str(&s);
    }
    out
}

pub fn product_stock(p: &Product) -> String {
    if p.in_stock() {
        format!("Yes, the {} is in stock, at {}.", p.title, price_text(p))
    } else {
        format!("Sorry, the {} is out of stock right now.", p.title)
    }
}

/// "Does it have a laptop sleeve?" and the product's tags say so.
pub fn feature_tags(p: &Product, tags: &[String]) -> String {
    format!("Yes: the {} lists {} among its features.", p.title, and_list(tags, "and"))
}

/// … and a sentence of its description says so.
pub fn feature_described(p: &Product, sentence: &str) -> String {
    format!("Yes: the shop says of the {}: \"{sentence}\".", p.title)
}

/// "2 × Zing Jump Rope" (a cart line, without its amount).
pub fn line_count(quantity: u32, label: &str) -> String {
    format!("{quantity} × {label}")
}

pub fn feature_unknown(p: &Product) -> String {
    match first_sentence(&p.description_text) {
        Some(s) => format!("I don't see that mentioned for the {}. Here's what the shop says: {s}", p.title),
        None => format!("I don't see that mentioned for the {}.", p.title),
    }
}

fn list_items(products: &[&Product]) -> String {
    let items: Vec<String> = products
        .iter()
        .map(|p| {
            let stock = if p.in_stock() { "" } else { ", out of stock" };
            format!("{} ({}{stock})", p.title, price_text(p))
        })
        .collect();
    and_list(&items, "and")
}

/// Several products, each with its price.
pub fn product_list(products: &[&Product]) -> String {
    format!("Here's what I found: {}. Ask me about any of them, or tell me which one to add.", list_items(products))
}

/// Several products asked about by price: the range, then the list.
pub fn price_range(low: Money, high: Money, products: &[&Product]) -> String {
    if low == high {
        format!("They're {} each: {}.", low.display(), list_items(products))
    } else {
        format!("They range from {} to {}: {}.", low.display(), high.display(), list_items(products))
    }
}

/// Products side by side: price and options of each.
pub fn comparison(products: &[&Product]) -> String {
    let each: Vec<String> = products
        .iter()
        .map(|p| {
            let options = p.option_values();
            if options.is_empty() {
                format!("the {} is {}", p.title, price_text(p))
            } else {
                format!("the {} is {} and comes in {}", p.title, price_text(p), describe_options(&options))
            }
        })
        .collect();
    let mut out = each.join("; ");
    if let Some(first) = out.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    format!("{out}. Tell me which one you'd like, or ask me about either.")
}

/// "The cheapest is the Luma Analog Watch, at $43.00."
pub fn superlative(cheapest: bool, products: &[&Product]) -> String {
    let word = if cheapest { "cheapest" } else { "most expensive" };
    let price = products.first().map(|p| p.price().display()).unwrap_or_default();
    let titles: Vec<String> = products.iter().map(|p| p.title.clone()).collect();
    match titles.as_slice() {
        [one] => format!("The {word} is the {one}, at {price}."),
        many => format!("The {word} are the {}, at {price} each.", and_list(many, "and")),
    }
}

/// "Which Sprite Yoga Strap do you mean: 6 foot, 8 foot or 10 foot?"
pub fn which_product(titles: &[String]) -> String {
    let split: Vec<Vec<&str>> = titles.iter().map(|t| t.split_whitespace().collect()).collect();
    let common = split
        .first()
        .map_or(0, |first| (0..first.len()).take_while(|&i| split.iter().all(|s| s.get(i) == first.get(i))).count());
    let rests: Vec<String> = split.iter().map(|s| s[common.min(s.len())..].join(" ")).collect();
    let distinct = rests.iter().all(|r| !r.is_empty()) && {
        let mut r = rests.clone();
        r.sort();
        r.dedup();
        r.len() == rests.len()
    };
    if common >= 2 && distinct {
        let head = split[0][..common].join(" ");
        let rests: Vec<String> =
            rests.iter().map(|r| r.trim_start_matches('-').trim().trim_matches(['(', ')']).to_string()).collect();
        format!("Which {head} do you mean: {}?", and_list(&rests, "or"))
    } else {
        format!("Which one do you mean: {}?", and_list(titles, "or"))
    }
}

/// The shopper named a price: the catalog's applies, and nothing is added until they say so.
pub fn price_confirm(label: &str, price: Money) -> String {
    format!(
        "Prices always come from the shop's catalog: {label} is {}. Shall I add it at that price?",
        price.display()
    )
}

pub fn price_note(title: &str, price: Money) -> String {
    format!("Prices come from the shop's catalog: {title} is {}.", price.display())
}

pub fn added(quantity: i64, label: &str) -> String {
    format!("Added {quantity} × {label} to your cart.")
}

pub fn quantity_set(quantity: i64, label: &str) -> String {
    format!("Done: you now have {quantity} × {label} in your cart.")
}

pub fn removed(label: &str) -> String {
    format!("Removed {label} from your cart.")
}

pub fn variant_changed(from: &str, to: &str) -> String {
    format!("Switched {from} for {to}.")
}

pub fn same_variant(label: &str) -> String {
    format!("You already have {label} in your cart.")
}

/// One line of a cart: "2 × Hero Hoodie (M / Black), $108.00".
pub fn cart_line(quantity: u32, label: &str, total: Money) -> String {
    format!("{quantity} × {label}, {}", total.display())
}

pub fn cart_summary(lines: &[String], subtotal: Money) -> String {
    if lines.is_empty() {
        return cart_empty();
    }
    format!("Your cart: {}. Subtotal: {}.", lines.join("; "), subtotal.display())
}

fn items(n: u32) -> String {
    if n == 1 { "1 item".into() } else { format!("{n} items") }
}

/// After a change: "Your cart now has 3 items, $162.00."
pub fn cart_short(count: u32, subtotal: Money) -> String {
    if count == 0 {
        return "Your cart is now empty.".into();
    }
    format!("Your cart now has {}, {}.", items(count), subtotal.display())
}

pub fn cart_count(count: u32, subtotal: Money) -> String {
    if count == 0 {
        return cart_empty();
    }
    format!("You have {} in your cart, {} in total.", items(count), subtotal.display())
}

pub fn cart_total(count: u32, subtotal: Money) -> String {
    if count == 0 {
        return cart_empty();
    }
    format!("Your total is {} for {}.", subtotal.display(), items(count))
}

/// Lines of the cart a question was about.
pub fn cart_lines_text(lines: &[String]) -> String {
    format!("In your cart: {}.", and_list(lines, "and"))
}

pub fn in_cart(lines: &[String]) -> String {
    format!("Yes, you have {} in your cart.", and_list(lines, "and"))
}

pub fn cart_empty() -> String {
    "Your cart is empty.".into()
}

/// "Which size and color would you like for the Hero Hoodie? size (XS, S), color (Black, Blue)"
pub fn ask_options(title: &str, open: &[(String, Vec<String>)]) -> String {
    let names: Vec<String> = open.iter().map(|(n, _)| n.clone()).collect();
    format!("Which {} would you like for the {title}? {}", and_list(&names, "and"), describe_options(open))
}

pub fn no_such_variant(title: &str, wanted: &str, all: &[(String, Vec<String>)]) -> String {
    format!("Sorry, the {title} doesn't come in {wanted}. It comes in {}.", describe_options(all))
}

/// "Yes, the Hero Hoodie comes in Green, in stock in size (XS, S, M, L)."
pub fn available_in(title: &str, wanted: &str, open: &[(String, Vec<String>)]) -> String {
    if open.is_empty() {
        format!("Yes, the {title} is in stock in {wanted}.")
    } else {
        format!("Yes, the {title} comes in {wanted}, in stock in {}.", describe_options(open))
    }
}

pub fn not_available_in(title: &str, wanted: &str) -> String {
    format!("Sorry, the {title} isn't available in {wanted} right now.")
}

pub fn out_of_stock(label: &str, available: i64) -> String {
    if available <= 0 {
        format!("Sorry, {label} is out of stock.")
    } else {
        format!("Sorry, only {available} more of {label} can be added: that's all we have in stock.")
    }
}

pub fn line_limit() -> String {
    "A cart line holds at most 99 of one item, so I couldn't add that many; your cart is unchanged.".into()
}

pub fn quantity_range() -> String {
    "Quantities go from 1 to 99 per item.".into()
}

pub fn product_gone() -> String {
    "Sorry, that product isn't available any more.".into()
}

pub fn not_in_cart(title: &str) -> String {
    format!("The {title} isn't in your cart.")
}

pub fn which_cart_item(labels: &[String]) -> String {
    format!("Which item do you mean: {}?", and_list(labels, "or"))
}

pub fn how_many() -> String {
    "How many would you like, and of which item?".into()
}

pub fn cart_already_empty() -> String {
    "Your cart is already empty.".into()
}

pub fn checking_out() -> String {
    "Now checking out.".into()
}

pub fn order_placed(order_id: &str, total: Money) -> String {
    format!("Your order is placed! Order {order_id}, total {}. Thank you for shopping with us.", total.display())
}

pub fn nothing_to_check_out() -> String {
    "Your cart is empty, so there's nothing to check out yet.".into()
}

pub fn checkout_failed(reason: &str) -> String {
    format!("I couldn't place the order: {reason}")
}

pub fn checkout_not_done() -> String {
    "I haven't checked out, since not everything you asked for went through. Say \"check out\" when you're ready."
        .into()
}

/// After an add: a few products that go with it.
pub fn you_might_like(titles: &[String]) -> String {
    format!("You might also like {}.", and_list(&with_the(titles), "or"))
}

/// Asked what goes with `seed` (empty: with the cart).
pub fn goes_well_with(seed: &str, titles: &[String]) -> String {
    let what = if seed.is_empty() { "what's in your cart".to_string() } else { format!("the {seed}") };
    format!(
        "These go well with {what}: {}. Ask me about any of them, or tell me which one to add.",
        and_list(&with_the(titles), "and")
    )
}

fn with_the(titles: &[String]) -> Vec<String> {
    titles.iter().map(|t| format!("the {t}")).collect()
}

pub fn no_suggestions(seed: &str) -> String {
    if seed.is_empty() {
        "Sorry, I have nothing in stock to suggest with what's in your cart right now.".into()
    } else {
        format!("Sorry, I have nothing in stock to suggest with the {seed} right now.")
    }
}

pub fn suggest_what() -> String {
    "Tell me which product you have in mind, or add something to your cart, and I'll suggest what goes well with it."
        .into()
}

pub fn tool_failed(reason: &str) -> String {
    format!("Sorry, that didn't work: {reason}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_product_shortens_a_shared_name() {
        let t = |v: &[&str]| which_product(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            t(&["Sprite Yoga Strap 6 foot", "Sprite Yoga Strap 8 foot", "Sprite Yoga Strap 10 foot"]),
            "Which Sprite Yoga Strap do you mean: 6 foot, 8 foot or 10 foot?"
        );
        assert_eq!(
            t(&["Sprite Stasis Ball 65 cm (Gray)", "Sprite Stasis Ball 65 cm (Blue)"]),
            "Which Sprite Stasis Ball 65 cm do you mean: Gray or Blue?"
        );
        assert_eq!(t(&["Hero Hoodie", "Chaz Kangeroo Hoodie"]), "Which one do you mean: Hero Hoodie or Chaz Kangeroo Hoodie?");
    }
}
