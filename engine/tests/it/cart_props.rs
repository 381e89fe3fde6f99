//! Cart rules checked against a naive reference model: random sequences of add / set /
//! remove go through `Cart::add/set/remove` and through a plain map of quantities, and
//! both must agree after every step (quantities, line totals, subtotal, refusals).
//! A refused change (the 99 limit, stock, a missing line, a missing variant choice)
//! must leave the model, and so the cart, unchanged.

use std::collections::BTreeMap;

use engine::domain::{
    Cart, Currency, DomainError, MAX_LINE_QUANTITY, Product, Quantity, SetQuantity, TenantId, Variant, VariantId,
};
use proptest::prelude::*;

use crate::support::sample_product;

#[derive(Clone, Debug)]
enum Op {
    /// Product index, variant index (None: let the cart pick the only variant), quantity.
    Add(usize, Option<usize>, i64),
    Set(usize, Option<usize>, i64),
    Remove(usize, Option<usize>),
}

fn op() -> impl Strategy<Value = Op> {
    let variant = prop::option::weighted(0.8, 0usize..3);
    prop_oneof![
        4 => (0usize..3, variant.clone(), 1i64..=99).prop_map(|(p, v, q)| Op::Add(p, v, q)),
        3 => (0usize..3, variant.clone(), 0i64..=99).prop_map(|(p, v, q)| Op::Set(p, v, q)),
        2 => (0usize..3, variant).prop_map(|(p, v)| Op::Remove(p, v)),
    ]
}

/// Three products: one with three sizes (generous, tight and scarce stock), one
/// simple product with lots of stock, one simple product with 3 in stock.
fn catalog(prices: [i64; 5]) -> Vec<Product> {
    let t = TenantId::generate();
    vec![
        sample_product(
            &t,
            "TEE",
            &[
                ("TEE-S", &[("size", "S")], prices[0], 500),
                ("TEE-M", &[("size", "M")], prices[1], 120),
                ("TEE-L", &[("size", "L")], prices[2], 7),
            ],
        ),
        sample_product(&t, "MUG", &[("MUG", &[], prices[3], 1000)]),
        sample_product(&t, "RARE", &[("RARE", &[], prices[4], 3)]),
    ]
}

/// The reference: quantities per variant, and the rules spelled out plainly.
#[derive(Default, Clone, Debug, PartialEq)]
struct Model {
    qty: BTreeMap<VariantId, u32>,
}

/// What the model expects of one operation.
#[derive(Debug, PartialEq)]
enum Expect {
    Ok,
    LineLimit,
    OutOfStock,
    NotInCart,
    VariantRequired,
}

fn kind(e: &DomainError) -> Expect {
    match e {
        DomainError::LineLimit { .. } => Expect::LineLimit,
        DomainError::OutOfStock { .. } => Expect::OutOfStock,
        DomainError::NotInCart => Expect::NotInCart,
        DomainError::VariantRequired { .. } => Expect::VariantRequired,
        other => panic!("unexpected refusal {other:?}"),
    }
}

impl Model {
    /// The variant an op names: the given index (clamped to the product's variants),
    /// or the only one; `None` when a choice is needed.
    fn pick(p: &Product, v: Option<usize>) -> Option<&Variant> {
        match v {
            Some(i) => Some(&p.variants[i % p.variants.len()]),
            None if p.variants.len() == 1 => Some(&p.variants[0]),
            None => None,
        }
    }

    fn put(&mut self, id: &VariantId, stock: i64, wanted: u32) -> Expect {
        if wanted > MAX_LINE_QUANTITY {
            Expect::LineLimit
        } else if i64::from(wanted) > stock {
            Expect::OutOfStock
        } else {
            self.qty.insert(id.clone(), wanted);
            Expect::Ok
        }
    }

    fn apply(&mut self, products: &[Product], op: &Op) -> Expect {
        match *op {
            Op::Add(p, v, q) => {
                let Some(var) = Self::pick(&products[p], v) else { return Expect::VariantRequired };
                let wanted = self.qty.get(&var.id).copied().unwrap_or(0) + q as u32;
                self.put(&var.id, var.stock, wanted)
            }
            Op::Set(p, v, q) => {
                let Some(var) = Self::pick(&products[p], v) else { return Expect::VariantRequired };
                if q == 0 {
                    return if self.qty.remove(&var.id).is_some() { Expect::Ok } else { Expect::NotInCart };
                }
                self.put(&var.id, var.stock, q as u32)
            }
            Op::Remove(p, v) => {
                let product = &products[p];
                let in_cart: Vec<VariantId> =
                    product.variants.iter().filter(|x| self.qty.contains_key(&x.id)).map(|x| x.id.clone()).collect();
                let target = match v {
                    Some(i) => {
                        let id = &product.variants[i % product.variants.len()].id;
                        if in_cart.contains(id) { Some(id.clone()) } else { None }
                    }
                    None if in_cart.len() > 1 => return Expect::VariantRequired,
                    None => in_cart.first().cloned(),
                };
                match target {
                    Some(id) => {
                        self.qty.remove(&id);
                        Expect::Ok
                    }
                    None => Expect::NotInCart,
                }
            }
        }
    }
}

