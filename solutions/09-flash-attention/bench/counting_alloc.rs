//! A counting global allocator: how many bytes are allocated now, and the
//! most there were since the last [`reset_peak`]. Install it in a binary
//! with `#[global_allocator] static ALLOC: CountingAlloc = CountingAlloc;`
//! and measure a call with [`measure`]. Only heap allocations are counted
//! (not thread stacks, which are mapped directly).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

pub struct CountingAlloc;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grow(n: usize) {
    let now = CURRENT.fetch_add(n, SeqCst) + n;
    PEAK.fetch_max(now, SeqCst);
}

fn shrink(n: usize) {
    CURRENT.fetch_sub(n, SeqCst);
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        shrink(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            if new_size >= layout.size() {
                grow(new_size - layout.size());
            } else {
                shrink(layout.size() - new_size);
            }
        }
        p
    }
}

/// Bytes allocated right now.
pub fn current() -> usize {
    CURRENT.load(SeqCst)
}

/// Sets the peak to what is allocated now.
pub fn reset_peak() {
    PEAK.store(CURRENT.load(SeqCst), SeqCst);
}

/// Runs `f` and returns its result and the peak number of bytes allocated
/// during the call beyond what was allocated before it (outputs included:
/// subtract their sizes to get the extra memory).
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = current();
    reset_peak();
    let r = f();
    (r, PEAK.load(SeqCst) - before)
}
