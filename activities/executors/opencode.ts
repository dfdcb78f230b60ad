/**
 * The opencode executor: the real `opencode` CLI (`opencode-ai`, pinned in package.json; its
 * native binary is `bin/opencode.exe`, a Bun single-file executable) run headless in the agent's
 * workspace, inside the sandbox with its network off. Its only network is the run's bridge: the
 * model proxy (its built-in `anthropic` provider with a `baseURL`), the Hub MCP server bound to
 * the agent and the session's MCP tools (remote MCP servers, streamable HTTP).
 *
 * What the CLI needs, found by running 1.18.33 against the scripted server:
 * - `run --format json`: one JSON event per line: `step_start`, `text`, `tool_use` (with the tool's
 *   state), `step_finish` (`reason` `stop` or `tool-calls`, `tokens` {input, output, reasoning,
 *   cache {read, write}} and `cost` per model call) and `error` ({name, data {message}}). Events
 *   come in bursts per step, not as the answer streams. Exit code 1 after an `error`.
 * - The prompt goes on stdin: message arguments that contain spaces are wrapped in quotes before
 *   they reach the model.
 * - It reads its config from OPENCODE_CONFIG (a file in the workspace, `.botburrow/opencode`) and
 *   keeps its database, logs and caches under HOME and the XDG folders, all pointed there too.
 *   OPENCODE_DISABLE_PROJECT_CONFIG ignores an `opencode.json` the agent may write in its workspace.
 * - The system prompt is a custom primary agent's `prompt` (it replaces opencode's own); opencode
 *   appends an `<env>` block (working folder, date). `--title` skips the title it would otherwise
 *   ask a small model for (an extra model call per run); `small_model` is the agent's model anyway.
 * - Turn cap: opencode has no flag. Its agent `steps` only appends an assistant message "MAXIMUM
 *   STEPS REACHED … respond with text only" to the last allowed call; the tools stay offered and a
 *   model that calls one anyway goes on forever. The hard cap is the model proxy (cli-activity.ts):
 *   it refuses call maxTurns + 1 with TURN_LIMIT_REFUSAL, which ends opencode with an `error` event
 *   that this executor reports as `iteration_cap`.
 * - At start it npm-installs `@opencode-ai/plugin` into its config folder (seen in its npm cache),
 *   and by its documentation fetches the models.dev catalogue and checks for updates. With
 *   OPENCODE_PURE, OPENCODE_DISABLE_DEFAULT_PLUGINS, OPENCODE_DISABLE_MODELS_FETCH (its built-in
 *   catalogue is used; the agent's model is declared in the config so any id works),
 *   OPENCODE_DISABLE_AUTOUPDATE, `autoupdate: false` and `share: "disabled"` it tries none of
 *   these; without a network it reaches its first model call in about 6 s.
 * - Built-in tools it offers: bash, edit, write, read, glob, grep, skill, task, todowrite, webfetch.
 *   `tools` keeps the file tools (bash only with the agent's shell); glob and grep need ripgrep,
 *   which opencode would download at first use, so they fail where `rg` is not on PATH.
 * - It retries model errors it deems retryable (connection, 429, 5xx) with backoff for about a
 *   minute before giving up; a 4xx other than 429 ends the run at once.
 * - SIGTERM does not stop it (a run kept looping after one); the executor ends the whole process
 *   group with SIGKILL after a short grace.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_DIR } from '../tools/servers';
import { locateCliBinary, runCliProcess } from './process';
import { TURN_LIMIT_REFUSAL } from './types';
import type { CliExecutor, CliRunContext, CliRunSummary } from './types';

/** Installed outside the lock file by scripts/provision.sh (and the image) from package.json "cliTools". */
const PACKAGE_DIR = path.join(PROJECT_DIR, '.tools', 'opencode', 'node_modules', 'opencode-ai');
/** Events kept for the transcript store. */
const MAX_EVENTS = 500;
/** opencode's built-in tools an agent never gets: subagents, web access, its own skills and todos. */
const OFF_TOOLS = ['task', 'webfetch', 'websearch', 'codesearch', 'skill', 'todowrite', 'todoread'];
/** The agent defined in the config; its `prompt` is the system prompt. */
const AGENT = 'botburrow';

