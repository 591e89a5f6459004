pub fn answer() -> u32 {
    let v: Vec<u32> = vec![];
    v[3]
}
