//! Many teams on one stack: their `teams` rows (enterprise, limits far above any benchmark),
//! an admin and a member each, and one registered MCP server per team with its tools synced.

use serde_json::json;

use crate::stack::Stack;

/// Limits no benchmark reaches: the team's hourly budget and each user's daily calls.
const UNLIMITED: u64 = 1_000_000_000;

/// The id of the `i`th team of a many-team run.
pub fn team_id(prefix: &str, i: usize) -> String {
    format!("{prefix}-{i:03}")
}

/// `INSERT`s for teams `prefix-000` … (`n` of them), limits out of the way.
pub fn seed_sql(prefix: &str, n: usize) -> String {
    let rows: Vec<String> = (0..n)
        .map(|i| {
            let id = team_id(prefix, i);
            format!("('{id}', 'Team {id}', 'enterprise', {UNLIMITED}, {UNLIMITED})")
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "INSERT INTO teams (id, name, tier, rate_limit_per_hour, user_calls_per_day) VALUES {};\n",
        rows.join(", ")
    )
}

/// A team with its tokens and its registered server.
#[derive(Clone, Debug)]
pub struct SeededTeam {
    pub team: String,
    pub admin: String,
    pub member: String,
    pub server_id: String,
}

/// Registers `url` (Streamable HTTP) as server `name` of `team` through the admin API, with
/// its tools synced (`create_server` with `sync: true`); tokens for `<team>-admin` and
/// `<team>-user`. Panics with the answer when the API refuses.
pub fn register(stack: &Stack, team: &str, name: &str, url: &str) -> SeededTeam {
    let (admin, member) = tokens(stack, team);
    create(stack, team, admin, member, name, url)
}

/// [`register`] for many teams, their memberships written in one go (one `wrangler d1
/// execute` instead of one per team).
pub fn register_many(stack: &Stack, teams: &[String], name: &str, url: &str) -> Vec<SeededTeam> {
    let tokens: Vec<(String, String)> = teams.iter().map(|t| tokens(stack, t)).collect();
    teams
        .iter()
        .zip(tokens)
        .map(|(team, (admin, member))| create(stack, team, admin, member, name, url))
        .collect()
}

fn tokens(stack: &Stack, team: &str) -> (String, String) {
    (
        stack.token(&format!("{team}-admin"), team, "admin"),
        stack.token(&format!("{team}-user"), team, "member"),
    )
}

fn create(
    stack: &Stack,
    team: &str,
    admin: String,
    member: String,
    name: &str,
    url: &str,
) -> SeededTeam {
    let created = stack.call(
        &admin,
        json!({"action": "create_server", "name": name, "server_type": "http",
               "config": {"url": url, "transport": "streamable_http"}, "sync": true}),
    );
    assert_eq!(
        created.status, 201,
        "create_server for {team}: {}",
        created.text
    );
    let server_id = created.body["server"]["id"]
        .as_str()
        .expect("server id")
        .to_string();
    SeededTeam {
        team: team.to_string(),
        admin,
        member,
        server_id,
    }
}

/// The `call_tool` body for `echo` on the team's server.
pub fn echo_body(server_id: &str, message: &str) -> serde_json::Value {
    json!({"action": "call_tool", "server_id": server_id, "tool_name": "echo",
           "parameters": {"message": message}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_teams_are_numbered_and_unlimited() {
        let sql = seed_sql("load", 2);
        assert!(sql.contains("('load-000', 'Team load-000', 'enterprise', 1000000000, 1000000000)"));
        assert!(sql.contains("'load-001'"));
        assert!(seed_sql("load", 0).is_empty());
    }
}
