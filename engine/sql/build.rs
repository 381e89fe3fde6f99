// Embedded migrations (`sqlx::migrate!`) are read at compile time: rebuild when a
// migration file is added, not only when an existing one changes.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