export function opencodeExecutor(o: { binary?: string } = {}): CliExecutor {
  return {
    kind: 'opencode',
    locate() {
      const binary = o.binary ?? process.env.OPENCODE_PATH ?? path.join(PACKAGE_DIR, 'bin', 'opencode.exe');
      return locateCliBinary(binary, { name: 'opencode', pkg: 'opencode-ai' });
    },
    run: runOpencode,
  };
}

/** The per-run opencode config: provider, agent (prompt, step hint, tools), MCP servers. */
export function opencodeConfig(ctx: CliRunContext): Record<string, unknown> {
  const shell = ctx.def.config.capabilities.shell;
  const shellOn = shell?.enabled === true;
  const commands = shell?.allowed_commands ?? [];
  const tools: Record<string, boolean> = Object.fromEntries(OFF_TOOLS.map((t) => [t, false]));
  if (!shellOn) tools.bash = false;
  // The sandbox is the boundary; the allow-list still says which programs the agent means to run.
  const bash = !shellOn
    ? 'deny'
    : commands.length === 0
      ? 'allow'
      : {
          '*': 'deny',
          ...Object.fromEntries(
            commands.flatMap((c) => [
              [c, 'allow'],
              [`${c} *`, 'allow'],
            ]),
          ),
        };
  const mcp = Object.fromEntries(
    Object.entries(ctx.mcpServers).map(([name, url]) => [
      name,
      { type: 'remote', url, enabled: true, oauth: false, timeout: 60_000 },
    ]),
  );
  return {
    $schema: 'https://opencode.ai/config.json',
    autoupdate: false,
    share: 'disabled',
    snapshot: false,
    model: `anthropic/${ctx.model}`,
    small_model: `anthropic/${ctx.model}`,
    enabled_providers: ['anthropic'],
    provider: {
      anthropic: {
        options: { baseURL: `${ctx.modelUrl}/v1`, apiKey: ctx.modelKey },
        models: {
          [ctx.model]: {
            name: ctx.model,
            tool_call: true,
            limit: { context: 200_000, output: ctx.def.config.brain.max_tokens ?? 4096 },
          },
        },
      },
    },
    mcp,
    agent: {
      [AGENT]: {
        mode: 'primary',
        prompt: ctx.systemPrompt,
        steps: ctx.maxTurns,
        tools,
        permission: { edit: 'allow', bash, webfetch: 'deny', external_directory: 'deny' },
      },
    },
  };
}

export function opencodeArgs(ctx: Pick<CliRunContext, 'model'>): string[] {
  return [
    'run',
    '--format',
    'json',
    '--agent',
    AGENT,
    '--model',
    `anthropic/${ctx.model}`,
    '--title',
    'botburrow',
  ];
}

/** The environment opencode runs with: every folder it writes in the workspace, no start-up fetches. */
export function opencodeEnv(home: string): Record<string, string> {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, 'config'),
    XDG_DATA_HOME: path.join(home, 'data'),
    XDG_CACHE_HOME: path.join(home, 'cache'),
    XDG_STATE_HOME: path.join(home, 'state'),
    OPENCODE_CONFIG: path.join(home, 'opencode.json'),
    OPENCODE_DISABLE_PROJECT_CONFIG: '1',
    OPENCODE_DISABLE_MODELS_FETCH: '1',
    OPENCODE_DISABLE_AUTOUPDATE: '1',
    OPENCODE_DISABLE_DEFAULT_PLUGINS: '1',
    OPENCODE_DISABLE_LSP_DOWNLOAD: '1',
    OPENCODE_DISABLE_CLAUDE_CODE: '1',
    OPENCODE_DISABLE_EXTERNAL_SKILLS: '1',
    OPENCODE_DISABLE_SHARE: '1',
    OPENCODE_PURE: '1',
    TMPDIR: '/tmp',
    LANG: 'C.UTF-8',
  };
}

