// Re-embed migrations (sqlx::migrate!) whenever a file is added under migrations/.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
