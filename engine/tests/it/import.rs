//! Catalog import: the demo catalog, the Aisle CSV and Shopify exports, and inputs that
//! are not catalogs at all. Fixtures live in `engine/tests/fixtures` (see its README).

use engine::catalog::{
    ImportReport, ParsedCatalog, UNTRACKED_STOCK, demo_catalog, detect_and_parse, import_products, parse_aisle_csv,
    parse_luma, parse_shopify_csv,
};
use engine::domain::{Currency, Product, TenantId};
use proptest::prelude::*;

fn tenant() -> TenantId {
    TenantId::parse("t_import").unwrap()
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn by_sku<'a>(c: &'a ParsedCatalog, sku: &str) -> &'a Product {
    c.products.iter().find(|p| p.sku.as_str() == sku).unwrap_or_else(|| panic!("no product {sku}"))
}

fn error_lines(c: &ParsedCatalog) -> Vec<u64> {
    c.errors.iter().map(|e| e.line).collect()
}

#[test]
fn demo_catalog_is_luma_with_every_variant() {
    let c = demo_catalog(&tenant());
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    let configurable: Vec<&Product> = c.products.iter().filter(|p| !p.options.is_empty()).collect();
    let simple: Vec<&Product> = c.products.iter().filter(|p| p.options.is_empty()).collect();
    assert_eq!(configurable.len(), 147);
    assert_eq!(simple.len(), 44);
    assert_eq!(configurable.iter().map(|p| p.variants.len()).sum::<usize>(), 1847);
    assert_eq!(c.variant_count(), 1847 + 44);
    for p in &c.products {
        p.validate().unwrap();
        assert_eq!(p.currency, Currency::USD);
        assert_eq!(p.tenant_id, tenant());
        assert!(!p.category.starts_with("Default Category"), "{}", p.category);
        assert!(!p.title.contains("&trade;") && !p.title.contains("  ") && p.title == p.title.trim());
        assert!(!p.description_text.contains('<'), "{}", p.sku);
    }
    for p in &configurable {
        assert_eq!(p.options, vec!["size", "color"], "{}", p.sku);
        assert!(p.variants.iter().all(|v| v.stock == 100));
    }
    // Entities decoded once, at import.
    assert!(c.products.iter().any(|p| p.title == "Mars HeatTech™ Pullover"));
    assert!(c.products.iter().any(|p| p.title == "Gobi HeatTec® Tee"));
    assert!(c.products.iter().any(|p| p.title == "Frankie Sweatshirt"));
    let bottle = by_sku(&c, "24-UG06");
    assert_eq!(bottle.title, "Affirm Water Bottle");
    assert_eq!(bottle.price().minor, 700);
    assert_eq!(bottle.category, "Gear/Fitness Equipment");
    let hero = c.products.iter().find(|p| p.title == "Hero Hoodie").unwrap();
    assert_eq!(hero.category, "Men/Tops/Hoodies & Sweatshirts");
    assert_eq!(hero.option_values()[0].1, vec!["XS", "S", "M", "L", "XL"]);
}

#[test]
fn luma_reports_variants_it_cannot_find() {
    let configurable = "sku,product_type,categories,name,description,price,qty,is_in_stock,additional_attributes,configurable_variations\n\
        T1-S,simple,,Tee-S,,20,5,1,\"size=S,color=Red\",\n\
        T1,configurable,Default Category/Men/Tops/Tees,Tee,<p>Soft</p>,20,0,1,material=Cotton,\"sku=T1-S,size=S,color=Red|sku=T1-X,size=M,color=Red\"\n";
    let gear = "category,name,sku,price,qty,description\n\"Gear\nBags\",Tote,G1,abc,1,\n\"Gear\nBags\",Duffle,G2,30,2,\n";
    let c = parse_luma(&tenant(), configurable.as_bytes(), &[gear.as_bytes()]);
    assert_eq!(c.products.len(), 2);
    assert_eq!(by_sku(&c, "T1").variants.len(), 1);
    assert_eq!(by_sku(&c, "T1").tags, vec!["Cotton"]);
    assert_eq!(by_sku(&c, "G2").category, "Gear/Bags");
    assert_eq!(error_lines(&c), vec![3, 2]);
    assert!(c.errors[0].message.starts_with("configurable:"));
    assert!(c.errors[1].message.starts_with("gear file 1:"));
}

const AISLE_HEADER: &str = "sku,title,description,category,price,currency,stock,image_url,tags";

