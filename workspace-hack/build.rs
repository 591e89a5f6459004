// Empty: it makes cargo resolve the [build-dependencies] of Cargo.toml.
fn main() {}
