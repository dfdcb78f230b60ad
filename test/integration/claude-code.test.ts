/**
 * claude-code agents end to end on real components: the real `claude` CLI (from npm) in the real
 * sandbox, against the scripted model server speaking the streaming Messages API, on a real
 * Temporal server, Valkey and the Hub simulator. The CLI reaches the Hub only through the Hub MCP
 * endpoint of its bridge, so its posts go through the same idempotent publisher as the built-in loop.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scenario } from '../../dev/model-server/scenario';
import { activationWorkflowId } from '../../lib/contract';
import type { ActivationStatus } from '../../workflows/activation';
import { exportHistory } from '../../scripts/export-history';
import { eventually } from '../support/env';
import type { ActivationStack } from '../support/stack';
import { startStack } from '../support/stack';

const POST_ID = 'p-otters';
const record = process.env.RECORD_HISTORIES === '1';
const historyDir = path.resolve(__dirname, '../replay/histories');

const post = (content: string) => ({
  toolCalls: [{ name: 'mcp__hub__hub_post', input: { post_id: POST_ID, content } }],
});

const script: Scenario = {
  name: 'claude-code-tests',
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
    // "explorer" agents comment on a post they find, then stop.
    {
      name: 'explorer-post',
      when: { system: 'explorer persona', turn: 1 },
      reply: post('An otter explorer was here.'),
    },
    { name: 'explorer-done', when: { system: 'explorer persona' }, reply: { text: 'Explored.' } },
    // "looper" agents search forever: only the turn limit ends them.
    {
      name: 'looper',
      when: { system: 'looper persona' },
      reply: { toolCalls: [{ name: 'mcp__hub__hub_search', input: { query: 'otters' } }] },
    },
    // "announcer" agents follow a skill in the original Hub vocabulary (mcp.hub.*).
    {
      name: 'announcer-1',
      when: { system: 'check your spending with `mcp__hub__get_budget_health`', turn: 1 },
      reply: {
        toolCalls: [
          { name: 'mcp__hub__get_budget_health', input: {} },
          { name: 'mcp__hub__search', input: { query: 'otters' } },
        ],
      },
    },
    {
      name: 'announcer-2',
      when: { system: 'publish with `mcp__hub__create_post`', turn: 2 },
      reply: {
        toolCalls: [
          {
            name: 'mcp__hub__create_post',
            input: { title: 'Otter news', content: 'Otters announced.', community: 'm/general' },
          },
        ],
      },
    },
    { name: 'announcer-done', when: { system: 'announcer persona' }, reply: { text: 'Announced.' } },
    // "slow" agents think for a minute: long enough to be cancelled.
    { name: 'slow', when: { system: 'slow persona' }, reply: { text: 'Finally.', delayMs: 60_000 } },
  ],
  fallback: { text: 'NO_RESPONSE_NEEDED' },
};

/** Live processes whose command line mentions `text` (the CLI's args carry the agent's id). */
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

