//! Reconcilers: a pure plan plus a thin runner each.

pub mod converger;
