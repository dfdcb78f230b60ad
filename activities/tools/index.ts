/** MCP tools, workspace tools and runner-bound tool sessions. */
export { McpSession, toolName } from './mcp';
export type { McpSessionOptions } from './mcp';
export {
  BUILT_IN_SERVERS,
  defaultHubServerCommand,
  resolveCommand,
  resolveMcpServers,
  secretValues,
} from './servers';
export type { Refusal, ResolveOptions } from './servers';
export { SessionManager, createSessionManager, sessionLost } from './sessions';
export type { CallOptions, OpenSessionResult, SessionManagerOptions } from './sessions';
export { DEFAULT_MAX_OUTPUT_BYTES, capOutput, scrub } from './text';
export type {
  Credentials,
  CustomMcpServerConfig,
  McpServerSpec,
  ShellConfig,
  ToolResult,
  ToolSpec,
  ToolsAgent,
} from './types';
export { createWorkspaceTools } from './workspace';
export type { WorkspaceTools, WorkspaceToolsOptions } from './workspace';
