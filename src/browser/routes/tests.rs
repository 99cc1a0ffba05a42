use super::*;

#[test]
fn routes_match_method_and_path() {
    assert_eq!(match_route("GET", "/"), Some(Ok(Route::Status)));
    assert_eq!(match_route("POST", "/tabs/open"), Some(Ok(Route::TabsOpen)));
    assert_eq!(
        match_route("DELETE", "/tabs/ABC%2Fx"),
        Some(Ok(Route::TabsClose("ABC/x".into())))
    );
    assert!(matches!(
        match_route("DELETE", "/tabs/%zz"),
        Some(Err(RouteError::Http { status: 400, .. }))
    ));
    assert_eq!(match_route("GET", "/screenshot"), None);
    assert_eq!(match_route("DELETE", "/tabs/a/b"), None);
}

#[test]
fn uuids_are_v4() {
    let id = uuid_v4();
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "4");
    assert_ne!(id, uuid_v4());
}
