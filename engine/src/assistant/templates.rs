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

pub fn fallback(settings: &TenantSettings) -> String {
    format!(
        "Sorry, I didn't catch that. I'm {}, and I can find products, answer questions about them, \
         manage your cart and check out when you ask.",
        settings.bot_name
    )
}

pub fn hold_checkout() -> String {
    "Sure, I won't place the order until you say \"check out\".".into()
}

pub fn checkout_help() -> String {
    "When you're ready, just say \"check out\" and I'll place the order for what's in your cart. \
     I never check out unless you ask."
        .into()
}

pub fn nothing_found() -> String {
    "Sorry, I couldn't find anything like that in our catalog. Try other words, or ask me what we have.".into()
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

/// Several products, each with its price.
pub fn product_list(products: &[&Product]) -> String {
    let items: Vec<String> = products
        .iter()
        .map(|p| {
            let stock = if p.in_stock() { "" } else { ", out of stock" };
            format!("{} ({}{stock})", p.title, price_text(p))
        })
        .collect();
    format!("Here's what I found: {}. Ask me about any of them, or tell me which one to add.", and_list(&items, "and"))
}

pub fn which_product(titles: &[String]) -> String {
    format!("Which one do you mean: {}?", and_list(titles, "or"))
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

/// "In Green it's in stock in size (XS, S, M, L)."
pub fn available_in(wanted: &str, open: &[(String, Vec<String>)]) -> String {
    if open.is_empty() {
        format!("{wanted} is in stock.")
    } else {
        format!("In {wanted} it's in stock in {}.", describe_options(open))
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
    "A cart line holds at most 99 of one item, so I couldn't add that many.".into()
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

pub fn tool_failed(reason: &str) -> String {
    format!("Sorry, that didn't work: {reason}")
}
