/**
 * The aider executor: the real `aider` CLI (PyPI `aider-chat`, pinned in package.json "cliTools"
 * and installed by scripts/provision.sh and the image into the virtual environment `.tools/aider`)
 * run headless in the agent's workspace, inside the sandbox with its network off. Its only network
 * is the run's model proxy (bridge.ts), the API base of litellm, which aider calls the model
 * through: litellm's `anthropic/<model>` (Messages API) for an anthropic brain, `openai/<model>`
 * (Chat Completions) for openai, google and local brains; the proxy forwards to the brain's route
 * under the runner's allow-lists (cli-activity.ts).
 *
 * No MCP: aider has no MCP client, so an aider agent gets neither the Hub MCP tools nor the
 * session's MCP tools. It answers in text, and the workflow posts that text as the one reply, as
 * for any CLI that did not post itself. A definition of `type: aider` that lists
 * `capabilities.mcp_servers` is refused when it is loaded (lib/definitions/config.ts), so
 * `botburrow agents validate` reports it and it never runs without the tools it was written for;
 * MCP servers that come from its skills are not offered and the run logs a warning naming them.
 *
 * What the CLI does, found by running 0.86.2 against the scripted server:
 * - Headless is `--message-file <file>` (one message, then exit) with `--yes-always`. Even then it
 *   prints everything as text on stdout (no JSON mode, nothing on stderr): a banner (version,
 *   model, "Git repo: none", "Repo-map: disabled"), the answer, and after each model call a line
 *   `Tokens: 2.5k sent, 7 received. Cost: …`. Errors go to stdout too, e.g.
 *   `litellm.BadRequestError: AnthropicException - {…}`, and the exit code stays 0 after a failed
 *   model call. Lines are wrapped at the terminal width (80 without one): COLUMNS is set wide.
 * - The reliable record is `--llm-history-file`: `TO LLM <time>` and `LLM RESPONSE <time>`
 *   blocks, each response line prefixed `ASSISTANT `; a failed call leaves an empty response.
 *   The executor takes the answer from its last response and the failure from stdout.
 * - One message can cost several model calls: an edit that does not apply, a file it wants added,
 *   or a lint error sends the error back ("reflection"), at most three times ("Only 3 reflections
 *   allowed, stopping."). That is its only loop and it has no flag for it; the hard cap is the
 *   model proxy refusing call maxTurns + 1 (TURN_LIMIT_REFUSAL), reported as `iteration_cap`,
 *   like its own stop.
 * - It retries connection errors, 429 and 5xx with doubling pauses (0.25 s up to 32 s, about a
 *   minute in all); a 400, 401 or 404 ends the message at once. litellm maps the 403 of the
 *   proxy's refusals (turn limit, budget) to APIConnectionError (Anthropic) or APIError (OpenAI),
 *   which aider would retry for that minute: the executor ends the run at the first such line.
 * - Its own system prompt (edit-format rules) stays; the persona and skills go before it as the
 *   model's `system_prompt_prefix` in a `--model-settings-file`. Context window and output limit
 *   come from a `--model-metadata-file`, so no model id needs to be known to it.
 * - Writes: `~/.aider/` (analytics.json, installs.json, caches/), the three history files
 *   (defaults in the working folder, here given paths under HOME) and, with a git repository,
 *   commits and `.gitignore` lines. HOME and the XDG folders point at `.botburrow/aider` in the
 *   workspace; `--no-git` keeps it off any repository the agent cloned.
 * - Reads: `.aider.conf.yml`, `.env`, `.aider.model.settings.yml` and `.aider.model.metadata.json`
 *   in HOME, the git root and the working folder, which cannot be switched off; every setting
 *   that matters is on the command line, which wins, and the endpoint and key are `--set-env` and
 *   `--<provider>-api-key`, applied after any `.env` is loaded.
 * - Reaches at start, unless told not to: pypi.org (update check: `--no-check-update`), PostHog
 *   (analytics: `--no-analytics`), GitHub for litellm's model price list, twice: litellm at import
 *   (LITELLM_LOCAL_MODEL_COST_MAP uses the copy it ships) and aider's own cache in `~/.aider/caches`
 *   (not fetched for a model the metadata file names), the release notes page on a first run
 *   (`--no-show-release-notes`), URLs in the message (`--no-detect-urls`) and a browser to open
 *   URLs found in error texts (`--yes-always` says yes to that: BROWSER is `true`). With these it
 *   opens no connection but the model's; litellm's import makes a start cost about 4 s of CPU.
 * - Suggested shell commands are never run under `--yes-always` (they need an explicit yes), so
 *   an aider agent has no shell; `--no-suggest-shell-commands` drops the prompt text about them.
 * - The installed `bin/aider` script names the Python that installed it in its first line, so
 *   the executor runs `<venv>/bin/python -m aider`, which works wherever the folder is mounted.
 * - SIGTERM ends it (Python's default); the process group is killed after a short grace anyway.
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_DIR } from '../tools/servers';
import { runCliProcess } from './process';
import { BUDGET_REFUSAL, TURN_LIMIT_REFUSAL } from './types';
import type { CliExecutor, CliRunContext, CliRunSummary } from './types';

/** The virtual environment scripts/provision.sh (and the image) installs aider-chat into. */
const VENV_DIR = path.join(PROJECT_DIR, '.tools', 'aider');
/** stdout lines kept for the transcript store. */
const MAX_EVENTS = 500;
/** What aider prints when its own reflection limit ended the message. */
const OWN_CAP = /reflections allowed, stopping/;
/** An error aider printed: litellm's exception name, then its text. */
const ERROR_LINE = /^(?:litellm\.)?[A-Za-z]+(?:Error|Exception)\b.*$/;

