//! `openclaw.json`: any file content, parsed as JSON5 by `NodeConfig::load`, then the lookups
//! the node makes in it.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use openclaw_node::browser::BrowserProxy;
use openclaw_node::config::NodeConfig;
use openclaw_node::paths::StatePaths;
use openclaw_node_fuzz::{put_file, scratch_dir};

fuzz_target!(|data: &[u8]| {
    static PATHS: OnceLock<StatePaths> = OnceLock::new();
    let paths = PATHS.get_or_init(|| StatePaths::at(scratch_dir("config")));
    let path = paths.config_file();
    put_file(&path, data);
    let Ok(config) = NodeConfig::load(&path) else {
        return;
    };
    if let Some(token) = config.gateway_token() {
        assert_eq!(token.trim(), token);
        assert!(!token.is_empty());
    }
    let _ = config.gateway_password();
    let _ = config.get_bool(&["gateway", "tls", "enabled"]);
    let _ = config.get_str(&["nodeHost", "displayName"]);
    let _ = config.get(&["tools", "exec"]);
    let _ = BrowserProxy::from_config(&config, &Default::default(), paths, Default::default());
});
