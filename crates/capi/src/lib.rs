//! Ingot's Cloud Controller.
#![forbid(unsafe_code)]
