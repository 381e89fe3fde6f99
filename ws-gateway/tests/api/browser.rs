//! The demo page in a real browser (Debian's chromium driven by playwright-core):
//! `.ci/run` installs both; without them this test fails and says what to install.

use std::process::Command;

use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_page_chats_in_a_real_browser() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "browser tests need `npm ci --prefix ws-gateway/tests/browser` and `apt-get install chromium` (see .ci/run)"
    );
    let app = spawn_app().await;
    let shot = std::env::temp_dir().join(format!("aisle-demo-{}.png", app.port));
    let url = format!("http://127.0.0.1:{}/", app.port);
    let out = tokio::task::spawn_blocking(move || Command::new("node").arg(dir.join("demo_page.mjs")).arg(&url).arg(&shot).output())
        .await
        .unwrap()
        .expect("node runs");
    assert!(
        out.status.success(),
        "browser script failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
