/**
 * The claude-code executor: the real `claude` CLI (`@anthropic-ai/claude-code`, pinned in
 * package.json; its native binary is `bin/claude.exe`) run headless in the agent's workspace,
 * inside the sandbox with its network off. Its only network is the run's bridge: the model proxy
 * (ANTHROPIC_BASE_URL), the Hub MCP server bound to the agent and the session's MCP tools.
 *
 * What the CLI needs, found by running 2.1.328 against the scripted server:
 * - `-p <task> --output-format stream-json --verbose`: one JSON event per line (`system`/`init`,
 *   `assistant` and `user` messages, a final `result` with `num_turns`, `total_cost_usd`, `usage`
 *   and a `subtype` of `success`, `error_max_turns` or `error_during_execution`).
 * - `--bare`: no hooks, plugins, CLAUDE.md discovery, keychain or OAuth; the key comes from
 *   ANTHROPIC_API_KEY only (the placeholder the proxy replaces), settings and MCP servers only from
 *   the flags. `--strict-mcp-config` ignores any `.mcp.json` an agent may have written.
 * - `--tools` picks the built-in tools and `--allowedTools` pre-approves what may run;
 *   `--permission-mode dontAsk` denies everything else without a prompt (headless).
 * - It writes its config and session files under CLAUDE_CONFIG_DIR and HOME, so both point into
 *   the workspace (`.botburrow/claude`), never a shared home; `--no-session-persistence` keeps it
 *   from saving the conversation there.
 * - At start it would reach for telemetry, error reporting and update checks: DISABLE_TELEMETRY,
 *   DISABLE_ERROR_REPORTING, DISABLE_AUTOUPDATER and CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC switch
 *   them off (and the sandbox has no network for them anyway). It makes no count_tokens or
 *   small-model call in print mode with these settings; the scripted server answers both regardless.
 * - It streams every Messages call (`stream: true`), so the model server speaks SSE.
 * - A plain SIGTERM may leave tool children running; the executor kills the whole process group.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_DIR } from '../tools/servers';
import { locateCliBinary, runCliProcess } from './process';
import type { CliExecutor, CliRunContext, CliRunSummary } from './types';

const PACKAGE_DIR = path.join(PROJECT_DIR, 'node_modules', '@anthropic-ai', 'claude-code');
/** Events kept for the transcript store (a long run's tail is what an operator reads). */
const MAX_EVENTS = 500;
/** Workspace tools the CLI has built in; Bash only when the agent's shell is enabled. */
const FILE_TOOLS = ['Read', 'Edit', 'Write', 'Glob', 'Grep'];

export function claudeCodeExecutor(o: { binary?: string } = {}): CliExecutor {
  return {
    kind: 'claude-code',
    locate() {
      const binary = o.binary ?? process.env.CLAUDE_CODE_PATH ?? path.join(PACKAGE_DIR, 'bin', 'claude.exe');
      return locateCliBinary(binary, { name: 'claude', pkg: '@anthropic-ai/claude-code' });
    },
    run: runClaude,
  };
}

/** The built-in tools and the pre-approved tool list of an agent. */
export function claudeTools(ctx: Pick<CliRunContext, 'def' | 'mcpTools'>): {
  tools: string[];
  allowed: string[];
} {
  const shell = ctx.def.config.capabilities.shell;
  const tools = [...FILE_TOOLS];
  const allowed = [...FILE_TOOLS];
  if (shell?.enabled === true) {
    tools.push('Bash');
    const commands = shell.allowed_commands ?? [];
    // The sandbox is the boundary; the allow-list still says which programs the agent means to run.
    if (commands.length === 0) allowed.push('Bash');
    else allowed.push(...commands.map((c) => `Bash(${c}:*)`));
  }
  for (const [server, names] of Object.entries(ctx.mcpTools)) {
    allowed.push(...names.map((n) => `mcp__${server}__${n}`));
  }
  return { tools, allowed };
}

export function claudeArgs(ctx: CliRunContext): string[] {
  const { tools, allowed } = claudeTools(ctx);
  const mcpServers = Object.fromEntries(
    Object.entries(ctx.mcpServers).map(([name, url]) => [name, { type: 'http', url }]),
  );
  return [
    '-p',
    ctx.task,
    '--output-format',
    'stream-json',
    '--verbose',
    '--bare',
    '--no-session-persistence',
    '--model',
    ctx.model,
    '--max-turns',
    String(ctx.maxTurns),
    '--system-prompt',
    ctx.systemPrompt,
    '--mcp-config',
    JSON.stringify({ mcpServers }),
    '--strict-mcp-config',
    '--tools',
    tools.join(','),
    '--allowedTools',
    allowed.join(','),
    '--permission-mode',
    'dontAsk',
  ];
}

