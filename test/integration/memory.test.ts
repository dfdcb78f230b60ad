/**
 * Agent memory end to end on real components: Temporal dev server, Valkey, definitions (and the
 * memory archive) in a real S3-protocol bucket (s3rver), the Hub simulator, and the real
 * @anthropic-ai/sdk and openai SDKs against the scripted model server, whose embeddings are a
 * deterministic hashed bag of words (dev/model-server/embeddings.ts), so rankings are exact.
 * Storing what the definition asks to remember, eviction at the size bound, retrieval by each
 * strategy, the memory tools, and a runner SIGKILLed while it remembers. With RECORD_HISTORIES=1
 * the history of the memory run goes to test/replay/histories/.
 */
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore, normalize } from '../../activities/memory/store';
import { hashedEmbedding } from '../../dev/model-server/embeddings';
import type { Scenario } from '../../dev/model-server/scenario';
import { activationWorkflowId } from '../../lib/contract';
import type { MemoryItem } from '../../lib/memory';
import { buildWorkflowBundle } from '../../scripts/build-bundle';
import { exportHistory } from '../../scripts/export-history';
import { eventually } from '../support/env';
import type { TestProcess } from '../support/processes';
import { startRunnerProcess } from '../support/processes';
import type { ActivationStack } from '../support/stack';
import { startStack } from '../support/stack';
import { startS3, uploadFolder } from './definitions-support';
import type { S3Server } from './definitions-support';

const BUCKET = 'defs';
const OTTER_POST = 'p-otter';
const REPLY = 'Indeed, river otters hold paws while sleeping.';
const SAVED = 'Alice prefers sea otters to river otters.';

const script: Scenario = {
  name: 'memory',
  rules: [
    // The archivist uses its memory tools, then answers.
    {
      name: 'save',
      when: { system: 'archivist', turn: 1 },
      reply: { toolCalls: [{ name: 'memory_save', input: { content: SAVED, kind: 'feedback' } }] },
    },
    {
      name: 'search',
      when: { system: 'archivist', turn: 2 },
      reply: { toolCalls: [{ name: 'memory_search', input: { query: 'sea otters' } }] },
    },
    { name: 'archivist-done', when: { system: 'archivist' }, reply: { text: 'Noted.' } },
    // The slow one: its first answer takes a moment (the SIGKILL test adds its fault meanwhile).
    { name: 'slow', when: { system: 'slow persona' }, reply: { text: REPLY, delayMs: 1500 } },
    { name: 'reply', when: { user: '^\\[Notification' }, reply: { text: REPLY } },
  ],
  fallback: { text: 'NO_RESPONSE_NEEDED' },
};

const record = process.env.RECORD_HISTORIES === '1';
const historyDir = path.resolve(__dirname, '../replay/histories');

/** Every string in a history, with payload bytes decoded. */
function decodeAll(value: unknown, out: string[] = []): string[] {
  if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
  else if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) decodeAll(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) decodeAll(v, out);
  return out;
}

const s3Env = (s3: S3Server): Record<string, string> => ({
  BOTBURROW_DEFINITIONS_STORE: 'r2',
  BOTBURROW_R2_ENDPOINT: s3.endpoint,
  BOTBURROW_R2_BUCKET: BUCKET,
  BOTBURROW_R2_REGION: 'us-east-1',
  BOTBURROW_R2_ACCESS_KEY_ID: 'S3RVER',
  BOTBURROW_R2_SECRET_ACCESS_KEY: 'S3RVER',
  OPENAI_API_KEY: 'test-openai-key',
});

interface MemoryAgent {
  prefix: string;
  memory: Record<string, unknown>;
  openai?: boolean;
  systemPrompt?: string;
}

/** Writes the agent, uploads its definition to the bucket (the runner reads definitions there). */
async function addMemoryAgent(stack: ActivationStack, s3: S3Server, a: MemoryAgent): Promise<string> {
  const brain = a.openai
    ? {
        provider: 'openai',
        model: 'gpt-4o-mini',
        api_base: `${stack.model.url}/v1`,
        api_key_env: 'OPENAI_API_KEY',
        max_tokens: 1000,
      }
    : { max_tokens: 1000 };
  const id = await stack.addAgent(a.prefix, {
    ...(a.systemPrompt !== undefined && { systemPrompt: a.systemPrompt }),
    extra: { brain, memory: { enabled: true, ...a.memory } },
  });
  await uploadFolder(s3.client, BUCKET, `agents/${id}/`, path.join(stack.definitionsDir, 'agents', id));
  return id;
}

