/**
 * Agent config parsing against the schema: every kind of invalid definition with its exact
 * message (a table over test/fixtures/definitions/invalid), defaults, full definitions loading
 * unchanged, legacy fields with warnings, agent types and grants.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { DefinitionError, UnsupportedAgentTypeError } from '../../lib/errors';
import {
  LocalDefinitionStore,
  assertRunnableAgentType,
  checkAllDefinitions,
  hasGrant,
  isRunnableAgentType,
  listAgentIds,
  loadAgentDefinition,
  parseAgentConfig,
} from '../../lib/definitions';

const FIXTURES = path.resolve(__dirname, '../fixtures/definitions');
const invalid = new LocalDefinitionStore(path.join(FIXTURES, 'invalid'));
const store = new LocalDefinitionStore(path.join(FIXTURES, 'store'));

/** Fixture folder → the exact message its config.yaml must be rejected with (after `agents/<id>/config.yaml: `). */
const INVALID: Record<string, string> = {
  'bad-temperature': 'brain.temperature: must be ≤ 2',
  'bad-grant': 'capabilities.grants[1]: must match service:permission (e.g. hub:read)',
  'unknown-field': 'behavior.foo: unknown field',
  'unknown-top-field': 'persona: unknown field',
  'missing-brain': 'brain: is required',
  'missing-model': 'brain.model: is required',
  'null-brain': 'brain: must be a mapping, not null',
  'bad-type': 'type: must be one of native, claude-code, goose, aider, opencode, custom',
  'name-mismatch': "name: must equal the folder name 'name-mismatch' (is 'other-name')",
  'yaml-syntax': 'line 4, column 10: YAML syntax error: Nested mappings are not allowed in compact mappings',
  'bad-cache-ttl': 'cache_ttl: must be ≥ 30',
  'float-iterations': 'behavior.max_iterations: must be an integer, not a number',
  'too-many-iterations': 'behavior.max_iterations: must be ≤ 50',
  'bad-community': 'interests.communities[1]: must be a community like m/general',
  'duplicate-grant': 'capabilities.grants[1]: duplicates item 0 ("hub:read"); items must be unique',
  'mcp-missing-command': 'capabilities.mcp_servers[1].command: is required',
  'mcp-bad-item':
    'capabilities.mcp_servers[0]: must be a server name or a mapping with name and command (or name and url)',
  'mcp-unknown-field': 'capabilities.mcp_servers[0].cwd: unknown field',
  'aider-mcp':
    'capabilities.mcp_servers: type aider has no MCP support, so its MCP servers would never be offered; remove them or use type claude-code or opencode',
  'bad-version': 'version: must be a version like 1.0.0',
  'bad-api-key-env': 'brain.api_key_env: must be an environment variable name (e.g. ANTHROPIC_API_KEY)',
  'bad-api-base': 'brain.api_base: must be a URI (e.g. https://api.example.com/v1)',
  'short-name': 'name: must be at least 3 characters',
  'long-description': 'description: must be at most 500 characters',
  'bad-legacy-count': 'max_daily_posts: must be an integer ≥ 0',
  'empty-file': 'file is empty',
  'not-mapping': 'must be a YAML mapping of fields',
  'string-temperature': 'brain.temperature: must be a number, not a string',
  'bad-frequency': 'behavior.discovery.frequency: must be one of staleness, hourly, daily',
  'bad-shell-timeout': 'capabilities.shell.timeout_seconds: must be ≥ 1',
  'bad-retrieval': 'memory.retrieval.strategy: must be one of embedding_search, keyword, recent',
  'negative-limit': 'behavior.limits.max_daily_comments: must be ≥ 0',
  'bad-min-confidence': 'behavior.discovery.min_confidence: must be ≤ 1',
  'string-min-confidence': 'behavior.discovery.min_confidence: must be a number, not a string',
  'bad-respond-to-questions': 'behavior.discovery.respond_to_questions: must be true or false, not a string',
  'bad-respond-to-discussions':
    'behavior.discovery.respond_to_discussions: must be true or false, not an integer',
  'bad-follow-agents': 'interests.follow_agents: must be a list, not a string',
  'bad-follow-agent-item': 'interests.follow_agents[1]: must be a string, not an integer',
};

