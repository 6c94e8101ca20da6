//! The linux backend benchmark's parts: its own host setup, the two scenarios, what is
//! measured from outside Ingot, and the report.

pub mod density;
pub mod host;
pub mod latency;
pub mod outside;
pub mod procfs;
pub mod report;
pub mod stats;