fn run(cart: &Cart, products: &[Product], op: &Op) -> Result<Cart, DomainError> {
    let variant_id =
        |p: usize, v: Option<usize>| v.map(|i| products[p].variants[i % products[p].variants.len()].id.clone());
    match *op {
        Op::Add(p, v, q) => cart.add(&products[p], variant_id(p, v).as_ref(), Quantity::parse(q).unwrap()),
        Op::Set(p, v, q) => cart.set(&products[p], variant_id(p, v).as_ref(), SetQuantity::parse(q).unwrap()),
        Op::Remove(p, v) => cart.remove(&products[p].id, variant_id(p, v).as_ref()),
    }
}

/// The cart must hold exactly the model's quantities, priced from the catalog.
fn check_against(cart: &Cart, model: &Model, products: &[Product]) {
    let variants: BTreeMap<&VariantId, (&Product, &Variant)> =
        products.iter().flat_map(|p| p.variants.iter().map(move |v| (&v.id, (p, v)))).collect();
    let quantities: BTreeMap<VariantId, u32> = cart.lines.iter().map(|l| (l.variant_id.clone(), l.quantity)).collect();
    assert_eq!(quantities, model.qty, "line quantities");
    assert_eq!(cart.lines.len(), model.qty.len(), "one line per variant");
    let mut subtotal = 0i64;
    for line in &cart.lines {
        let (p, v) = variants[&line.variant_id];
        assert_eq!(line.product_id, p.id);
        assert_eq!(line.sku, v.sku);
        assert_eq!(line.unit_price_minor, v.price_minor, "prices come from the catalog");
        assert!(line.quantity >= 1 && line.quantity <= MAX_LINE_QUANTITY);
        assert!(i64::from(line.quantity) <= v.stock);
        let total = v.price_minor * i64::from(line.quantity);
        assert_eq!(line.line_total_minor(), total);
        subtotal += total;
    }
    assert_eq!(cart.subtotal_minor(), subtotal);
    assert_eq!(cart.item_count(), model.qty.values().sum::<u32>());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn cart_agrees_with_a_naive_model(
        prices in prop::array::uniform5(0i64..=1_000_000),
        ops in prop::collection::vec(op(), 1..40),
    ) {
        let products = catalog(prices);
        let mut cart = Cart::empty(Currency::USD);
        let mut model = Model::default();
        for op in &ops {
            let before = model.clone();
            let expected = model.apply(&products, op);
            match run(&cart, &products, op) {
                Ok(next) => {
                    prop_assert_eq!(expected, Expect::Ok, "{:?} was accepted", op);
                    prop_assert_eq!(next.version, cart.version + 1, "every change bumps the version");
                    cart = next;
                }
                Err(e) => {
                    prop_assert_eq!(kind(&e), expected, "{:?} refused as {:?}", op, e);
                    prop_assert_eq!(&model, &before, "a refusal leaves the model unchanged");
                }
            }
            check_against(&cart, &model, &products);
        }
    }

    #[test]
    fn line_limit_and_stock_refusals_leave_the_cart_unchanged(
        first in 1i64..=99,
        second in 1i64..=99,
    ) {
        let products = catalog([100, 200, 300, 400, 500]);
        let mug = &products[1];
        let start = Cart::empty(Currency::USD).add(mug, None, Quantity::parse(first).unwrap()).unwrap();
        match start.add(mug, None, Quantity::parse(second).unwrap()) {
            Ok(next) => {
                prop_assert!(first + second <= 99);
                prop_assert_eq!(next.lines[0].quantity as i64, first + second);
            }
            Err(DomainError::LineLimit { max }) => {
                prop_assert!(first + second > 99);
                prop_assert_eq!(max, 99);
                prop_assert_eq!(start.lines[0].quantity as i64, first);
            }
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
        let rare = &products[2];
        let outcome = Cart::empty(Currency::USD).add(rare, None, Quantity::parse(first).unwrap());
        if first > 3 {
            let refused = matches!(outcome, Err(DomainError::OutOfStock { available: 3, .. }));
            prop_assert!(refused, "{:?}", outcome);
        } else {
            prop_assert_eq!(outcome.unwrap().subtotal_minor(), 500 * first);
        }
    }
}
