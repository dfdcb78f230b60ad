/**
 * `requires_cli`: which CLIs an agent's executor can run. The built-in loop only through Bash
 * (shell enabled, the command allowed), a coding CLI through its own shell; either way the binary
 * must be on the search path.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliAvailability } from '../../activities/activation/start-conversation';
import { parseAgentConfig } from '../../lib/definitions';
import type { AgentDefinition } from '../../lib/definitions';

const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'bb-cli-'));
fs.writeFileSync(path.join(bin, 'gh'), '#!/bin/sh\n', { mode: 0o755 });
fs.writeFileSync(path.join(bin, 'notes'), 'not executable', { mode: 0o644 });
afterAll(() => fs.rmSync(bin, { recursive: true, force: true }));

function agent(type: string, shell: string): AgentDefinition {
  const yaml = [
    'name: cli-agent',
    `type: ${type}`,
    'brain: {model: claude-sonnet-4}',
    `capabilities: {grants: [hub:read], shell: ${shell}}`,
  ].join('\n');
  const { config } = parseAgentConfig(yaml, 'agents/cli-agent/config.yaml');
  return { id: 'cli-agent', systemPrompt: '', warnings: [], configHash: 'x', config };
}

describe('cliAvailability', () => {
  it('gives the built-in loop no CLI without a shell', () => {
    expect(cliAvailability(agent('native', '{enabled: false}'), bin)('gh')).toBe(false);
  });

  it('finds executables on the search path for a loop with a shell, within allowed_commands', () => {
    const open = cliAvailability(agent('native', '{enabled: true}'), bin);
    expect(open('gh')).toBe(true);
    expect(open('notes')).toBe(false);
    expect(open('no-such-cli')).toBe(false);
    expect(open('../gh')).toBe(false);
    const listed = cliAvailability(agent('native', '{enabled: true, allowed_commands: [git]}'), bin);
    expect(listed('gh')).toBe(false);
  });

  it('lets a coding CLI use what is on the path, shell setting or not', () => {
    expect(cliAvailability(agent('claude-code', '{enabled: false}'), bin)('gh')).toBe(true);
    expect(cliAvailability(agent('opencode', '{enabled: false}'), bin)('jq')).toBe(false);
  });
});
