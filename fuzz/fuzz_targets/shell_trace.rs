//! The shell-payload analysis against bash itself: a payload the analysis accepts runs under
//! `bash -c` with xtrace on, in a scratch directory with an empty environment, and every
//! simple command bash traced must be one the analysis named (nested `bash -c` included), and
//! every command word must be resolved as written. A command bash ran that the analysis did
//! not name is a crash. Inputs are payload text; refused payloads are never run.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use openclaw_node::approvals::shell_trace;

fuzz_target!(|data: &[u8]| {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    let Ok(payload) = std::str::from_utf8(data) else {
        return;
    };
    let dir = DIR.get_or_init(|| shell_trace::scratch_dir("fuzz").expect("a scratch directory"));
    if let Err(disagreement) = shell_trace::check(payload, dir) {
        panic!("bash and the analysis disagree: {disagreement:?}");
    }
});
