//! A team's tool list in a model provider's tool-definition shape (`list_tools` with
//! `format`), or as MCP `Tool`s (`format: "mcp"`, what the gateway's `/mcp` serves), with the
//! mapping from each namespaced name back to `server_id` + `tool_name`.
//!
//! Shapes (the `tools` array is what the provider's request takes as its `tools` parameter):
//! - `openai`: Chat Completions, `{"type": "function", "function": {name, description,
//!   parameters}}`.
//! - `anthropic`: Messages, `{name, description, input_schema}`.
//! - `gemini`: `[{"functionDeclarations": [{name, description, parameters}]}]`, the schema
//!   translated by [`crate::gemini_schema`] (a tool without parameters has none).
//! - `mcp`: `{name, title, description, inputSchema, annotations}` as MCP `tools/list` lists.
//!
//! Invariants: names come from [`crate::tool_names::assign`] over the whole list (unique, valid
//! everywhere); every input schema handed to a provider has `"type": "object"` at its root;
//! `mapping` has exactly one entry per listed tool.

use serde_json::{json, Map, Value};

use crate::gemini_schema;
use crate::tool_names;

crate::text_enum::text_enum! {
    /// The shapes `list_tools` can answer in.
    pub enum ToolFormat {
        Mcp = "mcp",
        OpenAi = "openai",
        Anthropic = "anthropic",
        Gemini = "gemini",
    }
}

/// One tool of the team's list, with its server's name.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogTool {
    pub server_id: String,
    pub server_name: String,
    pub tool_name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub input_schema: Value,
    pub annotations: Option<Value>,
}

impl CatalogTool {
    /// From a `list_tools` row (`repo::tools::Tool::public_json`) and its server's name.
    pub fn from_row(row: &Value, server_name: &str) -> Option<CatalogTool> {
        let text = |field: &str| row.get(field).and_then(Value::as_str).map(str::to_string);
        Some(CatalogTool {
            server_id: text("server_id")?,
            server_name: server_name.to_string(),
            tool_name: text("tool_name")?,
            title: text("title"),
            description: text("description"),
            input_schema: row.get("input_schema").cloned().unwrap_or(Value::Null),
            annotations: row.get("annotations").filter(|a| a.is_object()).cloned(),
        })
    }
}

