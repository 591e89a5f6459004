pub fn answer() -> u32 {
    "forty-two"
}
