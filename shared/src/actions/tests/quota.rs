//! The per-team server quota through the actions: `create_server` beyond it is a 409 conflict
//! with `{limit, current}` and changes nothing; admins see it in `list_servers`, members don't.

use serde_json::json;

use super::World;
use crate::actions::testing::identity;
use crate::identity::Role;

fn create(name: &str) -> serde_json::Value {
    json!({"action": "create_server", "name": name, "server_type": "http",
           "config": {"url": "http://127.0.0.1:9/mcp"}})
}

#[tokio::test(flavor = "current_thread")]
async fn create_server_beyond_the_team_quota_is_409_conflict_with_limit_and_current() {
    let mut w = World::new();
    // team-a has two servers (one inactive: it counts).
    w.settings.max_servers_per_team = 3;
    let admin = identity("team-a", Role::Admin);
    assert_eq!(w.answer(&admin, create("third")).await.status, 201);
    let refused = w.answer(&admin, create("fourth")).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(refused.body["code"], "conflict");
    assert_eq!(refused.body["details"], json!({"limit": 3, "current": 3}));
    assert!(refused.body["message"]
        .as_str()
        .unwrap()
        .contains("3 of its 3 servers"));
    assert_eq!(
        w.db.scalar("SELECT count(*) FROM mcp_servers WHERE team_id = 'team-a'"),
        json!(3)
    );
    // The team's own limit wins over the deployment default; other teams are unaffected.
    w.db.exec("UPDATE teams SET max_servers = 4 WHERE id = 'team-a'");
    assert_eq!(w.answer(&admin, create("fourth")).await.status, 201);
    let b = identity("team-b", Role::Admin);
    assert_eq!(w.answer(&b, create("second")).await.status, 201);
}

#[tokio::test(flavor = "current_thread")]
async fn admins_see_the_server_quota_in_list_servers_and_it_follows_changes() {
    let w = World::new();
    let admin = identity("team-a", Role::Admin);
    let list = json!({"action": "list_servers"});
    let first = w.run(&admin, list.clone()).await.unwrap();
    assert_eq!(
        first.body["quota"],
        json!({"servers": {"used": 2, "limit": 50}}),
        "the inactive server counts; the default limit applies"
    );
    let ids: Vec<&str> = first.body["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["srv-a"], "the list itself is unchanged");
    let cached = w.run(&admin, list.clone()).await.unwrap();
    assert_eq!(cached.body["cached"], true);
    assert_eq!(cached.body["quota"], first.body["quota"]);

    let member = w
        .run(&identity("team-a", Role::Member), list.clone())
        .await
        .unwrap();
    assert!(member.body.get("quota").is_none(), "{}", member.body);
    assert_eq!(member.body["servers"], first.body["servers"]);

    // A new server drops the cached entry: the next answer counts it.
    assert_eq!(w.answer(&admin, create("third")).await.status, 201);
    let after = w.run(&admin, list).await.unwrap();
    assert_eq!(after.body["cached"], false);
    assert_eq!(after.body["quota"]["servers"]["used"], 3);
    let b = w
        .run(
            &identity("team-b", Role::Admin),
            json!({"action": "list_servers"}),
        )
        .await
        .unwrap();
    assert_eq!(
        b.body["quota"],
        json!({"servers": {"used": 1, "limit": 50}})
    );
}