#[test]
fn aisle_csv_reports_bad_rows_by_line_and_keeps_good_ones() {
    let csv = format!(
        "{AISLE_HEADER}\n\
         MUG-1,Mug,<p>Big</p>,Kitchen,12.50,USD,5,,steel|mug\n\
         ,No SKU,,,1.00,,1,,\n\
         CUP-1,Cup,,Kitchen,abc,,1,,\n\
         CUP-2,Cup 2,,Kitchen,-1,,1,,\n\
         CUP-3,Cup 3,,Kitchen,3.00,,many,,\n\
         CUP-4,,,Kitchen,3.00,,1,,\n\
         MUG-1,Mug again,,Kitchen,9.00,,1,,\n\
         \"LAMP-1\",\"Lamp, tall\",\"Line one\nline two\",Home,40,,-3,,\n\
         PLATE-1,Plate,,Kitchen,4.5,,0,https://example.com/p.jpg,\n\
         BOWL-1,Bowl,,Kitchen,3.999,,1,,\n\
         JUG-1,Jug,,Kitchen,8,XX1,1,,\n"
    );
    let c = parse_aisle_csv(&tenant(), Currency::USD, csv.as_bytes());
    // The quoted multi-line description puts the lamp on line 9 and the plate on 11.
    assert_eq!(error_lines(&c), vec![3, 4, 5, 6, 7, 8, 9, 12, 13], "{:#?}", c.errors);
    let skus: Vec<&str> = c.products.iter().map(|p| p.sku.as_str()).collect();
    assert_eq!(skus, vec!["MUG-1", "PLATE-1"]);
    let mug = by_sku(&c, "MUG-1");
    assert_eq!(mug.title, "Mug");
    assert_eq!(mug.tags, vec!["steel", "mug"]);
    assert_eq!(mug.variants[0].price_minor, 1250);
    let plate = by_sku(&c, "PLATE-1");
    assert_eq!(plate.variants[0].stock, 0);
    assert_eq!(plate.image_url.as_deref(), Some("https://example.com/p.jpg"));
    assert!(c.errors.iter().any(|e| e.line == 9 && e.message.contains("negative")), "{:?}", c.errors);
    assert!(c.errors.iter().any(|e| e.line == 8 && e.message.contains("duplicate")));
}

#[test]
fn aisle_csv_variants_attach_to_their_parent() {
    let csv = format!(
        "{AISLE_HEADER},parent_sku,options\n\
         HOOD,Hero Hoodie,<p>Warm</p>,Men/Hoodies,,,,,warm|fleece,,\n\
         HOOD-M-BLK,,,,54.00,,3,,,HOOD,size=M|color=Black\n\
         HOOD-L-BLK,,,,56.00,,0,,,HOOD,Size=L|Color=Black\n\
         HOOD-L-GRY,,,,56.00,,2,,,HOOD,size=L|color\n\
         ORPHAN-1,,,,5.00,,1,,,NOPE,size=S\n\
         HOOD-XL,,,,56.00,,2,,,HOOD,size=XL|color=Black|fit=Slim\n\
         MUG,Mug,,Kitchen,7,,,,,,\n\
         SELF,,,,5,,1,,,SELF,size=S\n\
         NEST,,,,5,,1,,,HOOD-M-BLK,size=S\n"
    );
    let c = parse_aisle_csv(&tenant(), Currency::USD, csv.as_bytes());
    assert_eq!(error_lines(&c), vec![5, 6, 7, 9, 10], "{:#?}", c.errors);
    assert!(c.errors[1].message.contains("NOPE"));
    assert!(c.errors[3].message.contains("own parent"));
    assert!(c.errors[4].message.contains("itself a variant"));
    assert_eq!(c.products.len(), 2);
    let hood = by_sku(&c, "HOOD");
    assert_eq!(hood.options, vec!["size", "color"]);
    assert_eq!(hood.variants.len(), 2);
    assert_eq!(hood.variants[0].title, "M / Black");
    assert_eq!(hood.variants[1].options["color"], "Black");
    assert_eq!(hood.price().minor, 5400);
    assert!(hood.variants.iter().all(|v| v.sku != hood.sku), "the parent is not itself sellable");
    let mug = by_sku(&c, "MUG");
    assert_eq!(mug.variants.len(), 1);
    assert_eq!(mug.variants[0].stock, UNTRACKED_STOCK);
}

