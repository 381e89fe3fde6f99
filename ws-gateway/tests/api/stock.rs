//! Stock and prices are always true, over the real WebSocket with two shoppers: the
//! last units bought by one are refused to the other at the command (`out_of_stock`),
//! and a price changed by an admin re-import reaches the next `cart` event as a
//! `price_changed` notice; a checkout after an unseen price change is refused with
//! `price_changed` and charges nothing. On SQLite and PostgreSQL.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

fn add(id: &str, product: &str, quantity: i64) -> Value {
    json!({"type":"cart.add","id":id,"product_id":product,"quantity":quantity})
}

/// The frames up to the command's outcome: its `error`, or the `cart` that follows it.
async fn outcome(ws: &mut Ws) -> Vec<Value> {
    ws.recv_until(|f| f["type"] == "cart" || f["type"] == "error").await
}

/// Imports `csv` (Aisle format) as the demo shop's admin and waits for the job.
async fn admin_import(app: &TestApp, key: &str, csv: String) {
    let base = format!("http://127.0.0.1:{}", app.port);
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{base}/v1/admin/catalog/import"))
        .bearer_auth(key)
        .header("Content-Type", "text/csv")
        .body(csv)
        .send()
        .await
        .expect("import request");
    assert_eq!(res.status().as_u16(), 202);
    let job: Value = res.json().await.unwrap();
    let id = job["job_id"].as_str().expect("job id").to_string();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let job: Value = client.get(format!("{base}/v1/admin/jobs/{id}")).bearer_auth(key).send().await.unwrap().json().await.unwrap();
        if job["status"] == "done" {
            assert_eq!(job["imported"], 1, "{job}");
            return;
        }
        assert_ne!(job["status"], "failed", "{job}");
        assert!(tokio::time::Instant::now() < deadline, "import still {job}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn bottle_row(price: &str, stock: i64) -> String {
    format!(
        "sku,title,description,category,price,currency,stock,image_url,tags\n\
         24-UG06,Affirm Water Bottle,A bottle that keeps you hydrated.,Gear/Fitness Equipment,{price},USD,{stock},,bottle\n"
    )
}

async fn two_shoppers(db: Db) {
    let app = spawn_app_on(db).await;
    let key = app.state.tenants.create_api_key(&app.demo.tenant_id).await.expect("an admin key");
    let mut p = app.product("Affirm Water Bottle").await;
    assert_eq!(p.variants.len(), 1);
    p.variants[0].stock = 2;
    app.store().upsert_product(&mut p).await.unwrap();
    let (product, variant, price) = (p.id.to_string(), p.variants[0].id.to_string(), p.variants[0].price_minor);

    let (mut one, _) = app.shopper().await;
    let (mut two, _) = app.shopper().await;
    two.send(add("t1", &product, 1)).await;
    assert_eq!(outcome(&mut two).await.last().unwrap()["cart"]["items"][0]["quantity"], 1);

    // Shopper one buys both; shopper two's add is refused at the command.
    one.send(add("o1", &product, 2)).await;
    outcome(&mut one).await;
    one.send(json!({"type":"checkout","id":"o2"})).await;
    let frames = outcome(&mut one).await;
    assert_eq!(of_type(&frames, "order").len(), 1, "{frames:?}");
    two.send(add("t2", &product, 1)).await;
    let refused = outcome(&mut two).await;
    let err = refused.last().unwrap();
    assert_eq!((err["type"].as_str(), err["code"].as_str(), err["id"].as_str()), (Some("error"), Some("out_of_stock"), Some("t2")), "{refused:?}");
    assert!(err["message"].as_str().unwrap().contains("only 0"), "{err}");
    // Shopper two's next cart says its line is gone, once.
    two.send(json!({"type":"cart.get","id":"t3"})).await;
    let cart = outcome(&mut two).await.pop().unwrap();
    assert_eq!(cart["cart"]["items"], json!([]), "{cart}");
    assert_eq!(cart["notices"][0]["code"], "out_of_stock", "{cart}");
    assert_eq!((cart["notices"][0]["variant_id"].as_str(), cart["notices"][0]["old_quantity"].as_i64()), (Some(variant.as_str()), Some(1)));
    two.send(json!({"type":"cart.get","id":"t4"})).await;
    assert_eq!(outcome(&mut two).await.pop().unwrap()["notices"], json!([]));

    // Restocked; shopper two takes one at the shown price. Then the admin re-imports
    // the bottle dearer: the next cart says so.
    p.variants[0].stock = 10;
    app.store().upsert_product(&mut p).await.unwrap();
    two.send(add("t5", &product, 1)).await;
    assert_eq!(outcome(&mut two).await.pop().unwrap()["cart"]["items"][0]["unit_price_minor"], price);
    let dearer = price + 250;
    admin_import(&app, &key, bottle_row(&format!("{}.{:02}", dearer / 100, dearer % 100), 10)).await;
    assert_eq!(app.product("Affirm Water Bottle").await.variants[0].id.to_string(), variant, "the import kept the variant");
    two.send(json!({"type":"cart.get","id":"t6"})).await;
    let cart = outcome(&mut two).await.pop().unwrap();
    assert_eq!(
        cart["notices"],
        json!([{"code":"price_changed","product_id":product,"variant_id":variant,"sku":"24-UG06","title":"Affirm Water Bottle",
                "old_unit_price_minor":price,"new_unit_price_minor":dearer}]),
        "{cart}"
    );
    assert_eq!(cart["cart"]["items"][0]["unit_price_minor"], dearer);

    // A price change the shopper has not seen: the checkout is refused, the cart shows it.
    let cheaper = price - 100;
    admin_import(&app, &key, bottle_row(&format!("{}.{:02}", cheaper / 100, cheaper % 100), 10)).await;
    two.send(json!({"type":"checkout","id":"t7"})).await;
    let frames = outcome(&mut two).await;
    let err = frames.last().unwrap();
    assert_eq!((err["type"].as_str(), err["code"].as_str(), err["id"].as_str()), (Some("error"), Some("price_changed"), Some("t7")), "{frames:?}");
    // The refusal comes first (as for any refused command), then the updated cart.
    let cart = two.recv().await;
    assert_eq!(cart["type"], "cart", "{cart}");
    assert_eq!(cart["notices"][0]["new_unit_price_minor"], cheaper, "{cart}");
    assert_eq!(cart["cart"]["subtotal_minor"], cheaper);
    // Seen now: the next checkout charges it.
    two.send(json!({"type":"checkout","id":"t8"})).await;
    let frames = two.recv_until(|f| f["type"] == "order" || f["type"] == "error").await;
    assert_eq!(frames.last().unwrap()["total_minor"], cheaper, "{frames:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shoppers_see_true_stock_and_prices_on_sqlite() {
    two_shoppers(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shoppers_see_true_stock_and_prices_on_postgres() {
    two_shoppers(Db::Postgres).await;
}
