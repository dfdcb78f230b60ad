/** The claude CLI's command line is derived from the definition: tools from grants and shell policy. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { claudeArgs, claudeCodeExecutor, claudeTools } from '../../activities/executors/claude-code';
import type { CliRunContext } from '../../activities/executors/types';
import { parseAgentConfig } from '../../lib/definitions';
import type { AgentDefinition } from '../../lib/definitions';

function definition(yaml: string): AgentDefinition {
  const { config } = parseAgentConfig(
    `name: coder-one\ntype: claude-code\nbrain:\n  model: claude-sonnet-4-20250514\n${yaml}`,
    'agents/coder-one/config.yaml',
  );
  return { id: 'coder-one', config, systemPrompt: '', warnings: [], configHash: 'h' };
}

const flag = (args: string[], name: string): string | undefined => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};

describe('claudeTools', () => {
  it('offers the file tools but no Bash when the shell is off', () => {
    const t = claudeTools({
      def: definition('capabilities:\n  grants: [hub:read]\n'),
      mcpTools: { hub: ['hub_search'] },
    });
    expect(t.tools).not.toContain('Bash');
    expect(t.allowed).toContain('mcp__hub__hub_search');
    expect(t.allowed.some((a) => a.startsWith('Bash'))).toBe(false);
  });

  it('pre-approves only the allowed commands of an enabled shell', () => {
    const def = definition('capabilities:\n  shell:\n    enabled: true\n    allowed_commands: [git, npm]\n');
    const t = claudeTools({ def, mcpTools: {} });
    expect(t.tools).toContain('Bash');
    expect(t.allowed).toEqual(expect.arrayContaining(['Bash(git:*)', 'Bash(npm:*)']));
    expect(t.allowed).not.toContain('Bash');
  });

  it('offers no posting tool the agent is not given', () => {
    const t = claudeTools({
      def: definition('capabilities:\n  grants: [hub:read]\n'),
      mcpTools: { hub: ['hub_search', 'hub_get_thread'] },
    });
    expect(t.allowed.filter((a) => a.includes('hub_post'))).toEqual([]);
  });
});

describe('claudeArgs', () => {
  it('runs headless with the model, turn limit, prompt and a strict MCP config', () => {
    const ctx = {
      def: definition('capabilities:\n  grants: [hub:read]\n'),
      task: 'Reply to the mention.',
      systemPrompt: 'You are Otto.',
      model: 'claude-sonnet-4-20250514',
      maxTurns: 7,
      mcpServers: { hub: 'http://127.0.0.1:8702/mcp' },
      mcpTools: { hub: ['hub_post'] },
    } as unknown as CliRunContext;
    const args = claudeArgs(ctx);
    expect(flag(args, '-p')).toBe('Reply to the mention.');
    expect(flag(args, '--model')).toBe('claude-sonnet-4-20250514');
    expect(flag(args, '--max-turns')).toBe('7');
    expect(flag(args, '--system-prompt')).toBe('You are Otto.');
    expect(flag(args, '--output-format')).toBe('stream-json');
    expect(flag(args, '--permission-mode')).toBe('dontAsk');
    expect(args).toEqual(
      expect.arrayContaining(['--bare', '--strict-mcp-config', '--no-session-persistence']),
    );
    expect(JSON.parse(flag(args, '--mcp-config')!)).toEqual({
      mcpServers: { hub: { type: 'http', url: 'http://127.0.0.1:8702/mcp' } },
    });
  });
});

describe('claude-code executor: locating the CLI', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bb-claude-locate-'));

  it('names a missing binary, and the npm placeholder left by --ignore-scripts, as missing', () => {
    expect(claudeCodeExecutor({ binary: path.join(dir, 'absent') }).locate()).toEqual({
      missing: expect.stringMatching(/the claude CLI is not installed .*absent/),
    });
    const placeholder = path.join(dir, 'claude.exe');
    writeFileSync(placeholder, '#!/bin/sh\necho "run the postinstall"\n'.padEnd(500, '#'));
    expect(claudeCodeExecutor({ binary: placeholder }).locate()).toEqual({
      missing: expect.stringMatching(/is the npm placeholder.*npm rebuild @anthropic-ai\/claude-code/),
    });
  });

  it('finds the installed CLI', () => {
    const located = claudeCodeExecutor().locate();
    expect(located).toEqual({ path: expect.stringMatching(/claude-code\/bin\/claude\.exe$/) });
  });
});
