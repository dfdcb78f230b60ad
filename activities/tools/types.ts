/**
 * Shapes shared by the workspace tools, the MCP client and the session manager. Everything here
 * is plain JSON so it can cross the activity boundary unchanged.
 */

export type { ToolSpec } from '../model';

/** What a tool call gives back to the model. Failures are results too, with `isError`. */
export interface ToolResult {
  content: string;
  isError: boolean;
}

/** `capabilities.shell` of an agent definition. */
export interface ShellConfig {
  enabled?: boolean;
  allowed_commands?: string[];
  blocked_patterns?: string[];
  timeout_seconds?: number;
}

/** A custom MCP server in a definition's object form: stdio (`command`) or Streamable HTTP (`url`). */
export interface CustomMcpServerConfig {
  name: string;
  command?: string;
  args?: string[];
  env?: Record<string, string>;
  url?: string;
}

/**
 * The part of an agent definition the tools need. Structurally compatible with
 * `AgentDefinition` of lib/definitions, so callers pass that directly.
 */
export interface ToolsAgent {
  id: string;
  config: {
    capabilities: {
      grants?: readonly string[];
      mcp_servers?: readonly (string | CustomMcpServerConfig)[];
      shell?: ShellConfig;
    };
  };
}

/**
 * Secrets the runner holds for tool servers. Read from settings by the worker; each MCP server
 * receives only the ones it needs, and they never leave the runner.
 */
export interface Credentials {
  /** `GITHUB_PAT`, given to the github server as `GITHUB_PERSONAL_ACCESS_TOKEN`. */
  githubPat?: string;
  /** `BRAVE_API_KEY` for the brave server. */
  braveApiKey?: string;
  /** `BOTBURROW_POSTGRES_URL` for the postgres server. */
  postgresUrl?: string;
  /**
   * Extra runner variables that custom servers may reference as `${NAME}` in their `env`
   * (the operator's allow-list, `BOTBURROW_MCP_ENV_ALLOWLIST`).
   */
  extra?: Record<string, string>;
}

/** A resolved MCP server, ready to start. Holds credentials: never returned to workflows. */
export type McpServerSpec =
  | {
      name: string;
      transport: 'stdio';
      command: string;
      args: string[];
      env: Record<string, string>;
      cwd: string;
      /** Offer only tools annotated read-only (the agent holds only a `:read` grant). */
      readOnly: boolean;
      /** The sandbox shares the runner's network (the server calls an API) or has none. */
      network: boolean;
      /** Directories the server needs to see read-only (its installation). */
      readOnlyPaths: string[];
    }
  | {
      name: string;
      transport: 'http';
      url: string;
      headers: Record<string, string>;
      readOnly: boolean;
    };
