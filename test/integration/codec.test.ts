/**
 * Encrypted payloads on the real stack: runners, client and the coordinator's codec server with
 * BOTBURROW_CODEC_KEYS. The history of an activation read without the key holds none of its
 * notification text, prompt or model answer (a run without keys, read the same way, holds them
 * all: the control); `temporal workflow show --codec-endpoint` decodes it through the codec
 * server; after a rotation (new key first, old one kept) new runs are written with the new key and
 * old runs still read.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { Scenario } from '../../dev/model-server/scenario';
import { toolPaths } from '../../dev/services';
import { KEY_ID_METADATA, dataConverter, newCodecKey, payloadCodec } from '../../lib/codec';
import { codecServerRoute } from '../../lib/codec-server';
import { parseCodecKeys } from '../../lib/config';
import type { CodecKey } from '../../lib/config';
import type { ActivationInput, ActivationResult } from '../../lib/contract';
import {
  ACTIVATION_WORKFLOW,
  TaskQueue,
  activationSearchAttributes,
  activationWorkflowId,
} from '../../lib/contract';
import { startOpsServer } from '../../lib/http-server';
import type { OpsServer } from '../../lib/http-server';
import type { Runner } from '../../workers/runner-app';
import type { ActivationStack } from '../support/stack';
import { startStack } from '../support/stack';
import { REPLAY_CODEC_KEYS } from '../support/replay';
import { exportHistory } from '../../scripts/export-history';

const run = promisify(execFile);
const ANSWER = 'Marmots prefer granite burrows.';
// The prompt never enters history (the transcript lives in Valkey); the notification and the answer do.
const PERSONA = 'You are the cipher persona who studies marmot architecture.';

const script: Scenario = {
  name: 'codec-tests',
  rules: [{ name: 'answer', when: { system: 'cipher persona' }, reply: { text: ANSWER } }],
  fallback: { text: 'NO_RESPONSE_NEEDED' },
};

// The first key is the replay tests' committed one, so a recorded history replays there.
const K1 = parseCodecKeys(REPLAY_CODEC_KEYS)!;
const K2 = parseCodecKeys(newCodecKey('k2'))!;
const ROTATED = [...K2, ...K1];

/** Every string and every byte field (as UTF-8) of a history, as a Temporal reader without keys sees it. */
function readableText(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
  else if (Array.isArray(value)) for (const v of value) readableText(v, out);
  else if (typeof value === 'object' && value !== null)
    for (const v of Object.values(value as Record<string, unknown>)) readableText(v, out);
  return out;
}

/** The key ids of the encrypted payloads of a history (Payload objects carry `metadata` and `data`). */
function keyIds(value: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) keyIds(v, out);
  else if (typeof value === 'object' && value !== null && !(value instanceof Uint8Array)) {
    const meta = (value as { metadata?: Record<string, Uint8Array> }).metadata;
    const id = meta?.[KEY_ID_METADATA];
    if (id) out.add(Buffer.from(id).toString('utf8'));
    for (const v of Object.values(value as Record<string, unknown>)) keyIds(v, out);
  }
  return out;
}

