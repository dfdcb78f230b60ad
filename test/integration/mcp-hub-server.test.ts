import { spawn } from 'node:child_process';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHubSimulator } from '../../dev/hub-sim/server';
import type { HubSimulator } from '../../dev/hub-sim/server';
import { HUB_TOOL_NAMES } from '../../lib/hub-tools';

// The project's Hub MCP server as a real process (via tsx), spoken to by the SDK's own client and
// by hand-written JSON-RPC, in front of the Hub simulator.
const SERVER = path.resolve(__dirname, '../../mcp/hub-server.ts');
const TSX = `file://${require.resolve('tsx')}`;
const API_KEY = 'hub-mcp-test-key';

let sim: HubSimulator;
const clients: Client[] = [];

function serverEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    BOTBURROW_HUB_URL: sim.url,
    BOTBURROW_HUB_API_KEY: API_KEY,
    BOTBURROW_AGENT_ID: 'mcp-agent',
    ...extra,
  };
}

async function connect(extra: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: 'protocol-test', version: '1.0.0' });
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: ['--import', TSX, SERVER],
      env: serverEnv(extra),
      stderr: 'pipe',
    }),
  );
  clients.push(client);
  return client;
}

function text(result: unknown): string {
  const c = ((result as { content?: unknown }).content as { type: string; text: string }[] | undefined) ?? [];
  return c.map((x) => x.text).join('');
}

beforeAll(async () => {
  sim = await createHubSimulator({
    apiKey: API_KEY,
    seed: {
      agents: [{ id: 'mcp-agent' }, { id: 'other-agent' }],
      posts: [
        {
          id: 'p-mcp',
          author: 'other-agent',
          title: 'Temporal question',
          content: 'How do durable timers work?',
          community: 'm/general',
          comments: [{ author: 'other-agent', content: 'Asking for a friend.' }],
        },
      ],
    },
  });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await sim.close();
});

describe('Hub MCP server protocol round trip (SDK client)', () => {
  it('initializes and lists the registry tools with input schemas', async () => {
    const client = await connect();
    expect(client.getServerVersion()).toMatchObject({ name: 'botburrow-hub' });
    expect(client.getServerCapabilities()?.tools).toBeDefined();
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...HUB_TOOL_NAMES].sort());
    const search = tools.find((t) => t.name === 'hub_search')!;
    expect(search.inputSchema).toMatchObject({ type: 'object', required: ['query'] });
    expect(search.annotations?.readOnlyHint).toBe(true);
    expect(tools.find((t) => t.name === 'hub_post')!.annotations?.readOnlyHint).toBe(false);
  });

  it('calls every tool against the Hub', async () => {
    const client = await connect();
    const found = JSON.parse(
      text(await client.callTool({ name: 'hub_search', arguments: { query: 'durable timers' } })),
    );
    expect((found as { results: { id: string }[] }).results.map((p) => p.id)).toContain('p-mcp');

    const thread = JSON.parse(
      text(await client.callTool({ name: 'hub_get_thread', arguments: { post_id: 'p-mcp' } })),
    );
    expect(thread).toMatchObject({ id: 'p-mcp', title: 'Temporal question' });
    expect(thread.comments[0].content).toBe('Asking for a friend.');

    await sim.admin.injectNotification({
      agent_id: 'mcp-agent',
      type: 'mention',
      post_id: 'p-mcp',
      content: '@mcp-agent help?',
    });
    const notes = JSON.parse(
      text(await client.callTool({ name: 'hub_get_notifications', arguments: {} })),
    ).notifications;
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ type: 'mention', content: '@mcp-agent help?', read: false });

    const posted = await client.callTool({
      name: 'hub_post',
      arguments: { content: 'Timers are durable because they live in history.', post_id: 'p-mcp' },
    });
    expect(posted.isError).toBeFalsy();
    expect(JSON.parse(text(posted))).toMatchObject({ kind: 'comment', post_id: 'p-mcp' });
    const newPost = await client.callTool({
      name: 'hub_post',
      arguments: { content: 'A new post from MCP', title: 'Hello', community: 'm/general' },
    });
    expect(JSON.parse(text(newPost))).toMatchObject({ kind: 'post' });
    const activity = await sim.admin.activity('mcp-agent');
    expect(activity.comments.map((c) => c.content)).toContain(
      'Timers are durable because they live in history.',
    );
    expect(activity.posts.map((p) => p.content)).toContain('A new post from MCP');
  });

  it('calls every tool of the original vocabulary against the Hub, compositions included', async () => {
    const client = await connect();
    const call = async (name: string, args: Record<string, unknown>) => {
      const r = await client.callTool({ name, arguments: args });
      expect(r.isError ?? false, `${name}: ${text(r)}`).toBe(false);
      return JSON.parse(text(r)) as Record<string, unknown>;
    };
    expect(await call('get_post', { post_id: 'p-mcp' })).toMatchObject({
      id: 'p-mcp',
      title: 'Temporal question',
    });
    expect((await call('get_post', { post_id: 'p-mcp' })).comments).toBeUndefined();
    const friend = expect.arrayContaining([expect.objectContaining({ content: 'Asking for a friend.' })]);
    expect(await call('get_thread', { post_id: 'p-mcp' })).toMatchObject({ comments: friend });
    expect(await call('get_comments', { post_id: 'p-mcp' })).toMatchObject({
      post_id: 'p-mcp',
      comments: friend,
    });
    const inCommunity = await call('get_community_posts', { community: 'm/general' });
    expect((inCommunity.posts as { id: string }[]).map((p) => p.id)).toContain('p-mcp');
    expect(await call('get_community', { community: 'm/general' })).toMatchObject({
      name: 'm/general',
      authors: expect.arrayContaining([expect.objectContaining({ id: 'other-agent' })]),
    });
    expect(await call('get_budget_health', {})).toMatchObject({ healthy: true });
    const found = await call('search', { query: 'durable timers', community: 'm/general' });
    expect((found.results as { id: string }[]).map((p) => p.id)).toEqual(['p-mcp']);
    expect(await call('get_notifications', { limit: 5 })).toHaveProperty('notifications');
    const comment = await call('create_comment', { post_id: 'p-mcp', content: 'Vocabulary comment.' });
    expect(comment).toMatchObject({ kind: 'comment', post_id: 'p-mcp' });
    expect(await call('create_post', { content: 'Vocabulary post.', community: 'm/general' })).toMatchObject({
      kind: 'post',
    });
    const activity = await sim.admin.activity('mcp-agent');
    expect(activity.comments.map((c) => c.content)).toContain('Vocabulary comment.');
    expect(activity.posts.map((p) => p.content)).toContain('Vocabulary post.');
  });

  it('answers Hub failures and bad arguments with isError results', async () => {
    const client = await connect();
    const missing = await client.callTool({
      name: 'hub_get_thread',
      arguments: { post_id: 'does-not-exist' },
    });
    expect(missing.isError).toBe(true);
    expect(text(missing)).toMatch(/Hub get_thread failed: .*404/);

    await sim.admin.addFault({ endpoint: 'GET /api/v1/search', status: 503, count: 10 });
    try {
      const down = await client.callTool({ name: 'hub_search', arguments: { query: 'anything' } });
      expect(down.isError).toBe(true);
      expect(text(down)).toMatch(/503/);
    } finally {
      await sim.admin.clearFaults();
    }

    const invalid = await client.callTool({ name: 'hub_search', arguments: {} });
    expect(invalid.isError).toBe(true);
    expect(text(invalid)).toMatch(/query/);
  });

  it('offers no posting tool in read-only mode', async () => {
    const client = await connect({ BOTBURROW_HUB_TOOLS: 'read' });
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).not.toContain('hub_post');
    expect(tools.map((t) => t.name)).not.toContain('create_post');
    expect(tools.map((t) => t.name)).not.toContain('create_comment');
    const refused = await client
      .callTool({ name: 'hub_post', arguments: { content: 'x' } })
      .catch((e: unknown) => e);
    // Either a protocol error or an isError result, but never a post.
    expect(refused instanceof Error || (refused as { isError?: boolean }).isError === true).toBe(true);
    expect((await sim.admin.activity('mcp-agent')).posts.map((p) => p.content)).not.toContain('x');
  });
});

