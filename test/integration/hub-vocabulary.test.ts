/**
 * Definitions as written for the original system, on real Temporal, Valkey, the Hub simulator and
 * the scripted model: a skill in the original Hub vocabulary (`mcp.hub.get_budget_health`,
 * `mcp.hub.search`, `mcp.hub.create_post`) drives the model through the native tools and through
 * the project's Hub MCP server (a real stdio process), its post lands on the Hub exactly once even
 * when the Hub's answer is lost; and the discovery fields: `interests.follow_agents`,
 * `respond_to_questions` / `respond_to_discussions`, and `min_confidence` as the threshold of the
 * model's own structured judgement. With RECORD_HISTORIES=1 the vocabulary runs' histories go to
 * test/replay/histories/.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scenario } from '../../dev/model-server/scenario';
import { activationWorkflowId } from '../../lib/contract';
import { exportHistory } from '../../scripts/export-history';
import type { ActivationStack } from '../support/stack';
import { startStack } from '../support/stack';

const POST_ID = 'p-vocab';

/** A store skill exactly as the original system's skills are written. */
const ANNOUNCER_SKILL = `---
name: announcer
description: Announce news of the burrow on the Hub.
requires_grants: [hub:write]
---
Before announcing, check your spending with mcp.hub.get_budget_health and look for earlier
announcements with mcp.hub.search. Then publish with mcp.hub.create_post in m/announcements.
`;

const announce = (prefix: string) => [
  {
    name: `${prefix}-1`,
    when: { system: `check your spending with \`${prefix}get_budget_health\``, turn: 1 },
    reply: {
      toolCalls: [
        { name: `${prefix}get_budget_health`, input: {} },
        { name: `${prefix}search`, input: { query: 'announcement' } },
      ],
    },
  },
  {
    name: `${prefix}-2`,
    when: { system: `publish with \`${prefix}create_post\``, turn: 2, toolResult: 'healthy' },
    reply: {
      toolCalls: [
        {
          name: `${prefix}create_post`,
          input: { title: 'Burrow news', content: 'News from {{me}}.', community: 'm/announcements' },
        },
      ],
    },
  },
];

const script: Scenario = {
  name: 'hub-vocabulary',
  vars: { me: { from: 'system', pattern: 'Your id is ([\\w-]+)' } },
  rules: [
    { name: 'final', when: { tools: false }, reply: { text: 'NO_RESPONSE_NEEDED' } },
    ...announce(''),
    ...announce('mcp_hub_'),
    // The judge: two structured judgements, then a reply to each post; only one clears 0.8.
    {
      name: 'judge-1',
      when: { system: 'You are judge', turn: 1, user: 'judge it with the judge_post tool' },
      reply: {
        toolCalls: [
          { name: 'judge_post', input: { post_id: 'p-question', decision: 'engage', confidence: 0.9 } },
          { name: 'judge_post', input: { post_id: 'p-chat', decision: 'engage', confidence: 0.5 } },
        ],
      },
    },
    {
      name: 'judge-2',
      when: { system: 'You are judge', turn: 2 },
      reply: {
        toolCalls: [
          { name: 'create_comment', input: { post_id: 'p-question', content: 'Sure of this one.' } },
          { name: 'create_comment', input: { post_id: 'p-chat', content: 'Not so sure.' } },
        ],
      },
    },
    { name: 'done', when: { turn: 3 }, reply: { text: 'Announced.' } },
  ],
  fallback: { text: 'NO_RESPONSE_NEEDED' },
};

const record = process.env.RECORD_HISTORIES === '1';

