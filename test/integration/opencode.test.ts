/**
 * opencode agents end to end on real components: the real `opencode` CLI (from npm) in the real
 * sandbox, against the scripted model server speaking the streaming Messages API (opencode's
 * anthropic provider with the bridge's base URL), on a real Temporal server, Valkey and the Hub
 * simulator. The CLI reaches the Hub only through the Hub MCP endpoint of its bridge (a remote MCP
 * server to opencode), so its posts go through the same idempotent publisher as the built-in loop.
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

/** opencode names an MCP tool `<server>_<tool>`. */
const post = (content: string) => ({
  toolCalls: [{ name: 'hub_hub_post', input: { post_id: POST_ID, content } }],
});

const script: Scenario = {
  name: 'opencode-tests',
  rules: [
    // "coder" agents reply through the Hub MCP server, then close with a short text.
    {
      name: 'coder-post',
      when: { system: 'coder persona', turn: 1 },
      reply: post('Otters eat fish and crabs.'),
    },
    { name: 'coder-done', when: { system: 'coder persona' }, reply: { text: 'Replied on the thread.' } },
    // "writer" agents answer in text only: the workflow posts it as the reply.
    { name: 'writer', when: { system: 'writer persona' }, reply: { text: 'Otters sleep holding paws.' } },
    // "looper" agents search forever, even when told the steps are spent: only the cap ends them.
    {
      name: 'looper',
      when: { system: 'looper persona' },
      reply: { toolCalls: [{ name: 'hub_hub_search', input: { query: 'otters' } }] },
    },
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

describe('opencode agents', () => {
  let stack: ActivationStack;
  const workspaceRoot = path.join(os.tmpdir(), `bb-oc-ws-${process.pid}`);

  beforeAll(async () => {
    stack = await startStack({
      script,
      seed: {
        agents: [],
        posts: [{ id: POST_ID, author: { id: 'alice', name: 'Alice' }, content: 'What do otters eat?' }],
      },
      env: { BOTBURROW_WORKSPACE_ROOT: workspaceRoot },
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
  const coder = (persona: string, o: { maxIterations?: number } = {}) =>
    stack.addAgent(`oc-${persona}`, {
      ...o,
      systemPrompt: `You are a ${persona} persona.`,
      extra: { type: 'opencode' },
    });
  const requestsOf = (agentId: string) =>
    stack.model
      .requests()
      .filter((r) => JSON.stringify((r.body as { system?: unknown }).system ?? '').includes(agentId));
  const isRead = async (agentId: string, id: string) =>
    (await stack.hub.admin.notifications(agentId)).find((n) => n.id === id)?.read;
  const commentsOf = async (agentId: string) =>
    (await stack.hub.admin.activity(agentId)).comments.map((c) => c.content);

  it('handles a mention with one reply posted through the Hub MCP server', async () => {
    const id = await coder('coder');
    const nid = await notify(id);
    const result = await stack.run(id);
    expect(result).toMatchObject({ outcome: 'succeeded', notificationsProcessed: 1, commentsCreated: 1 });
    // The CLI posted; the workflow did not post its closing text as a second reply.
    expect(await commentsOf(id)).toEqual(['Otters eat fish and crabs.']);
    expect(await isRead(id, nid)).toBe(true);
    // It was the real CLI: streamed calls, the Hub MCP tools, no bash or web tools for this agent,
    // and no extra call for a session title.
    const calls = requestsOf(id);
    expect(calls).toHaveLength(2);
    const body = calls[0]!.body as { stream?: boolean; tools?: { name: string }[]; model?: string };
    expect(body.stream).toBe(true);
    const tools = (body.tools ?? []).map((t) => t.name);
    expect(tools).toContain('hub_hub_post');
    expect(tools).not.toContain('bash');
    expect(tools).not.toContain('webfetch');
    expect(calls[0]!.headers['user-agent']).toMatch(/^opencode\//);
    expect(stack.model.requests().filter((r) => JSON.stringify(r.body).includes('title generator'))).toEqual(
      [],
    );
    expect(result.tokensInput).toBeGreaterThan(0);
    expect(result.tokensOutput).toBeGreaterThan(0);
    expect(result.costUsd).toBeGreaterThan(0);
  });

  it('posts its text answer as the one reply when it did not post itself', async () => {
    const id = await coder('writer');
    const nid = await notify(id);
    const result = await stack.run(id);
    expect(result).toMatchObject({ outcome: 'succeeded', notificationsProcessed: 1, commentsCreated: 1 });
    expect(await commentsOf(id)).toEqual(['Otters sleep holding paws.']);
    expect(await isRead(id, nid)).toBe(true);
  });

  it('stops at the turn limit: the model proxy refuses the call past it (iteration_cap)', async () => {
    const id = await coder('looper', { maxIterations: 2 });
    const nid = await notify(id);
    const result = await stack.run(id);
    expect(result.outcome).toBe('iteration_cap');
    // opencode's own `steps` only told the model on the last call; the proxy never let a third through.
    const calls = requestsOf(id);
    expect(calls).toHaveLength(2);
    expect(JSON.stringify(calls[1]!.body)).toMatch(/MAXIMUM STEPS REACHED/);
    expect(result.iterations).toBe(2);
    expect(await commentsOf(id)).toEqual([]);
    expect(await isRead(id, nid)).toBe(true);
  });

  it('a cancel mid-run ends the whole process group within 5 s and leaves the notification unread', async () => {
    const id = await coder('slow');
    const nid = await notify(id);
    const handle = await stack.activate(id);
    await eventually(() => requestsOf(id).length === 1, 60_000);
    expect(processesMentioning(id).length).toBeGreaterThan(0);
    const status = await handle.query<ActivationStatus>('status');
    expect(status.session).not.toBeNull();
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

  it('a CLI that ends with an error fails the activation clearly and counts against the breaker', async () => {
    const id = await coder('broken');
    stack.model.addFault({ kind: '400', count: 5, match: { system: id } });
    const nid = await notify(id);
    const result = await stack.run(id);
    expect(result.outcome).toBe('failed');
    expect(result.error).toMatch(/opencode: opencode ended with APIError/);
    expect(result.error).toMatch(/400/);
    expect(await isRead(id, nid)).toBe(false);
    expect((await stack.guards.breaker.status(id)).failures).toBe(1);
  });

  it('a runner without the CLI fails with a clear, non-retryable error that does not trip the breaker', async () => {
    const id = await coder('uninstalled');
    const nid = await notify(id);
    const before = process.env.OPENCODE_PATH;
    process.env.OPENCODE_PATH = '/nonexistent/opencode';
    try {
      const result = await stack.run(id);
      expect(result.outcome).toBe('failed');
      expect(result.error).toMatch(
        /cannot run here: the opencode CLI is not installed \(\/nonexistent\/opencode\)/,
      );
    } finally {
      if (before === undefined) delete process.env.OPENCODE_PATH;
      else process.env.OPENCODE_PATH = before;
    }
    expect(requestsOf(id)).toEqual([]);
    expect(await isRead(id, nid)).toBe(false);
    expect((await stack.guards.breaker.status(id)).failures).toBe(0);
  });
});