describe('invalid definitions: exact messages', () => {
  it('has a table row for every invalid fixture with a config.yaml', async () => {
    expect(Object.keys(INVALID).sort()).toEqual(
      (await listAgentIds(invalid)).filter((id) => id !== 'two-problems').sort(),
    );
  });

  it.each(Object.entries(INVALID))('%s', async (id, rule) => {
    const err = await loadAgentDefinition(invalid, id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DefinitionError);
    expect((err as DefinitionError).message).toBe(`agents/${id}/config.yaml: ${rule}`);
    expect((err as DefinitionError).file).toBe(`agents/${id}/config.yaml`);
  });

  it('lists every broken rule, one line each', async () => {
    const err = (await loadAgentDefinition(invalid, 'two-problems').catch(
      (e: unknown) => e,
    )) as DefinitionError;
    expect(err.message.split('\n')).toEqual([
      'agents/two-problems/config.yaml: brain.temperature: must be ≥ 0',
      'agents/two-problems/config.yaml: behavior.min_confidence: unknown field',
    ]);
    expect(err.field).toBe('brain.temperature');
    expect(err.more).toEqual([{ field: 'behavior.min_confidence', rule: 'unknown field' }]);
  });

  it('reports a missing config.yaml with the file and the store', async () => {
    await expect(loadAgentDefinition(invalid, 'no-config')).rejects.toThrow(
      `agents/no-config/config.yaml: not found in folder ${path.join(FIXTURES, 'invalid')}`,
    );
  });

  it('refuses agent ids that could leave the store', async () => {
    await expect(loadAgentDefinition(store, '../etc')).rejects.toBeInstanceOf(DefinitionError);
    await expect(loadAgentDefinition(store, 'UPPER')).rejects.toThrow(/agent id must be 3-50 lowercase/);
  });

  it('checkAllDefinitions reports each agent on its own', async () => {
    const checks = await checkAllDefinitions(invalid);
    expect(checks.length).toBe(Object.keys(INVALID).length + 1);
    expect(checks.every((c) => !c.ok)).toBe(true);
    expect(checks.find((c) => c.id === 'bad-temperature')?.error).toBe(
      'agents/bad-temperature/config.yaml: brain.temperature: must be ≤ 2',
    );
    const good = await checkAllDefinitions(store);
    expect(good.map((c) => [c.id, c.ok, c.warnings.length])).toEqual([
      ['full-agent', true, 0],
      ['goose-agent', true, 0],
      ['legacy-agent', true, 3],
      ['minimal-agent', true, 0],
      ['no-prompt-agent', true, 0],
    ]);
  });

  it('one invalid agent does not affect the others in the same store', async () => {
    const ids = await listAgentIds(invalid);
    const results = await Promise.allSettled(ids.map((id) => loadAgentDefinition(invalid, id)));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    const def = await loadAgentDefinition(store, 'minimal-agent');
    expect(def.config.name).toBe('minimal-agent');
  });
});

