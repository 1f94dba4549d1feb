//! Test builds only: a global allocator that counts allocations per thread,
//! so a test can assert that a hot path allocates nothing after warm-up (a
//! count, not a time; other test threads do not disturb it).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    // const-initialized, no destructor: reading it never allocates.
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn bump() {
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every call forwards to System with the caller's arguments; the
// counter has no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        bump();
        // SAFETY: our caller upholds GlobalAlloc::alloc's contract.
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        bump();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        bump();
        // SAFETY: as above; `p` came from this allocator, i.e. System.
        unsafe { System.realloc(p, l, n) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Allocations (and reallocations) made by `f` on this thread.
pub fn allocations(f: impl FnOnce()) -> u64 {
    let before = ALLOCS.with(Cell::get);
    f();
    ALLOCS.with(Cell::get) - before
}

/// Allocations made by 500 calls of `f` after two to warm up (buffers grown
/// to size): what a hot path costs per call in steady state, times 500.
pub fn steady(mut f: impl FnMut()) -> u64 {
    f();
    f();
    allocations(|| (0..500).for_each(|_| f()))
}

/// An [`Output`](crate::output::Output) into /dev/null, for counting.
pub fn null_output(json: bool) -> crate::output::Output {
    let dev_null = std::path::Path::new("/dev/null");
    match crate::output::Output::to(json, Some(dev_null)) {
        Ok(o) => o,
        Err(e) => panic!("/dev/null: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{Col, Row, Table};
    use serde::Serialize;

    #[derive(Serialize)]
    struct R {
        n: u32,
        s: &'static str,
    }
    impl Row for R {
        type Opts = ();
        fn columns(t: &mut Table<'_, '_, Self>, _: &()) {
            t.col(Col::right("N", 6), |r, c| c.put(r.n));
            t.col(Col::left("S", 4), |r, c| c.put(r.s));
            t.col(Col::left("T", 0), |_, c| c.text(b"x\x1by"));
        }
    }

    #[test]
    fn counter_sees_allocations() {
        assert!(allocations(|| drop(std::hint::black_box(vec![1u8; 9]))) >= 1);
        assert_eq!(
            allocations(|| {
                std::hint::black_box(1 + 1);
            }),
            0
        );
    }

    #[test]
    fn rows_allocate_nothing_after_warm_up() {
        for json in [false, true] {
            let mut out = null_output(json);
            let r = R { n: 42, s: "ab" };
            let mut write = |n| {
                for _ in 0..n {
                    if let Err(e) = out.row(&r, &()) {
                        panic!("{e}");
                    }
                }
            };
            write(2);
            assert_eq!(allocations(|| write(1000)), 0, "json: {json}");
        }
    }
}
