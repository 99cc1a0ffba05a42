use openclaw_node::approvals::ApprovalsStore;
use openclaw_node::browser::BrowserProxy;
use openclaw_node::config::NodeConfig;
use openclaw_node::invoke::{CancelToken, InvokeContext, NoEvents};
use openclaw_node::node::NodeRuntime;
use openclaw_node::paths::StatePaths;
use serde_json::{json, Value};
use std::sync::Arc;

#[test]
fn explore() {
    let dir = std::env::temp_dir().join("oc-scratch");
    let _ = std::fs::remove_dir_all(&dir);
    let paths = StatePaths::at(&dir);
    let config = NodeConfig::from_value(
        json!({"browser":{"ssrfPolicy":{"dangerouslyAllowPrivateNetwork":true}}}),
    );
    let browser = BrowserProxy::from_config(&config, &paths);
    let node = NodeRuntime {
        approvals: ApprovalsStore::new(&paths),
        paths,
        config: Arc::new(config),
        path_env: String::new(),
        secret_env_names: vec![],
        secret_values: vec![],
        browser,
    };
    let ctx = InvokeContext {
        invoke_id: "i".into(),
        node_id: "n".into(),
        cancel: CancelToken::new(),
        events: Arc::new(NoEvents),
        node: Arc::new(node),
    };
    let call = |p: Value| -> String {
        ctx.node
            .browser
            .as_ref()
            .unwrap()
            .handle(&ctx, p)
            .unwrap_or_else(|e| e.to_string())
    };
    let t = std::time::Instant::now();
    println!(
        "start {} {:?}",
        call(json!({"method":"POST","path":"/start"})),
        t.elapsed()
    );
    println!("tabs {}", call(json!({"path":"/tabs"})));
    println!(
        "open {}",
        call(json!({"method":"POST","path":"/tabs/open","body":{"url":"about:blank"}}))
    );
    println!(
        "open {}",
        call(json!({"method":"POST","path":"/tabs/open","body":{"url":"data:text/html,hi"}}))
    );
    println!(
        "open {}",
        call(json!({"method":"POST","path":"/tabs/open","body":{"url":"about:blank","label":"x"}}))
    );
    println!("tabs {}", call(json!({"path":"/tabs"})));
    let t = std::time::Instant::now();
    println!(
        "snap {} {:?}",
        call(json!({"path":"/snapshot"})),
        t.elapsed()
    );
    println!("status {}", call(json!({"path":"/"})));
    println!("profiles {}", call(json!({"path":"/profiles"})));
    ctx.node.browser.as_ref().unwrap().shutdown();
}
