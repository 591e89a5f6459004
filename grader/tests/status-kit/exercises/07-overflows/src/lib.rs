#[allow(unconditional_recursion)]
pub fn answer() -> u32 {
    let deeper = answer();
    std::hint::black_box(deeper) + 1
}