describe('Hub MCP server JSON-RPC details (raw stdio)', () => {
  it('answers requests, never answers notifications, and reports unknown methods', async () => {
    const child = spawn(process.execPath, ['--import', TSX, SERVER], {
      env: serverEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      lines.push(...parts.filter((l) => l.trim().length > 0));
    });
    const send = (m: unknown): boolean => child.stdin.write(`${JSON.stringify(m)}\n`);
    const waitFor = async (n: number, ms: number): Promise<void> => {
      const until = Date.now() + ms;
      while (lines.length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    };
    try {
      send({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'raw', version: '1' },
        },
      });
      await waitFor(1, 10_000);
      send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 99, reason: 'none' } });
      send({ jsonrpc: '2.0', id: 2, method: 'ping' });
      send({ jsonrpc: '2.0', id: 3, method: 'no/such/method' });
      send({ jsonrpc: '2.0', id: 'four', method: 'tools/list' });
      await waitFor(4, 5000);
      // Anything a notification could have provoked would have arrived by now.
      await new Promise((r) => setTimeout(r, 300));
      const msgs = lines.map(
        (l) => JSON.parse(l) as { id?: unknown; result?: unknown; error?: { code: number } },
      );
      // One answer per request (in any order: JSON-RPC does not promise one), none for notifications.
      expect(msgs.map((m) => String(m.id)).sort()).toEqual(['1', '2', '3', 'four']);
      const byId = (id: unknown) => msgs.find((m) => m.id === id)!;
      for (const m of msgs) expect(m).toMatchObject({ jsonrpc: '2.0' });
      expect(byId(1).result).toMatchObject({
        serverInfo: { name: 'botburrow-hub' },
        capabilities: { tools: {} },
      });
      expect(byId(2).result).toEqual({});
      expect(byId(3).error?.code).toBe(-32601);
      expect((byId('four').result as { tools: unknown[] }).tools).toHaveLength(HUB_TOOL_NAMES.length);
    } finally {
      child.stdin.end();
      await new Promise((r) => {
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          r(undefined);
        }, 3000);
        child.once('exit', () => {
          clearTimeout(t);
          r(undefined);
        });
      });
    }
    expect(child.exitCode ?? child.signalCode).not.toBeNull();
  });

  it('exits with a clear message when its environment is incomplete', async () => {
    const child = spawn(process.execPath, ['--import', TSX, SERVER], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(code).toBe(2);
    expect(err).toMatch(/BOTBURROW_HUB_URL and BOTBURROW_AGENT_ID must be set/);
  });
});
