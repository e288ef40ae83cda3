// A tasks-capable MCP server (the 2025-11-25 tasks utility) on the official TypeScript SDK's
// experimental tasks API, for tests/tests/background.rs. Streamable HTTP at /mcp (stateless:
// one server per request, one task store for all), advertising `tasks.requests.tools.call` and
// `tasks.cancel`. Tool `research` (taskSupport required): a task that completes after `seconds`
// with "research <topic> done"; `plain` (no task support): answers at once.
//
// `--journal FILE` gets one line per JSON-RPC request it received: `<method>` and, for the
// tasks/* methods, ` <taskId>`; plus `task <id> created` / `task <id> completed`.
// Usage: node tests/servers/task_server.mjs --port N [--journal FILE] [--poll-ms N]
import { appendFileSync } from 'node:fs';
import * as z from 'zod/v4';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { InMemoryTaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/stores/in-memory.js';

const arg = (name, fallback) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : fallback;
};
const port = parseInt(arg('--port', '3000'), 10);
const journalPath = arg('--journal', null);
const pollMs = parseInt(arg('--poll-ms', '300'), 10);
const journal = line => {
    if (journalPath) appendFileSync(journalPath, `${line}\n`);
};

const taskStore = new InMemoryTaskStore();

const build = () => {
    const server = new McpServer(
        { name: 'task-server', version: '1.0.0' },
        { capabilities: { tasks: { requests: { tools: { call: {} } }, cancel: {} } }, taskStore }
    );
    server.experimental.tasks.registerToolTask(
        'research',
        {
            description: 'Researches a topic as a task that completes after `seconds`.',
            inputSchema: { topic: z.string(), seconds: z.number() },
            execution: { taskSupport: 'required' }
        },
        {
            async createTask({ topic, seconds }, { taskStore: store, taskRequestedTtl }) {
                const task = await store.createTask({ ttl: taskRequestedTtl, pollInterval: pollMs });
                journal(`task ${task.taskId} created`);
                // The request that created it is answered by then: the shared store, not the
                // request-scoped one (which would notify over a closed connection).
                setTimeout(async () => {
                    const now = await taskStore.getTask(task.taskId);
                    if (now && now.status === 'working') {
                        await taskStore.storeTaskResult(task.taskId, 'completed', {
                            content: [{ type: 'text', text: `research ${topic} done` }]
                        });
                        journal(`task ${task.taskId} completed`);
                    }
                }, seconds * 1000);
                return { task };
            },
            async getTask(_args, { taskId, taskStore: store }) {
                return await store.getTask(taskId);
            },
            async getTaskResult(_args, { taskId, taskStore: store }) {
                return await store.getTaskResult(taskId);
            }
        }
    );
    server.registerTool('plain', { description: 'Answers at once.', inputSchema: {} }, async () => ({
        content: [{ type: 'text', text: 'plain done' }]
    }));
    return server;
};

const app = createMcpExpressApp();
app.post('/mcp', async (req, res) => {
    const body = req.body;
    if (body && typeof body.method === 'string') {
        const id = body.params && body.params.taskId;
        journal(id ? `${body.method} ${id}` : body.method);
    }
    const server = build();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
        transport.close();
        server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
});
app.listen(port, '127.0.0.1', () => console.log(`task server on ${port}`));