describe('claude-code agents', () => {
  let stack: ActivationStack;

  beforeAll(async () => {
    stack = await startStack({
      script,
      seed: {
        agents: [],
        posts: [{ id: POST_ID, author: { id: 'alice', name: 'Alice' }, content: 'What do otters eat?' }],
      },
      env: {
        BOTBURROW_WORKSPACE_ROOT: path.join(os.tmpdir(), `bb-cc-ws-${process.pid}`),
        BOTBURROW_BUDGET_OVERRIDES: JSON.stringify({ 'cc-poor': { daily_tokens: 500 } }),
      },
    });
    const skill = path.join(stack.definitionsDir, 'skills', 'announcer');
    mkdirSync(skill, { recursive: true });
    writeFileSync(
      path.join(skill, 'SKILL.md'),
      '---\nname: announcer\ndescription: Announce otter news.\n---\nFirst check your spending with mcp.hub.get_budget_health and search with mcp.hub.search;\nthen publish with mcp.hub.create_post.\n',
    );
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
  const coder = (persona: string, o: { id?: string; maxIterations?: number } = {}) =>
    stack.addAgent(persona, {
      ...o,
      systemPrompt: `You are a ${persona} persona.`,
      extra: { type: 'claude-code' },
    });
  const requestsOf = (agentId: string) =>
    stack.model
      .requests()
      .filter((r) => JSON.stringify((r.body as { system?: unknown }).system ?? '').includes(agentId));
  const isRead = async (agentId: string, id: string) =>
    (await stack.hub.admin.notifications(agentId)).find((n) => n.id === id)?.read;
  const commentsOf = async (agentId: string) =>
    (await stack.hub.admin.activity(agentId)).comments.map((c) => c.content);
  const maybeRecord = async (agentId: string, name: string) => {
    if (record)
      await exportHistory(
        stack.client,
        activationWorkflowId(agentId),
        path.join(historyDir, `activation-claude-code-${name}.json`),
      );
  };

  it('handles a mention with one reply posted through the Hub MCP server', async () => {
    const id = await coder('coder');
    const nid = await notify(id);
    const result = await stack.run(id);
    expect(result).toMatchObject({ outcome: 'succeeded', notificationsProcessed: 1, commentsCreated: 1 });
    // The CLI posted; the workflow did not post its closing text as a second reply.
    expect(await commentsOf(id)).toEqual(['Otters eat fish and crabs.']);
    expect(await isRead(id, nid)).toBe(true);
    // It was the real CLI: streamed calls, the Hub MCP tools, no Bash for an agent without a shell.
    const calls = requestsOf(id);
    expect(calls).toHaveLength(2);
    const body = calls[0]!.body as { stream?: boolean; tools?: { name: string }[]; model?: string };
    expect(body.stream).toBe(true);
    const tools = (body.tools ?? []).map((t) => t.name);
    expect(tools).toContain('mcp__hub__hub_post');
    expect(tools).not.toContain('Bash');
    expect(calls[0]!.headers['user-agent']).toMatch(/claude-cli/);
    expect(result.tokensInput).toBeGreaterThan(0);
    expect(result.costUsd).toBeGreaterThan(0);
    await maybeRecord(id, 'succeeded');
  });

  it('follows a skill in the original vocabulary: mcp__hub__ calls by those names, the post on the Hub', async () => {
    const id = await stack.addAgent('announcer', {
      systemPrompt: 'You are a announcer persona.',
      extra: {
        type: 'claude-code',
        capabilities: { grants: ['hub:read', 'hub:write'], skills: ['announcer'] },
      },
    });
    await notify(id, '@agent any otter news?');
    const result = await stack.run(id);
    expect(result).toMatchObject({ outcome: 'succeeded', postsCreated: 1 });
    const posts = (await stack.hub.admin.activity(id)).posts;
    expect(posts.map((p) => [p.title, p.content])).toEqual([['Otter news', 'Otters announced.']]);
    const last = requestsOf(id).at(-1)!.body as { messages: { role: string; content: unknown }[] };
    const called = last.messages
      .filter((m) => m.role === 'assistant' && Array.isArray(m.content))
      .flatMap((m) => m.content as { type: string; name?: string }[])
      .filter((b) => b.type === 'tool_use')
      .map((b) => b.name);
    expect(called).toEqual(['mcp__hub__get_budget_health', 'mcp__hub__search', 'mcp__hub__create_post']);
  });

  it('posts its text answer as the one reply when it did not post itself', async () => {
    const id = await coder('writer');
    const nid = await notify(id);
    const result = await stack.run(id);
    expect(result).toMatchObject({ outcome: 'succeeded', notificationsProcessed: 1, commentsCreated: 1 });
    expect(await commentsOf(id)).toEqual(['Otters sleep holding paws.']);
    expect(await isRead(id, nid)).toBe(true);
  });

  it('explores: the discover feed is its task and it comments through the Hub MCP server', async () => {
    const id = await coder('explorer');
    const result = await stack.run(id, 'exploration');
    expect(result).toMatchObject({ outcome: 'succeeded', trigger: 'exploration', commentsCreated: 1 });
    expect(await commentsOf(id)).toEqual(['An otter explorer was here.']);
    await maybeRecord(id, 'exploration');
  });

  it('stops at the turn limit (the iteration cap) with outcome iteration_cap and no empty reply', async () => {
    const id = await coder('looper', { maxIterations: 2 });
    const nid = await notify(id);
    const result = await stack.run(id);
    expect(result.outcome).toBe('iteration_cap');
    expect(requestsOf(id)).toHaveLength(2);
    expect(result.iterations).toBe(2);
    expect(await commentsOf(id)).toEqual([]);
    // The cap is an answer of sorts: the notification was handled and does not come back forever.
    expect(await isRead(id, nid)).toBe(true);
    await maybeRecord(id, 'iteration-cap');
  });

  it('a cancel mid-run ends the whole process group within 5 s and leaves the notification unread', async () => {
    const id = await coder('slow');
    const nid = await notify(id);
    const handle = await stack.activate(id);
    await eventually(() => requestsOf(id).length === 1, 30_000);
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
    await maybeRecord(id, 'cancelled');
  });

  it('refuses a run its budget cannot cover before the CLI starts', async () => {
    const id = await coder('poor', { id: 'cc-poor' });
    const nid = await notify(id);
    const result = await stack.run(id);
    expect(result.outcome).toBe('budget_exceeded');
    expect(result.error).toMatch(/daily token limit 500/);
    expect(requestsOf(id)).toHaveLength(0);
    expect(await isRead(id, nid)).toBe(false);
    await maybeRecord(id, 'budget-exceeded');
  });

  it('a CLI that ends with an error fails the activation clearly and counts against the breaker', async () => {
    const id = await coder('broken');
    stack.model.addFault({ kind: '400', count: 5, match: { system: id } });
    const nid = await notify(id);
    const result = await stack.run(id);
    expect(result.outcome).toBe('failed');
    expect(result.error).toMatch(/claude-code: claude ended with/);
    expect(result.error).toMatch(/400/);
    expect(await isRead(id, nid)).toBe(false);
    expect((await stack.guards.breaker.status(id)).failures).toBe(1);
    await maybeRecord(id, 'failed');
  });

  it('a runner without the CLI fails with a clear, non-retryable error that does not trip the breaker', async () => {
    const id = await coder('uninstalled');
    const nid = await notify(id);
    const before = process.env.CLAUDE_CODE_PATH;
    process.env.CLAUDE_CODE_PATH = '/nonexistent/claude';
    try {
      const result = await stack.run(id);
      expect(result.outcome).toBe('failed');
      expect(result.error).toMatch(
        /cannot run here: the claude CLI is not installed \(\/nonexistent\/claude\)/,
      );
    } finally {
      if (before === undefined) delete process.env.CLAUDE_CODE_PATH;
      else process.env.CLAUDE_CODE_PATH = before;
    }
    expect(requestsOf(id)).toEqual([]);
    expect(await isRead(id, nid)).toBe(false);
    expect((await stack.guards.breaker.status(id)).failures).toBe(0);
  });
});
