// Generated from openapi/openapi.json by clients/ts/generate.mjs (openapi-typescript).
// Do not edit: run `node clients/ts/generate.mjs` after changing the document.

export interface paths {
    "/": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Run an action
         * @description Every action of the API, chosen by the body's `action`. Checks run in this order, so nothing leaks to unauthenticated callers: size, identity, body shape, team, membership and role, rate limit.
         */
        post: operations["runAction"];
        delete?: never;
        /** CORS preflight */
        options: operations["preflight"];
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/functions/v1/mcp-client": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Run an action (the seed PWA's path; the same as `POST /`)
         * @description Every action of the API, chosen by the body's `action`. Checks run in this order, so nothing leaks to unauthenticated callers: size, identity, body shape, team, membership and role, rate limit.
         */
        post: operations["runActionSeedPath"];
        delete?: never;
        /** CORS preflight */
        options: operations["preflightSeedPath"];
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/health": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness */
        get: operations["health"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/openapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This document */
        get: operations["openapi"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /** @description An id or user id (1-128 characters). */
        Id: string;
        /** @description A tool's name as its server lists it. */
        ToolName: string;
        /** @description The team to act in; needed only by members of several teams (or send `X-Team-Id`; both: they must agree). */
        TeamId: string;
        /** @enum {string} */
        Role: "member" | "admin" | "owner";
        /** @enum {string} */
        CredentialType: "api_key" | "bearer" | "basic_auth" | "oauth_token" | "custom_headers";
        /** @description Remote servers: `{url, transport?, headers?, auth?}` (`headers` refuses credential-like names; secrets go through `set_credential`). Free-form stdio (operators' `ALLOW_FREEFORM_STDIO_COMMANDS` only): `{command, args?, env_names?}`. */
        ServerConfig: {
            url?: string;
            transport?: string;
            headers?: {
                [key: string]: string;
            };
            auth?: components["schemas"]["AuthHint"];
            command?: string;
            args?: string[];
            env_names?: string[];
        };
        /** @description The seed design's `config.auth` block: how the server's credential is applied, never the credential (a field carrying a value is refused: 400). `set_credential` then takes only that type, and an `api_key` goes in `header` unless the credential names another; `call_tool` refuses a server whose block asks for a credential that was never set. */
        AuthHint: {
            /** @enum {string} */
            type: "none" | "api_key" | "apikey" | "api-key" | "bearer" | "basic_auth" | "basic" | "oauth_token" | "oauth" | "oauth2" | "custom_headers";
            /** @description The header an `api_key` goes in. */
            header?: string;
        };
        /** @description A connector's parameters `{name: value}` (strings; `null` in `update_server` removes an optional one). */
        ConnectorParameters: {
            [key: string]: string | null;
        };
        /**
         * list_servers
         * @description Role: member. The team's servers; admins also get the server quota.
         */
        ListServersRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "list_servers";
            team_id?: components["schemas"]["TeamId"];
        };
        /**
         * list_tools
         * @description Role: member. Enabled tools of one server, or of every active server when `server_id` is absent (one request instead of N+1). With `format` the same tools come in that model provider's tool-definition shape (or as MCP tools), under namespaced names `<server>__<tool>` (README: Tool names), with `mapping` from each name back to its server and tool.
         */
        ListToolsRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "list_tools";
            server_id?: components["schemas"]["Id"];
            team_id?: components["schemas"]["TeamId"];
            /**
             * @description openai: Chat Completions `{type:function,function:{name,description,parameters}}`; anthropic: `{name,description,input_schema}`; gemini: `[{functionDeclarations:[{name,description,parameters}]}]` with the schema translated to Gemini's OpenAPI subset; mcp: MCP `Tool`s.
             * @enum {string}
             */
            format?: "mcp" | "openai" | "anthropic" | "gemini";
        };
        /**
         * call_tool
         * @description Role: member. Calls a tool. A tool that reports an error (`isError`) is a completed call: 200 with `success: false`. A tool that requires confirmation answers 200 `ConfirmationRequired` first; repeat the call with its `confirmation_token`. With `"mode": "async"` it answers 202 `BackgroundStarted` and the call runs in the background; with `wait_seconds` it answers like `sync` if the call ends within that wait, else 202 `BackgroundStarted` while the same execution goes on.
         */
        CallToolRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "call_tool";
            server_id: components["schemas"]["Id"];
            tool_name: components["schemas"]["ToolName"];
            /** @description The tool's arguments, checked against its `input_schema` (400 `validation_error` with `details.errors[]`). */
            parameters?: Record<string, never>;
            /** @description The token of a `ConfirmationRequired` answer (single use, 5 minutes). */
            confirmation_token?: string;
            team_id?: components["schemas"]["TeamId"];
            /**
             * @description `sync` (the default): the answer is the tool's result. `async` (the default for tools an admin marks `long_running`): 202 `BackgroundStarted` at once; follow it with `watch_execution` or `get_execution`, stop it with `cancel_execution`. A team runs at most `MAX_RUNNING_EXECUTIONS` (default 10) at once: one more is 429 `rate_limit`.
             * @enum {string}
             */
            mode?: "sync" | "async";
            /** @description With `mode: async`: the server's requests during the call (`elicitation/create`, `sampling/createMessage`) are journalled as `request` events and wait (120 s at most) for a watcher's `answer_execution`, instead of being answered at once (a form's defaults, sampling refused). Default false. */
            ask_watchers?: boolean;
            /** @description A synchronous call that states a wait: the call starts as a background execution; if it ends within this many seconds the answer is the synchronous one (`CallToolAnswer`, or the error with `details.execution_id`; never from the result cache), else 202 `BackgroundStarted` and the execution goes on (one execution, one final state). Not with `"mode": "async"` (400); overrides a `long_running` tool's async default. */
            wait_seconds?: number;
        };
        /**
         * sync_tools
         * @description Role: admin. Reads the tool catalogue of one server, or of every active server when `server_id` is absent.
         */
        SyncToolsRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "sync_tools";
            server_id?: components["schemas"]["Id"];
            team_id?: components["schemas"]["TeamId"];
        };
        /**
         * list_connectors
         * @description Role: member. The deployment's stdio connector catalogue; admins also see each one's `parameters`, `env` and `package`.
         */
        ListConnectorsRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "list_connectors";
            team_id?: components["schemas"]["TeamId"];
        };
        /**
         * create_server
         * @description Role: admin. Registers a server: remote (`server_type` `http`/`sse` with `config`) or a stdio connector (`connector` and `parameters`). Answers 201. Beyond the team's server quota: 409 with `details: {limit, current}`.
         */
        CreateServerRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "create_server";
            name: string;
            description?: string;
            /** @enum {string} */
            server_type?: "http" | "sse" | "stdio";
            config?: components["schemas"]["ServerConfig"];
            /** @description A connector's name (`list_connectors`). */
            connector?: string;
            parameters?: components["schemas"]["ConnectorParameters"];
            /** @description Read the tool catalogue right away (the answer's `sync`). */
            sync?: boolean;
            team_id?: components["schemas"]["TeamId"];
        };
        /**
         * update_server
         * @description Role: admin. Changes a server; `parameters` are merged into the stored ones (`null` removes an optional one). A config of another origin removes the server's credential (`credential_removed`).
         */
        UpdateServerRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "update_server";
            server_id: components["schemas"]["Id"];
            name?: string;
            description?: string;
            config?: components["schemas"]["ServerConfig"];
            is_active?: boolean;
            connector?: string;
            parameters?: components["schemas"]["ConnectorParameters"];
            team_id?: components["schemas"]["TeamId"];
        };
        /**
         * delete_server
         * @description Role: admin. Deletes a server, its tools and its credential.
         */
        DeleteServerRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "delete_server";
            server_id: components["schemas"]["Id"];
            team_id?: components["schemas"]["TeamId"];
        };
        /**
         * update_tool
         * @description Role: admin. Changes a tool's settings (none: shows the tool, with its pending definition).
         */
        UpdateToolRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "update_tool";
            tool_id?: components["schemas"]["Id"];
            server_id?: components["schemas"]["Id"];
            tool_name?: components["schemas"]["ToolName"];
            is_enabled?: boolean;
            requires_confirmation?: boolean;
            timeout_seconds?: number;
            cacheable?: boolean;
            /** @description Run calls of this tool in the background unless the caller asks for `"mode": "sync"`. */
            long_running?: boolean;
            /** @description The tool's time budget in the background (default: `timeout_seconds`). */
            async_timeout_seconds?: number;
            team_id?: components["schemas"]["TeamId"];
        };
        /**
         * get_server
         * @description Role: admin. One server, active or not, with its config and credential status (never the secret).
         */
        GetServerRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "get_server";
            server_id?: components["schemas"]["Id"];
            name?: string;
            team_id?: components["schemas"]["TeamId"];
        };
        /**
         * set_credential
         * @description Role: admin. Seals and stores the credential sent upstream with every request to the server.
         */
        SetCredentialRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "set_credential";
            server_id: components["schemas"]["Id"];
            credential_type: components["schemas"]["CredentialType"];
            /** @description `api_key`: `value`, `header_name`?; `bearer`: `token`; `basic_auth`: `username`, `password`; `oauth_token`: `access_token`, `expires_at`? or `expires_in`?; `custom_headers`: `headers` {name: value} (1-16). Values are single-line printable ASCII. */
            credential: Record<string, never>;
            team_id?: components["schemas"]["TeamId"];
        };
        /**
         * delete_credential
         * @description Role: admin. Removes the server's credential.
         */
        DeleteCredentialRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "delete_credential";
            server_id: components["schemas"]["Id"];
            team_id?: components["schemas"]["TeamId"];
        };
        /**
         * reencrypt_credentials
         * @description Role: admin. Re-seals every credential of the team under the current key.
         */
        ReencryptCredentialsRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "reencrypt_credentials";
            team_id?: components["schemas"]["TeamId"];
        };
        /**
         * approve_tool
         * @description Role: admin. Approves a tool's pending definition (409 if none is pending or it is no longer `definition_hash`).
         */
        ApproveToolRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "approve_tool";
            tool_id?: components["schemas"]["Id"];
            server_id?: components["schemas"]["Id"];
            tool_name?: components["schemas"]["ToolName"];
            definition_hash?: string;
            team_id?: components["schemas"]["TeamId"];
        };
        /**
         * refresh_config
         * @description Role: admin. After editing the team's configuration in D1 directly, makes call_tool read it again at once.
         */
        RefreshConfigRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "refresh_config";
            team_id?: components["schemas"]["TeamId"];
        };
        /**
         * set_webhook
         * @description Role: admin. Sets the team's completion webhook: every background execution's final event is POSTed there, signed (`X-Mcp-Edge-Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, `X-Mcp-Edge-Delivery: <execution id>`), retried with backoff until it answers 2xx. The URL must be public `https` (400 otherwise). Answers a new secret, shown only here.
         */
        SetWebhookRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "set_webhook";
            url: string;
            team_id?: components["schemas"]["TeamId"];
        };
        /**
         * delete_webhook
         * @description Role: admin. Removes the team's completion webhook.
         */
        DeleteWebhookRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "delete_webhook";
            team_id?: components["schemas"]["TeamId"];
        };
        /**
         * analytics
         * @description Role: admin. A usage report over the last `days` UTC days.
         */
        AnalyticsRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "analytics";
            /** @enum {string} */
            report: "most_used" | "percentiles" | "daily_trends" | "errors" | "user_activity";
            /** @default 30 */
            days: number;
            /** @default 20 */
            limit: number;
            team_id?: components["schemas"]["TeamId"];
        };
        /**
         * list_executions
         * @description Role: member. Execution history, newest first; members see their own only (another `user_id`: 403).
         */
        ListExecutionsRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "list_executions";
            tool_name?: components["schemas"]["ToolName"];
            server_id?: components["schemas"]["Id"];
            user_id?: components["schemas"]["Id"];
            /** @enum {string} */
            status?: "pending" | "success" | "error" | "timeout" | "cancelled";
            /** @description ISO-8601 UTC time or a date. */
            since?: string;
            /** @description ISO-8601 UTC time or a date. */
            until?: string;
            /** @default 50 */
            limit: number;
            /** @description `next_cursor` of the previous page (opaque). */
            cursor?: string;
            team_id?: components["schemas"]["TeamId"];
        };
        /**
         * get_execution
         * @description Role: member. One execution with its (capped, redacted) input and output; members: their own only. A background execution still held by its object also shows `events` and `status: running`.
         */
        GetExecutionRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "get_execution";
            execution_id: components["schemas"]["Id"];
            team_id?: components["schemas"]["TeamId"];
        };
        /**
         * list_members
         * @description Role: admin. The team's members.
         */
        ListMembersRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "list_members";
            team_id?: components["schemas"]["TeamId"];
        };
        /**
         * add_member
         * @description Role: admin. Adds a user (the JWT `sub`) to the team. Answers 201; 409 if already a member. Only owners grant `owner`.
         */
        AddMemberRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "add_member";
            user_id: components["schemas"]["Id"];
            role?: components["schemas"]["Role"];
            team_id?: components["schemas"]["TeamId"];
        };
        /**
         * update_member
         * @description Role: admin. Changes a member's role (404 if not a member; the last owner stays: 409).
         */
        UpdateMemberRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "update_member";
            user_id: components["schemas"]["Id"];
            role: components["schemas"]["Role"];
            team_id?: components["schemas"]["TeamId"];
        };
        /**
         * remove_member
         * @description Role: admin. Removes a member (the last owner stays: 409).
         */
        RemoveMemberRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "remove_member";
            user_id: components["schemas"]["Id"];
            team_id?: components["schemas"]["TeamId"];
        };
        /**
         * create_team
         * @description Role: any. Makes a signed-in user who is in no team the owner of a new one. Answers 201; 409 if already in a team.
         */
        CreateTeamRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "create_team";
            name: string;
            team_id?: components["schemas"]["TeamId"];
        };
        /**
         * watch_execution
         * @description Role: member (own executions) / admin (the team's). The execution's events as `text/event-stream` (200), replayed after `Last-Event-ID` (header) or `last_event_id`, then live until the final event.
         */
        WatchExecutionRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "watch_execution";
            execution_id: components["schemas"]["Id"];
            /** @description Resume after this event id (the same as the `Last-Event-ID` header; both: they must agree). */
            last_event_id?: number;
            team_id?: components["schemas"]["TeamId"];
        };
        /**
         * cancel_execution
         * @description Role: member (own executions) / admin (the team's). Cancels a running background execution: `notifications/cancelled` goes upstream, the execution ends `cancelled` at once and no result is stored later. An execution that already ended: 409.
         */
        CancelExecutionRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "cancel_execution";
            execution_id: components["schemas"]["Id"];
            team_id?: components["schemas"]["TeamId"];
        };
        /**
         * answer_execution
         * @description Role: member (own executions) / admin (the team's). Answers the server→client request (`elicitation/create`, `sampling/createMessage`) a running background execution waits on: `request_id` is the one its `request` event carries, `response` the JSON-RPC `result` or `error` object. Only an execution started with `ask_watchers` waits, for at most 120 s per request (then it is answered as without: a form's defaults, sampling refused). No such request waiting: 404. `/mcp` sends this for the MCP client's response to a relayed request.
         */
        AnswerExecutionRequest: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            action: "answer_execution";
            execution_id: components["schemas"]["Id"];
            request_id: components["schemas"]["Id"];
            /** @description `{"result": {…}}` or `{"error": {"code": <integer>, "message": "…"}}`. */
            response: {
                result: Record<string, never>;
            } | {
                error: {
                    code: number;
                    message: string;
                };
            };
            team_id?: components["schemas"]["TeamId"];
        };
        /** @description The request body: one object whose `action` names what to do. Unknown fields are ignored; the fields `server_id`, `team_id`, `tool_name` and `parameters` are type-checked wherever they appear. At most 256 KiB and 32 levels of nesting (413, 400). */
        ActionRequest: components["schemas"]["ListServersRequest"] | components["schemas"]["ListToolsRequest"] | components["schemas"]["CallToolRequest"] | components["schemas"]["SyncToolsRequest"] | components["schemas"]["ListConnectorsRequest"] | components["schemas"]["CreateServerRequest"] | components["schemas"]["UpdateServerRequest"] | components["schemas"]["DeleteServerRequest"] | components["schemas"]["UpdateToolRequest"] | components["schemas"]["GetServerRequest"] | components["schemas"]["SetCredentialRequest"] | components["schemas"]["DeleteCredentialRequest"] | components["schemas"]["ReencryptCredentialsRequest"] | components["schemas"]["ApproveToolRequest"] | components["schemas"]["RefreshConfigRequest"] | components["schemas"]["AnalyticsRequest"] | components["schemas"]["ListExecutionsRequest"] | components["schemas"]["GetExecutionRequest"] | components["schemas"]["ListMembersRequest"] | components["schemas"]["AddMemberRequest"] | components["schemas"]["UpdateMemberRequest"] | components["schemas"]["RemoveMemberRequest"] | components["schemas"]["CreateTeamRequest"] | components["schemas"]["WatchExecutionRequest"] | components["schemas"]["CancelExecutionRequest"] | components["schemas"]["AnswerExecutionRequest"] | components["schemas"]["SetWebhookRequest"] | components["schemas"]["DeleteWebhookRequest"];
        ServerSummary: {
            id: string;
            name: string;
            description?: string | null;
            /** @enum {string} */
            server_type: "http" | "sse" | "stdio";
            is_active: boolean;
            last_connected_at?: string | null;
            /** @enum {string} */
            connection_status: "pending" | "connected" | "error" | "disconnected";
            last_error?: string | null;
        };
        Tool: {
            id: string;
            server_id: string;
            tool_name: string;
            title?: string | null;
            description?: string | null;
            input_schema: Record<string, never>;
            annotations?: Record<string, never> | null;
            is_enabled?: boolean;
            requires_confirmation?: boolean;
            timeout_seconds?: number;
            execution_count?: number;
            success_count?: number;
            error_count?: number;
            avg_duration_ms?: number;
            last_executed_at?: string | null;
            synced_at?: string | null;
            /** @enum {string} */
            approval_state?: "approved" | "pending_approval";
            definition_hash?: string | null;
            pending_definition_hash?: string | null;
            /** @description Admins only (`update_tool`, `approve_tool`): the definition waiting for approval, or null. */
            pending_definition?: unknown;
        };
        /** @description Whether a credential is set and its attributes; never the secret. */
        CredentialStatus: {
            is_set: boolean;
            credential_type?: components["schemas"]["CredentialType"];
            header_name?: string | null;
            expires_at?: string | null;
            last_used_at?: string | null;
            key_id?: string;
            updated_at?: string;
        };
        /** @description A server as admins see it. */
        AdminServer: components["schemas"]["ServerSummary"] & {
            config: Record<string, never>;
            consecutive_failures?: number;
            created_at?: string;
            updated_at?: string;
            credential: components["schemas"]["CredentialStatus"];
        };
        Member: {
            user_id: string;
            role: components["schemas"]["Role"];
            added_by?: string | null;
            created_at?: string;
            updated_at?: string;
        };
        Execution: {
            id: string;
            user_id?: string;
            server_id?: string | null;
            server_name?: string | null;
            tool_id?: string | null;
            tool_name: string;
            request_id?: string | null;
            /**
             * @description `running`: a background execution still running (its object's view; D1 says `pending`).
             * @enum {string}
             */
            status: "pending" | "running" | "success" | "error" | "timeout" | "cancelled";
            started_at: string;
            completed_at?: string | null;
            duration_ms?: number | null;
            error?: string | null;
            /** @description get_execution only: the stored (capped, redacted) arguments. */
            input?: unknown;
            /** @description get_execution only: the stored (capped, redacted) result. */
            output?: unknown;
            /** @description Background executions: the same as `id`. */
            execution_id?: string;
            /** @description Background executions: the id of the last event so far. */
            last_event_id?: number;
            /** @description Background executions (while their object holds them): every event so far, oldest first. */
            events?: components["schemas"]["ExecutionEvent"][];
        };
        /** @description One server's sync: counts on success, `code` and `error` otherwise. */
        SyncOutcome: {
            server_id?: string;
            success: boolean;
            tools_synced?: number;
            tools_removed?: number;
            tools_pending_approval?: number;
            code?: components["schemas"]["ErrorCode"];
            error?: string;
        };
        ListServersAnswer: {
            servers: components["schemas"]["ServerSummary"][];
            cached: boolean;
            /** @description Admins only. */
            quota?: {
                servers: {
                    used: number;
                    limit: number;
                };
            };
        };
        ListToolsAnswer: components["schemas"]["ToolList"] | components["schemas"]["FormattedToolList"];
        /** @description `success: false` (the tool reported an error) always carries `error`. */
        CallToolAnswer: {
            /** @description false when the tool reported an error (`isError`); `result` then says what went wrong. */
            success: boolean;
            /** @description The tool's MCP result (`content`, `structuredContent`, `isError`), credentials redacted. */
            result: unknown;
            duration_ms?: number;
            execution_id: string;
            cached: boolean;
            /** @description With `success: false`: the tool's error text. */
            error?: string;
        };
        /** @description call_tool of a tool that requires confirmation: nothing ran or was recorded. */
        ConfirmationRequired: {
            /** @constant */
            success: false;
            /** @constant */
            confirmation_required: true;
            confirmation_token: string;
            expires_at: string;
            server_id?: string;
            tool_name?: string;
            parameters?: Record<string, never>;
            message?: string;
            /** @description Repeats `message` (every `success: false` says why in `error`). */
            error: string;
        };
        SyncToolsAnswer: {
            success: boolean;
            server_id?: string;
            tools_synced: number;
            tools_removed: number;
            tools_pending_approval?: number;
            /** @description Without `server_id`: each server's outcome. */
            servers?: components["schemas"]["SyncOutcome"][];
            /** @description Present when `success` is false: why, in a sentence a model can read. */
            error?: string;
        };
        ListConnectorsAnswer: {
            connectors: {
                name: string;
                title: string;
                description?: string;
                transport: string;
                /** @enum {string} */
                availability: "runs_here" | "shape_only";
                /** @description Admins only. */
                parameters?: Record<string, never>;
                /** @description Admins only. */
                env?: unknown[];
                /** @description Admins only. */
                package?: Record<string, never>;
            }[];
        };
        /** @description create_server (201), update_server, get_server. */
        ServerAnswer: {
            success?: boolean;
            server: components["schemas"]["AdminServer"];
            /** @description create_server with `sync`: the outcome (its failure does not undo the creation); else null. */
            sync?: components["schemas"]["SyncOutcome"] | null;
            /** @description update_server: the new config points elsewhere, so the credential was removed. */
            credential_removed?: boolean;
        };
        DeleteServerAnswer: {
            success: boolean;
            server_id: string;
        };
        ToolAnswer: {
            success: boolean;
            tool: components["schemas"]["Tool"];
        };
        CredentialAnswer: {
            success: boolean;
            server_id: string;
            credential: components["schemas"]["CredentialStatus"];
        };
        DeleteCredentialAnswer: {
            success: boolean;
            server_id: string;
            deleted: boolean;
        };
        ReencryptAnswer: {
            success: boolean;
            key_id: string;
            reencrypted: number;
            already_current: number;
            failed: {
                server_id: string;
                error: string;
            }[];
            /** @description Present when `success` is false: why, in a sentence a model can read. */
            error?: string;
        };
        RefreshConfigAnswer: {
            success: boolean;
            message: string;
        };
        /** @description The report's rows are described in the README's Analytics section. */
        AnalyticsAnswer: {
            /** @enum {string} */
            report: "most_used" | "percentiles" | "daily_trends" | "errors" | "user_activity";
            days: number;
            since: string;
            until: string;
            /** @description most_used, percentiles. */
            tools?: Record<string, never>[];
            /** @description daily_trends (with `totals`). */
            trends?: Record<string, never>[];
            totals?: Record<string, never>;
            total_failures?: number;
            /** @description errors. */
            errors?: Record<string, never>[];
            /** @description user_activity. */
            users?: Record<string, never>[];
        };
        ListExecutionsAnswer: {
            executions: components["schemas"]["Execution"][];
            next_cursor: string | null;
            limit: number;
        };
        GetExecutionAnswer: {
            execution: components["schemas"]["Execution"];
        };
        ListMembersAnswer: {
            team_id: string;
            members: components["schemas"]["Member"][];
        };
        MemberAnswer: {
            success: boolean;
            member: components["schemas"]["Member"];
        };
        RemoveMemberAnswer: {
            success: boolean;
            user_id: string;
            /** @constant */
            removed: true;
        };
        CreateTeamAnswer: {
            success: boolean;
            team: {
                id: string;
                name: string;
                tier: string;
            };
            /** @constant */
            role: "owner";
        };
        /** @description A 200 answer: the shape of the request's action (its request schema's `x-answer`). */
        ActionAnswer: components["schemas"]["ListServersAnswer"] | components["schemas"]["ListToolsAnswer"] | components["schemas"]["CallToolAnswer"] | components["schemas"]["ConfirmationRequired"] | components["schemas"]["SyncToolsAnswer"] | components["schemas"]["ListConnectorsAnswer"] | components["schemas"]["ServerAnswer"] | components["schemas"]["DeleteServerAnswer"] | components["schemas"]["ToolAnswer"] | components["schemas"]["CredentialAnswer"] | components["schemas"]["DeleteCredentialAnswer"] | components["schemas"]["ReencryptAnswer"] | components["schemas"]["RefreshConfigAnswer"] | components["schemas"]["AnalyticsAnswer"] | components["schemas"]["ListExecutionsAnswer"] | components["schemas"]["GetExecutionAnswer"] | components["schemas"]["ListMembersAnswer"] | components["schemas"]["MemberAnswer"] | components["schemas"]["RemoveMemberAnswer"] | components["schemas"]["CancelExecutionAnswer"] | components["schemas"]["AnswerExecutionAnswer"] | components["schemas"]["WebhookAnswer"] | components["schemas"]["DeleteWebhookAnswer"];
        /** @description A 201 answer: create_server, add_member, create_team. */
        CreatedAnswer: components["schemas"]["ServerAnswer"] | components["schemas"]["MemberAnswer"] | components["schemas"]["CreateTeamAnswer"];
        /**
         * @description `validation_error` 400; `auth_error` 401; `authorization_error` 403; `not_found` 404; `conflict` 409; `payload_too_large` 413; `rate_limit` 429; `internal_error` 500; `tool_error` 502; `upstream_error` 502; `timeout` 504.
         * @enum {string}
         */
        ErrorCode: "validation_error" | "auth_error" | "authorization_error" | "not_found" | "conflict" | "payload_too_large" | "rate_limit" | "internal_error" | "tool_error" | "upstream_error" | "timeout";
        /** @description Every error answer, whatever its status. */
        Error: {
            /** @constant */
            status: "error";
            code: components["schemas"]["ErrorCode"];
            message: string;
            /** @description Machine-readable specifics (`field`, `allowed`, `errors`, `teams`, `limit`/`current`, `retry_after_seconds`, `execution_id`). */
            details: Record<string, never>;
            request_id: string;
            /** @description Repeats `message` (older clients). */
            error: string;
        };
        /** @description Without `format`. */
        ToolList: {
            tools: components["schemas"]["Tool"][];
            cached: boolean;
        };
        /** @description With `format`: `tools` is what the provider's request takes as its `tools` parameter. */
        FormattedToolList: {
            /** @enum {string} */
            format: "mcp" | "openai" | "anthropic" | "gemini";
            tools: Record<string, never>[];
            /** @description Namespaced name → the tool it names. */
            mapping: {
                [key: string]: {
                    server_id: string;
                    server_name: string;
                    tool_name: string;
                };
            };
            cached: boolean;
        };
        /** @description One event of a background execution. Ids start at 1 and increase by 1. `progress`: `{progress, total?, message?}`; `log`: `{level, logger?, data}` (for a tool its server runs as an MCP task: logger `tasks`, `data` `{task_id, status, message?}` at each change of the task); final events (exactly one, the last): `result` `{status: success|error, success, result, duration_ms}`, `error` `{status: error|timeout, code, message, duration_ms}`, `cancelled` `{status: cancelled, message, duration_ms}`. */
        ExecutionEvent: {
            id: number;
            /** @enum {string} */
            kind: "progress" | "log" | "result" | "error" | "cancelled";
            data: Record<string, never>;
            at_ms: number;
        };
        /** @description 202: the call runs in the background. */
        BackgroundStarted: {
            /** @constant */
            success: true;
            execution_id: string;
            /** @constant */
            status: "running";
            /** @constant */
            mode?: "async";
            timeout_seconds?: number;
            /** @description How to follow it: the `watch_execution`, `get_execution` and `cancel_execution` bodies. */
            watch: Record<string, never>;
        };
        CancelExecutionAnswer: {
            /** @constant */
            success: true;
            execution: {
                execution_id: string;
                /** @constant */
                status: "cancelled";
                duration_ms?: number | null;
            };
        };
        AnswerExecutionAnswer: {
            /** @constant */
            success: true;
            execution_id: string;
        };
        /** @description `text/event-stream`: the execution's events after the resume point (`Last-Event-ID` header or `last_event_id`), then live ones, each as `id: <id>`, `event: <kind>`, `data: <ExecutionEvent.data as JSON>`; the stream ends after the final event (`result`, `error` or `cancelled`). Reconnect with `Last-Event-ID` to resume without loss. */
        ExecutionEventStream: string;
        WebhookAnswer: {
            /** @constant */
            success: true;
            webhook: {
                url: string;
                created_at?: string;
            };
            /** @description `whsec_…`: shown only in this answer. */
            secret: string;
            message?: string;
        };
        DeleteWebhookAnswer: {
            /** @constant */
            success: true;
            removed: boolean;
        };
    };
    responses: {
        /** @description The action's answer (see each request schema's `x-answer`). `watch_execution`: `text/event-stream`. */
        Ok: {
            headers: {
                "X-Request-Id": components["headers"]["X-Request-Id"];
                "Server-Timing": components["headers"]["Server-Timing"];
                "RateLimit-Limit": components["headers"]["RateLimit-Limit"];
                "RateLimit-Remaining": components["headers"]["RateLimit-Remaining"];
                "RateLimit-Reset": components["headers"]["RateLimit-Reset"];
                "RateLimit-Policy": components["headers"]["RateLimit-Policy"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ActionAnswer"];
                "text/event-stream": components["schemas"]["ExecutionEventStream"];
            };
        };
        /** @description Created: create_server, add_member, create_team. */
        Created: {
            headers: {
                "X-Request-Id": components["headers"]["X-Request-Id"];
                "Server-Timing": components["headers"]["Server-Timing"];
                "RateLimit-Limit": components["headers"]["RateLimit-Limit"];
                "RateLimit-Remaining": components["headers"]["RateLimit-Remaining"];
                "RateLimit-Reset": components["headers"]["RateLimit-Reset"];
                "RateLimit-Policy": components["headers"]["RateLimit-Policy"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["CreatedAnswer"];
            };
        };
        /** @description `validation_error`: The body, a field, the team choice or the tool's arguments are invalid; `details.field` names the field, `details.errors[]` the argument failures (JSON Pointer `path`), `details.teams` the user's teams when several and none named. */
        BadRequest: {
            headers: {
                "X-Request-Id": components["headers"]["X-Request-Id"];
                "Server-Timing": components["headers"]["Server-Timing"];
                "RateLimit-Limit": components["headers"]["RateLimit-Limit"];
                "RateLimit-Remaining": components["headers"]["RateLimit-Remaining"];
                "RateLimit-Reset": components["headers"]["RateLimit-Reset"];
                "RateLimit-Policy": components["headers"]["RateLimit-Policy"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"] & {
                    /** @enum {unknown} */
                    code?: "validation_error";
                };
            };
        };
        /** @description `auth_error`: No, malformed, expired or wrongly signed JWT. */
        Unauthorized: {
            headers: {
                "X-Request-Id": components["headers"]["X-Request-Id"];
                "Server-Timing": components["headers"]["Server-Timing"];
                "RateLimit-Limit": components["headers"]["RateLimit-Limit"];
                "RateLimit-Remaining": components["headers"]["RateLimit-Remaining"];
                "RateLimit-Reset": components["headers"]["RateLimit-Reset"];
                "RateLimit-Policy": components["headers"]["RateLimit-Policy"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"] & {
                    /** @enum {unknown} */
                    code?: "auth_error";
                };
            };
        };
        /** @description `authorization_error`: Not a member of the team (or no such team), a member asking for admin work, a confirmation token for another call. */
        Forbidden: {
            headers: {
                "X-Request-Id": components["headers"]["X-Request-Id"];
                "Server-Timing": components["headers"]["Server-Timing"];
                "RateLimit-Limit": components["headers"]["RateLimit-Limit"];
                "RateLimit-Remaining": components["headers"]["RateLimit-Remaining"];
                "RateLimit-Reset": components["headers"]["RateLimit-Reset"];
                "RateLimit-Policy": components["headers"]["RateLimit-Policy"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"] & {
                    /** @enum {unknown} */
                    code?: "authorization_error";
                };
            };
        };
        /** @description `not_found`: No such server, tool, execution or member in the caller's team (another team's ids too). */
        NotFound: {
            headers: {
                "X-Request-Id": components["headers"]["X-Request-Id"];
                "Server-Timing": components["headers"]["Server-Timing"];
                "RateLimit-Limit": components["headers"]["RateLimit-Limit"];
                "RateLimit-Remaining": components["headers"]["RateLimit-Remaining"];
                "RateLimit-Reset": components["headers"]["RateLimit-Reset"];
                "RateLimit-Policy": components["headers"]["RateLimit-Policy"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"] & {
                    /** @enum {unknown} */
                    code?: "not_found";
                };
            };
        };
        /** @description `conflict`: A conflicting state: already a member, the last owner, a used confirmation token, nothing pending to approve, a credential that does not open; a quota used up (`details: {limit, current}`). */
        Conflict: {
            headers: {
                "X-Request-Id": components["headers"]["X-Request-Id"];
                "Server-Timing": components["headers"]["Server-Timing"];
                "RateLimit-Limit": components["headers"]["RateLimit-Limit"];
                "RateLimit-Remaining": components["headers"]["RateLimit-Remaining"];
                "RateLimit-Reset": components["headers"]["RateLimit-Reset"];
                "RateLimit-Policy": components["headers"]["RateLimit-Policy"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"] & {
                    /** @enum {unknown} */
                    code?: "conflict";
                };
            };
        };
        /** @description `payload_too_large`: The body is larger than 256 KiB. */
        PayloadTooLarge: {
            headers: {
                "X-Request-Id": components["headers"]["X-Request-Id"];
                "Server-Timing": components["headers"]["Server-Timing"];
                "RateLimit-Limit": components["headers"]["RateLimit-Limit"];
                "RateLimit-Remaining": components["headers"]["RateLimit-Remaining"];
                "RateLimit-Reset": components["headers"]["RateLimit-Reset"];
                "RateLimit-Policy": components["headers"]["RateLimit-Policy"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"] & {
                    /** @enum {unknown} */
                    code?: "payload_too_large";
                };
            };
        };
        /** @description `rate_limit`: The team's (or the caller's daily call) budget is used up; `Retry-After` and `details.retry_after_seconds` say when to try again. Also: the team already runs its cap of background executions (`MAX_RUNNING_EXECUTIONS`). */
        RateLimited: {
            headers: {
                "X-Request-Id": components["headers"]["X-Request-Id"];
                "Server-Timing": components["headers"]["Server-Timing"];
                "RateLimit-Limit": components["headers"]["RateLimit-Limit"];
                "RateLimit-Remaining": components["headers"]["RateLimit-Remaining"];
                "RateLimit-Reset": components["headers"]["RateLimit-Reset"];
                "RateLimit-Policy": components["headers"]["RateLimit-Policy"];
                "Retry-After": components["headers"]["Retry-After"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"] & {
                    /** @enum {unknown} */
                    code?: "rate_limit";
                };
            };
        };
        /** @description `internal_error`: A fault of ours; the request id finds it in the logs (the message says nothing more). */
        InternalError: {
            headers: {
                "X-Request-Id": components["headers"]["X-Request-Id"];
                "Server-Timing": components["headers"]["Server-Timing"];
                "RateLimit-Limit": components["headers"]["RateLimit-Limit"];
                "RateLimit-Remaining": components["headers"]["RateLimit-Remaining"];
                "RateLimit-Reset": components["headers"]["RateLimit-Reset"];
                "RateLimit-Policy": components["headers"]["RateLimit-Policy"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"] & {
                    /** @enum {unknown} */
                    code?: "internal_error";
                };
            };
        };
        /** @description `tool_error`, `upstream_error`: The upstream MCP server failed (unreachable, bad answer, open circuit: `details.circuit_open`); failed calls carry `details.execution_id`. */
        BadGateway: {
            headers: {
                "X-Request-Id": components["headers"]["X-Request-Id"];
                "Server-Timing": components["headers"]["Server-Timing"];
                "RateLimit-Limit": components["headers"]["RateLimit-Limit"];
                "RateLimit-Remaining": components["headers"]["RateLimit-Remaining"];
                "RateLimit-Reset": components["headers"]["RateLimit-Reset"];
                "RateLimit-Policy": components["headers"]["RateLimit-Policy"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"] & {
                    /** @enum {unknown} */
                    code?: "tool_error" | "upstream_error";
                };
            };
        };
        /** @description `timeout`: The upstream server did not answer within the tool's timeout; carries `details.execution_id`. */
        GatewayTimeout: {
            headers: {
                "X-Request-Id": components["headers"]["X-Request-Id"];
                "Server-Timing": components["headers"]["Server-Timing"];
                "RateLimit-Limit": components["headers"]["RateLimit-Limit"];
                "RateLimit-Remaining": components["headers"]["RateLimit-Remaining"];
                "RateLimit-Reset": components["headers"]["RateLimit-Reset"];
                "RateLimit-Policy": components["headers"]["RateLimit-Policy"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"] & {
                    /** @enum {unknown} */
                    code?: "timeout";
                };
            };
        };
        /** @description Accepted: `call_tool` with `"mode": "async"` (or a `long_running` tool); the call runs in the background. */
        Accepted: {
            headers: {
                "X-Request-Id": components["headers"]["X-Request-Id"];
                "Server-Timing": components["headers"]["Server-Timing"];
                "RateLimit-Limit": components["headers"]["RateLimit-Limit"];
                "RateLimit-Remaining": components["headers"]["RateLimit-Remaining"];
                "RateLimit-Reset": components["headers"]["RateLimit-Reset"];
                "RateLimit-Policy": components["headers"]["RateLimit-Policy"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["BackgroundStarted"];
            };
        };
    };
    parameters: {
        /** @description The team to act in (members of several teams); if the body has `team_id` too, they must agree. */
        TeamHeader: components["schemas"]["TeamId"];
        /** @description A W3C Trace Context `traceparent` (`00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`). A valid one is continued: its trace id is in the request's log lines and reaches the upstream MCP server in the `traceparent` the action worker sends; an invalid or absent one starts a new trace (never an error). README "Troubleshooting". */
        TraceparentHeader: string;
        /** @description `watch_execution`: resume after this event id (what a browser's EventSource sends on reconnect). */
        LastEventId: string;
    };
    requestBodies: {
        /** @description One action (see `ActionRequest`). */
        Action: {
            content: {
                "application/json": components["schemas"]["ActionRequest"];
            };
        };
    };
    headers: {
        /** @description This request's id; every log line about it carries it. */
        "X-Request-Id": string;
        /** @description Where the time went, in ms: gateway stages `auth`, `team`, `gate`, `forward` or `memo`, `total`; the action worker's prefixed `a-`. */
        "Server-Timing": string;
        /** @description The team's budget per window (admitted answers and 429s). */
        "RateLimit-Limit": number;
        /** @description What is left of the budget. */
        "RateLimit-Remaining": number;
        /** @description Seconds until budget is freed. */
        "RateLimit-Reset": number;
        /** @description The policy, e.g. `100;w=3600`. */
        "RateLimit-Policy": string;
        /** @description 429: seconds to wait. */
        "Retry-After": number;
    };
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    runAction: {
        parameters: {
            query?: never;
            header?: {
                /** @description The team to act in (members of several teams); if the body has `team_id` too, they must agree. */
                "X-Team-Id"?: components["parameters"]["TeamHeader"];
                /** @description A W3C Trace Context `traceparent` (`00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`). A valid one is continued: its trace id is in the request's log lines and reaches the upstream MCP server in the `traceparent` the action worker sends; an invalid or absent one starts a new trace (never an error). README "Troubleshooting". */
                traceparent?: components["parameters"]["TraceparentHeader"];
                /** @description `watch_execution`: resume after this event id (what a browser's EventSource sends on reconnect). */
                "Last-Event-ID"?: components["parameters"]["LastEventId"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody: components["requestBodies"]["Action"];
        responses: {
            200: components["responses"]["Ok"];
            201: components["responses"]["Created"];
            202: components["responses"]["Accepted"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            413: components["responses"]["PayloadTooLarge"];
            429: components["responses"]["RateLimited"];
            500: components["responses"]["InternalError"];
            502: components["responses"]["BadGateway"];
            504: components["responses"]["GatewayTimeout"];
        };
    };
    preflight: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Preflight answer; `Access-Control-Allow-*` for allowed origins. */
            204: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    "Server-Timing": components["headers"]["Server-Timing"];
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    runActionSeedPath: {
        parameters: {
            query?: never;
            header?: {
                /** @description The team to act in (members of several teams); if the body has `team_id` too, they must agree. */
                "X-Team-Id"?: components["parameters"]["TeamHeader"];
                /** @description A W3C Trace Context `traceparent` (`00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`). A valid one is continued: its trace id is in the request's log lines and reaches the upstream MCP server in the `traceparent` the action worker sends; an invalid or absent one starts a new trace (never an error). README "Troubleshooting". */
                traceparent?: components["parameters"]["TraceparentHeader"];
                /** @description `watch_execution`: resume after this event id (what a browser's EventSource sends on reconnect). */
                "Last-Event-ID"?: components["parameters"]["LastEventId"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody: components["requestBodies"]["Action"];
        responses: {
            200: components["responses"]["Ok"];
            201: components["responses"]["Created"];
            202: components["responses"]["Accepted"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            413: components["responses"]["PayloadTooLarge"];
            429: components["responses"]["RateLimited"];
            500: components["responses"]["InternalError"];
            502: components["responses"]["BadGateway"];
            504: components["responses"]["GatewayTimeout"];
        };
    };
    preflightSeedPath: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Preflight answer; `Access-Control-Allow-*` for allowed origins. */
            204: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    "Server-Timing": components["headers"]["Server-Timing"];
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    health: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The gateway runs. */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    "Server-Timing": components["headers"]["Server-Timing"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @constant */
                        status: "ok";
                    };
                };
            };
        };
    };
    openapi: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The OpenAPI 3.1 description of the API. */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    "Server-Timing": components["headers"]["Server-Timing"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        openapi: string;
                    };
                };
            };
        };
    };
}
