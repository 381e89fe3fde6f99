//! The platform and tenant admin HTTP API (contract §2) over real HTTP: tenants and
//! their API keys, catalog import as a job, jobs, products listed and searched —
//! with every refusal: no or wrong credentials, another tenant's resources (404),
//! malformed bodies, oversized files, bad limits and cursors.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Db, Options, PLATFORM_TOKEN, TestApp, spawn_app, spawn_app_with};

const HEADER: &str = "sku,title,description,category,price,currency,stock,image_url,tags";

struct Http {
    base: String,
    client: reqwest::Client,
}

impl Http {
    fn of(app: &TestApp) -> Self {
        Self { base: format!("http://127.0.0.1:{}", app.port), client: reqwest::Client::new() }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (u16, Value) {
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn get(&self, path: &str, key: Option<&str>) -> (u16, Value) {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        self.send(req).await
    }

    async fn create_tenant(&self, name: &str) -> (String, String) {
        let (status, body) = self
            .send(self.client.post(format!("{}/v1/platform/tenants", self.base)).bearer_auth(PLATFORM_TOKEN).json(&json!({"name": name, "plan": "pro"})))
            .await;
        assert_eq!(status, 201, "{body}");
        (body["tenant_id"].as_str().unwrap().to_string(), body["api_key"].as_str().unwrap().to_string())
    }

    async fn import(&self, key: &str, csv: String) -> (u16, Value) {
        self.send(self.client.post(format!("{}/v1/admin/catalog/import", self.base)).bearer_auth(key).header("Content-Type", "text/csv").body(csv))
            .await
    }

    /// Polls a job until it has finished.
    async fn finished(&self, key: &str, job_id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let (status, job) = self.get(&format!("/v1/admin/jobs/{job_id}"), Some(key)).await;
            assert_eq!(status, 200, "{job}");
            if job["status"] == "done" || job["status"] == "failed" {
                return job;
            }
            assert!(tokio::time::Instant::now() < deadline, "job still {job}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

fn assert_error(status: u16, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"]["code"], want_code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

fn titles(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|p| p["title"].as_str().unwrap().to_string()).collect()
}

fn catalog(rows: &[&str]) -> String {
    format!("{HEADER}\n{}\n", rows.join("\n"))
}

const KAYAK: &str = "KAYAK-1,Inflatable Kayak,A two-person kayak for rivers and lakes.,Outdoor/Boats,299.00,USD,4,,water|paddle";
const TENT: &str = "TENT-2,Trail Tent,A light tent for two hikers.,Outdoor/Camping,149.50,USD,7,,camping";
const LAMP: &str = "LAMP-3,Camp Lantern,A rechargeable LED lantern.,Outdoor/Camping,24.99,USD,30,,light";
const BAD: &str = "BAD-4,Broken Row,No price here.,Outdoor,not-a-price,USD,1,,";

#[tokio::test]
async fn the_platform_api_creates_tenants_with_a_key_shown_once() {
    let app = spawn_app().await;
    let http = Http::of(&app);
    let url = format!("{}/v1/platform/tenants", http.base);
    let (s, b) = http.send(http.client.post(&url).json(&json!({"name": "Acme"}))).await;
    assert_error(s, &b, 401, "unauthorized");
    let (s, b) = http.send(http.client.post(&url).bearer_auth("wrong").json(&json!({"name": "Acme"}))).await;
    assert_error(s, &b, 401, "unauthorized");
    let (s, b) = http.send(http.client.post(&url).bearer_auth(PLATFORM_TOKEN).header("Content-Type", "application/json").body("{\"name\":")).await;
    assert_error(s, &b, 400, "bad_request");
    let (s, b) = http.send(http.client.post(&url).bearer_auth(PLATFORM_TOKEN).json(&json!({"name": "  "}))).await;
    assert_error(s, &b, 400, "bad_request");
    let (s, b) = http.send(http.client.post(&url).bearer_auth(PLATFORM_TOKEN).json(&json!({"name": "Acme", "plan": "platinum"}))).await;
    assert_error(s, &b, 400, "bad_request");

    let huge = json!({"name": "x".repeat(100 * 1024)});
    let (s, b) = http.send(http.client.post(&url).bearer_auth(PLATFORM_TOKEN).json(&huge)).await;
    assert_error(s, &b, 413, "too_large");

    let (tenant_id, key) = http.create_tenant("Acme").await;
    assert!(tenant_id.starts_with("t_") && key.starts_with("sk_") && key.len() >= 35, "{tenant_id} {key}");
    let (s, me) = http.get("/v1/admin/tenant", Some(&key)).await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me, json!({"id": tenant_id, "name": "Acme", "plan": "pro", "status": "active"}));
    // Only the key's hash is kept.
    let conn_hash = tenants::hash_api_key(&key);
    assert_eq!(app.store().tenant_by_api_key(&key).await.unwrap(), None, "the key itself is not stored");
    assert_eq!(app.store().tenant_by_api_key(&conn_hash).await.unwrap().map(|t| t.to_string()), Some(tenant_id));
}

#[tokio::test]
async fn the_platform_api_is_off_without_its_token() {
    let app = spawn_app_with(Options { platform_api: false, ..Options::default() }).await;
    let http = Http::of(&app);
    let (s, b) = http.send(http.client.post(format!("{}/v1/platform/tenants", http.base)).bearer_auth(PLATFORM_TOKEN).json(&json!({"name": "Acme"}))).await;
    assert_error(s, &b, 404, "not_found");
}

#[tokio::test]
async fn admin_calls_need_a_live_api_key() {
    let app = spawn_app().await;
    let http = Http::of(&app);
    for key in [None, Some("sk_not-a-real-key"), Some(app.demo.deployment_key.as_str()), Some("")] {
        let (s, b) = http.get("/v1/admin/products", key).await;
        assert_error(s, &b, 401, "unauthorized");
    }
    let (s, b) = http.send(http.client.get(format!("{}/v1/admin/tenant", http.base)).header("Authorization", "Basic c2tfeDp5")).await;
    assert_error(s, &b, 401, "unauthorized");
}

#[tokio::test]
async fn an_import_runs_as_a_job_that_reports_bad_lines_and_makes_products_searchable() {
    import_flow(spawn_app().await).await;
}

#[tokio::test]
async fn an_import_runs_as_a_job_on_postgres_too() {
    import_flow(spawn_app_with(Options { db: Db::Postgres, ..Options::default() }).await).await;
}

async fn import_flow(app: TestApp) {
    let http = Http::of(&app);
    let (_, key) = http.create_tenant("Outdoors").await;
    let (s, accepted) = http.import(&key, catalog(&[KAYAK, TENT, BAD, LAMP])).await;
    assert_eq!(s, 202, "{accepted}");
    let job_id = accepted["job_id"].as_str().unwrap().to_string();
    let job = http.finished(&key, &job_id).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["imported"], 3, "{job}");
    assert_eq!(job["errors"].as_array().unwrap().len(), 1, "{job}");
    assert_eq!(job["errors"][0]["line"], 4, "{job}");
    assert!(job["errors"][0]["message"].as_str().unwrap().contains("price"), "{job}");

    // Searchable at once (by keyword), whatever the indexing job is doing.
    let (s, page) = http.get("/v1/admin/products?q=kayak", Some(&key)).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(titles(&page).first().map(String::as_str), Some("Inflatable Kayak"), "{page}");

    // The indexing job it queued finishes, and then the search goes by meaning too.
    let index_job = job["detail"]["index_job_id"].as_str().expect("the import names its indexing job").to_string();
    let index = http.finished(&key, &index_job).await;
    assert_eq!((index["kind"].as_str(), index["status"].as_str()), (Some("index"), Some("done")), "{index}");
    assert_eq!(index["detail"]["embedded"], 3, "{index}");
    let (_, page) = http.get("/v1/admin/products?q=a%20paddle%20boat&limit=2", Some(&key)).await;
    assert_eq!(titles(&page).first().map(String::as_str), Some("Inflatable Kayak"), "{page}");

    // The PRODUCT shape, by id.
    let (_, page) = http.get("/v1/admin/products?q=lantern&limit=1", Some(&key)).await;
    let lantern = page["items"][0].clone();
    assert_eq!(lantern["price"], json!({"amount_minor": 2499, "currency": "USD"}), "{lantern}");
    let id = lantern["id"].as_str().unwrap();
    let (s, one) = http.get(&format!("/v1/admin/products/{id}"), Some(&key)).await;
    assert_eq!((s, &one), (200, &lantern));

    // Re-importing the same file updates, and embeds nothing again.
    let (_, again) = http.import(&key, catalog(&[KAYAK, TENT, LAMP])).await;
    let again = http.finished(&key, again["job_id"].as_str().unwrap()).await;
    assert_eq!((again["imported"].as_i64(), again["detail"]["updated"].as_i64()), (Some(3), Some(3)), "{again}");
    let index = http.finished(&key, again["detail"]["index_job_id"].as_str().unwrap()).await;
    assert_eq!(index["detail"]["embedded"], 0, "{index}");

    // Another tenant sees none of it: 404 for the job and the product, nothing listed.
    let (_, other) = http.create_tenant("Other").await;
    let (s, b) = http.get(&format!("/v1/admin/jobs/{job_id}"), Some(&other)).await;
    assert_error(s, &b, 404, "not_found");
    let (s, b) = http.get(&format!("/v1/admin/products/{id}"), Some(&other)).await;
    assert_error(s, &b, 404, "not_found");
    let (_, page) = http.get("/v1/admin/products?q=kayak", Some(&other)).await;
    assert_eq!(page["items"], json!([]), "{page}");
    let (_, page) = http.get("/v1/admin/products", Some(&other)).await;
    assert_eq!(page, json!({"items": [], "next_cursor": null}));
    // Nor the demo shop's products.
    let (_, page) = http.get("/v1/admin/products?q=hoodie", Some(&other)).await;
    assert_eq!(page["items"], json!([]), "{page}");
}

#[tokio::test]
async fn products_page_by_sku_and_search_pages_by_cursor() {
    let app = spawn_app().await;
    let http = Http::of(&app);
    let (_, key) = http.create_tenant("Pager").await;
    let rows: Vec<String> = (0..25).map(|i| format!("SKU-{i:02},Wool Sock {i},Warm socks.,Socks,5.00,USD,3,,")).collect();
    let (_, job) = http.import(&key, catalog(&rows.iter().map(String::as_str).collect::<Vec<_>>())).await;
    let job = http.finished(&key, job["job_id"].as_str().unwrap()).await;
    assert_eq!(job["imported"], 25, "{job}");

    let mut skus = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/admin/products?limit=10&cursor={c}"),
            None => "/v1/admin/products?limit=10".into(),
        };
        let (s, page) = http.get(&path, Some(&key)).await;
        assert_eq!(s, 200, "{page}");
        skus.extend(page["items"].as_array().unwrap().iter().map(|p| p["sku"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let want: Vec<String> = (0..25).map(|i| format!("SKU-{i:02}")).collect();
    assert_eq!(skus, want, "every product once, by SKU");

    let (_, first) = http.get("/v1/admin/products?q=wool%20sock&limit=20", Some(&key)).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 20);
    let next = first["next_cursor"].as_str().expect("more hits").to_string();
    let (_, second) = http.get(&format!("/v1/admin/products?q=wool%20sock&limit=20&cursor={next}"), Some(&key)).await;
    let mut all = titles(&first);
    all.extend(titles(&second));
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 25, "two pages hold every sock once: {all:?}");
    assert_eq!(second["next_cursor"], Value::Null);

    for bad in ["limit=0", "limit=101", "limit=ten", "q=sock&cursor=abc", "q=sock&cursor=-1"] {
        let (s, b) = http.get(&format!("/v1/admin/products?{bad}"), Some(&key)).await;
        assert_error(s, &b, 400, "bad_request");
    }
    let (s, b) = http.get("/v1/admin/products/p_doesnotexist", Some(&key)).await;
    assert_error(s, &b, 404, "not_found");
    let (s, b) = http.get("/v1/admin/products/..%2F..%2Fetc", Some(&key)).await;
    assert_error(s, &b, 404, "not_found");
    let (s, b) = http.get("/v1/admin/jobs/j_nope", Some(&key)).await;
    assert_error(s, &b, 404, "not_found");
}

#[tokio::test]
async fn bad_imports_are_refused_with_a_clear_error_and_change_nothing() {
    let app = spawn_app().await;
    let http = Http::of(&app);
    let (_, key) = http.create_tenant("Careful").await;
    let url = format!("{}/v1/admin/catalog/import", http.base);
    let (s, b) = http.send(http.client.post(&url).bearer_auth(&key).header("Content-Type", "application/json").body("{}")).await;
    assert_error(s, &b, 400, "bad_request");
    let (s, b) = http.import(&key, "  \n".into()).await;
    assert_error(s, &b, 400, "bad_request");
    let huge = format!("{HEADER}\n{}", "X,".repeat(9 * 1024 * 1024));
    let (s, b) = http.import(&key, huge).await;
    assert_error(s, &b, 413, "too_large");
    let (s, b) = http.send(http.client.post(&url).header("Content-Type", "text/csv").body(catalog(&[KAYAK]))).await;
    assert_error(s, &b, 401, "unauthorized");

    // A file in neither format is a job that reports why, importing nothing.
    let (s, job) = http.import(&key, "name;price\nhat;3\n".into()).await;
    assert_eq!(s, 202, "{job}");
    let job = http.finished(&key, job["job_id"].as_str().unwrap()).await;
    assert_eq!((job["status"].as_str(), job["imported"].as_i64()), (Some("done"), Some(0)), "{job}");
    assert!(job["errors"][0]["message"].as_str().unwrap().contains("unrecognised header"), "{job}");
    let (_, page) = http.get("/v1/admin/products", Some(&key)).await;
    assert_eq!(page["items"], json!([]));
}

#[tokio::test]
async fn the_demo_shop_is_searchable_through_the_admin_api_by_meaning() {
    let app = spawn_app().await;
    let http = Http::of(&app);
    let key = app.state.tenants.create_api_key(&app.demo.tenant_id).await.unwrap();
    let (s, page) = http.get("/v1/admin/products?q=sweatshirt&limit=10", Some(&key)).await;
    assert_eq!(s, 200, "{page}");
    let hoodies = page["items"].as_array().unwrap().iter().filter(|p| p["category"].as_str().unwrap_or("").contains("Hoodies")).count();
    assert!(hoodies >= 5, "sweatshirt finds hoodies: {:?}", titles(&page));
}

#[tokio::test]
async fn portal_users_log_in_and_use_their_token_as_the_admin_bearer() {
    let app = spawn_app().await;
    let http = Http::of(&app);
    let (tenant_id, key) = http.create_tenant("Staffed").await;
    let users = format!("{}/v1/admin/users", http.base);
    let login_url = format!("{}/v1/auth/login", http.base);

    let (s, b) = http.send(http.client.post(&users).json(&json!({"email": "ann@shop.example", "password": "long enough pw"}))).await;
    assert_error(s, &b, 401, "unauthorized");
    let (s, owner) = http
        .send(http.client.post(&users).bearer_auth(&key).json(&json!({"email": " Ann@Shop.Example ", "password": "long enough pw", "role": "owner"})))
        .await;
    assert_eq!(s, 201, "{owner}");
    assert_eq!((owner["email"].as_str(), owner["role"].as_str()), (Some("ann@shop.example"), Some("owner")));
    for (body, why) in [
        (json!({"email": "ann@shop.example", "password": "another long pw"}), "email taken in this tenant"),
        (json!({"email": "not-an-email", "password": "long enough pw"}), "bad email"),
        (json!({"email": "bob@shop.example", "password": "short"}), "short password"),
        (json!({"email": "bob@shop.example", "password": "long enough pw", "role": "god"}), "bad role"),
    ] {
        let (s, b) = http.send(http.client.post(&users).bearer_auth(&key).json(&body)).await;
        assert_eq!(s, 400, "{why}: {b}");
    }
    // Only the Argon2id hash is stored.
    let tenant = engine::domain::TenantId::parse(tenant_id.clone()).unwrap();
    let stored = app.store().tenant_user_by_email(&tenant, "ann@shop.example").await.unwrap().unwrap();
    assert!(stored.password_hash.starts_with("$argon2id$") && !stored.password_hash.contains("long enough"));

    let (s, b) = http.send(http.client.post(&login_url).json(&json!({"email": "ann@shop.example", "password": "wrong password"}))).await;
    assert_error(s, &b, 401, "unauthorized");
    let (s, b) = http.send(http.client.post(&login_url).json(&json!({"email": "nobody@shop.example", "password": "long enough pw"}))).await;
    assert_error(s, &b, 401, "unauthorized");
    let (s, b) = http.send(http.client.post(&login_url).header("Content-Type", "application/json").body("{\"email\":1}")).await;
    assert_error(s, &b, 400, "bad_request");
    let (s, login) = http.send(http.client.post(&login_url).json(&json!({"email": "ANN@shop.example", "password": "long enough pw"}))).await;
    assert_eq!(s, 200, "{login}");
    assert_eq!(login["expires_in"], 12 * 3600);
    let token = login["token"].as_str().unwrap().to_string();
    let (s, me) = http.get("/v1/admin/tenant", Some(&token)).await;
    assert_eq!((s, me["id"].as_str()), (200, Some(tenant_id.as_str())), "{me}");

    // An owner adds staff; staff may not add users (403: their own tenant, not allowed).
    let (s, _) = http.send(http.client.post(&users).bearer_auth(&token).json(&json!({"email": "sam@shop.example", "password": "staff password"}))).await;
    assert_eq!(s, 201);
    let (_, staff) = http.send(http.client.post(&login_url).json(&json!({"email": "sam@shop.example", "password": "staff password"}))).await;
    let staff = staff["token"].as_str().unwrap().to_string();
    let (s, b) = http.send(http.client.post(&users).bearer_auth(&staff).json(&json!({"email": "eve@shop.example", "password": "eve password!"}))).await;
    assert_error(s, &b, 403, "forbidden");
    let (s, _) = http.get("/v1/admin/products", Some(&staff)).await;
    assert_eq!(s, 200, "staff use the rest of the admin API");

    // A shopper's session token is no admin token, and a forged one is refused.
    let (_, welcome) = app.shopper().await;
    let shopper = welcome["session_token"].as_str().unwrap();
    let (s, b) = http.get("/v1/admin/tenant", Some(shopper)).await;
    assert_error(s, &b, 401, "unauthorized");
    let mut forged = token.clone();
    forged.pop();
    let (s, _) = http.get("/v1/admin/tenant", Some(&forged)).await;
    assert_eq!(s, 401);

    // Guessing is rate limited per email: 10 tries a minute, then 429.
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let (s, _) = http.send(http.client.post(&login_url).json(&json!({"email": "sam@shop.example", "password": "guess guess"}))).await;
        statuses.push(s);
    }
    assert!(statuses.iter().take(8).all(|&s| s == 401), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    let (s, _) = http.send(http.client.post(&login_url).json(&json!({"email": "ann@shop.example", "password": "long enough pw"}))).await;
    assert_eq!(s, 200, "another email is not limited");
}

#[tokio::test]
async fn one_client_cycling_emails_is_rate_limited() {
    use ws_gateway::routes::users::{LOGINS_PER_ADDRESS_PER_MINUTE, LOGINS_PER_EMAIL_PER_MINUTE};
    let app = spawn_app().await;
    let http = Http::of(&app);
    let login_url = format!("{}/v1/auth/login", http.base);
    // Every email is new, so the per-email limit never trips; the client's does.
    const _: () = assert!(LOGINS_PER_ADDRESS_PER_MINUTE > LOGINS_PER_EMAIL_PER_MINUTE);
    let mut statuses = Vec::new();
    for i in 0..=LOGINS_PER_ADDRESS_PER_MINUTE {
        let email = format!("guess{i}@shop.example");
        let (s, b) = http.send(http.client.post(&login_url).json(&json!({"email": email, "password": "guess guess"}))).await;
        statuses.push(s);
        if s == 429 {
            assert_error(s, &b, 429, "rate_limited");
            assert!(b["error"]["message"].as_str().unwrap_or("").contains("address"), "{b}");
        }
    }
    let limit = LOGINS_PER_ADDRESS_PER_MINUTE as usize;
    assert!(statuses[..limit - 2].iter().all(|&s| s == 401), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    // The demo user's right password is refused too while the client is limited.
    let (s, _) = http.send(http.client.post(&login_url).json(&json!({"email": ws_gateway::demo::DEMO_USER, "password": "whatever it is"}))).await;
    assert_eq!(s, 429);
}

#[tokio::test]
async fn the_demo_creates_its_portal_user_once() {
    let app = spawn_app().await;
    let user = app.store().tenant_user_by_email(&app.demo.tenant_id, ws_gateway::demo::DEMO_USER).await.unwrap().expect("demo user");
    assert_eq!((user.tenant_id.clone(), user.role.as_str()), (app.demo.tenant_id.clone(), "owner"));
    // Seeding again (a restart) keeps that user and its password.
    ws_gateway::demo::seed(app.store().as_ref(), &app.state.tenants).await.unwrap();
    let again = app.store().users_by_email(ws_gateway::demo::DEMO_USER, 8).await.unwrap();
    assert_eq!(again, vec![user], "one demo user, the same");
}
