use super::*;

fn ax(id: &str, role: &str, name: &str, backend: i64, children: &[&str]) -> Value {
    json!({ "nodeId": id, "role": {"type": "role", "value": role}, "name": {"type": "computedString", "value": name},
            "backendDOMNodeId": backend, "childIds": children, "ignored": false })
}

/// The BP test page of the captures, reduced to its tree shape.
fn page() -> Vec<Value> {
    let mut combobox = ax("7", "combobox", "Color", 2, &["12"]);
    combobox["value"] = json!({"type": "string", "value": "Red"});
    let mut red = ax("13", "option", "Red", 24, &[]);
    red["properties"] =
        json!([{"name": "selected", "value": {"type": "booleanOrUndefined", "value": true}}]);
    let mut heading = ax("4", "heading", "Browser proxy test", 12, &[]);
    heading["properties"] = json!([{"name": "level", "value": {"type": "integer", "value": 1}}]);
    vec![
        ax("1", "RootWebArea", "BP Test Page", 4, &["2"]),
        ax("2", "none", "", 5, &["3"]),
        ax("3", "main", "", 11, &["4", "5", "6", "7", "8", "9", "10"]),
        heading,
        ax("5", "button", "Click me", 14, &[]),
        ax("6", "textbox", "Your name", 1, &[]),
        combobox,
        ax("8", "checkbox", "I agree", 3, &[]),
        ax("9", "generic", "", 31, &[]),
        ax("10", "link", "Go to page 2", 32, &[]),
        ax("12", "MenuListPopup", "", 0, &["13", "14"]),
        red,
        ax("14", "option", "Blue", 27, &[]),
    ]
}

fn cursor() -> HashMap<i64, CursorInfo> {
    HashMap::from([(
        31,
        CursorInfo {
            text: "Clickable div".into(),
            has_cursor_pointer: true,
            has_on_click: true,
            ..Default::default()
        },
    )])
}

#[test]
fn interactive_snapshot_matches_the_ts_node() {
    let options = RoleOptions {
        interactive: true,
        ..Default::default()
    };
    let tree = build_role_tree(&page(), &cursor(), &HashMap::new(), options);
    let done = finalize(tree, options, Some(DEFAULT_MAX_CHARS));
    assert_eq!(
        done.snapshot,
        "- button \"Click me\" [ref=e2]\n      - textbox \"Your name\" [ref=e3]\n      - combobox \"Color\" [ref=e4] value=\"Red\"\n          - option \"Red\" [ref=e8] [selected]\n          - option \"Blue\" [ref=e9]\n      - checkbox \"I agree\" [ref=e5]\n      - generic \"Clickable div\" [ref=e6] [cursor:pointer, onclick]\n      - link \"Go to page 2\" [ref=e7]"
    );
    // e1 (the heading) is numbered but not shown, so it is not returned.
    let names: Vec<&str> = done.refs.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(names, vec!["e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9"]);
    assert_eq!(
        done.refs_json()["e2"],
        json!({"role": "button", "name": "Click me", "backendDOMNodeId": 14})
    );
    assert_eq!(
        done.stats_json(),
        json!({"lines": 8, "chars": done.snapshot.len(), "refs": 8, "interactive": 7})
    );
    assert!(!done.truncated);
}

#[test]
fn compact_drops_unnamed_structure_and_keeps_levels() {
    let options = RoleOptions {
        compact: true,
        ..Default::default()
    };
    let done = finalize(
        build_role_tree(&page(), &cursor(), &HashMap::new(), options),
        options,
        None,
    );
    assert!(done.snapshot.starts_with("- RootWebArea \"BP Test Page\"\n    - main\n      - heading \"Browser proxy test\" [ref=e1] [level=1]"), "{}", done.snapshot);
    assert!(!done.snapshot.contains("- none"));
}

#[test]
fn depth_limit_and_urls() {
    let options = RoleOptions {
        max_depth: Some(2),
        ..Default::default()
    };
    let urls = HashMap::from([(32, "http://x/page2.html".to_string())]);
    let done = finalize(
        build_role_tree(&page(), &HashMap::new(), &urls, options),
        options,
        None,
    );
    assert_eq!(
        done.snapshot,
        "- RootWebArea \"BP Test Page\"\n  - none\n    - main"
    );
    let all = finalize(
        build_role_tree(&page(), &HashMap::new(), &urls, RoleOptions::default()),
        RoleOptions::default(),
        None,
    );
    assert!(
        all.snapshot
            .contains("- link \"Go to page 2\" [ref=e6] [url=http://x/page2.html]"),
        "{}",
        all.snapshot
    );
}

#[test]
fn duplicate_names_get_nth() {
    let nodes = vec![
        ax("1", "RootWebArea", "", 1, &["2", "3"]),
        ax("2", "button", "OK", 2, &[]),
        ax("3", "button", "OK", 3, &[]),
    ];
    let done = finalize(
        build_role_tree(
            &nodes,
            &HashMap::new(),
            &HashMap::new(),
            RoleOptions::default(),
        ),
        RoleOptions::default(),
        None,
    );
    assert_eq!(
        done.snapshot,
        "- RootWebArea\n  - button \"OK\" [ref=e1]\n  - button \"OK\" [ref=e2] [nth=1]"
    );
    assert_eq!(done.refs[0].1.nth, Some(0));
    assert_eq!(done.refs[1].1.nth, Some(1));
}

#[test]
fn max_chars_cuts_whole_lines_and_drops_hidden_refs() {
    let options = RoleOptions {
        interactive: true,
        ..Default::default()
    };
    let done = finalize(
        build_role_tree(&page(), &cursor(), &HashMap::new(), options),
        options,
        Some(80),
    );
    assert!(done.truncated);
    assert!(
        done.snapshot
            .ends_with("\n\n[...TRUNCATED - page too large]"),
        "{}",
        done.snapshot
    );
    assert!(done.snapshot.len() <= 80);
    assert_eq!(
        done.refs
            .iter()
            .map(|(r, _)| r.as_str())
            .collect::<Vec<_>>(),
        vec!["e2"]
    );
    let tiny = finalize(
        build_role_tree(&page(), &cursor(), &HashMap::new(), options),
        options,
        Some(10),
    );
    assert_eq!(tiny.snapshot, "…");
}

#[test]
fn empty_pages() {
    let blank = vec![ax("1", "RootWebArea", "", 1, &[])];
    let interactive = RoleOptions {
        interactive: true,
        ..Default::default()
    };
    assert_eq!(
        finalize(
            build_role_tree(&blank, &HashMap::new(), &HashMap::new(), interactive),
            interactive,
            None
        )
        .snapshot,
        "(no interactive elements)"
    );
    assert_eq!(
        finalize(
            build_role_tree(
                &[],
                &HashMap::new(),
                &HashMap::new(),
                RoleOptions::default()
            ),
            RoleOptions::default(),
            None
        )
        .snapshot,
        "(empty page)"
    );
}

#[test]
fn aria_format_is_a_dfs_with_limit() {
    let nodes = format_aria(&page(), 4);
    assert_eq!(nodes.len(), 4);
    assert_eq!(
        nodes[0],
        json!({"ref": "ax1", "role": "RootWebArea", "name": "BP Test Page", "backendDOMNodeId": 4, "depth": 0})
    );
    assert_eq!(nodes[3]["role"], "heading");
    assert_eq!(nodes[3]["depth"], 3);
    let refs = aria_refs(&nodes);
    assert_eq!(refs["ax4"].backend_node_id, Some(12));
}
