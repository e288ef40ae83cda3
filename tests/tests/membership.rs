//! Who is in which team is ours to know (issue 13), proven through the real workers under
//! `wrangler dev`: users editing their own claims, members of two teams, a team that does not
//! exist, role escalation through the member actions, the last owner, removed members (through
//! the API: at once; by direct SQL: within `MEMBERSHIP_CACHE_SECS`), self-service teams, and a
//! claim-mode configuration that reads `user_metadata`, refused. Every refused attempt leaves
//! D1 as it was.

use std::time::{Duration, Instant};

use integration::jwt::{claims, sign};
use integration::stack::{Answer, Stack};
use serde_json::{json, Value};

/// The gate trusts a membership read from D1 this long (seconds) in this stack.
const CACHE_SECS: u64 = 3;

const SEED: &str = "INSERT INTO teams (id, name, tier) VALUES ('team-a', 'A', 'pro'), \
    ('team-b', 'B', 'free'); \
    INSERT INTO team_members (team_id, user_id, role) VALUES \
    ('team-a', 'olga', 'owner'), ('team-a', 'adam', 'admin'), ('team-a', 'mia', 'member'), \
    ('team-a', 'duo', 'member'), ('team-b', 'duo', 'admin'), ('team-b', 'bert', 'owner'), \
    ('team-a', 'sqlgone', 'member');";

fn assert_error(answer: &Answer, status: u16, code: &str, context: &str) {
    assert_eq!(answer.status, status, "{context}: {}", answer.text);
    assert_eq!(answer.body["code"], code, "{context}: {}", answer.text);
    assert_eq!(answer.body["status"], "error", "{context}");
    assert_eq!(answer.body["error"], answer.body["message"], "{context}");
}

/// A token as Supabase issues it to `user`, whatever `user_metadata` the user wrote.
fn token_claiming(stack: &Stack, user: &str, team: &str, role: &str) -> String {
    sign(&stack.jwt_secret, &claims(user, team, role))
}

/// Everything a refused attempt could have changed (one query: each costs a wrangler run).
fn snapshot(stack: &Stack) -> Value {
    let rows = stack.d1("SELECT \
         (SELECT group_concat(team_id || '/' || user_id || '/' || role, ',') FROM \
            (SELECT * FROM team_members ORDER BY team_id, user_id)) AS members, \
         (SELECT group_concat(id || '/' || name || '/' || tier, ',') FROM \
            (SELECT * FROM teams ORDER BY id)) AS teams, \
         (SELECT group_concat(id || '/' || team_id || '/' || name, ',') FROM \
            (SELECT * FROM mcp_servers ORDER BY id)) AS servers");
    rows.into_iter().next().expect("one row")
}

#[test]
fn membership_comes_from_our_table_and_every_escalation_is_refused() {
    let stack = Stack::start_with_vars(SEED, &[("MEMBERSHIP_CACHE_SECS", "3")]);
    users_editing_their_own_claims_change_nothing(&stack);
    members_of_two_teams_name_the_team_and_get_that_teams_role(&stack);
    teams_without_a_row_and_teams_of_others_are_the_same_403(&stack);
    admins_manage_members_but_only_owners_touch_owners(&stack);
    the_last_owner_stays(&stack);
    removed_members_lose_access_at_once_or_within_the_bound(&stack);
    users_in_no_team_create_one_and_become_its_owner(&stack);
}

fn users_editing_their_own_claims_change_nothing(stack: &Stack) {
    let before = snapshot(stack);
    // mia is a member of team-a and wrote {team_id: team-b, role: owner} into her user_metadata.
    let forged = token_claiming(stack, "mia", "team-b", "owner");
    let servers = stack.call(&forged, json!({"action": "list_servers"}));
    assert_eq!(servers.status, 200, "{}", servers.text);
    let in_a = stack.call(&forged, json!({"action": "list_members"}));
    assert_error(
        &in_a,
        403,
        "authorization_error",
        "claimed owner is a member in team-a",
    );
    for (what, body) in [
        ("sync_tools", json!({"action": "sync_tools"})),
        (
            "create_server",
            json!({"action": "create_server", "name": "evil", "server_type": "http",
                   "config": {"url": "https://evil.example/mcp"}}),
        ),
        (
            "make herself owner",
            json!({"action": "update_member", "user_id": "mia", "role": "owner"}),
        ),
    ] {
        assert_error(&stack.call(&forged, body), 403, "authorization_error", what);
    }
    let b = stack.call(
        &forged,
        json!({"action": "list_servers", "team_id": "team-b"}),
    );
    assert_error(&b, 403, "authorization_error", "the claimed team");
    assert_eq!(
        b.body["message"], "you are not a member of team 'team-b'",
        "{}",
        b.text
    );
    assert_eq!(snapshot(stack), before, "nothing changed in D1");
}