export function aiderExecutor(o: { venv?: string } = {}): CliExecutor {
  return {
    kind: 'aider',
    providers: ['anthropic', 'openai', 'google', 'local'],
    locate() {
      const venv = o.venv ?? process.env.AIDER_PATH ?? VENV_DIR;
      return locateAider(venv);
    },
    run: runAider,
  };
}

/** The venv's Python when aider is installed in it, or why it cannot run. */
export function locateAider(venv: string): { path: string } | { missing: string } {
  const python = path.join(venv, 'bin', 'python');
  if (!existsSync(python)) {
    return {
      missing: `the aider CLI is not installed (no Python environment at ${venv}); run scripts/provision.sh`,
    };
  }
  const lib = path.join(venv, 'lib');
  const installed = (existsSync(lib) ? readdirSync(lib) : []).some((v) =>
    existsSync(path.join(lib, v, 'site-packages', 'aider', 'main.py')),
  );
  if (!installed) {
    return { missing: `${venv} has no aider-chat package installed; run scripts/provision.sh` };
  }
  return { path: python };
}

/** Files of one run, all under the workspace's `.botburrow/aider`. */
export function aiderFiles(home: string) {
  return {
    message: path.join(home, 'message.md'),
    settings: path.join(home, 'model-settings.yml'),
    metadata: path.join(home, 'model-metadata.json'),
    llmHistory: path.join(home, 'llm.history'),
    chatHistory: path.join(home, 'chat.history.md'),
    inputHistory: path.join(home, 'input.history'),
    envFile: path.join(home, 'aider.env'),
  };
}

/** litellm's provider of a brain: its own for anthropic, the OpenAI-compatible one for the rest. */
const litellmProvider = (ctx: Pick<CliRunContext, 'provider'>): 'anthropic' | 'openai' =>
  ctx.provider === 'anthropic' ? 'anthropic' : 'openai';

/** aider's name of the agent's model: litellm's provider prefix. */
export const aiderModel = (ctx: Pick<CliRunContext, 'provider' | 'model'>): string =>
  `${litellmProvider(ctx)}/${ctx.model}`;

/** The model settings file: the persona first in the system prompt, no repo map, the brain's limits. */
export function aiderModelSettings(
  ctx: Pick<CliRunContext, 'def' | 'provider' | 'model' | 'systemPrompt'>,
): unknown[] {
  const model = aiderModel(ctx);
  const brain = ctx.def.config.brain;
  const maxTokens = brain.max_tokens ?? 4096;
  return [
    {
      name: model,
      edit_format: 'diff',
      weak_model_name: model,
      editor_model_name: model,
      use_repo_map: false,
      // As the built-in loop: Messages API version 2026-10-21 refuses temperature; the others get it.
      use_temperature: ctx.provider === 'anthropic' ? false : brain.temperature,
      system_prompt_prefix: ctx.systemPrompt,
      // OpenAI's own API refuses max_tokens for newer models; compatible servers know max_tokens.
      extra_params:
        ctx.provider === 'openai' ? { max_completion_tokens: maxTokens } : { max_tokens: maxTokens },
    },
  ];
}