interface ClaudeEvent {
  type?: string;
  subtype?: string;
  message?: { content?: { type?: string; name?: string; text?: string }[]; model?: string };
  result?: string;
  is_error?: boolean;
  num_turns?: number;
  total_cost_usd?: number;
  usage?: { input_tokens?: number; output_tokens?: number; cache_read_input_tokens?: number };
  errors?: unknown;
}

async function runClaude(ctx: CliRunContext, binary: string): Promise<CliRunSummary> {
  const home = path.join(ctx.workspace, '.botburrow', 'claude');
  await mkdir(home, { recursive: true });
  await ctx.sandbox.prepareWorkspace(home);
  await ctx.sandbox.prepareWorkspace(path.join(ctx.workspace, '.botburrow'));
  const inner = ctx.bridge.wrap(binary, claudeArgs(ctx));
  const boxed = ctx.sandbox.wrap({
    command: inner.command,
    args: inner.args,
    env: {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: home,
      CLAUDE_CONFIG_DIR: home,
      TMPDIR: '/tmp',
      LANG: 'C.UTF-8',
      ANTHROPIC_BASE_URL: ctx.modelUrl,
      ANTHROPIC_API_KEY: ctx.modelKey,
      DISABLE_TELEMETRY: '1',
      DISABLE_ERROR_REPORTING: '1',
      DISABLE_AUTOUPDATER: '1',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    },
    workspace: ctx.workspace,
    network: false,
    readOnly: [ctx.bridge.dir, path.dirname(path.dirname(binary))],
    limits: { cpuSeconds: Math.max(30, Math.ceil(ctx.timeoutMs / 1000)) },
  });

  const summary: CliRunSummary = {
    outcome: 'failed',
    finalText: '',
    turns: 0,
    inputTokens: 0,
    outputTokens: 0,
    toolsUsed: [],
    events: [],
  };
  let result: ClaudeEvent | undefined;
  const onEvent = (event: ClaudeEvent): void => {
    if (summary.events.length < MAX_EVENTS) summary.events.push(event);
    if (event.type === 'assistant') {
      summary.turns++;
      if (event.message?.model) summary.model = event.message.model;
      const used = (event.message?.content ?? []).filter((b) => b.type === 'tool_use' && b.name);
      for (const b of used) summary.toolsUsed.push(b.name!);
      ctx.onProgress({ turn: summary.turns, ...(used.length > 0 && { lastTool: used.at(-1)!.name! }) });
    }
    if (event.type === 'result') result = event;
  };

  const exit = await runCliProcess(boxed, { timeoutMs: ctx.timeoutMs, signal: ctx.signal, onEvent });
  if (result) {
    summary.finalText = result.result ?? '';
    summary.turns = Math.max(summary.turns, result.num_turns ?? 0);
    summary.inputTokens = (result.usage?.input_tokens ?? 0) + (result.usage?.cache_read_input_tokens ?? 0);
    summary.outputTokens = result.usage?.output_tokens ?? 0;
    if (result.total_cost_usd !== undefined) summary.costUsd = result.total_cost_usd;
    if (result.subtype === 'success' && result.is_error !== true) summary.outcome = 'succeeded';
    else if (result.subtype === 'error_max_turns') summary.outcome = 'iteration_cap';
    else summary.error = `claude ended with ${result.subtype ?? 'an error'}: ${errorText(result)}`;
  }
  if (exit.timedOut) {
    summary.outcome = 'failed';
    summary.error = `claude did not finish within the activation's ${Math.round(ctx.timeoutMs / 1000)} s`;
  } else if (!result) {
    summary.error = exit.error
      ? `claude did not start: ${exit.error.message}`
      : `claude exited with code ${exit.code} without a result: ${exit.stderr.trim().slice(-2_000) || 'no output'}`;
  }
  return summary;
}

function errorText(result: ClaudeEvent): string {
  if (typeof result.result === 'string' && result.result !== '') return result.result;
  return result.errors !== undefined ? JSON.stringify(result.errors).slice(0, 2_000) : 'no detail';
}
