//! The per-team server quota through `wrangler dev`: `create_server` beyond it answers 409
//! `conflict` with `{limit, current}` and stores nothing; admins see it in `list_servers`.

use integration::stack::Stack;
use serde_json::json;

const SEED: &str = "INSERT INTO teams (id, name, max_servers) VALUES ('team-q', 'Quota', 2);
INSERT INTO teams (id, name) VALUES ('team-d', 'Default');";

#[test]
fn create_server_beyond_the_team_quota_is_409_and_admins_see_the_quota() {
    let stack = Stack::start(SEED);
    let admin = stack.token("alice", "team-q", "admin");
    let create = |token: &str, name: &str| {
        stack.call(
            token,
            json!({"action": "create_server", "name": name, "server_type": "http",
                   "config": {"url": "http://127.0.0.1:9/mcp"}}),
        )
    };
    for name in ["one", "two"] {
        let created = create(&admin, name);
        assert_eq!(created.status, 201, "{}", created.text);
    }
    let refused = create(&admin, "three");
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert_eq!(refused.body["code"], "conflict");
    assert_eq!(refused.body["details"], json!({"limit": 2, "current": 2}));
    let stored = &stack.d1("SELECT count(*) AS n FROM mcp_servers WHERE team_id = 'team-q'")[0];
    assert_eq!(stored["n"], 2, "nothing stored beyond the quota");

    let listed = stack.call(&admin, json!({"action": "list_servers"}));
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(
        listed.body["quota"],
        json!({"servers": {"used": 2, "limit": 2}})
    );
    assert_eq!(listed.body["servers"].as_array().unwrap().len(), 2);
    let member = stack.token("bob", "team-q", "member");
    let as_member = stack.call(&member, json!({"action": "list_servers"}));
    assert_eq!(as_member.status, 200, "{}", as_member.text);
    assert!(as_member.body.get("quota").is_none(), "{}", as_member.text);

    // A team without its own limit gets the deployment default (MAX_SERVERS_PER_TEAM, 50).
    let other = stack.token("carol", "team-d", "admin");
    let listed = stack.call(&other, json!({"action": "list_servers"}));
    assert_eq!(
        listed.body["quota"],
        json!({"servers": {"used": 0, "limit": 50}}),
        "{}",
        listed.text
    );
}