fn members_of_two_teams_name_the_team_and_get_that_teams_role(stack: &Stack) {
    let duo = token_claiming(stack, "duo", "", "");
    let unnamed = stack.call(&duo, json!({"action": "list_servers"}));
    assert_error(&unnamed, 400, "validation_error", "two teams, none named");
    assert_eq!(
        unnamed.body["details"]["teams"],
        json!(["team-a", "team-b"])
    );
    // Admin in team-b (body or header), member in team-a.
    let in_b = stack.call(&duo, json!({"action": "list_members", "team_id": "team-b"}));
    assert_eq!(in_b.status, 200, "{}", in_b.text);
    let users: Vec<&str> = in_b.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(users, vec!["bert", "duo"], "only team-b's members");
    let by_header = stack.request(
        "POST",
        "/",
        Some(&duo),
        Some(r#"{"action":"list_members"}"#),
        &[("x-team-id", "team-b")],
    );
    assert_eq!(by_header.status, 200, "{}", by_header.text);
    let in_a = stack.request(
        "POST",
        "/",
        Some(&duo),
        Some(r#"{"action":"list_members"}"#),
        &[("x-team-id", "team-a")],
    );
    assert_error(&in_a, 403, "authorization_error", "member in team-a");
    let mismatch = stack.request(
        "POST",
        "/",
        Some(&duo),
        Some(r#"{"action":"list_servers","team_id":"team-a"}"#),
        &[("x-team-id", "team-b")],
    );
    assert_error(
        &mismatch,
        400,
        "validation_error",
        "body and header disagree",
    );
}

fn teams_without_a_row_and_teams_of_others_are_the_same_403(stack: &Stack) {
    let mia = token_claiming(stack, "mia", "", "");
    let ghost = stack.call(
        &mia,
        json!({"action": "list_servers", "team_id": "team-ghost"}),
    );
    let other = stack.call(&mia, json!({"action": "list_servers", "team_id": "team-b"}));
    assert_error(&ghost, 403, "authorization_error", "no teams row");
    assert_error(&other, 403, "authorization_error", "another team");
    assert_eq!(
        ghost.body["message"]
            .as_str()
            .unwrap()
            .replace("team-ghost", "X"),
        other.body["message"]
            .as_str()
            .unwrap()
            .replace("team-b", "X"),
        "a probe cannot tell a missing team from someone else's"
    );
    // A signed-in stranger (valid token, no membership) reaches nothing.
    let stranger = token_claiming(stack, "stranger", "team-a", "admin");
    let answer = stack.call(&stranger, json!({"action": "list_servers"}));
    assert_error(&answer, 403, "authorization_error", "stranger");
    assert!(answer.body["message"]
        .as_str()
        .unwrap()
        .contains("create_team"));
}

fn admins_manage_members_but_only_owners_touch_owners(stack: &Stack) {
    let adam = token_claiming(stack, "adam", "", "");
    let olga = token_claiming(stack, "olga", "", "");
    let mia = token_claiming(stack, "mia", "", "");
    let before = snapshot(stack);
    for (what, who, body) in [
        (
            "a member adds a member",
            &mia,
            json!({"action": "add_member", "user_id": "x1"}),
        ),
        (
            "an admin makes himself owner",
            &adam,
            json!({"action": "update_member", "user_id": "adam", "role": "owner"}),
        ),
        (
            "an admin adds an owner",
            &adam,
            json!({"action": "add_member", "user_id": "x2", "role": "owner"}),
        ),
        (
            "an admin removes the owner",
            &adam,
            json!({"action": "remove_member", "user_id": "olga"}),
        ),
        (
            "an admin demotes the owner",
            &adam,
            json!({"action": "update_member", "user_id": "olga", "role": "member"}),
        ),
    ] {
        assert_error(&stack.call(who, body), 403, "authorization_error", what);
    }
    assert_eq!(
        snapshot(stack),
        before,
        "refused member changes change nothing"
    );
    let bad = stack.call(
        &adam,
        json!({"action": "add_member", "user_id": "x3", "role": "superuser"}),
    );
    assert_error(&bad, 400, "validation_error", "unknown role");
    let other_team = stack.call(
        &adam,
        json!({"action": "update_member", "user_id": "bert", "role": "member"}),
    );
    assert_error(&other_team, 404, "not_found", "a user of another team");

    let added = stack.call(
        &adam,
        json!({"action": "add_member", "user_id": "newbie", "role": "member"}),
    );
    assert_eq!(added.status, 201, "{}", added.text);
    assert_eq!(added.body["member"]["role"], "member");
    assert_eq!(added.body["member"]["added_by"], "adam");
    let again = stack.call(&adam, json!({"action": "add_member", "user_id": "newbie"}));
    assert_error(&again, 409, "conflict", "added twice");
    let newbie = token_claiming(stack, "newbie", "", "");
    assert_eq!(
        stack
            .call(&newbie, json!({"action": "list_servers"}))
            .status,
        200
    );
    // The owner promotes: at once, the admin work is allowed.
    let promoted = stack.call(
        &olga,
        json!({"action": "update_member", "user_id": "newbie", "role": "admin"}),
    );
    assert_eq!(promoted.status, 200, "{}", promoted.text);
    let now_admin = stack.call(&newbie, json!({"action": "list_members"}));
    assert_eq!(
        now_admin.status, 200,
        "promotion takes effect on the next request"
    );
    let rows =
        stack.d1("SELECT role FROM team_members WHERE team_id = 'team-a' AND user_id = 'newbie'");
    assert_eq!(rows, vec![json!({"role": "admin"})]);
}

fn the_last_owner_stays(stack: &Stack) {
    let olga = token_claiming(stack, "olga", "", "");
    let before = snapshot(stack);
    let demote = stack.call(
        &olga,
        json!({"action": "update_member", "user_id": "olga", "role": "admin"}),
    );
    assert_error(&demote, 409, "conflict", "demote the last owner");
    let remove = stack.call(&olga, json!({"action": "remove_member", "user_id": "olga"}));
    assert_error(&remove, 409, "conflict", "remove the last owner");
    assert_eq!(snapshot(stack), before);
}

fn removed_members_lose_access_at_once_or_within_the_bound(stack: &Stack) {
    let adam = token_claiming(stack, "adam", "", "");
    let mia = token_claiming(stack, "mia", "", "");
    assert_eq!(
        stack.call(&mia, json!({"action": "list_servers"})).status,
        200
    );
    let removed = stack.call(&adam, json!({"action": "remove_member", "user_id": "mia"}));
    assert_eq!(removed.status, 200, "{}", removed.text);
    assert_eq!(removed.body["removed"], true);
    let after = stack.call(&mia, json!({"action": "list_servers"}));
    assert_error(
        &after,
        403,
        "authorization_error",
        "removed through the API: at once",
    );

    // Removed behind the API's back (an operator's SQL): the gate's cached answer holds for at
    // most MEMBERSHIP_CACHE_SECS, then the next request is refused.
    let gone = token_claiming(stack, "sqlgone", "", "");
    assert_eq!(
        stack.call(&gone, json!({"action": "list_servers"})).status,
        200
    );
    let removed_at = Instant::now();
    stack.d1_exec("DELETE FROM team_members WHERE user_id = 'sqlgone'");
    let bound = Duration::from_secs(CACHE_SECS + 1);
    std::thread::sleep(bound.saturating_sub(removed_at.elapsed()));
    let after = stack.call(
        &gone,
        json!({"action": "list_servers", "team_id": "team-a"}),
    );
    assert_error(
        &after,
        403,
        "authorization_error",
        "removed by SQL, after the bound",
    );
}

fn users_in_no_team_create_one_and_become_its_owner(stack: &Stack) {
    let lonely = token_claiming(stack, "lonely", "team-a", "owner");
    let created = stack.call(
        &lonely,
        json!({"action": "create_team", "name": "Lonely's"}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let team = created.body["team"]["id"].as_str().unwrap().to_string();
    assert_eq!(created.body["role"], "owner");
    let members = stack.call(&lonely, json!({"action": "list_members"}));
    assert_eq!(members.status, 200, "{}", members.text);
    assert_eq!(members.body["team_id"], team.as_str());
    let twice = stack.call(&lonely, json!({"action": "create_team", "name": "Another"}));
    assert_error(
        &twice,
        409,
        "conflict",
        "create_team when already in a team",
    );
    let mia_olga = token_claiming(stack, "olga", "", "");
    let in_a_team = stack.call(&mia_olga, json!({"action": "create_team", "name": "Mine"}));
    assert_error(
        &in_a_team,
        409,
        "conflict",
        "create_team by a member of a team",
    );
    let rows = stack.d1(&format!(
        "SELECT t.tier, t.created_by, m.role FROM teams t JOIN team_members m ON m.team_id = t.id \
         WHERE t.id = '{team}'"
    ));
    assert_eq!(
        rows,
        vec![json!({"tier": "free", "created_by": "lonely", "role": "owner"})]
    );
    assert_eq!(
        stack.d1("SELECT COUNT(*) AS n FROM teams")[0]["n"],
        3,
        "exactly one team was created"
    );
}

#[test]
fn claim_mode_on_user_editable_claims_is_refused() {
    let stack = Stack::start_with_vars(
        SEED,
        &[
            ("JWT_TEAM_CLAIM", "user_metadata.team_id"),
            ("JWT_ROLE_CLAIM", "user_metadata.role"),
        ],
    );
    let forged = token_claiming(&stack, "mia", "team-b", "owner");
    let answer = stack.call(&forged, json!({"action": "list_servers"}));
    assert_error(&answer, 500, "internal_error", "refused configuration");
    assert!(
        !answer.text.contains("user_metadata"),
        "configuration details stay in the log: {}",
        answer.text
    );
    let log = stack.await_log("every signed-in user can edit");
    assert!(
        log.contains("every signed-in user can edit"),
        "the log says why: {log}"
    );
}