/** The model metadata file: limits for any model id, so aider looks nothing up. */
export function aiderModelMetadata(
  ctx: Pick<CliRunContext, 'def' | 'provider' | 'model'>,
): Record<string, unknown> {
  return {
    [aiderModel(ctx)]: {
      max_input_tokens: 200_000,
      max_output_tokens: ctx.def.config.brain.max_tokens ?? 4096,
      // The run is priced from the model proxy's meter with the runner's table, not by aider.
      input_cost_per_token: 0,
      output_cost_per_token: 0,
      litellm_provider: litellmProvider(ctx),
      mode: 'chat',
    },
  };
}

export function aiderArgs(
  ctx: Pick<CliRunContext, 'provider' | 'model' | 'modelUrl' | 'modelKey' | 'timeoutMs'>,
  home: string,
): string[] {
  const f = aiderFiles(home);
  const model = aiderModel(ctx);
  const via = litellmProvider(ctx);
  return [
    '-m',
    'aider',
    '--message-file',
    f.message,
    '--yes-always',
    '--model',
    model,
    '--weak-model',
    model,
    '--editor-model',
    model,
    '--model-settings-file',
    f.settings,
    '--model-metadata-file',
    f.metadata,
    '--no-show-model-warnings',
    '--no-check-model-accepts-settings',
    `--${via}-api-key`,
    ctx.modelKey,
    '--set-env',
    `${via.toUpperCase()}_API_BASE=${ctx.modelUrl}`,
    '--timeout',
    String(Math.max(30, Math.ceil(ctx.timeoutMs / 1000))),
    '--no-git',
    '--no-gitignore',
    '--no-auto-commits',
    '--no-dirty-commits',
    '--map-tokens',
    '0',
    '--no-auto-lint',
    '--no-auto-test',
    '--no-suggest-shell-commands',
    '--no-detect-urls',
    '--disable-playwright',
    '--no-check-update',
    '--no-show-release-notes',
    '--no-analytics',
    '--no-pretty',
    '--no-stream',
    '--no-fancy-input',
    '--no-notifications',
    '--no-restore-chat-history',
    '--llm-history-file',
    f.llmHistory,
    '--chat-history-file',
    f.chatHistory,
    '--input-history-file',
    f.inputHistory,
    '--env-file',
    f.envFile,
    '--encoding',
    'utf-8',
  ];
}

/** The environment aider runs with: every folder it writes in the workspace, nothing fetched. */
export function aiderEnv(home: string): Record<string, string> {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, 'config'),
    XDG_DATA_HOME: path.join(home, 'data'),
    XDG_CACHE_HOME: path.join(home, 'cache'),
    TMPDIR: '/tmp',
    LANG: 'C.UTF-8',
    // One line per printed line: no wrapping at 80 columns, no colours, no terminal tricks.
    COLUMNS: '100000',
    TERM: 'dumb',
    NO_COLOR: '1',
    // litellm's price list from its own package, not from GitHub at import.
    LITELLM_LOCAL_MODEL_COST_MAP: 'True',
    HF_HUB_OFFLINE: '1',
    // `--yes-always` also says yes to "open this URL in a browser?".
    BROWSER: 'true',
    PYTHONNOUSERSITE: '1',
    PYTHONDONTWRITEBYTECODE: '1',
  };
}

/** The answers of an `--llm-history-file`, in order (an empty one for a failed call). */
export function aiderResponses(history: string): string[] {
  const responses: string[] = [];
  let current: string[] | undefined;
  for (const line of history.split('\n')) {
    if (/^(TO LLM|LLM RESPONSE) \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(line)) {
      if (current) responses.push(current.join('\n').trim());
      current = line.startsWith('LLM RESPONSE') ? [] : undefined;
    } else if (current && line.startsWith('ASSISTANT')) {
      current.push(line.slice('ASSISTANT '.length));
    }
  }
  if (current) responses.push(current.join('\n').trim());
  return responses;
}