#[test]
fn aisle_csv_columns_are_found_by_name() {
    let csv = "Tags,Price,Stock,SKU,Extra,Title\nblue|cotton,19.99,4,TEE-1,ignored,Blue Tee\n";
    let c = detect_and_parse(&tenant(), Currency::USD, csv.as_bytes());
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    let tee = by_sku(&c, "TEE-1");
    assert_eq!(tee.title, "Blue Tee");
    assert_eq!(tee.tags, vec!["blue", "cotton"]);
    assert_eq!(tee.variants[0].price_minor, 1999);
    assert_eq!(tee.variants[0].stock, 4);
    assert_eq!(tee.currency, Currency::USD);
}

struct Expect {
    file: &'static str,
    products: usize,
    variants: usize,
    skipped: usize,
}

#[test]
fn every_shopify_fixture_parses() {
    let expected = [
        Expect { file: "shopify_partners_sample_apparel.csv", products: 20, variants: 22, skipped: 0 },
        Expect { file: "shopify_partners_sample_home-and-garden.csv", products: 20, variants: 21, skipped: 0 },
        Expect { file: "shopify_partners_sample_jewelery.csv", products: 20, variants: 23, skipped: 0 },
        Expect { file: "packt_dev_store_products_export.csv", products: 20, variants: 21, skipped: 0 },
        Expect { file: "shopify_official_product_template.csv", products: 1, variants: 12, skipped: 2 },
        Expect { file: "velofant_real_store_products_export_2025.csv", products: 12, variants: 17, skipped: 2 },
    ];
    for e in expected {
        let bytes = fixture(e.file);
        // Through detection, as the admin upload does.
        let c = detect_and_parse(&tenant(), Currency::USD, &bytes);
        assert!(c.errors.is_empty(), "{}: {:?}", e.file, c.errors);
        assert_eq!(c.products.len(), e.products, "{}", e.file);
        assert_eq!(c.variant_count(), e.variants, "{}", e.file);
        assert_eq!(c.skipped.len(), e.skipped, "{}: {:?}", e.file, c.skipped);
        for p in &c.products {
            p.validate().unwrap();
            assert!(p.price().minor > 0, "{}: {}", e.file, p.title);
            assert!(!p.description_text.contains("<p>"));
        }
    }
}

#[test]
fn shopify_jewelery_has_colour_variants() {
    let c = parse_shopify_csv(&tenant(), Currency::USD, &fixture("shopify_partners_sample_jewelery.csv"));
    let anchor = by_sku(&c, "leather-anchor");
    assert_eq!(anchor.title, "Anchor Bracelet Mens");
    assert_eq!(anchor.options, vec!["color"]);
    let values: Vec<(&str, i64)> = anchor.variants.iter().map(|v| (v.options["color"].as_str(), v.price_minor)).collect();
    assert_eq!(values, vec![("Gold", 6999), ("Silver", 5500)]);
    assert_eq!(anchor.price().minor, 5500);
    assert_eq!(anchor.category, "Bracelet");
    // `Colour` is read as `color`; SKUs are derived when the export has none.
    let gem = by_sku(&c, "gemstone");
    assert_eq!(gem.options, vec!["color"]);
    assert_eq!(gem.variants[1].sku.as_str(), "gemstone-purple");
    assert_eq!(gem.variants[1].stock, 0);
    assert!(gem.image_url.as_deref().is_some_and(|u| u.starts_with("https://")));
    let simple = by_sku(&c, "bangle-bracelet");
    assert!(simple.options.is_empty());
    assert_eq!(simple.variants[0].sku.as_str(), "bangle-bracelet");
}

#[test]
fn shopify_newer_formats_map_categories_stock_and_status() {
    let t = parse_shopify_csv(&tenant(), Currency::USD, &fixture("shopify_official_product_template.csv"));
    let shirt = by_sku(&t, "example-shirt");
    assert_eq!(shirt.options, vec!["color", "size"]);
    assert_eq!(shirt.variants[0].sku.as_str(), "SRT_COT_111");
    assert!(shirt.category.starts_with("Apparel & Accessories/Clothing"), "{}", shirt.category);
    assert!(shirt.tags.iter().any(|t| t == "Shirts"), "Type becomes a tag: {:?}", shirt.tags);
    assert!(t.skipped.iter().all(|s| s.message.contains("draft") || s.message.contains("archived")));

    let sek = Currency::parse("SEK").unwrap();
    let v = parse_shopify_csv(&tenant(), sek, &fixture("velofant_real_store_products_export_2025.csv"));
    for p in &v.products {
        assert_eq!(p.currency, sek);
        // No inventory column in the 2025 export: untracked means in stock.
        assert!(p.variants.iter().all(|v| v.stock == UNTRACKED_STOCK));
    }
    let bar = by_sku(&v, "ken-mid-rise-bar-styre-72cm");
    assert_eq!(bar.options, vec!["färg"]);
    assert_eq!(bar.variants.len(), 2);
    assert_eq!(bar.variants[0].price_minor, 59900);
    assert!(v.products.iter().all(|p| p.sku.as_str() != "crescent-chess-28"), "archived products are skipped");
}

