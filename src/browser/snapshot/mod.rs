//! Page snapshots from the accessibility tree (spec §6): the role snapshot with `eN` refs
//! (`format=ai`, TS's `snapshotRoleViaCdp`) and the flat `axN` node list (`format=aria`).
//!
//! The tree-to-text part is pure and mirrors the TS code line by line, quirks included (lines
//! are indented by tree depth even in interactive mode, and the joined text is trimmed), so the
//! agent tool and models see the same text from either node.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::error::RouteResult;
use super::page::{PageSession, RefTarget};

mod aria;
mod cursor;
mod role;
#[cfg(test)]
mod tests;

pub use aria::*;
pub use cursor::*;
pub use role::*;