describe('the original Hub vocabulary and the discovery fields', () => {
  let stack: ActivationStack;

  beforeAll(async () => {
    stack = await startStack({
      script,
      // As a real Hub may: Idempotency-Key ignored, so only the runner's publisher keeps posts single.
      hubDedupe: false,
      seed: {
        agents: [{ id: 'ron' }, { id: 'bob' }],
        communities: [{ name: 'm/burrows' }, { name: 'm/announcements' }, { name: 'm/elsewhere' }],
        posts: [
          { id: POST_ID, author: { id: 'alice', name: 'Alice' }, content: 'Any news?' },
          { id: 'p-ron', author: 'ron', community: 'm/elsewhere', content: 'Tunnels all day.' },
          { id: 'p-question', author: 'bob', community: 'm/burrows', content: 'Is anyone awake?' },
          { id: 'p-chat', author: 'bob', community: 'm/burrows', content: 'Burrows are cosy.' },
        ],
      },
      env: { BOTBURROW_WORKSPACE_ROOT: path.join(os.tmpdir(), `bb-vocab-ws-${process.pid}`) },
    });
    const dir = path.join(stack.definitionsDir, 'skills', 'announcer');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'SKILL.md'), ANNOUNCER_SKILL);
    await stack.startRunner();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const requestsOf = (agentId: string) =>
    stack.model.requests().filter((r) => JSON.stringify(r.body).includes(`Your id is ${agentId}`));

  /** The tool calls the model made, in order, read from the last request's transcript. */
  function toolCallsOf(agentId: string): { name: string; input: unknown }[] {
    const body = requestsOf(agentId).at(-1)!.body as {
      messages: { role: string; content: unknown }[];
    };
    return body.messages
      .filter((m) => m.role === 'assistant' && Array.isArray(m.content))
      .flatMap((m) => m.content as { type: string; name: string; input: unknown }[])
      .filter((b) => b.type === 'tool_use')
      .map((b) => ({ name: b.name, input: b.input }));
  }

  /** The tool results the model was given, in order. */
  function toolResultsOf(agentId: string): { content: string; is_error?: boolean }[] {
    const body = requestsOf(agentId).at(-1)!.body as {
      messages: { role: string; content: unknown }[];
    };
    return body.messages
      .filter((m) => m.role === 'user' && Array.isArray(m.content))
      .flatMap((m) => m.content as { type: string; content: unknown; is_error?: boolean }[])
      .filter((b) => b.type === 'tool_result')
      .map((b) => ({
        content: typeof b.content === 'string' ? b.content : JSON.stringify(b.content),
        is_error: b.is_error,
      }));
  }

  async function summaries(agentId: string): Promise<string[]> {
    const history = await stack.client.workflow.getHandle(activationWorkflowId(agentId)).fetchHistory();
    return (history.events ?? [])
      .filter((e) => e.activityTaskScheduledEventAttributes)
      .map((e) => JSON.parse(Buffer.from(e.userMetadata?.summary?.data ?? '""').toString()) as string);
  }

  const mention = (agentId: string) =>
    stack.hub.admin.injectNotification({
      agent_id: agentId,
      type: 'mention',
      post_id: POST_ID,
      from_agent: { id: 'alice', name: 'Alice' },
      content: 'Any news to announce?',
    });

  it('a skill in the original vocabulary drives the native tools by exactly those names', async () => {
    const id = await stack.addAgent('announcer', {
      systemPrompt: 'You are an announcer.',
      extra: { capabilities: { grants: ['hub:read', 'hub:write'], skills: ['announcer'] } },
    });
    await mention(id);
    const result = await stack.run(id);
    expect(result).toMatchObject({ outcome: 'succeeded', postsCreated: 1, commentsCreated: 0 });
    expect(toolCallsOf(id).map((c) => c.name)).toEqual(['get_budget_health', 'search', 'create_post']);
    expect(toolResultsOf(id).every((r) => r.is_error !== true)).toBe(true);
    const posts = (await stack.hub.admin.activity(id)).posts;
    expect(posts.map((p) => [p.title, p.content, p.community])).toEqual([
      ['Burrow news', `News from ${id}.`, 'm/announcements'],
    ]);
    // The prompt named the tools the model was given, and no other.
    const system = JSON.stringify(requestsOf(id)[0]!.body);
    expect(system).toContain('with `get_budget_health`');
    expect(system).not.toContain('mcp.hub.');
    expect(await summaries(id)).toEqual(
      expect.arrayContaining(['hub get_budget_health', 'hub search', 'hub create_post']),
    );
    if (record) {
      await exportHistory(
        stack.client,
        activationWorkflowId(id),
        path.resolve(__dirname, '../replay/histories/activation-hub-vocabulary-native.json'),
      );
    }
  });

  it('the same skill through the Hub MCP server: mcp_hub_* calls, the post made once despite a lost answer', async () => {
    const id = await stack.addAgent('mcp-announcer', {
      systemPrompt: 'You are an announcer.',
      extra: {
        capabilities: { grants: ['hub:read', 'hub:write'], skills: ['announcer'], mcp_servers: ['hub'] },
      },
    });
    await mention(id);
    await stack.hub.admin.addFault({ endpoint: 'POST /api/v1/posts', loseAnswer: true, count: 1 });
    const result = await stack.run(id);
    await stack.hub.admin.clearFaults();
    expect(result).toMatchObject({ outcome: 'succeeded', postsCreated: 1 });
    expect(toolCallsOf(id).map((c) => c.name)).toEqual([
      'mcp_hub_get_budget_health',
      'mcp_hub_search',
      'mcp_hub_create_post',
    ]);
    const posts = (await stack.hub.admin.activity(id)).posts;
    expect(posts.map((p) => p.content)).toEqual([`News from ${id}.`]);
    // Reads ran in the Hub MCP server process; the post ran as the runner's exactly-once Hub tool.
    expect(await summaries(id)).toEqual(
      expect.arrayContaining(['mcp hub.get_budget_health', 'mcp hub.search', 'hub mcp_hub_create_post']),
    );
    if (record) {
      await exportHistory(
        stack.client,
        activationWorkflowId(id),
        path.resolve(__dirname, '../replay/histories/activation-hub-vocabulary-mcp.json'),
      );
    }
  });

  it('min_confidence: a reply is accepted only after an engage judgement at or above it', async () => {
    const id = await stack.addAgent('judge', {
      systemPrompt: 'You are judge.',
      extra: {
        interests: { communities: ['m/burrows'] },
        behavior: { discovery: { enabled: true, min_confidence: 0.8 } },
      },
    });
    const result = await stack.run(id, 'exploration');
    expect(result).toMatchObject({ outcome: 'succeeded', commentsCreated: 1 });
    const comments = (await stack.hub.admin.activity(id)).comments;
    expect(comments.map((c) => [c.post_id, c.content])).toEqual([['p-question', 'Sure of this one.']]);
    const results = toolResultsOf(id);
    expect(JSON.parse(results[0]!.content)).toMatchObject({ post_id: 'p-question', may_reply: true });
    expect(JSON.parse(results[1]!.content)).toMatchObject({ post_id: 'p-chat', may_reply: false });
    expect(results[3]).toMatchObject({ is_error: true });
    expect(results[3]!.content).toMatch(/confidence 0.5 .* below this agent's min_confidence 0.8/);
    expect(JSON.stringify(requestsOf(id)[0]!.body)).toContain('confidence of at least 0.8');
  });

  /** The post ids an exploration listed, in order. */
  const listed = (agentId: string): string[] => {
    const first = JSON.stringify(requestsOf(agentId)[0]!.body);
    return [...first.matchAll(/\d+\. Post ([\w-]+) in /g)].map((m) => m[1]!);
  };

  it('follow_agents: posts by followed agents rank first and count as interest', async () => {
    const id = await stack.addAgent('follower', {
      systemPrompt: 'You are follower.',
      extra: { interests: { communities: ['m/burrows'], follow_agents: ['ron'] } },
    });
    expect((await stack.run(id, 'exploration')).outcome).toBe('succeeded');
    expect(listed(id)).toEqual(['p-ron', 'p-chat', 'p-question']);
    expect(JSON.stringify(requestsOf(id)[0]!.body)).toMatch(
      /Post p-ron in m\/elsewhere by ron[^\n]*an agent you follow/,
    );
  });

  it('respond_to_questions and respond_to_discussions choose which posts an exploration offers', async () => {
    const asker = await stack.addAgent('asker', {
      systemPrompt: 'You are asker.',
      extra: {
        interests: { communities: ['m/burrows'] },
        behavior: { discovery: { enabled: true, respond_to_questions: true, min_confidence: 0 } },
      },
    });
    const talker = await stack.addAgent('talker', {
      systemPrompt: 'You are talker.',
      extra: {
        interests: { communities: ['m/burrows'] },
        behavior: { discovery: { enabled: true, respond_to_discussions: true, min_confidence: 0 } },
      },
    });
    await Promise.all([stack.run(asker, 'exploration'), stack.run(talker, 'exploration')]);
    expect(listed(asker)).toEqual(['p-question']);
    expect(listed(talker)).toEqual(['p-chat']);
  });
});
