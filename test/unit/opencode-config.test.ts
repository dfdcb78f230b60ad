/** opencode's command line, environment and per-run config are derived from the run's context. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  opencodeArgs,
  opencodeConfig,
  opencodeEnv,
  opencodeExecutor,
} from '../../activities/executors/opencode';
import type { CliRunContext } from '../../activities/executors/types';
import { parseAgentConfig } from '../../lib/definitions';
import type { AgentDefinition } from '../../lib/definitions';

function definition(yaml: string): AgentDefinition {
  const { config } = parseAgentConfig(
    `name: coder-one\ntype: opencode\nbrain:\n  model: claude-sonnet-4-20250514\n  max_tokens: 2048\n${yaml}`,
    'agents/coder-one/config.yaml',
  );
  return { id: 'coder-one', config, systemPrompt: '', warnings: [], configHash: 'h' };
}

const context = (yaml: string): CliRunContext =>
  ({
    def: definition(yaml),
    task: 'Reply to the mention.',
    systemPrompt: 'You are Otto.',
    model: 'claude-sonnet-4-20250514',
    maxTurns: 7,
    modelUrl: 'http://127.0.0.1:8701',
    modelKey: 'placeholder',
    mcpServers: { hub: 'http://127.0.0.1:8702/mcp', tools: 'http://127.0.0.1:8703/mcp' },
    mcpTools: { hub: ['hub_post'], tools: ['read_file'] },
  }) as unknown as CliRunContext;

type Agent = { prompt: string; steps: number; tools: Record<string, boolean>; permission: { bash: unknown } };
const agentOf = (config: Record<string, unknown>): Agent =>
  (config.agent as Record<string, Agent>).botburrow!;

describe('opencodeConfig', () => {
  it('points the anthropic provider at the bridge and declares the model, the prompt and the step hint', () => {
    const config = opencodeConfig(context('capabilities:\n  grants: [hub:read]\n'));
    expect(config).toMatchObject({
      autoupdate: false,
      share: 'disabled',
      model: 'anthropic/claude-sonnet-4-20250514',
      small_model: 'anthropic/claude-sonnet-4-20250514',
      provider: {
        anthropic: {
          options: { baseURL: 'http://127.0.0.1:8701/v1', apiKey: 'placeholder' },
          models: { 'claude-sonnet-4-20250514': { limit: { output: 2048 } } },
        },
      },
    });
    const agent = agentOf(config);
    expect(agent.prompt).toBe('You are Otto.');
    expect(agent.steps).toBe(7);
  });

  it('passes every MCP server as a remote one without OAuth discovery', () => {
    const config = opencodeConfig(context('capabilities:\n  grants: [hub:read]\n'));
    expect(config.mcp).toEqual({
      hub: { type: 'remote', url: 'http://127.0.0.1:8702/mcp', enabled: true, oauth: false, timeout: 60_000 },
      tools: {
        type: 'remote',
        url: 'http://127.0.0.1:8703/mcp',
        enabled: true,
        oauth: false,
        timeout: 60_000,
      },
    });
  });

  it('turns off bash without a shell, and subagents and web access always', () => {
    const agent = agentOf(opencodeConfig(context('capabilities:\n  grants: [hub:read]\n')));
    expect(agent.tools).toMatchObject({ bash: false, task: false, webfetch: false, skill: false });
    expect(agent.permission.bash).toBe('deny');
  });

  it('allows only the allowed commands of an enabled shell', () => {
    const agent = agentOf(
      opencodeConfig(context('capabilities:\n  shell:\n    enabled: true\n    allowed_commands: [git]\n')),
    );
    expect(agent.tools.bash).toBeUndefined();
    expect(agent.permission.bash).toEqual({ '*': 'deny', git: 'allow', 'git *': 'allow' });
  });
});

describe('opencodeArgs and opencodeEnv', () => {
  it('runs headless with JSON events, the agent, the model and a fixed title (no title call)', () => {
    expect(opencodeArgs({ model: 'claude-sonnet-4-20250514' })).toEqual([
      'run',
      '--format',
      'json',
      '--agent',
      'botburrow',
      '--model',
      'anthropic/claude-sonnet-4-20250514',
      '--title',
      'botburrow',
    ]);
  });

  it('keeps every folder opencode writes under the run home and switches its start-up fetches off', () => {
    const env = opencodeEnv('/ws/s1/.botburrow/opencode');
    for (const k of ['HOME', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_CACHE_HOME', 'XDG_STATE_HOME']) {
      expect(env[k]).toMatch(/^\/ws\/s1\/\.botburrow\/opencode/);
    }
    expect(env.OPENCODE_CONFIG).toBe('/ws/s1/.botburrow/opencode/opencode.json');
    expect(env).toMatchObject({
      OPENCODE_DISABLE_PROJECT_CONFIG: '1',
      OPENCODE_DISABLE_MODELS_FETCH: '1',
      OPENCODE_DISABLE_AUTOUPDATE: '1',
      OPENCODE_PURE: '1',
    });
    expect(Object.keys(env).some((k) => /API_KEY/.test(k))).toBe(false);
  });
});

describe('opencode executor: locating the CLI', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bb-opencode-locate-'));

  it('names a missing binary, and the npm placeholder left by --ignore-scripts, as missing', () => {
    expect(opencodeExecutor({ binary: path.join(dir, 'absent') }).locate()).toEqual({
      missing: expect.stringMatching(/the opencode CLI is not installed .*absent/),
    });
    const placeholder = path.join(dir, 'opencode.exe');
    writeFileSync(placeholder, '#!/bin/sh\necho "run the postinstall"\n'.padEnd(479, '#'));
    expect(opencodeExecutor({ binary: placeholder }).locate()).toEqual({
      missing: expect.stringMatching(/is the npm placeholder.*npm rebuild opencode-ai/),
    });
  });

  it('finds the installed CLI', () => {
    expect(opencodeExecutor().locate()).toEqual({
      path: expect.stringMatching(/opencode-ai\/bin\/opencode\.exe$/),
    });
  });
});
