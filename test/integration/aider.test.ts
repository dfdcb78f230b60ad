/**
 * aider agents end to end on real components: the real `aider` CLI (PyPI aider-chat, in the
 * project's `.tools/aider` environment) in the real sandbox, against the scripted model server
 * speaking the Messages API (litellm's anthropic provider with the bridge's base URL), on a real
 * Temporal server, Valkey and the Hub simulator. aider has no MCP client: it answers in text and
 * the workflow posts that as the one reply.
 */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scenario } from '../../dev/model-server/scenario';
import type { ActivationStatus } from '../../workflows/activation';
import { eventually } from '../support/env';
import type { ActivationStack } from '../support/stack';
import { startStack } from '../support/stack';

const POST_ID = 'p-otters';
/** The model server checks keys: a run that gets answers proves the proxy put the runner's key on. */
const KEYS = { anthropic: 'test-key', openai: 'sk-openai-aider-test' };

/** An edit whose SEARCH text is not in the file: aider sends the error back and asks again. */
const FAILING_EDIT = [
  'Fixing the notes.',
  '',
  'notes.txt',
  '```',
  '<<<<<<< SEARCH',
  'text that is not in the file',
  '=======',
  'new text',
  '>>>>>>> REPLACE',
  '```',
].join('\n');

const script: Scenario = {
  name: 'aider-tests',
  rules: [
    { name: 'writer', when: { system: 'writer persona' }, reply: { text: 'Otters eat fish and crabs.' } },
    // "editor" agents answer every call with an edit that never applies: only a cap ends them.
    { name: 'editor', when: { system: 'editor persona' }, reply: { text: FAILING_EDIT } },
    // "slow" agents think for a minute: long enough to be cancelled.
    { name: 'slow', when: { system: 'slow persona' }, reply: { text: 'Finally.', delayMs: 60_000 } },
  ],
  fallback: { text: 'NO_RESPONSE_NEEDED' },
};