/** `2.5k` → 2500: aider's rounded token counts (the fallback when the proxy metered nothing). */
function tokenCount(text: string): number {
  const m = /^([\d.]+)([kM]?)$/.exec(text);
  if (!m) return 0;
  const scale = m[2] === 'k' ? 1_000 : m[2] === 'M' ? 1_000_000 : 1;
  return Math.round(Number(m[1]) * scale);
}

async function runAider(ctx: CliRunContext, python: string): Promise<CliRunSummary> {
  const home = path.join(ctx.workspace, '.botburrow', 'aider');
  const f = aiderFiles(home);
  await mkdir(home, { recursive: true });
  await writeFile(f.message, ctx.task);
  await writeFile(f.settings, JSON.stringify(aiderModelSettings(ctx), null, 2));
  await writeFile(f.metadata, JSON.stringify(aiderModelMetadata(ctx), null, 2));
  // A fresh record per run: the answer is read from it.
  await writeFile(f.llmHistory, '');
  await ctx.sandbox.prepareWorkspace(home);
  await ctx.sandbox.prepareWorkspace(path.join(ctx.workspace, '.botburrow'));
  for (const file of [f.message, f.settings, f.metadata, f.llmHistory]) await ctx.sandbox.adoptFile(file);
  const sessionTools = Object.entries(ctx.mcpTools).filter(([server]) => server !== 'hub');
  if (sessionTools.length > 0) {
    ctx.logger.warn(
      { tools: sessionTools.flatMap(([, names]) => names) },
      'aider has no MCP support: the session tools of this agent (from its skills) are not offered to it',
    );
  }

  const venv = path.dirname(path.dirname(python));
  const inner = ctx.bridge.wrap(python, aiderArgs(ctx, home));
  const boxed = ctx.sandbox.wrap({
    command: inner.command,
    args: inner.args,
    env: aiderEnv(home),
    workspace: ctx.workspace,
    network: false,
    readOnly: [ctx.bridge.dir, venv],
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
  const output: string[] = [];
  const onLine = (line: string): 'stop' | undefined => {
    output.push(line);
    if (summary.events.length < MAX_EVENTS) summary.events.push({ type: 'output', line });
    const tokens = /^Tokens: ([\d.]+[kM]?) sent, ([\d.]+[kM]?) received/.exec(line);
    if (tokens) {
      summary.turns++;
      summary.inputTokens += tokenCount(tokens[1]!);
      summary.outputTokens += tokenCount(tokens[2]!);
      ctx.onProgress({ turn: summary.turns });
    }
    // A refusal is final (see above): no minute of retries.
    const refused = [TURN_LIMIT_REFUSAL, BUDGET_REFUSAL, 'permission_error'].some((r) => line.includes(r));
    return refused && ERROR_LINE.test(line) ? 'stop' : undefined;
  };

  const exit = await runCliProcess(boxed, { timeoutMs: ctx.timeoutMs, signal: ctx.signal, onLine });
  const responses = aiderResponses(await readFile(f.llmHistory, 'utf8').catch(() => ''));
  for (const text of responses) summary.events.push({ type: 'response', text });
  const answer = responses.at(-1) ?? '';
  summary.finalText = answer;
  const text = output.join('\n');
  const errorLine = output.filter((l) => ERROR_LINE.test(l)).at(-1);
  if (exit.timedOut) {
    summary.error = `aider did not finish within the activation's ${Math.round(ctx.timeoutMs / 1000)} s`;
  } else if (exit.error) {
    summary.error = `aider did not start: ${exit.error.message}`;
  } else if (text.includes(TURN_LIMIT_REFUSAL) || OWN_CAP.test(text)) {
    summary.outcome = 'iteration_cap';
  } else if (exit.code === 0 && answer !== '') {
    summary.outcome = 'succeeded';
  } else if (errorLine !== undefined) {
    summary.error = `aider ended with ${errorLine.slice(0, 2_000)}`;
  } else {
    const tail = (output.slice(-20).join('\n') + '\n' + exit.stderr).trim().slice(-2_000);
    summary.error =
      exit.code === 0
        ? `aider gave no answer: ${tail || 'no output'}`
        : `aider exited with code ${exit.code}: ${tail || 'no output'}`;
  }
  return summary;
}
