//! MCP client (being written).
