-- idx_executions_tool_started (0001) serves no query: statistics live on mcp_tools and every
-- execution query goes by team first (0003). Each call_tool insert paid for it; drop it.
DROP INDEX IF EXISTS idx_executions_tool_started;