describe('encrypted payloads', () => {
  let stack: ActivationStack;
  let rawClient: Client;
  let codecServer: OpsServer;
  const token = 'codec-test-token';

  beforeAll(async () => {
    stack = await startStack({
      script,
      seed: { agents: [], posts: [{ id: 'p-1', author: 'alice', content: 'Burrows!' }] },
    });
    rawClient = new Client({ connection: stack.client.connection, namespace: stack.namespace });
    // The coordinator's codec server, holding the rotated key set (it must read old and new runs).
    codecServer = await startOpsServer({
      port: 0,
      host: '127.0.0.1',
      registry: new Registry(),
      logger: pino({ level: 'silent' }),
      routes: codecServerRoute({
        codec: payloadCodec(ROTATED)!,
        token,
        corsOrigins: ['http://localhost:8233'],
        logger: pino({ level: process.env.DEBUG_CODEC ? 'debug' : 'silent' }),
      }),
    });
  });
  afterAll(async () => {
    await codecServer?.close();
    await stack?.stop();
  });

  function clientWith(keys: CodecKey[] | undefined): Client {
    return new Client({
      connection: stack.client.connection,
      namespace: stack.namespace,
      dataConverter: dataConverter({ codecKeys: keys }),
    });
  }

  /** One notification, one activation on a runner with `keys`, run to the end; the runner is stopped after. */
  async function activation(
    keys: CodecKey[] | undefined,
    prefix: string,
  ): Promise<{ agentId: string; note: string; result: ActivationResult }> {
    const agentId = await stack.addAgent(prefix, { systemPrompt: PERSONA });
    const note = `Please weigh in on the ${agentId} burrow proposal.`;
    await stack.hub.admin.injectNotification({
      agent_id: agentId,
      type: 'mention',
      post_id: 'p-1',
      content: note,
    });
    const runner: Runner = await stack.startRunner({ codecKeys: keys });
    try {
      const input: ActivationInput = {
        agentId,
        trigger: 'notification',
        requestedAt: new Date().toISOString(),
      };
      const handle = await clientWith(keys).workflow.signalWithStart(ACTIVATION_WORKFLOW, {
        workflowId: activationWorkflowId(agentId),
        taskQueue: TaskQueue.high,
        args: [input],
        signal: 'inboxUpdated',
        signalArgs: [],
        typedSearchAttributes: activationSearchAttributes(agentId, 'notification'),
      });
      const result = (await handle.result()) as ActivationResult;
      return { agentId, note, result };
    } finally {
      runner.shutdown();
    }
  }

  async function rawHistory(agentId: string): Promise<unknown> {
    return (await rawClient.workflow.getHandle(activationWorkflowId(agentId)).fetchHistory()).events;
  }

  async function workflowShow(agentId: string, codec: boolean): Promise<string> {
    const args = ['workflow', 'show', '--workflow-id', activationWorkflowId(agentId), '-o', 'json'];
    args.push('--address', stack.env.TEMPORAL_ADDRESS!, '--namespace', stack.namespace);
    if (codec) {
      args.push('--codec-endpoint', `http://127.0.0.1:${codecServer.port}/codec`);
      args.push('--codec-auth', `Bearer ${token}`);
    }
    const { stdout } = await run(toolPaths().temporal, args, { maxBuffer: 64 * 1024 * 1024 });
    // The CLI prints payloads decoded as JSON values, or base64 data when it cannot decode them.
    return (
      stdout +
      readableText(JSON.parse(stdout))
        .map((s) => Buffer.from(s, 'base64').toString('utf8'))
        .join('\n')
    );
  }

  let plain: { agentId: string; note: string };
  let old: { agentId: string; note: string };

  it('control: without keys the history shows the notification and the answer (the prompt never enters it)', async () => {
    const r = await activation(undefined, 'cipher-plain');
    expect(r.result.outcome).toBe('succeeded');
    plain = r;
    const text = readableText(await rawHistory(r.agentId)).join('\n');
    expect(text).toContain(r.note);
    expect(text).toContain(ANSWER);
    expect(text).not.toContain(PERSONA);
    expect(keyIds(await rawHistory(r.agentId)).size).toBe(0);
  });

  it('with a key: the history read without it holds no notification or answer text', async () => {
    const r = await activation(K1, 'cipher-k1');
    expect(r.result).toMatchObject({ outcome: 'succeeded', notificationsProcessed: 1, commentsCreated: 1 });
    old = r;
    // The answer really went out: encryption is only about what Temporal stores.
    const activity = await stack.hub.admin.activity(r.agentId);
    expect(activity.comments.map((c) => c.content)).toEqual([ANSWER]);
    const history = await rawHistory(r.agentId);
    const text = readableText(history).join('\n');
    expect(text).not.toContain(r.note);
    expect(text).not.toContain(ANSWER);
    expect(text).not.toContain('burrow proposal');
    expect([...keyIds(history)]).toEqual(['replay-test']);
    if (process.env.RECORD_HISTORIES === '1') {
      await exportHistory(
        stack.client,
        activationWorkflowId(r.agentId),
        path.resolve(__dirname, '../replay/histories/activation-encrypted.json'),
      );
    }
    // A client without the key cannot read the result.
    await expect(rawClient.workflow.getHandle(activationWorkflowId(r.agentId)).result()).rejects.toThrow(
      /encoding|binary\/encrypted/i,
    );
  });

  it('temporal workflow show decodes it through the codec server; without the codec it cannot', async () => {
    expect(await workflowShow(old.agentId, false)).not.toContain(ANSWER);
    const shown = await workflowShow(old.agentId, true);
    expect(shown).toContain(old.note);
    expect(shown).toContain(ANSWER);
    // The codec server refuses a caller without the token.
    const res = await fetch(`http://127.0.0.1:${codecServer.port}/codec/decode`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ payloads: [] }),
    });
    expect(res.status).toBe(401);
  });

  it('after a rotation new runs use the new key and old runs still read', async () => {
    const r = await activation(ROTATED, 'cipher-k2');
    expect(r.result.outcome).toBe('succeeded');
    const history = await rawHistory(r.agentId);
    expect([...keyIds(history)]).toEqual(['k2']);
    expect(readableText(history).join('\n')).not.toContain(r.note);
    // The rotated key set reads the run written with k1, and the plain run of the control.
    const rotated = clientWith(ROTATED);
    const oldResult = (await rotated.workflow
      .getHandle(activationWorkflowId(old.agentId))
      .result()) as ActivationResult;
    expect(oldResult).toMatchObject({ agentId: old.agentId, outcome: 'succeeded' });
    const plainResult = (await rotated.workflow
      .getHandle(activationWorkflowId(plain.agentId))
      .result()) as ActivationResult;
    expect(plainResult.outcome).toBe('succeeded');
    expect(await workflowShow(r.agentId, true)).toContain(r.note);
    // Once k1 is dropped, its runs no longer read, and the error names the missing key.
    await expect(
      clientWith(K2).workflow.getHandle(activationWorkflowId(old.agentId)).result(),
    ).rejects.toThrow(/key id "replay-test" is not in BOTBURROW_CODEC_KEYS/);
  });
});
