/** aider's command line, environment, per-run files and answer record, derived from the run's context. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  aiderArgs,
  aiderEnv,
  aiderExecutor,
  aiderModelMetadata,
  aiderModelSettings,
  aiderResponses,
} from '../../activities/executors/aider';
import type { CliRunContext } from '../../activities/executors/types';
import { parseAgentConfig } from '../../lib/definitions';
import type { AgentDefinition } from '../../lib/definitions';

function definition(yaml = 'capabilities:\n  grants: [hub:read]\n'): AgentDefinition {
  const { config } = parseAgentConfig(
    `name: coder-one\ntype: aider\nbrain:\n  model: claude-sonnet-4-20250514\n  max_tokens: 2048\n${yaml}`,
    'agents/coder-one/config.yaml',
  );
  return { id: 'coder-one', config, systemPrompt: '', warnings: [], configHash: 'h' };
}

const context = (o: { provider?: string } = {}): CliRunContext =>
  ({
    def: definition(),
    task: 'Reply to the mention.',
    provider: o.provider ?? 'anthropic',
    systemPrompt: 'You are Otto.\n\n## Skills\n- otters',
    model: 'claude-sonnet-4-20250514',
    maxTurns: 7,
    timeoutMs: 120_000,
    modelUrl: 'http://127.0.0.1:8701',
    modelKey: 'placeholder',
  }) as unknown as CliRunContext;

const HOME = '/ws/s1/.botburrow/aider';

/** The value after `flag` in `args`. */
const after = (args: string[], flag: string): string | undefined => args[args.indexOf(flag) + 1];

describe('aiderArgs and aiderEnv', () => {
  it('runs one message headless through the venv Python, every file it names under the run home', () => {
    const args = aiderArgs(context(), HOME);
    expect(args.slice(0, 2)).toEqual(['-m', 'aider']);
    for (const flag of [
      '--yes-always',
      '--no-git',
      '--no-auto-commits',
      '--no-check-update',
      '--no-analytics',
    ]) {
      expect(args).toContain(flag);
    }
    for (const flag of [
      '--message-file',
      '--model-settings-file',
      '--model-metadata-file',
      '--llm-history-file',
      '--chat-history-file',
      '--input-history-file',
      '--env-file',
    ]) {
      expect(after(args, flag)).toMatch(/^\/ws\/s1\/\.botburrow\/aider\//);
    }
    for (const flag of ['--model', '--weak-model', '--editor-model']) {
      expect(after(args, flag)).toBe('anthropic/claude-sonnet-4-20250514');
    }
    // The endpoint and key are applied after any .env in the workspace is loaded.
    expect(after(args, '--set-env')).toBe('ANTHROPIC_API_BASE=http://127.0.0.1:8701');
    expect(after(args, '--anthropic-api-key')).toBe('placeholder');
    expect(after(args, '--timeout')).toBe('120');
    expect(after(args, '--map-tokens')).toBe('0');
    // The task is in a file, never on the command line.
    expect(args.join(' ')).not.toContain('Reply to the mention.');
  });

  it('speaks Chat Completions for openai, google and local brains, through the same proxy', () => {
    for (const provider of ['openai', 'google', 'local']) {
      const args = aiderArgs(context({ provider }), HOME);
      expect(after(args, '--model')).toBe('openai/claude-sonnet-4-20250514');
      expect(after(args, '--set-env')).toBe('OPENAI_API_BASE=http://127.0.0.1:8701');
      expect(after(args, '--openai-api-key')).toBe('placeholder');
      expect(args).not.toContain('--anthropic-api-key');
    }
  });

  it('keeps every folder aider writes under the run home and its start-up fetches off', () => {
    const env = aiderEnv(HOME);
    for (const k of ['HOME', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_CACHE_HOME']) {
      expect(env[k]).toMatch(/^\/ws\/s1\/\.botburrow\/aider/);
    }
    expect(env).toMatchObject({ LITELLM_LOCAL_MODEL_COST_MAP: 'True', BROWSER: 'true', NO_COLOR: '1' });
    expect(Number(env.COLUMNS)).toBeGreaterThan(10_000);
    expect(Object.keys(env).some((k) => /API_KEY|API_BASE/.test(k))).toBe(false);
  });
});

describe('aider model files', () => {
  it('puts the persona and skills first in the system prompt, with the brain’s output limit', () => {
    expect(aiderModelSettings(context())).toEqual([
      expect.objectContaining({
        name: 'anthropic/claude-sonnet-4-20250514',
        system_prompt_prefix: 'You are Otto.\n\n## Skills\n- otters',
        use_repo_map: false,
        use_temperature: false,
        extra_params: { max_tokens: 2048 },
      }),
    ]);
    const openai = context({ provider: 'openai' });
    openai.def.config.brain = { ...openai.def.config.brain, provider: 'openai', temperature: 0.3 };
    expect(aiderModelSettings(openai)).toEqual([
      expect.objectContaining({ use_temperature: 0.3, extra_params: { max_completion_tokens: 2048 } }),
    ]);
    expect(aiderModelMetadata(context())).toEqual({
      'anthropic/claude-sonnet-4-20250514': expect.objectContaining({
        max_output_tokens: 2048,
        litellm_provider: 'anthropic',
      }),
    });
  });
});

describe('aiderResponses', () => {
  it('reads each answer of an --llm-history-file, a failed call as empty', () => {
    const history = [
      'TO LLM 2026-12-04T03:54:15',
      '-------',
      'SYSTEM You are Otto.',
      'USER what do otters eat?',
      'LLM RESPONSE 2026-12-04T03:54:16',
      'ASSISTANT Fish.',
      'ASSISTANT ',
      'ASSISTANT TO LLM 2026-12-04T03:54:17',
      'TO LLM 2026-12-04T03:54:18',
      'USER again',
      'LLM RESPONSE 2026-12-04T03:54:19',
      '',
    ].join('\n');
    expect(aiderResponses(history)).toEqual(['Fish.\n\nTO LLM 2026-12-04T03:54:17', '']);
    expect(aiderResponses('')).toEqual([]);
  });
});

describe('aider executor: locating the CLI', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bb-aider-locate-'));

  it('names a missing environment, and one without aider-chat, as missing', () => {
    expect(aiderExecutor({ venv: path.join(dir, 'absent') }).locate()).toEqual({
      missing: expect.stringMatching(/the aider CLI is not installed \(no Python environment at .*absent\)/),
    });
    const empty = path.join(dir, 'empty');
    mkdirSync(path.join(empty, 'bin'), { recursive: true });
    mkdirSync(path.join(empty, 'lib', 'python3.11', 'site-packages'), { recursive: true });
    writeFileSync(path.join(empty, 'bin', 'python'), '');
    expect(aiderExecutor({ venv: empty }).locate()).toEqual({
      missing: expect.stringMatching(/has no aider-chat package installed/),
    });
  });

  it('finds the provisioned environment', () => {
    expect(aiderExecutor().locate()).toEqual({ path: expect.stringMatching(/\.tools\/aider\/bin\/python$/) });
  });
});
