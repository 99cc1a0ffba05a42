//! `POST /act`: validation of the action body (spec §5.9, §7.3) and its execution over CDP
//! (spec §6.5).
//!
//! Validation is pure and keeps TS's messages and order. Execution resolves a ref to its
//! backend DOM node, waits until the element is actionable (attached, visible, not covered,
//! enabled), then sends real input events, so pages see the same events a user's click makes.

mod actor;
mod request;
#[cfg(test)]
mod tests;
mod url_glob;

pub use actor::*;
pub use request::*;