async function archived(s3: S3Server, agentId: string): Promise<{ batch: string; items: MemoryItem[] }[]> {
  const list = await s3.client.send(
    new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `memory/${agentId}/` }),
  );
  return Promise.all(
    (list.Contents ?? []).map(async (o) => {
      const obj = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: o.Key! }));
      return JSON.parse(await obj.Body!.transformToString()) as { batch: string; items: MemoryItem[] };
    }),
  );
}

/** The marked memory section of the first request of `agentId`'s latest conversation, or null. */
function memorySection(stack: ActivationStack, agentId: string): string | null {
  const first = stack.model
    .requests()
    .filter((r) => r.path.endsWith('/messages') || r.path.endsWith('/chat/completions'))
    .filter((r) => JSON.stringify(r.body).includes(`Your id is ${agentId}`))
    .at(-1);
  const text = JSON.stringify(first?.body ?? '');
  const m = /<memory strategy=\\"[^"\\]+\\" items=\\"\d+\\">.*?<\/memory>/.exec(text);
  return m ? (JSON.parse(`"${m[0]}"`) as string) : null;
}

/** `[kind, date, relevance] text` lines of a memory section, as `text (relevance)`. */
function sectionItems(section: string | null): string[] {
  return (section ?? '')
    .split('\n')
    .map((l) => /^\d+\. \[\w+, [\d-]+(?:, relevance ([\d.]+))?\] (.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => (m[1] ? `${m[2]} (${m[1]})` : m[2]!));
}

/** The fixture items of the retrieval tests, oldest first, with the server's own embeddings. */
const FIXTURES = [
  'otters sleep holding paws',
  'river otters sleep',
  'paws',
  'badgers dig tunnels at night',
  'otters juggle stones holding paws sleep sometimes',
];
const QUERY = 'otters sleep holding paws';

async function seed(store: MemoryStore, agentId: string): Promise<void> {
  for (const [i, text] of FIXTURES.entries()) {
    await store.save(
      agentId,
      [
        {
          item: { id: `fixture-${i}`, kind: 'note', text, at: `2026-12-0${i + 1}T00:00:00.000Z` },
          vector: normalize(hashedEmbedding(text)),
        },
      ],
      1024 * 1024,
    );
  }
}

const cosine = (a: string, b: string): number =>
  hashedEmbedding(a).reduce((s, x, i) => s + x * hashedEmbedding(b)[i]!, 0);

describe('agent memory', () => {
  let s3: S3Server;
  let stack: ActivationStack;
  let store: MemoryStore;

  beforeAll(async () => {
    s3 = await startS3([BUCKET]);
    stack = await startStack({
      script,
      seed: {
        agents: [],
        posts: [
          { id: OTTER_POST, author: { id: 'me', name: 'Me' }, title: 'Otter habitats', content: 'Where?' },
        ],
      },
      env: s3Env(s3),
    });
    store = new MemoryStore(stack.redis, stack.keys);
    await stack.startRunner();
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
    await s3?.stop();
  });

  it('stores what the definition asks to remember, archives it, and recalls it next time', async () => {
    const id = await addMemoryAgent(stack, s3, {
      prefix: 'mem-store',
      memory: {
        remember: { conversations_with: ['alice'], decisions_made: true, feedback_received: true },
        retrieval: { strategy: 'keyword', relevance_threshold: 0.3 },
      },
    });
    await stack.hub.admin.injectNotification({
      agent_id: id,
      type: 'reply',
      post_id: OTTER_POST,
      from_agent: { id: 'alice', name: 'Alice' },
      content: 'Otters in the river sleep holding paws',
    });
    expect(await stack.run(id)).toMatchObject({ outcome: 'succeeded', commentsCreated: 1 });

    const on = `on post ${OTTER_POST} "Otter habitats"`;
    const expected = [
      [
        'conversation',
        `Conversation with Alice (@alice) ${on}: they wrote "Otters in the river sleep holding paws"; I answered "${REPLY}".`,
      ],
      ['feedback', `Feedback (reply) from Alice (@alice) ${on}: "Otters in the river sleep holding paws".`],
      ['decision', `Decision on the reply from Alice (@alice) ${on}: replied "${REPLY}".`],
    ];
    const items = await store.recent(id, 10);
    expect(items.map((m) => [m.kind, m.text]).reverse()).toEqual(expected);
    expect(items[0]!.source).toMatchObject({ agent: 'alice', post: OTTER_POST });
    // The archive holds exactly what Valkey holds.
    const batches = await archived(s3, id);
    expect(batches).toHaveLength(1);
    expect(batches[0]!.items.map((m) => [m.kind, m.text])).toEqual(expected);

    // A later mention from someone not listed: recalled by keyword, not remembered as a conversation.
    await stack.hub.admin.injectNotification({
      agent_id: id,
      type: 'mention',
      post_id: null,
      from_agent: { id: 'bob', name: 'Bob' },
      content: 'Do otters sleep holding paws?',
    });
    expect(await stack.run(id)).toMatchObject({ outcome: 'succeeded' });
    const recalled = sectionItems(memorySection(stack, id));
    // Overlap with {otters, sleep, holding, paws}: feedback and conversation share all four (the
    // newer first), the decision two of them (otters, paws).
    expect(recalled).toEqual([
      `${expected[1]![1]} (1.00)`,
      `${expected[0]![1]} (1.00)`,
      `${expected[2]![1]} (0.50)`,
    ]);
    expect((await store.recent(id, 10)).map((m) => m.kind)).toEqual([
      'decision',
      'decision',
      'feedback',
      'conversation',
    ]);
  }, 60_000);

  it.each([
    {
      strategy: 'keyword',
      openai: false,
      threshold: 0.6,
      // Overlap 1.0 for 0, 2 and 4 (ties: more shared words, then newest); 1 has 2/3.
      expected: [`${FIXTURES[4]} (1.00)`, `${FIXTURES[0]} (1.00)`, `${FIXTURES[2]} (1.00)`],
      used: 'keyword',
    },
    {
      strategy: 'embedding_search',
      openai: true,
      threshold: 0.55,
      expected: [0, 4, 1].map((i) => `${FIXTURES[i]} (${cosine(QUERY, FIXTURES[i]!).toFixed(2)})`),
      used: 'embedding_search',
    },
    {
      strategy: 'recent',
      openai: false,
      threshold: 0.99,
      expected: [FIXTURES[4], FIXTURES[3], FIXTURES[2]],
      used: 'recent',
    },
    {
      // Anthropic has no embeddings endpoint: keyword instead, and the section says so.
      strategy: 'embedding_search',
      openai: false,
      threshold: 0.6,
      expected: [`${FIXTURES[4]} (1.00)`, `${FIXTURES[0]} (1.00)`, `${FIXTURES[2]} (1.00)`],
      used: 'keyword',
    },
  ])(
    'retrieves by $strategy (openai $openai): exactly the expected items, best first',
    async (c) => {
      const id = await addMemoryAgent(stack, s3, {
        prefix: `mem-${c.strategy.slice(0, 5)}`,
        openai: c.openai,
        memory: {
          retrieval: { strategy: c.strategy, max_context_items: 3, relevance_threshold: c.threshold },
        },
      });
      await seed(store, id);
      const embeddingsBefore = stack.model.requests().filter((r) => r.path === '/v1/embeddings').length;
      await stack.hub.admin.injectNotification({
        agent_id: id,
        type: 'mention',
        post_id: null,
        from_agent: { id: 'bob', name: 'Bob' },
        content: QUERY,
      });
      expect(await stack.run(id)).toMatchObject({ outcome: 'succeeded' });
      const section = memorySection(stack, id);
      expect(section).toContain(`<memory strategy="${c.used}" items="3">`);
      expect(sectionItems(section)).toEqual(c.expected);
      // Nothing asked to be remembered: the memory is unchanged.
      expect((await store.stats(id)).count).toBe(FIXTURES.length);
      const embeddings = stack.model.requests().filter((r) => r.path === '/v1/embeddings');
      if (c.used === 'embedding_search') {
        expect(embeddings.slice(embeddingsBefore).map((r) => r.body)).toEqual([
          { model: 'text-embedding-3-small', input: [`${QUERY}\n\n`], encoding_format: 'float' },
        ]);
      } else {
        expect(embeddings.length).toBe(embeddingsBefore);
      }
    },
    30_000,
  );

  it('evicts oldest-first at max_size_mb, in the store and in an activation', async () => {
    const id = await addMemoryAgent(stack, s3, {
      prefix: 'mem-evict',
      memory: { max_size_mb: 1, remember: { decisions_made: true }, retrieval: { strategy: 'recent' } },
    });
    const bound = 1024 * 1024;
    const filler = (i: number): string => `filler ${i} ${'lorem ipsum '.repeat(300)}`.slice(0, 3_600);
    let evicted = 0;
    for (let i = 0; i < 320; i++) {
      const r = await store.save(
        id,
        [{ item: { id: `f-${i}`, kind: 'note', text: filler(i), at: new Date().toISOString() } }],
        bound,
      );
      expect(r.bytes).toBeLessThanOrEqual(bound);
      evicted += r.evicted;
    }
    const filled = await store.ids(id);
    expect(evicted).toBeGreaterThan(0);
    expect(filled.length + evicted).toBe(320);
    // Oldest first: what is left is the newest run of items, in order.
    expect(filled).toEqual(Array.from({ length: filled.length }, (_, i) => `f-${320 - filled.length + i}`));
    // Saving an id again adds nothing (a retried step).
    const again = await store.save(
      id,
      [{ item: { id: filled.at(-1)!, kind: 'note', text: 'x', at: '' } }],
      bound,
    );
    expect(again.added).toBe(0);
    // A pad (one word too long to index) leaves 10 bytes free: whatever comes next must evict.
    const pad = { id: 'pad', kind: 'note' as const, text: '', at: '2026-12-04T00:00:00.000Z' };
    const overhead = 'pad'.length * 3 + JSON.stringify(pad).length;
    pad.text = 'x'.repeat(bound - again.bytes - overhead - 10);
    const padded = await store.save(id, [{ item: pad }], bound);
    expect(padded).toMatchObject({ added: 1, evicted: 0, bytes: bound - 10 });
    const before = await store.ids(id);

    await stack.hub.admin.injectNotification({
      agent_id: id,
      type: 'mention',
      post_id: OTTER_POST,
      from_agent: { id: 'bob', name: 'Bob' },
      content: 'Anything new about otters?',
    });
    expect(await stack.run(id)).toMatchObject({ outcome: 'succeeded' });
    const after = await store.ids(id);
    const stats = await store.stats(id);
    expect(stats.bytes).toBeLessThanOrEqual(bound);
    // The decision joined at the newest end; the oldest filler made room (the decision is small).
    expect(after.slice(0, -1)).toEqual(before.slice(1));
    expect((await store.recent(id, 1))[0]!.kind).toBe('decision');
    // A key-level check: evicted items are gone from every structure, including the word index.
    expect(await stack.redis.hexists(stack.keys.memory(id, 'items'), before[0]!)).toBe(0);
    expect(await stack.redis.zscore(`${stack.keys.memoryTermPrefix(id)}filler`, before[0]!)).toBeNull();
  }, 60_000);

  it('gives the model memory_save and memory_search; memory content stays out of history', async () => {
    const id = await addMemoryAgent(stack, s3, {
      prefix: 'mem-tools',
      openai: true,
      systemPrompt: 'You are an archivist.',
      memory: { retrieval: { strategy: 'embedding_search', relevance_threshold: 0.3 } },
    });
    await stack.hub.admin.injectNotification({
      agent_id: id,
      type: 'mention',
      post_id: OTTER_POST,
      from_agent: { id: 'alice', name: 'Alice' },
      content: 'Remember what I like.',
    });
    expect(await stack.run(id)).toMatchObject({ outcome: 'succeeded', iterations: 3 });
    const items = await store.recent(id, 10);
    expect(items.map((m) => [m.kind, m.text])).toEqual([['feedback', SAVED]]);
    const requests = stack.model
      .requests()
      .filter((r) => JSON.stringify(r.body).includes(`Your id is ${id}`));
    const last = JSON.stringify(requests.at(-1)!.body);
    // The search found the saved item by embedding (cosine of "sea otters" and the note).
    expect(last).toContain('\\"strategy\\":\\"embedding_search\\"');
    expect(last).toContain(SAVED);
    const tools = (requests[0]!.body as { tools: { function: { name: string } }[] }).tools.map(
      (t) => t.function.name,
    );
    expect(tools).toEqual(expect.arrayContaining(['memory_search', 'memory_save']));
    const history = await stack.client.workflow.getHandle(activationWorkflowId(id)).fetchHistory();
    const text = decodeAll(history).join('\n');
    expect(text).toContain('memory memory_save');
    expect(text).toContain('memory remember');
    expect(text).not.toContain('sea otters');
    if (record) {
      await exportHistory(
        stack.client,
        activationWorkflowId(id),
        path.join(historyDir, 'activation-memory.json'),
      );
    }
  }, 60_000);

  it('offers no memory tools and touches no memory key when memory is off', async () => {
    const id = await addMemoryAgent(stack, s3, { prefix: 'mem-off', memory: { enabled: false } });
    await stack.hub.admin.injectNotification({
      agent_id: id,
      type: 'mention',
      post_id: OTTER_POST,
      from_agent: { id: 'alice', name: 'Alice' },
      content: 'Hello',
    });
    expect(await stack.run(id)).toMatchObject({ outcome: 'succeeded' });
    const first = stack.model.requests().find((r) => JSON.stringify(r.body).includes(`Your id is ${id}`));
    const tools = (first!.body as { tools: { name: string }[] }).tools.map((t) => t.name);
    expect(tools.some((t) => t.startsWith('memory_'))).toBe(false);
    const touched: string[] = [];
    const pattern = `${stack.keys.memory(id, 'items').replace(/items$/, '')}*`;
    let cursor = '0';
    do {
      const [next, found] = await stack.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
      touched.push(...found);
      cursor = next;
    } while (cursor !== '0');
    expect(touched).toEqual([]);
    const history = await stack.client.workflow.getHandle(activationWorkflowId(id)).fetchHistory();
    // No remembering step ran (with memory on, a succeeded conversation ends with 'memory remember').
    expect(decodeAll(history).join('\n')).not.toContain('memory remember');
  }, 30_000);
});

describe('agent memory across a runner SIGKILL', () => {
  let s3: S3Server;
  let stack: ActivationStack;
  const runners: TestProcess[] = [];

  beforeAll(async () => {
    const bundlePath = path.join(os.tmpdir(), `bb-bundle-memory-${process.pid}.js`);
    s3 = await startS3([BUCKET]);
    await buildWorkflowBundle(bundlePath);
    stack = await startStack({
      script,
      seed: {
        agents: [],
        posts: [
          { id: OTTER_POST, author: { id: 'me', name: 'Me' }, title: 'Otter habitats', content: 'Where?' },
        ],
      },
      env: { ...s3Env(s3), BOTBURROW_WORKFLOW_BUNDLE: bundlePath },
    });
  }, 90_000);
  afterAll(async () => {
    for (const p of runners) p.signal('SIGKILL');
    await Promise.all(runners.map((p) => p.exited));
    await stack?.stop();
    await s3?.stop();
  });

  it('a runner killed while remembering: another runner stores the items, each once', async () => {
    const started = await Promise.all([startRunnerProcess(stack.env), startRunnerProcess(stack.env)]);
    runners.push(...started);
    const id = await addMemoryAgent(stack, s3, {
      prefix: 'mem-kill',
      openai: true,
      systemPrompt: 'You are a slow persona.',
      memory: {
        remember: { conversations_with: ['alice'], decisions_made: true },
        retrieval: { strategy: 'embedding_search' },
      },
    });
    await stack.hub.admin.injectNotification({
      agent_id: id,
      type: 'mention',
      post_id: OTTER_POST,
      from_agent: { id: 'alice', name: 'Alice' },
      content: 'Otters?',
    });
    const handle = await stack.activate(id);
    // While the model answers, the next embeddings call (the remembering) is made to hang.
    await stack.model.waitForRequests(
      (rs) => rs.some((r) => JSON.stringify(r.body).includes(`Your id is ${id}`)),
      30_000,
    );
    stack.model.addFault({ kind: 'slow', delayMs: 30_000, match: { model: 'text-embedding-3-small' } });
    let identity = '';
    await eventually(async () => {
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      const a = pending.find((x) => x.activityType?.name === 'rememberConversation');
      identity = a?.lastWorkerIdentity ?? '';
      return identity !== '';
    }, 30_000);
    const runnerId = identity.replace(/^runner@/, '');
    const victim = runners.find((p) => p.output().includes(runnerId));
    expect(victim, `no runner process is ${identity}`).toBeDefined();
    victim!.signal('SIGKILL');
    await victim!.exited;

    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'succeeded', notificationsProcessed: 1, commentsCreated: 1 });
    const store = new MemoryStore(stack.redis, stack.keys);
    const items = await store.recent(id, 10);
    expect(items.map((m) => m.kind)).toEqual(['decision', 'conversation']);
    expect((await archived(s3, id)).flatMap((b) => b.items.map((m) => m.kind))).toEqual([
      'conversation',
      'decision',
    ]);
    // The rerun embedded the items again on the surviving runner and stored their vectors.
    expect(await stack.redis.hlen(stack.keys.memory(id, 'vectors'))).toBe(2);
    expect((await stack.hub.admin.activity(id)).comments.map((c) => c.content)).toEqual([REPLY]);
  }, 120_000);
});