#[test]
fn foreign_catalogs_are_refused_with_a_header_error() {
    for file in ["flipkart_products_1050.csv", "bestbuy_products_3291.csv"] {
        let c = detect_and_parse(&tenant(), Currency::USD, &fixture(file));
        assert!(c.products.is_empty());
        assert_eq!(error_lines(&c), vec![1], "{file}");
    }
}

#[test]
fn things_that_are_not_csv_give_errors_not_panics() {
    let inputs: Vec<Vec<u8>> = vec![
        vec![],
        b"\n\n\n".to_vec(),
        b"\xEF\xBB\xBF".to_vec(),
        AISLE_HEADER.as_bytes().to_vec(),
        format!("{AISLE_HEADER}\n").into_bytes(),
        b"Handle,Title,Variant Price\n".to_vec(),
        b"\x00\x01\x02\xff\xfe\x89PNG\r\n\x1a\n".to_vec(),
        (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect(),
        b"sku,title,price\n\"unterminated,quote\n".to_vec(),
        b"sku,title,price\nA,B,1,extra,cells\nC\n".to_vec(),
    ];
    for (i, bytes) in inputs.iter().enumerate() {
        let c = detect_and_parse(&tenant(), Currency::USD, bytes);
        assert!(!c.errors.is_empty() || !c.products.is_empty(), "input {i} gave neither products nor errors");
        if i < 8 {
            assert!(c.products.is_empty() && !c.errors.is_empty(), "input {i}: {:?}", c.errors);
        }
        let _ = parse_aisle_csv(&tenant(), Currency::USD, bytes);
        let _ = parse_shopify_csv(&tenant(), Currency::USD, bytes);
        let _ = parse_luma(&tenant(), bytes, &[bytes]);
    }
}

#[tokio::test]
async fn importing_the_same_skus_again_updates_them() {
    let (store, _dir) = crate::support::sqlite_store().await;
    let tenant = crate::support::seed_tenant(store.as_ref(), "Importer").await;
    let first = format!("{AISLE_HEADER}\nMUG-1,Mug,,Kitchen,12.50,,5,,\nCUP-1,Cup,,Kitchen,3,,1,,\n");
    let parsed = parse_aisle_csv(&tenant, Currency::USD, first.as_bytes());
    let report = import_products(store.as_ref(), parsed.products).await.unwrap();
    assert_eq!(report, ImportReport { created: 2, updated: 0 });
    let mug_id = store.list_products(&tenant, None, 10).await.unwrap().into_iter().find(|p| p.sku.as_str() == "MUG-1").unwrap().id;

    let second = format!("{AISLE_HEADER}\nMUG-1,Big Mug,,Kitchen,14.00,,9,,\nPLATE-1,Plate,,Kitchen,4,,2,,\n");
    let parsed = parse_aisle_csv(&tenant, Currency::USD, second.as_bytes());
    let report = import_products(store.as_ref(), parsed.products).await.unwrap();
    assert_eq!(report, ImportReport { created: 1, updated: 1 });
    let products = store.list_products(&tenant, None, 10).await.unwrap();
    assert_eq!(products.len(), 3);
    let mug = products.iter().find(|p| p.sku.as_str() == "MUG-1").unwrap();
    assert_eq!(mug.id, mug_id, "an update keeps the product's id");
    assert_eq!(mug.title, "Big Mug");
    assert_eq!(mug.variants[0].price_minor, 1400);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = detect_and_parse(&tenant(), Currency::USD, &body);
        let _ = parse_luma(&tenant(), &body, &[&body]);
    }

    #[test]
    fn parsers_never_panic_on_csv_like_rows(
        rows in proptest::collection::vec("[a-zA-Z0-9=|,.\"\\- \n&;<>éü]{0,60}", 0..12),
    ) {
        for header in [AISLE_HEADER.to_string() + ",parent_sku,options", "Handle,Title,Option1 Name,Option1 Value,Variant SKU,Variant Price,Variant Inventory Qty,Status".to_string()] {
            let text = format!("{header}\n{}", rows.join("\n"));
            let c = detect_and_parse(&tenant(), Currency::USD, text.as_bytes());
            for p in &c.products {
                prop_assert!(p.validate().is_ok());
            }
            for e in &c.errors {
                prop_assert!(e.line >= 1);
            }
        }
    }
}
