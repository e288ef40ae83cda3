//! Prints the analytics statements (`shared::repo::analytics::statements()`) as JSON
//! `[{"name", "sql"}]`, so that scripts/bench-analytics.sh explains exactly the SQL the admin
//! worker runs.

fn main() {
    let statements: Vec<serde_json::Value> = shared::repo::analytics::statements()
        .into_iter()
        .map(|(name, sql)| serde_json::json!({ "name": name, "sql": sql }))
        .collect();
    println!("{}", serde_json::Value::Array(statements));
}
