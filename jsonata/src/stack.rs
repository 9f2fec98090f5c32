//! A guard on native stack use: recursion (parsing, evaluation) measures how far the stack has
//! grown since it started and stops with an error before the thread's stack runs out, whatever
//! the build's frame sizes are.

/// Where a recursion started and how much stack it may use.
#[derive(Debug, Clone, Copy)]
pub struct StackGuard {
    base: usize,
    budget: usize,
}

/// The current stack position (the address of a local).
fn position() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

impl StackGuard {
    /// Starts measuring here.
    pub fn new(budget: usize) -> Self {
        StackGuard {
            base: position(),
            budget,
        }
    }

    /// True once the stack has grown more than the budget since `new`.
    pub fn exceeded(&self) -> bool {
        self.base.abs_diff(position()) > self.budget
    }
}
