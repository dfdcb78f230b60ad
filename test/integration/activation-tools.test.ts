/**
 * Activations with MCP tools on real MCP servers from npm (filesystem rooted in the session
 * workspace, everything in the custom form) and the project's Hub MCP server; and a session that
 * survives the death of the runner that held it.
 */
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scenario } from '../../dev/model-server/scenario';
import { buildWorkflowBundle } from '../../scripts/build-bundle';
import { activationWorkflowId } from '../../lib/contract';
import type { TestProcess } from '../support/processes';
import { startRunnerProcess } from '../support/processes';
import type { ActivationStack } from '../support/stack';
import { startStack } from '../support/stack';

const POST_ID = 'p-tools';

const script: Scenario = {
  name: 'activation-tools',
  vars: {
    post_id: { from: 'first_user', pattern: 'post id ([\\w-]+)' },
    dir: { from: 'conversation', pattern: 'Allowed directories:\\s*(/\\S+)' },
    file: { from: 'tool_result', pattern: '(saved by [\\w-]+)' },
  },
  rules: [
    { name: 'final', when: { tools: false }, reply: { text: 'NO_RESPONSE_NEEDED' } },
    // The toolsmith: one tool of each MCP server, then a reply through the Hub MCP server.
    {
      name: 'toolsmith-1',
      when: { system: 'toolsmith', turn: 1 },
      reply: {
        toolCalls: [
          { name: 'mcp_filesystem_list_allowed_directories', input: {} },
          { name: 'mcp_everything_echo', input: { message: 'hi burrow' } },
        ],
      },
    },
    {
      name: 'toolsmith-2',
      when: { system: 'toolsmith', turn: 2 },
      reply: {
        toolCalls: [
          {
            name: 'mcp_filesystem_write_file',
            input: { path: '{{dir}}/notes.txt', content: 'saved by toolsmith' },
          },
          { name: 'mcp_filesystem_read_text_file', input: { path: '{{dir}}/notes.txt' } },
        ],
      },
    },
    {
      name: 'toolsmith-3',
      when: { system: 'toolsmith', turn: 3 },
      reply: {
        toolCalls: [
          { name: 'mcp_hub_hub_post', input: { post_id: '{{post_id}}', content: 'file says: {{file}}' } },
        ],
      },
    },
    // The nomad: a slow second step, during which the runner holding its session dies.
    {
      name: 'nomad-1',
      when: { system: 'nomad', turn: 1 },
      reply: { toolCalls: [{ name: 'mcp_everything_echo', input: { message: 'one' } }] },
    },
    {
      name: 'nomad-2',
      when: { system: 'nomad', turn: 2 },
      reply: { toolCalls: [{ name: 'mcp_everything_echo', input: { message: 'two' } }], delayMs: 4000 },
    },
    { name: 'nomad-3', when: { system: 'nomad' }, reply: { text: 'NO_RESPONSE_NEEDED' } },
  ],
  fallback: { text: 'NO_RESPONSE_NEEDED' },
};

const everything = {
  name: 'everything',
  command: 'npx',
  args: ['-y', '@modelcontextprotocol/server-everything'],
};

describe('activations with MCP tools', () => {
  let stack: ActivationStack;
  const processes: TestProcess[] = [];
  let bundlePath: string;

  beforeAll(async () => {
    bundlePath = path.join(os.tmpdir(), `bb-bundle-tools-${process.pid}.js`);
    await buildWorkflowBundle(bundlePath);
    stack = await startStack({
      script,
      seed: {
        agents: [],
        posts: [{ id: POST_ID, author: { id: 'alice', name: 'Alice' }, content: 'Tools?' }],
      },
      env: {
        BOTBURROW_WORKFLOW_BUNDLE: bundlePath,
        BOTBURROW_WORKSPACE_ROOT: path.join(os.tmpdir(), `bb-ws-${process.pid}`),
      },
    });
  });
  afterAll(async () => {
    for (const p of processes) p.signal('SIGKILL');
    await Promise.all(processes.map((p) => p.exited));
    await stack?.stop();
  });

  const notify = (agentId: string) =>
    stack.hub.admin.injectNotification({
      agent_id: agentId,
      type: 'mention',
      post_id: POST_ID,
      content: 'Use your tools.',
    });

  it('calls a tool of each MCP server; the real results reach the transcript and the Hub', async () => {
    const runner = await stack.startRunner();
    const agentId = await stack.addAgent('toolsmith', {
      systemPrompt: 'You are toolsmith.',
      grants: ['hub:read', 'hub:write', 'filesystem:write'],
      extra: {
        capabilities: {
          grants: ['hub:read', 'hub:write', 'filesystem:write'],
          mcp_servers: ['filesystem', 'hub', everything],
        },
      },
    });
    await notify(agentId);
    const result = await stack.run(agentId);
    expect(result).toMatchObject({ outcome: 'succeeded', notificationsProcessed: 1, iterations: 4 });
    const requests = stack.model
      .requests()
      .filter((r) => JSON.stringify(r.body).includes(`Your id is ${agentId}`));
    const transcript = JSON.stringify(requests.at(-1)!.body);
    expect(transcript).toContain('Echo: hi burrow');
    expect(transcript).toContain('saved by toolsmith');
    const comments = (await stack.hub.admin.activity(agentId)).comments.map((c) => c.content);
    expect(comments).toEqual(['file says: saved by toolsmith']);
    // The Temporal UI shows each step by its summary.
    const history = await stack.client.workflow.getHandle(activationWorkflowId(agentId)).fetchHistory();
    const summaries = (history.events ?? [])
      .filter((e) => e.activityTaskScheduledEventAttributes)
      .map((e) => JSON.parse(Buffer.from(e.userMetadata?.summary?.data ?? '""').toString()) as string);
    expect(summaries).toEqual(
      expect.arrayContaining([
        'llm #1 claude-sonnet-4',
        'mcp everything.echo',
        'mcp filesystem.write_file',
        'hub mcp_hub_hub_post',
      ]),
    );
    runner.shutdown();
  });

  it('continues on another runner when the runner holding the session dies', async () => {
    const agentId = await stack.addAgent('nomad', {
      systemPrompt: 'You are nomad.',
      extra: { capabilities: { grants: ['hub:read', 'hub:write'], mcp_servers: [everything] } },
    });
    const start = async (): Promise<TestProcess> => {
      const p = await startRunnerProcess(stack.env);
      processes.push(p);
      return p;
    };
    const runners = [await start(), await start()];
    await notify(agentId);
    const handle = await stack.activate(agentId);
    // Wait for the slow second step: the session is open and its first tool call done.
    const deadline = Date.now() + 60_000;
    let status = await handle.query<{ session: { taskQueue: string } | null; iteration: number }>('status');
    while (!(status.iteration >= 2 && status.session)) {
      if (Date.now() > deadline)
        throw new Error(`activation did not reach step 2: ${JSON.stringify(status)}`);
      await new Promise((r) => setTimeout(r, 100));
      status = await handle.query('status');
    }
    const holder = runners.find((p) => p.output().includes(status.session!.taskQueue));
    expect(holder).toBeDefined();
    holder!.signal('SIGKILL');
    const result = await handle.result();
    expect(result.outcome).toBe('succeeded');
    const finalStatus = await handle.query<{ session: { moves: number } | null }>('status');
    expect(finalStatus.session?.moves).toBe(1);
    const requests = stack.model
      .requests()
      .filter((r) => JSON.stringify(r.body).includes(`Your id is ${agentId}`));
    expect(JSON.stringify(requests.at(-1)!.body)).toContain('Echo: two');
  });
});
