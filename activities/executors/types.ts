/**
 * The executor seam. The built-in tool loop is driven step by step by the workflow; a CLI executor
 * runs a whole conversation in one activity (cli-activity.ts) through a `CliExecutor`. Adding one
 * means a file that implements it and a line in index.ts.
 */
import type { AgentDefinition } from '../../lib/definitions';
import type { Logger } from '../../lib/logger';
import type { ModelProvider } from '../../lib/pricing';
import type { Sandbox } from '../sandbox';
import type { Bridge } from './bridge';

/** Ports of the run's bridge inside the sandbox (see bridge.ts). */
export const BRIDGE_PORTS = { model: 8701, hub: 8702, tools: 8703 } as const;

export interface CliRunContext {
  def: AgentDefinition;
  /** The persona plus its skills section. */
  systemPrompt: string;
  /** The notification or the exploration feed, as the CLI's prompt. */
  task: string;
  /** The brain's provider (one of the executor's `providers`): the protocol behind `modelUrl`. */
  provider: ModelProvider;
  model: string;
  /** The session's workspace, the CLI's working folder and the only writable place. */
  workspace: string;
  sandbox: Sandbox;
  /** Wraps the command so it starts behind the bridge's forwarder (network: off). */
  bridge: Pick<Bridge, 'wrap' | 'dir'>;
  /** Model API base URL inside the sandbox, and the placeholder key the proxy replaces. */
  modelUrl: string;
  modelKey: string;
  /** MCP servers by name, as streamable-HTTP URLs inside the sandbox. */
  mcpServers: Record<string, string>;
  /** Names of the MCP tools offered, by server (for the CLI's allow-list). */
  mcpTools: Record<string, string[]>;
  maxTurns: number;
  timeoutMs: number;
  signal: AbortSignal;
  onProgress: (p: { turn: number; lastTool?: string }) => void;
  logger: Logger;
}

export interface CliRunSummary {
  outcome: 'succeeded' | 'iteration_cap' | 'failed';
  finalText: string;
  turns: number;
  /** What the CLI reported; the activity settles from the model proxy's meter when it saw more. */
  inputTokens: number;
  outputTokens: number;
  costUsd?: number;
  model?: string;
  toolsUsed: string[];
  error?: string;
  /** The CLI's events, for the transcript store. */
  events: unknown[];
}

export interface CliExecutor {
  readonly kind: string;
  /** The brain providers whose API the CLI speaks through the model proxy (default: anthropic). */
  readonly providers?: readonly ModelProvider[];
  /** Where the CLI is, or why it cannot run on this runner. */
  locate(): { path: string } | { missing: string };
  run(ctx: CliRunContext, path: string): Promise<CliRunSummary>;
}

/**
 * What the model proxy answers a call past the run's turn limit (the hard cap for a CLI whose own
 * limit is only a hint to the model, like opencode's); an executor reports it as `iteration_cap`.
 */
export const TURN_LIMIT_REFUSAL = "the run's turn limit is reached";

/** What the model proxy answers once the run's budget reservation is spent. */
export const BUDGET_REFUSAL = "the run's budget reservation";

/** The run was cancelled and its process group stopped. */
export class CliCancelled extends Error {
  override readonly name = 'CliCancelled';
  constructor() {
    super('the CLI run was cancelled; its process group was stopped');
  }
}
