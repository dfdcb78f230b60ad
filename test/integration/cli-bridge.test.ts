/**
 * The network a CLI executor gets (activities/executors/bridge.ts), on real components: a process
 * in the real sandbox with its network off reaches the scripted model server only through the
 * bridge's model proxy (which puts the runner's key on and meters the usage), posts through the
 * bridge's Hub MCP endpoint onto the Hub simulator once per idempotency key, and reaches nothing
 * else on the host.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublisher } from '../../activities/activation/publish';
import { openBridge } from '../../activities/executors/bridge';
import { createHubMcpEndpoint } from '../../activities/executors/hub-mcp';
import { createModelProxy } from '../../activities/executors/model-proxy';
import type { Sandbox } from '../../activities/sandbox';
import { createHubSimulator } from '../../dev/hub-sim/server';
import type { HubSimulator } from '../../dev/hub-sim/server';
import { createModelServer } from '../../dev/model-server/server';
import type { AgentDefinition } from '../../lib/definitions';
import { parseAgentConfig } from '../../lib/definitions/config';
import { createGuards } from '../../lib/guards';
import { HubClient } from '../../lib/hub/client';
import { Keys } from '../../lib/keys';
import { loadSettings } from '../../lib/config';
import type { ModelServer } from '../support/stack';
import { redisClient, unique } from '../support/env';
import { HUB_TOOL_NAMES, hubToolsFor } from '../../lib/hub-tools';
import { realSandbox } from '../support/sandbox';

const RUNNER_KEY = 'sk-runner-real-key-0123456789';
let model: ModelServer;
let sim: HubSimulator;
let sandbox: Sandbox;
let redis: Redis;
let workspace: string;

beforeAll(async () => {
  [model, sim, sandbox] = await Promise.all([
    createModelServer({
      apiKey: RUNNER_KEY,
      script: { name: 'bridge', rules: [{ name: 'hello', reply: { text: 'hello through the bridge' } }] },
    }),
    createHubSimulator({
      seed: {
        agents: [{ id: 'cli-agent' }],
        posts: [{ id: 'p-1', author: 'cli-agent', content: 'A thread' }],
      },
    }),
    realSandbox(),
  ]);
  redis = redisClient();
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'bb-bridge-ws-'));
  await sandbox.prepareWorkspace(workspace);
});

afterAll(async () => {
  await Promise.all([model?.close(), sim?.close()]);
  redis?.disconnect();
  fs.rmSync(workspace, { recursive: true, force: true });
});

/** Runs `script` with node in the sandbox, network off, behind the bridge. */
function inSandbox(
  bridge: { dir: string; wrap: (c: string, a: string[]) => { command: string; args: string[] } },
  script: string,
) {
  const inner = bridge.wrap(process.execPath, ['-e', script]);
  const cmd = sandbox.wrap({
    command: inner.command,
    args: inner.args,
    env: { PATH: '/usr/bin:/bin' },
    workspace,
    network: false,
    readOnly: [bridge.dir],
  });
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      cmd.command,
      cmd.args,
      { env: cmd.env, cwd: cmd.cwd, uid: cmd.uid, gid: cmd.gid, timeout: 30_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function definition(id: string, grants: string[]): AgentDefinition {
  const yaml = `name: ${id}\ntype: claude-code\nbrain:\n  provider: anthropic\n  model: claude-sonnet-4\ncapabilities:\n  grants: [${grants.join(', ')}]\n`;
  const { config } = parseAgentConfig(yaml, `agents/${id}/config.yaml`);
  return { id, config, systemPrompt: '', warnings: [], configHash: 'h' };
}

const sandboxUid = process.getuid?.() === 0 ? { sandboxUid: 65534 } : {};

describe('CLI bridge (real sandbox, network off)', () => {
  it('reaches the model only through the proxy, which adds the runner key and meters usage', async () => {
    const proxy = createModelProxy({ upstream: model.url, apiKey: RUNNER_KEY, auth: 'x-api-key' });
    const bridge = await openBridge({ routes: { 8701: proxy.handler }, ...sandboxUid });
    try {
      const direct = new URL(model.url);
      const r = await inSandbox(
        bridge,
        `(async () => {
          const res = await fetch('http://127.0.0.1:8701/v1/messages', { method: 'POST',
            headers: { 'content-type': 'application/json', 'x-api-key': 'placeholder', 'anthropic-version': '2023-06-01' },
            body: JSON.stringify({ model: 'claude-sonnet-4', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }) });
          const body = await res.json();
          let reached = 'no';
          try { await fetch('http://127.0.0.1:${direct.port}/v1/messages'); reached = 'yes'; } catch {}
          console.log(JSON.stringify({ status: res.status, text: body.content?.[0]?.text, reached }));
        })().catch((e) => { console.error(e); process.exit(3); });`,
      );
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout)).toEqual({ status: 200, text: 'hello through the bridge', reached: 'no' });
      const used = proxy.usage();
      expect(used.calls).toBe(1);
      expect(used.inputTokens).toBeGreaterThan(0);
      expect(used.outputTokens).toBeGreaterThan(0);
      // The placeholder never reached the model server; the request carried the runner's key (else 401).
      expect(model.requests().at(-1)?.status).toBe(200);
    } finally {
      await bridge.close();
    }
    expect(fs.existsSync(bridge.dir)).toBe(false);
  });

  it('refuses model calls once admit() says the budget is spent', async () => {
    const proxy = createModelProxy({
      upstream: model.url,
      apiKey: RUNNER_KEY,
      auth: 'x-api-key',
      admit: (u) => (u.calls >= 1 ? 'budget spent' : undefined),
    });
    const bridge = await openBridge({ routes: { 8701: proxy.handler }, ...sandboxUid });
    try {
      const call = `fetch('http://127.0.0.1:8701/v1/messages', { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }) })`;
      const r = await inSandbox(
        bridge,
        `(async () => { const a = await ${call}; const b = await ${call}; console.log(a.status, b.status, (await b.json()).error.type); })();`,
      );
      expect(r.stdout.trim()).toBe('200 403 permission_error');
      expect(proxy.usage().calls).toBe(1);
    } finally {
      await bridge.close();
    }
  });

  it('posts through the Hub MCP endpoint once per conversation post, within the agent grants', async () => {
    const keys = new Keys(`${unique('bridge')}:`);
    const guards = createGuards(redis, keys, loadSettings({}));
    const hub = new HubClient({ baseUrl: sim.url });
    const publish = createPublisher({ hub, redis, keys, limits: guards.limits });
    const def = definition('cli-agent', ['hub:read', 'hub:write']);
    const conversationId = unique('conv');
    const rpc = `async (id, method, params) => {
      const res = await fetch('http://127.0.0.1:8702/mcp', { method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id, method, params }) });
      return res.json();
    }`;
    const script = `(async () => {
      const rpc = ${rpc};
      const list = await rpc(1, 'tools/list', {});
      const post = await rpc(2, 'tools/call', { name: 'hub_post', arguments: { content: 'Reply from the CLI', post_id: 'p-1' } });
      console.log(JSON.stringify({ tools: list.result.tools.map((t) => t.name).sort(), post: post.result }));
    })().catch((e) => { console.error(e); process.exit(3); });`;

    const run = async () => {
      const endpoint = createHubMcpEndpoint({ def, hub, publish, conversationId });
      const bridge = await openBridge({ routes: { 8702: endpoint.handler }, ...sandboxUid });
      try {
        const r = await inSandbox(bridge, script);
        expect(r.stderr).toBe('');
        return {
          out: JSON.parse(r.stdout) as { tools: string[]; post: { isError?: boolean } },
          created: endpoint.created(),
        };
      } finally {
        await bridge.close();
      }
    };
    const first = await run();
    expect(first.out.tools).toEqual([...HUB_TOOL_NAMES].sort());
    expect(first.out.post.isError ?? false).toBe(false);
    expect(first.created).toEqual({ posts: 0, comments: 1, replayed: 0 });
    // The same conversation run again (a runner died): its post is answered from the record.
    const again = await run();
    expect(again.created).toEqual({ posts: 0, comments: 0, replayed: 1 });
    const comments = (await sim.admin.activity('cli-agent')).comments.filter(
      (c) => c.content === 'Reply from the CLI',
    );
    expect(comments).toHaveLength(1);
  });

  it('offers no posting tool to an agent without hub:write', async () => {
    const keys = new Keys(`${unique('bridge')}:`);
    const guards = createGuards(redis, keys, loadSettings({}));
    const hub = new HubClient({ baseUrl: sim.url });
    const endpoint = createHubMcpEndpoint({
      def: definition('cli-agent', ['hub:read']),
      hub,
      publish: createPublisher({ hub, redis, keys, limits: guards.limits }),
      conversationId: unique('conv'),
    });
    const bridge = await openBridge({ routes: { 8702: endpoint.handler }, ...sandboxUid });
    try {
      const r = await inSandbox(
        bridge,
        `fetch('http://127.0.0.1:8702/mcp', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }) }).then((r) => r.json()).then((j) => console.log(j.result.tools.map((t) => t.name).sort().join(',')));`,
      );
      expect(r.stdout.trim()).toBe(
        hubToolsFor(['hub:read'])
          .map((t) => t.name)
          .sort()
          .join(','),
      );
      for (const posting of ['create_post', 'create_comment', 'hub_post']) {
        expect(r.stdout.trim().split(',')).not.toContain(posting);
      }
    } finally {
      await bridge.close();
    }
  });
});
