//! Reading `tools/list` pages into [`ToolDef`]s.
//!
//! Invariants:
//! - A page whose `tools` is missing or not an array is an error (the server is broken); one
//!   malformed entry (no string `name`) is skipped so one bad tool cannot hide the others.
//! - A missing `inputSchema` becomes `{"type":"object"}`, the schema of a tool without
//!   parameters, so callers can always validate against it.
//! - An absent, `null` or empty `nextCursor` ends the listing.

use serde_json::{json, Value};

use crate::model::ToolDef;

pub fn parse_page(result: &Value) -> Result<(Vec<ToolDef>, Option<String>), String> {
    let Some(items) = result.get("tools").and_then(Value::as_array) else {
        return Err("the tools/list result has no \"tools\" array".into());
    };
    let tools = items.iter().filter_map(parse_tool).collect();
    let next = result
        .get("nextCursor")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    Ok((tools, next))
}

fn parse_tool(item: &Value) -> Option<ToolDef> {
    let text = |key: &str| item.get(key).and_then(Value::as_str).map(str::to_string);
    Some(ToolDef {
        name: text("name").filter(|n| !n.is_empty())?,
        title: text("title"),
        description: text("description"),
        input_schema: item
            .get("inputSchema")
            .filter(|s| s.is_object())
            .cloned()
            .unwrap_or_else(|| json!({ "type": "object" })),
        annotations: item.get("annotations").filter(|a| !a.is_null()).cloned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_page_with_a_cursor() {
        let (tools, next) = parse_page(&json!({
            "tools": [
                {"name": "echo", "title": "Echo", "description": "d",
                 "inputSchema": {"type": "object", "properties": {"m": {"type": "string"}}},
                 "annotations": {"readOnlyHint": true}},
                {"name": "bare"},
                {"title": "no name"},
                "garbage"
            ],
            "nextCursor": "c2"
        }))
        .unwrap();
        assert_eq!(tools.len(), 2);
        assert_eq!(tools[0].title.as_deref(), Some("Echo"));
        assert_eq!(tools[0].annotations, Some(json!({"readOnlyHint": true})));
        assert_eq!(tools[1].input_schema, json!({"type": "object"}));
        assert_eq!(next.as_deref(), Some("c2"));
    }

    #[test]
    fn end_of_listing_and_broken_pages() {
        assert_eq!(
            parse_page(&json!({"tools": [], "nextCursor": ""}))
                .unwrap()
                .1,
            None
        );
        assert_eq!(
            parse_page(&json!({"tools": [], "nextCursor": null}))
                .unwrap()
                .1,
            None
        );
        assert!(parse_page(&json!({"content": []})).is_err());
    }
}
