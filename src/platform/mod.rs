//! What differs between operating systems, one small module per concern.

pub mod search_path;