describe('valid definitions', () => {
  it('applies every schema default to a minimal definition', async () => {
    const def = await loadAgentDefinition(store, 'minimal-agent');
    expect(def.warnings).toEqual([]);
    expect(def.systemPrompt).toBe('You are Minimal Agent.\n');
    expect(def.config).toEqual({
      cache_ttl: 300,
      name: 'minimal-agent',
      type: 'custom',
      brain: { provider: 'anthropic', model: 'claude-sonnet-4', temperature: 0.7 },
      capabilities: {
        grants: [],
        skills: [],
        mcp_servers: [],
        shell: { enabled: false, allowed_commands: [], blocked_patterns: [], timeout_seconds: 120 },
        spawning: { can_propose: false, allowed_templates: [] },
      },
      interests: { topics: [], communities: [], keywords: [], follow_agents: [] },
      behavior: {
        respond_to_mentions: true,
        respond_to_replies: true,
        respond_to_dms: true,
        // No schema default: the runner's BOTBURROW_MAX_ITERATIONS applies (activities/activation/definition.ts).
        discovery: {
          enabled: false,
          respond_to_questions: false,
          respond_to_discussions: false,
          min_confidence: 0.7,
        },
        limits: {
          max_daily_posts: 5,
          max_daily_comments: 50,
          max_responses_per_thread: 3,
          min_interval_seconds: 60,
        },
      },
      memory: {
        enabled: false,
        remember: {
          conversations_with: [],
          projects_worked_on: false,
          decisions_made: false,
          feedback_received: false,
        },
        max_size_mb: 100,
        retrieval: { strategy: 'embedding_search', max_context_items: 10, relevance_threshold: 0.7 },
      },
    });
  });

  it('loads a definition that sets every field unchanged', async () => {
    const text = fs.readFileSync(path.join(FIXTURES, 'store/agents/full-agent/config.yaml'), 'utf8');
    const def = await loadAgentDefinition(store, 'full-agent');
    expect(def.warnings).toEqual([]);
    // Every field is set in the file, so no default is added: the parsed config is the file.
    expect(def.config).toEqual(YAML.parse(text));
  });

  it('treats a missing system-prompt.md as an empty prompt', async () => {
    const def = await loadAgentDefinition(store, 'no-prompt-agent');
    expect(def.systemPrompt).toBe('');
    expect(def.config.capabilities.grants).toEqual(['hub:*']);
  });

  it('hashes config and prompt, so any change gives a new configHash', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'botburrow-hash-'));
    try {
      const tmp = new LocalDefinitionStore(dir);
      await tmp.writeText(
        'agents/abc/config.yaml',
        'name: abc\ntype: native\nbrain: {model: m}\ncapabilities: {}\n',
      );
      await tmp.writeText('agents/abc/system-prompt.md', 'one');
      const first = await loadAgentDefinition(tmp, 'abc');
      expect((await loadAgentDefinition(tmp, 'abc')).configHash).toBe(first.configHash);
      await tmp.writeText('agents/abc/system-prompt.md', 'two');
      const second = await loadAgentDefinition(tmp, 'abc');
      expect(second.systemPrompt).toBe('two');
      expect(second.configHash).not.toBe(first.configHash);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('MCP servers', () => {
  const withServers = (items: string): string =>
    `name: abc\ntype: native\nbrain: {model: m}\ncapabilities:\n  mcp_servers:\n${items}`;

  it('accepts names, stdio servers and (as an extension) remote servers with a url', () => {
    const { config } = parseAgentConfig(
      withServers(
        '    - github\n    - {name: notes, command: npx, args: [a]}\n    - {name: remote, url: "http://127.0.0.1:9/mcp"}\n',
      ),
      'agents/abc/config.yaml',
    );
    expect(config.capabilities.mcp_servers).toEqual([
      'github',
      { name: 'notes', command: 'npx', args: ['a'] },
      { name: 'remote', url: 'http://127.0.0.1:9/mcp' },
    ]);
  });

  it('rejects a remote server whose url is not a URI', () => {
    expect(() =>
      parseAgentConfig(withServers('    - {name: remote, url: nope}\n'), 'agents/abc/config.yaml'),
    ).toThrow(
      'agents/abc/config.yaml: capabilities.mcp_servers[0].url: must be a URI (e.g. https://api.example.com/v1)',
    );
  });
});

describe('legacy fields', () => {
  it('maps network, can_create_posts and top-level counts with a warning each', async () => {
    const def = await loadAgentDefinition(store, 'legacy-agent');
    expect(def.warnings).toEqual([
      'network: legacy field ignored (tools are decided by capabilities.grants)',
      'max_daily_comments: legacy field, mapped to behavior.limits.max_daily_comments',
      'behavior.can_create_posts: legacy field, mapped to behavior.limits.max_daily_posts: 0',
    ]);
    expect(def.config.behavior.limits).toEqual({
      max_daily_posts: 0,
      max_daily_comments: 7,
      max_responses_per_thread: 3,
      min_interval_seconds: 120,
    });
    expect(def.config).not.toHaveProperty('network');
  });

  it('lets behavior.limits win over a legacy count, and says so', () => {
    const { config, warnings } = parseAgentConfig(
      [
        'name: old-agent',
        'type: native',
        'brain: {model: m}',
        'capabilities: {}',
        'max_daily_posts: 9',
        'behavior:',
        '  max_daily_comments: 4',
        '  can_create_posts: true',
        '  limits: {max_daily_posts: 2}',
      ].join('\n'),
      'agents/old-agent/config.yaml',
    );
    expect(config.behavior.limits.max_daily_posts).toBe(2);
    expect(config.behavior.limits.max_daily_comments).toBe(4);
    expect(warnings).toEqual([
      'max_daily_posts: legacy field ignored; behavior.limits.max_daily_posts is set and wins',
      'behavior.max_daily_comments: legacy field, mapped to behavior.limits.max_daily_comments',
      'behavior.can_create_posts: legacy field ignored (posting is allowed by default)',
    ]);
  });

  it('rejects a legacy field of the wrong type at its own path', () => {
    expect(() =>
      parseAgentConfig(
        'name: old-agent\ntype: native\nbrain: {model: m}\ncapabilities: {}\nbehavior: {can_create_posts: nope}\n',
        'agents/old-agent/config.yaml',
      ),
    ).toThrow('agents/old-agent/config.yaml: behavior.can_create_posts: must be true or false');
  });
});

describe('agent types', () => {
  it('runs native, custom, claude-code, opencode and aider; recognises goose as unsupported', async () => {
    expect(['native', 'custom', 'claude-code', 'opencode', 'aider'].map(isRunnableAgentType)).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(isRunnableAgentType('goose')).toBe(false);
    const goose = await loadAgentDefinition(store, 'goose-agent');
    expect(goose.config.type).toBe('goose');
    let err: unknown;
    try {
      assertRunnableAgentType(goose.id, goose.config.type);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnsupportedAgentTypeError);
    expect((err as Error).name).toBe('UnsupportedAgentTypeError');
    expect((err as Error).message).toBe(
      "agent type 'goose' is recognised but no runner executes it (supported: native, custom, claude-code, opencode, aider)",
    );
    expect(() => assertRunnableAgentType('x', 'native')).not.toThrow();
  });
});

describe('grants', () => {
  it('meets a requirement by the exact grant or the service wildcard only', () => {
    const grants = ['hub:read', 'github:*'];
    expect(hasGrant(grants, 'hub:read')).toBe(true);
    expect(hasGrant(grants, 'hub:write')).toBe(false);
    expect(hasGrant(grants, 'github:write')).toBe(true);
    expect(hasGrant(grants, 'github:write:docs')).toBe(true);
    expect(hasGrant(grants, 'gitlab:read')).toBe(false);
    expect(hasGrant(['hub:write'], 'hub:write:extra')).toBe(false);
    expect(hasGrant([], 'hub:read')).toBe(false);
  });
});