interface OpencodeEvent {
  type?: string;
  part?: {
    text?: string;
    tool?: string;
    reason?: string;
    tokens?: {
      input?: number;
      output?: number;
      reasoning?: number;
      cache?: { read?: number; write?: number };
    };
    cost?: number;
  };
  error?: { name?: string; data?: { message?: string; statusCode?: number; responseBody?: string } };
}

async function runOpencode(ctx: CliRunContext, binary: string): Promise<CliRunSummary> {
  const home = path.join(ctx.workspace, '.botburrow', 'opencode');
  await mkdir(home, { recursive: true });
  await writeFile(path.join(home, 'opencode.json'), JSON.stringify(opencodeConfig(ctx), null, 2));
  await ctx.sandbox.prepareWorkspace(home);
  await ctx.sandbox.prepareWorkspace(path.join(ctx.workspace, '.botburrow'));
  const inner = ctx.bridge.wrap(binary, opencodeArgs(ctx));
  const boxed = ctx.sandbox.wrap({
    command: inner.command,
    args: inner.args,
    env: opencodeEnv(home),
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
    costUsd: 0,
    toolsUsed: [],
    events: [],
  };
  let stepText: string[] = [];
  let failure: OpencodeEvent['error'] | undefined;
  const onEvent = (event: OpencodeEvent): void => {
    if (summary.events.length < MAX_EVENTS) summary.events.push(event);
    const part = event.part;
    if (event.type === 'step_start') stepText = [];
    else if (event.type === 'text' && part?.text) stepText.push(part.text);
    else if (event.type === 'tool_use' && part?.tool) {
      summary.toolsUsed.push(part.tool);
      ctx.onProgress({ turn: summary.turns + 1, lastTool: part.tool });
    } else if (event.type === 'step_finish') {
      summary.turns++;
      const t = part?.tokens;
      summary.inputTokens += (t?.input ?? 0) + (t?.cache?.read ?? 0) + (t?.cache?.write ?? 0);
      summary.outputTokens += (t?.output ?? 0) + (t?.reasoning ?? 0);
      summary.costUsd! += part?.cost ?? 0;
      if (stepText.length > 0) summary.finalText = stepText.join('\n');
      ctx.onProgress({ turn: summary.turns });
    } else if (event.type === 'error') failure = event.error ?? { name: 'UnknownError' };
  };

  const exit = await runCliProcess(boxed, {
    stdin: ctx.task,
    timeoutMs: ctx.timeoutMs,
    signal: ctx.signal,
    onEvent,
  });
  if (exit.timedOut) {
    summary.error = `opencode did not finish within the activation's ${Math.round(ctx.timeoutMs / 1000)} s`;
  } else if (failure) {
    const detail = failureText(failure);
    if (detail.includes(TURN_LIMIT_REFUSAL)) summary.outcome = 'iteration_cap';
    else summary.error = `opencode ended with ${failure.name ?? 'an error'}: ${detail}`;
  } else if (exit.code === 0) {
    summary.outcome = 'succeeded';
  } else {
    summary.error = exit.error
      ? `opencode did not start: ${exit.error.message}`
      : `opencode exited with code ${exit.code}: ${exit.stderr.trim().slice(-2_000) || 'no output'}`;
  }
  return summary;
}

function failureText(error: NonNullable<OpencodeEvent['error']>): string {
  const d = error.data;
  const status = d?.statusCode !== undefined ? ` (HTTP ${d.statusCode})` : '';
  const body = d?.responseBody ? `: ${d.responseBody.slice(0, 1_000)}` : '';
  return `${d?.message ?? 'no detail'}${status}${body}`;
}