/** Live processes whose command line mentions `text`. */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${entry}/stat`, 'utf8'))) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

describe('aider agents', () => {
  let stack: ActivationStack;
  const workspaceRoot = path.join(os.tmpdir(), `bb-aider-ws-${process.pid}`);

  beforeAll(async () => {
    stack = await startStack({
      script,
      seed: {
        agents: [],
        posts: [{ id: POST_ID, author: { id: 'alice', name: 'Alice' }, content: 'What do otters eat?' }],
      },
      modelApiKeys: Object.values(KEYS),
      env: { BOTBURROW_WORKSPACE_ROOT: workspaceRoot, OPENAI_API_KEY: KEYS.openai },
    });
    await stack.startRunner();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  async function notify(agentId: string, content = '@agent what do otters eat?'): Promise<string> {
    const n = await stack.hub.admin.injectNotification({
      agent_id: agentId,
      type: 'mention',
      post_id: POST_ID,
      from_agent: { id: 'alice', name: 'Alice' },
      content,
    });
    return n.id;
  }
  const aider = (persona: string, o: { maxIterations?: number; brain?: Record<string, unknown> } = {}) =>
    stack.addAgent(`ai-${persona}`, {
      ...(o.maxIterations !== undefined && { maxIterations: o.maxIterations }),
      systemPrompt: `You are a ${persona} persona.`,
      extra: { type: 'aider', ...(o.brain && { brain: { max_tokens: 1000, ...o.brain } }) },
    });
  // The agent's id is in its system prompt: the Messages `system` field, or a Chat Completions message.
  const requestsOf = (agentId: string) =>
    stack.model.requests().filter((r) => JSON.stringify(r.body).includes(agentId));
  const isRead = async (agentId: string, id: string) =>
    (await stack.hub.admin.notifications(agentId)).find((n) => n.id === id)?.read;
  const commentsOf = async (agentId: string) =>
    (await stack.hub.admin.activity(agentId)).comments.map((c) => c.content);

  it('answers a mention with one reply, its usage metered and priced', async () => {
    const id = await aider('writer');
    const nid = await notify(id);
    const startedAt = Date.now();
    const result = await stack.run(id);
    console.log(`aider: one mention answered end to end in ${Date.now() - startedAt} ms`);
    expect(result).toMatchObject({ outcome: 'succeeded', notificationsProcessed: 1, commentsCreated: 1 });
    expect(await commentsOf(id)).toEqual(['Otters eat fish and crabs.']);
    expect(await isRead(id, nid)).toBe(true);
    // It was the real CLI: litellm's client, one call, the persona first in aider's own system
    // prompt, the notification as the user's message, no tools and no temperature.
    const calls = requestsOf(id);
    expect(calls).toHaveLength(1);
    const body = calls[0]!.body as {
      system?: unknown;
      messages?: unknown[];
      tools?: unknown;
      temperature?: unknown;
      model?: string;
      max_tokens?: number;
    };
    const system = JSON.stringify(body.system);
    expect(system.indexOf('You are a writer persona.')).toBeLessThan(system.indexOf('SEARCH/REPLACE'));
    expect(system.indexOf('You are a writer persona.')).toBeGreaterThanOrEqual(0);
    expect(JSON.stringify(body.messages)).toContain('what do otters eat?');
    expect(body.tools).toBeUndefined();
    // Without MCP it has no Hub tools, so its prompt names none (it answers in text).
    expect(JSON.stringify(body)).not.toMatch(/mcp__hub__|create_comment|hub_post/);
    expect(body.temperature).toBeUndefined();
    expect(body.max_tokens).toBe(1000);
    expect(body.model).toBe('claude-sonnet-4');
    expect(calls[0]!.path).toBe('/v1/messages');
    expect(calls[0]!.headers['user-agent']).toMatch(/litellm|anthropic|python/i);
    // Usage comes from the model server's answer through the meter, priced by the runner's table.
    expect(result.tokensInput).toBeGreaterThan(0);
    expect(result.tokensOutput).toBeGreaterThan(0);
    expect(result.costUsd).toBeGreaterThan(0);
  });

  it('an openai brain (Chat Completions through the proxy) stops at the turn limit: iteration_cap', async () => {
    const id = await aider('editor', {
      maxIterations: 2,
      // Routed under the runner's allow-lists: a loopback api_base and an allowed key variable.
      brain: {
        provider: 'openai',
        model: 'gpt-4o-mini',
        api_base: `${stack.model.url}/v1`,
        api_key_env: 'OPENAI_API_KEY',
      },
    });
    const nid = await notify(id);
    const result = await stack.run(id);
    expect(result.outcome).toBe('iteration_cap');
    // aider would reflect three times on its own; the proxy let only two calls through.
    const calls = requestsOf(id);
    expect(calls.map((c) => [c.path, c.status])).toEqual([
      ['/v1/chat/completions', 200],
      ['/v1/chat/completions', 200],
    ]);
    expect((calls[0]!.body as { model?: string }).model).toBe('gpt-4o-mini');
    expect(JSON.stringify(calls[1]!.body)).toMatch(/SearchReplaceNoExactMatch/);
    expect(result.iterations).toBe(2);
    expect(result.tokensInput).toBeGreaterThan(0);
    expect(await commentsOf(id)).toEqual([]);
    expect(await isRead(id, nid)).toBe(true);
  });

  it('a cancel mid-run ends the whole process group within 5 s and leaves the notification unread', async () => {
    const id = await aider('slow');
    const nid = await notify(id);
    const handle = await stack.activate(id);
    await eventually(() => requestsOf(id).length === 1, 60_000);
    expect(processesMentioning(id).length).toBeGreaterThan(0);
    const status = await handle.query<ActivationStatus>('status');
    expect(status.session).not.toBeNull();
    // While it runs: everything aider wrote (its home, caches, histories, the per-run config) is
    // in the workspace's .botburrow/aider, and nothing of aider's anywhere else in the workspace.
    const written = filesUnder(workspaceRoot).filter((f) => f.includes(id));
    const home = written.filter((f) => f.includes(path.join('.botburrow', 'aider')));
    for (const file of ['message.md', 'model-settings.yml', 'model-metadata.json', 'llm.history']) {
      expect(home.some((f) => f.endsWith(path.join('.botburrow', 'aider', file)))).toBe(true);
    }
    expect(home.some((f) => f.includes(path.join('.botburrow', 'aider', '.aider', '')))).toBe(true);
    expect(written.filter((f) => /\.aider/.test(f) && !f.includes(path.join('.botburrow', 'aider')))).toEqual(
      [],
    );
    const cancelledAt = Date.now();
    await handle.signal('cancel', { reason: 'operator test' });
    const result = await handle.result();
    const took = Date.now() - cancelledAt;
    expect(result).toMatchObject({ outcome: 'cancelled', notificationsProcessed: 0 });
    expect(took).toBeLessThan(5_000);
    expect(processesMentioning(id)).toEqual([]);
    await eventually(() => requestsOf(id)[0]?.aborted === true, 5_000);
    expect(await isRead(id, nid)).toBe(false);
  });

  it('a model error ends aider with a clear failure that counts against the breaker', async () => {
    const id = await aider('broken');
    stack.model.addFault({ kind: '400', count: 5, match: { system: id } });
    const nid = await notify(id);
    const result = await stack.run(id);
    expect(result.outcome).toBe('failed');
    // aider exits 0 after a failed call; the executor reads the failure from its output.
    expect(result.error).toMatch(/aider: aider ended with litellm\.BadRequestError: AnthropicException/);
    expect(result.error).toMatch(/invalid_request_error/);
    expect(requestsOf(id)).toHaveLength(1);
    expect(await isRead(id, nid)).toBe(false);
    expect(await commentsOf(id)).toEqual([]);
    expect((await stack.guards.breaker.status(id)).failures).toBe(1);
  });

  it('a runner without the CLI fails with a clear, non-retryable error that does not trip the breaker', async () => {
    const id = await aider('uninstalled');
    const nid = await notify(id);
    const before = process.env.AIDER_PATH;
    process.env.AIDER_PATH = '/nonexistent/aider';
    try {
      const result = await stack.run(id);
      expect(result.outcome).toBe('failed');
      expect(result.error).toMatch(
        /cannot run here: the aider CLI is not installed \(no Python environment at \/nonexistent\/aider\)/,
      );
    } finally {
      if (before === undefined) delete process.env.AIDER_PATH;
      else process.env.AIDER_PATH = before;
    }
    expect(requestsOf(id)).toEqual([]);
    expect(await isRead(id, nid)).toBe(false);
    expect((await stack.guards.breaker.status(id)).failures).toBe(0);
  });
});
