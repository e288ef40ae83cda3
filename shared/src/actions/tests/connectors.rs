//! Connectors through the actions: `list_connectors`, `create_server`/`update_server` with
//! `connector` + `parameters`, their credentials, what reaches the bridge, and free-form
//! commands only for deployment operators.

use base64::Engine;
use serde_json::{json, Value};

use super::World;
use crate::actions::testing::identity;
use crate::actions::FreeformStdio;
use crate::connectors::{Catalogue, ConnectorLaunch};
use crate::identity::Role;
use crate::server_config::{AllowedCommands, BridgeToken};

const TOKEN: &str = "ghp-never-visible-81c2";

fn world() -> World {
    let mut w = World::new();
    w.settings.stdio_allowed_commands =
        AllowedCommands::parse("mcp-server-filesystem,mcp-server-github,npx");
    w.settings.connector_launch = ConnectorLaunch::Installed;
    w.settings.stdio_bridge_url = Some("http://127.0.0.1:9".into());
    w.settings.bridge_token = BridgeToken::new(Some("bridge-tok".into()));
    w
}

async fn admin(w: &World, body: Value) -> crate::actions::Reply {
    w.answer(&identity("team-a", Role::Admin), body).await
}

async fn create_fs(w: &World, folder: &str) -> String {
    let created = admin(
        w,
        json!({"action": "create_server", "name": "fs", "connector": "filesystem",
               "parameters": {"folder": folder}}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    created.body["server"]["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "current_thread")]
async fn members_see_what_connectors_exist_and_admins_how_to_configure_them() {
    let w = world();
    let member = w
        .answer(
            &identity("team-a", Role::Member),
            json!({"action": "list_connectors"}),
        )
        .await;
    assert_eq!(member.status, 200, "{}", member.body);
    let names: Vec<&str> = member.body["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, Catalogue::shipped().names());
    assert!(member.body["connectors"][0].get("parameters").is_none());
    let admin_view = admin(&w, json!({"action": "list_connectors"})).await;
    assert!(admin_view.body["connectors"][0].get("parameters").is_some());
}

#[tokio::test(flavor = "current_thread")]
async fn a_connector_server_stores_its_connector_and_reaches_the_bridge_rendered() {
    let w = world();
    let id = create_fs(&w, "/srv/team-a").await;
    let version = &Catalogue::shipped()
        .get("filesystem")
        .unwrap()
        .package
        .version;
    let stored: Value = serde_json::from_str(
        w.db.scalar(&format!("SELECT config FROM mcp_servers WHERE id = '{id}'"))
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        stored,
        json!({"connector": "filesystem", "version": version, "parameters": {"folder": "/srv/team-a"}})
    );
    assert_eq!(
        w.db.scalar(&format!(
            "SELECT server_type FROM mcp_servers WHERE id = '{id}'"
        )),
        json!("stdio")
    );
    let synced = admin(&w, json!({"action": "sync_tools", "server_id": id})).await;
    assert_ne!(synced.status, 200, "the test network refuses everything");
    let header = w
        .net
        .sent_header("X-Bridge-Command")
        .expect("a launch spec");
    let spec: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        spec,
        json!({"command": "mcp-server-filesystem", "args": ["/srv/team-a"], "env": {}})
    );
}

#[tokio::test(flavor = "current_thread")]
async fn bad_connectors_and_parameters_are_400s_naming_the_field() {
    let w = world();
    for (body, field) in [
        (json!({"connector": "nope"}), "connector"),
        (json!({"connector": "filesystem"}), "parameters.folder"),
        (
            json!({"connector": "filesystem", "parameters": {"folder": "--help"}}),
            "parameters.folder",
        ),
        (
            json!({"connector": "filesystem", "parameters": {"folder": "/srv/../etc"}}),
            "parameters.folder",
        ),
        (
            json!({"connector": "filesystem", "parameters": {"folder": "/a", "x": "y"}}),
            "parameters.x",
        ),
        (
            json!({"connector": "filesystem", "parameters": {"folder": "/a"},
                   "config": {"command": "npx"}}),
            "config",
        ),
        // On the catalogue but its command is not on this deployment's allow-list.
        (json!({"connector": "everything"}), "connector"),
        (
            json!({"connector": "github", "server_type": "http"}),
            "connector",
        ),
    ] {
        let mut req = json!({"action": "create_server", "name": "x"});
        req.as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        let answer = admin(&w, req).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.body);
        assert_eq!(answer.body["code"], "validation_error", "{body}");
        assert_eq!(answer.body["details"]["field"], field, "{body}");
    }
    assert_eq!(
        w.db.scalar("SELECT COUNT(*) FROM mcp_servers WHERE team_id = 'team-a'"),
        json!(2),
        "nothing was created"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn free_form_commands_are_refused_unless_the_operator_setting_is_on() {
    let mut w = world();
    let freeform = json!({"action": "create_server", "name": "sh", "server_type": "stdio",
                          "config": {"command": "npx", "args": ["-y", "pkg"]}});
    let refused = admin(&w, freeform.clone()).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.body["details"]["field"], "connector");
    assert!(refused.body["message"]
        .as_str()
        .unwrap()
        .contains("ALLOW_FREEFORM_STDIO_COMMANDS"));
    assert!(refused.body["details"]["connectors"]
        .as_array()
        .unwrap()
        .contains(&json!("filesystem")));
    // Nor through update_server of a connector server.
    let id = create_fs(&w, "/srv/a").await;
    let upd = admin(
        &w,
        json!({"action": "update_server", "server_id": id, "config": {"command": "npx"}}),
    )
    .await;
    assert_eq!(upd.status, 400, "{}", upd.body);

    w.settings.freeform_stdio = FreeformStdio::On;
    assert_eq!(admin(&w, freeform.clone()).await.status, 201);

    // In a production-looking setup the setting itself is refused: the admin worker errors.
    w.settings.freeform_stdio = FreeformStdio::Refused;
    for body in [freeform, json!({"action": "get_server", "server_id": id})] {
        let answer = admin(&w, body).await;
        assert_eq!(answer.status, 500, "{}", answer.body);
        assert_eq!(answer.body["code"], "internal_error");
    }
    let err = w
        .run(
            &identity("team-a", Role::Admin),
            json!({"action": "list_connectors"}),
        )
        .await;
    assert!(err.is_ok(), "the catalogue is not the admin actions");
    let err = w
        .run(
            &identity("team-a", Role::Admin),
            json!({"action": "get_server", "server_id": id}),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("ALLOW_FREEFORM_STDIO_COMMANDS=true is refused"),
        "{err}"
    );
}

#[test]
fn the_operator_setting_is_refused_where_the_bridge_is_not_local() {
    let f = FreeformStdio::from_vars;
    assert_eq!(f(None, Some("http://127.0.0.1:8790")), FreeformStdio::Off);
    assert_eq!(f(Some("false"), None), FreeformStdio::Off);
    assert_eq!(
        f(Some("true"), Some("http://127.0.0.1:8790")),
        FreeformStdio::On
    );
    assert_eq!(
        f(Some("true"), Some("http://localhost:1")),
        FreeformStdio::On
    );
    assert_eq!(f(Some("true"), None), FreeformStdio::Refused);
    assert_eq!(f(Some("true"), Some("")), FreeformStdio::Refused);
    assert_eq!(
        f(Some("true"), Some("https://bridge.example.com")),
        FreeformStdio::Refused
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_connector_credential_holds_only_its_declared_variables() {
    let w = world();
    let created = admin(
        &w,
        json!({"action": "create_server", "name": "gh", "connector": "github"}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["server"]["id"].as_str().unwrap().to_string();
    let set = |headers: Value| {
        admin(
            &w,
            json!({"action": "set_credential", "server_id": id, "credential_type": "custom_headers",
                   "credential": {"headers": headers}}),
        )
    };
    for undeclared in ["NODE_OPTIONS", "EXTRA"] {
        let refused = set(json!({"GITHUB_PERSONAL_ACCESS_TOKEN": TOKEN, undeclared: "x"})).await;
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert_eq!(refused.body["details"]["field"], "credential.headers");
        assert!(!refused.body.to_string().contains(TOKEN));
    }
    // Until the required variable is set, a sync fails naming it, and nothing is started.
    let early = admin(&w, json!({"action": "sync_tools", "server_id": id})).await;
    assert_eq!(early.body["code"], "conflict", "{}", early.body);
    assert!(early
        .body
        .to_string()
        .contains("GITHUB_PERSONAL_ACCESS_TOKEN"));
    assert!(w.net.requests.borrow().is_empty());
    let ok = set(json!({"GITHUB_PERSONAL_ACCESS_TOKEN": TOKEN})).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    admin(&w, json!({"action": "sync_tools", "server_id": id})).await;
    let spec = w.net.sent_header("X-Bridge-Command").unwrap();
    let spec: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(spec)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(spec["command"], "mcp-server-github");
    assert_eq!(spec["env"], json!({"GITHUB_PERSONAL_ACCESS_TOKEN": TOKEN}));
}

#[tokio::test(flavor = "current_thread")]
async fn update_server_changes_parameters_merged_into_the_stored_ones() {
    let w = world();
    let id = create_fs(&w, "/srv/a").await;
    let renamed = admin(
        &w,
        json!({"action": "update_server", "server_id": id, "name": "fs2"}),
    )
    .await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    assert_eq!(
        renamed.body["server"]["config"]["parameters"]["folder"],
        "/srv/a"
    );
    let moved = admin(
        &w,
        json!({"action": "update_server", "server_id": id, "parameters": {"folder": "/srv/b"}}),
    )
    .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(
        moved.body["server"]["config"]["parameters"]["folder"],
        "/srv/b"
    );
    assert_eq!(moved.body["server"]["config"]["connector"], "filesystem");
    let bad = admin(
        &w,
        json!({"action": "update_server", "server_id": id, "parameters": {"folder": "-x"}}),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.body["details"]["field"], "parameters.folder");
    // A free-form server (written by an operator) becomes a connector server by naming one.
    w.db.exec(
        "INSERT INTO mcp_servers (id, team_id, name, server_type, config) VALUES \
         ('legacy', 'team-a', 'legacy', 'stdio', '{\"command\":\"npx\",\"args\":[\"-y\",\"x\"]}')",
    );
    let converted = admin(
        &w,
        json!({"action": "update_server", "server_id": "legacy", "connector": "filesystem",
               "parameters": {"folder": "/srv/c"}}),
    )
    .await;
    assert_eq!(converted.status, 200, "{}", converted.body);
    assert_eq!(
        converted.body["server"]["config"]["connector"],
        "filesystem"
    );
    // Parameters alone need a connector server.
    let params_only = admin(
        &w,
        json!({"action": "update_server", "server_id": "legacy-free", "parameters": {"folder": "/x"}}),
    )
    .await;
    assert_eq!(params_only.status, 404, "{}", params_only.body);
}

#[tokio::test(flavor = "current_thread")]
async fn a_changed_parameter_removes_the_credential_and_the_same_ones_keep_it() {
    let mut w = world();
    w.settings.stdio_allowed_commands = AllowedCommands::parse("mcp-server-postgres");
    let created = admin(
        &w,
        json!({"action": "create_server", "name": "pg", "connector": "postgres",
               "parameters": {"database_url": "postgresql://reader@db:5432/app"}}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["server"]["id"].as_str().unwrap().to_string();
    let set = || {
        admin(
            &w,
            json!({"action": "set_credential", "server_id": id, "credential_type": "custom_headers",
                   "credential": {"headers": {"PGPASSWORD": TOKEN}}}),
        )
    };
    assert_eq!(set().await.status, 200);
    let update = |url: &str| {
        admin(
            &w,
            json!({"action": "update_server", "server_id": id,
                   "parameters": {"database_url": url}}),
        )
    };
    let same = update("postgresql://reader@db:5432/app").await;
    assert_eq!(same.body["credential_removed"], false, "{}", same.body);
    let moved = update("postgresql://reader@elsewhere:5432/app").await;
    assert_eq!(moved.body["credential_removed"], true, "{}", moved.body);
    assert_eq!(moved.body["server"]["credential"]["is_set"], false);
}