/// An input schema with `"type": "object"` at its root (what every provider requires).
fn object_schema(schema: &Value) -> Value {
    let mut out = match schema {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    out.insert("type".into(), Value::String("object".into()));
    Value::Object(out)
}

fn with_description(mut def: Map<String, Value>, description: Option<&str>) -> Value {
    if let Some(d) = description.filter(|d| !d.is_empty()) {
        def.insert("description".into(), Value::String(d.into()));
    }
    Value::Object(def)
}

/// The tool list in `format`: `{"format", "tools", "mapping"}`.
pub fn render(format: ToolFormat, tools: &[CatalogTool]) -> Value {
    let pairs: Vec<(&str, &str)> = tools
        .iter()
        .map(|t| (t.server_name.as_str(), t.tool_name.as_str()))
        .collect();
    let names = tool_names::assign(&pairs);
    let mut mapping = Map::new();
    let mut defs = Vec::with_capacity(tools.len());
    for (tool, name) in tools.iter().zip(&names) {
        mapping.insert(
            name.clone(),
            json!({
                "server_id": tool.server_id,
                "server_name": tool.server_name,
                "tool_name": tool.tool_name,
            }),
        );
        defs.push(definition(format, tool, name));
    }
    let tools = match format {
        ToolFormat::Gemini => json!([{ "functionDeclarations": defs }]),
        _ => Value::Array(defs),
    };
    json!({ "format": format, "tools": tools, "mapping": mapping })
}

/// One tool in `format` under `name`.
pub fn definition(format: ToolFormat, tool: &CatalogTool, name: &str) -> Value {
    let description = tool.description.as_deref();
    let mut def = Map::new();
    def.insert("name".into(), Value::String(name.into()));
    match format {
        ToolFormat::Mcp => mcp_tool(tool, name),
        ToolFormat::OpenAi => {
            def.insert("parameters".into(), object_schema(&tool.input_schema));
            json!({ "type": "function", "function": with_description(def, description) })
        }
        ToolFormat::Anthropic => {
            def.insert("input_schema".into(), object_schema(&tool.input_schema));
            with_description(def, description)
        }
        ToolFormat::Gemini => {
            let parameters = gemini_schema::translate(&object_schema(&tool.input_schema));
            if parameters.get("properties").is_some() {
                def.insert("parameters".into(), parameters);
            }
            with_description(def, description)
        }
    }
}

/// An MCP `Tool` under `name` (the namespaced one on `/mcp`, the tool's own on
/// `/mcp/servers/<name>`), annotations and title kept.
pub fn mcp_tool(tool: &CatalogTool, name: &str) -> Value {
    let mut def = Map::new();
    def.insert("name".into(), Value::String(name.into()));
    if let Some(title) = &tool.title {
        def.insert("title".into(), Value::String(title.clone()));
    }
    def.insert("inputSchema".into(), object_schema(&tool.input_schema));
    if let Some(annotations) = &tool.annotations {
        def.insert("annotations".into(), annotations.clone());
    }
    with_description(def, tool.description.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(server: &str, name: &str, schema: Value) -> CatalogTool {
        CatalogTool {
            server_id: format!("id-{server}"),
            server_name: server.into(),
            tool_name: name.into(),
            title: Some("Echo".into()),
            description: Some("Echoes".into()),
            input_schema: schema,
            annotations: Some(json!({"readOnlyHint": true})),
        }
    }

    fn schema() -> Value {
        json!({"type": "object", "$schema": "x", "additionalProperties": false,
               "properties": {"message": {"type": "string"}}, "required": ["message"]})
    }

    #[test]
    fn openai_answers_chat_completions_functions_with_the_schema_as_is() {
        let out = render(ToolFormat::OpenAi, &[tool("demo", "echo", schema())]);
        assert_eq!(out["format"], "openai");
        assert_eq!(
            out["tools"][0],
            json!({"type": "function", "function": {
                "name": "demo__echo", "description": "Echoes", "parameters": schema()}})
        );
        assert_eq!(
            out["mapping"]["demo__echo"],
            json!({"server_id": "id-demo", "server_name": "demo", "tool_name": "echo"})
        );
    }

    #[test]
    fn anthropic_answers_input_schema_with_an_object_root() {
        let out = render(ToolFormat::Anthropic, &[tool("demo", "echo", json!({}))]);
        assert_eq!(
            out["tools"][0],
            json!({"name": "demo__echo", "description": "Echoes", "input_schema": {"type": "object"}})
        );
    }

    #[test]
    fn gemini_answers_function_declarations_with_the_translated_schema() {
        let out = render(
            ToolFormat::Gemini,
            &[
                tool("demo", "echo", schema()),
                tool("demo", "now", json!({"type": "object"})),
            ],
        );
        let decls = &out["tools"][0]["functionDeclarations"];
        assert_eq!(
            decls[0]["parameters"],
            json!({"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]})
        );
        assert_eq!(
            decls[1],
            json!({"name": "demo__now", "description": "Echoes"})
        );
        assert_eq!(out["mapping"].as_object().unwrap().len(), 2);
    }

    #[test]
    fn mcp_tools_keep_title_and_annotations() {
        let out = render(ToolFormat::Mcp, &[tool("demo", "echo", schema())]);
        assert_eq!(out["tools"][0]["name"], "demo__echo");
        assert_eq!(out["tools"][0]["title"], "Echo");
        assert_eq!(out["tools"][0]["annotations"]["readOnlyHint"], true);
        assert_eq!(out["tools"][0]["inputSchema"], schema());
    }

    #[test]
    fn colliding_names_map_back_to_their_own_tools() {
        let out = render(
            ToolFormat::Anthropic,
            &[tool("a__b", "c", json!({})), tool("a", "b__c", json!({}))],
        );
        let mapping = out["mapping"].as_object().unwrap();
        assert_eq!(mapping.len(), 2);
        for (name, target) in mapping {
            assert!(tool_names::is_valid(name));
            let listed = out["tools"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["name"] == name.as_str());
            assert!(listed, "{name} listed");
            assert!(target["tool_name"] == "c" || target["tool_name"] == "b__c");
        }
    }

    #[test]
    fn rows_without_ids_are_skipped_and_rows_with_them_read() {
        let row = json!({"server_id": "s1", "tool_name": "echo", "title": null,
                         "description": "d", "input_schema": {"type": "object"}, "annotations": null});
        let t = CatalogTool::from_row(&row, "demo").unwrap();
        assert_eq!(t.server_name, "demo");
        assert_eq!(t.annotations, None);
        assert!(CatalogTool::from_row(&json!({"tool_name": "x"}), "demo").is_none());
    }
}
