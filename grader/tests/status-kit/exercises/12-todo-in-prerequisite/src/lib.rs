/// Started: it calls the prerequisite, which is still a stub.
pub fn answer() -> u32 {
    prerequisite::answer()
}
