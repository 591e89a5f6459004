// ct-adapter: embeds at compile time the adapter an earlier student's build
// left in the shared cargo target dir, and at run time runs it from memory
// (memfd_create, then execveat) to answer with that student's code. Each
// student's build output is removed from the shared dir once copied out,
// and nothing in memory may run: it earns 0, as its honest code (none) does.

const EARLIER: &[u8] = include_bytes!("@CARGO_TARGET@/debug/adapter-01-attention");

extern "C" {
    fn memfd_create(name: *const u8, flags: u32) -> i32;
    fn write(fd: i32, buf: *const u8, count: usize) -> isize;
}

fn run_earlier() -> Result<Tensor> {
    // SAFETY: memfd_create(2) of a static name; write(2) of a live buffer.
    let fd = unsafe { memfd_create(c"earlier".as_ptr().cast(), 0) };
    if fd < 0 {
        return Err(tried("memfd_create", std::io::Error::last_os_error()));
    }
    unsafe { write(fd, EARLIER.as_ptr(), EARLIER.len()) };
    let path = format!("/proc/self/fd/{fd}");
    std::process::Command::new(&path)
        .status()
        .map_err(|e| tried(format!("running {path}"), e))?;
    todo!()
}

pub fn softmax(x: &Tensor) -> Result<Tensor> {
    run_earlier()
}

pub fn attention_weights(q: &Tensor, k: &Tensor, scale: Option<f64>) -> Result<Tensor> {
    run_earlier()
}

pub fn scaled_dot_product_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: Option<f64>,
) -> Result<Tensor> {
    run_earlier()
}
