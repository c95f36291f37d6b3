//! P5: what one step allocates. The heavy step of the lead-qualification playbook (an
//! e-mail answer, then condition, capture, notify and end: five templates) is counted
//! with an allocator that counts per thread, so tests running beside it do not count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use chrono::{TimeZone, Utc};

use super::super::step;
use crate::playbook::model::Playbook;
use crate::playbook::state::{Env, Event, State};

/// The system allocator, counting the allocations of each thread.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocations_of<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (out, ALLOCATIONS.with(Cell::get) - before)
}

/// Most allocations the heavy step may make: the new state (a copy of the variables), the
/// effects and their texts (48 when templates were parsed at every step, the score
/// formatted through a string and the effects' list grew).
const HEAVY_STEP_BUDGET: u64 = 41;

#[test]
fn the_heavy_step_stays_within_its_allocation_budget() {
    let playbook: Playbook = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/lead_qualification.json"
    )))
    .expect("the fixture parses");
    let env = Env {
        now: Utc.with_ymd_and_hms(2027, 3, 4, 10, 0, 0).unwrap(),
        reps_online: true,
    };
    let mut state = State::default();
    state.vars.set("visitor.url", serde_json::json!("/pricing"));
    let state = step(&playbook, &state, &Event::Start, &env).state;
    let state = step(&playbook, &state, &Event::Choice { index: 1 }, &env).state;
    let email = Event::Text {
        text: "ada@example.com".into(),
    };
    let (done, allocations) = allocations_of(|| step(&playbook, &state, &email, &env));
    assert_eq!(done.effects.len(), 9, "{:#?}", done.effects);
    assert!(
        allocations <= HEAVY_STEP_BUDGET,
        "the heavy step made {allocations} allocations (budget {HEAVY_STEP_BUDGET})"
    );
}
