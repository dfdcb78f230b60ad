/**
 * Traces on the real stack: one activation, started by a traced client, run by a runner with the
 * SDK's OpenTelemetry interceptors, exported to an in-memory exporter. The whole activation is one
 * trace: the client's start → RunWorkflow → StartActivity/RunActivity of each step → the model,
 * Hub and MCP calls, with agent id, trigger, notification id and tokens as attributes.
 */
import path from 'node:path';
import { Client } from '@temporalio/client';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scenario } from '../../dev/model-server/scenario';
import type { ActivationInput, ActivationResult } from '../../lib/contract';
import {
  ACTIVATION_WORKFLOW,
  TaskQueue,
  activationSearchAttributes,
  activationWorkflowId,
} from '../../lib/contract';
import { SpanAttr, installTracing } from '../../lib/tracing';
import type { Tracing } from '../../lib/tracing';
import type { ActivationStack } from '../support/stack';
import { startStack } from '../support/stack';
import { eventually } from '../support/env';

const POST_ID = 'p-traced';
// A small real stdio MCP server (test/fixtures/mcp), started in the agent's sandbox.
const CRASHY = path.resolve(__dirname, '../fixtures/mcp/crashy-server.ts');
const TSX = `file://${require.resolve('tsx')}`;

const script: Scenario = {
  name: 'tracing-tests',
  rules: [
    { name: 'final', when: { tools: false }, reply: { text: 'Traced answer.' } },
    {
      name: 'tools',
      when: { system: 'traced persona', turn: 1 },
      reply: {
        toolCalls: [
          { name: 'mcp_crashy_ok', input: { word: 'traced' } },
          { name: 'hub_search', input: { query: 'burrows', limit: 2 } },
        ],
      },
    },
    { name: 'answer', when: { system: 'traced persona' }, reply: { text: 'Traced answer.' } },
  ],
  fallback: { text: 'NO_RESPONSE_NEEDED' },
};

describe('traces', () => {
  let stack: ActivationStack;
  let tracing: Tracing;
  const exporter = new InMemorySpanExporter();

  beforeAll(async () => {
    tracing = await installTracing({ tracesExporter: 'none', serviceName: undefined }, 'test', {
      spanProcessor: new SimpleSpanProcessor(exporter),
    });
    stack = await startStack({
      script,
      seed: {
        agents: [],
        posts: [{ id: POST_ID, author: { id: 'alice', name: 'Alice' }, content: 'Burrows' }],
      },
      // The sandbox is not what this test is about (activation-sandbox.test.ts is); unconfined, the
      // MCP server starts the same way from any checkout.
      env: { BOTBURROW_SANDBOX: 'none' },
    });
    await stack.startRunner({}, { tracing });
  });
  afterAll(async () => {
    await stack?.stop();
    await tracing?.shutdown();
  });

  it('exports one trace of the whole activation with its attributes', async () => {
    const agentId = await stack.addAgent('traced', {
      systemPrompt: 'You are the traced persona.',
      extra: {
        capabilities: {
          grants: ['hub:read', 'hub:write'],
          mcp_servers: [{ name: 'crashy', command: 'node', args: ['--import', TSX, CRASHY] }],
        },
      },
    });
    const note = await stack.hub.admin.injectNotification({
      agent_id: agentId,
      type: 'mention',
      post_id: POST_ID,
      content: 'Trace me.',
    });
    const client = new Client({
      connection: stack.client.connection,
      namespace: stack.namespace,
      interceptors: tracing.clientInterceptors,
    });
    const input: ActivationInput = {
      agentId,
      trigger: 'notification',
      requestedAt: new Date().toISOString(),
    };
    const handle = await client.workflow.signalWithStart(ACTIVATION_WORKFLOW, {
      workflowId: activationWorkflowId(agentId),
      taskQueue: TaskQueue.high,
      args: [input],
      signal: 'inboxUpdated',
      signalArgs: [],
      typedSearchAttributes: activationSearchAttributes(agentId, 'notification'),
    });
    const result = (await handle.result()) as ActivationResult;
    expect(result).toMatchObject({ outcome: 'succeeded', commentsCreated: 1 });

    const start = (): ReadableSpan | undefined =>
      exporter.getFinishedSpans().find((s) => s.name === `SignalWithStartWorkflow:${ACTIVATION_WORKFLOW}`);
    // The workflow's span ends with the run and reaches the exporter through the worker's sink.
    await eventually(
      () =>
        start() !== undefined &&
        exporter.getFinishedSpans().some((s) => s.name === `RunWorkflow:${ACTIVATION_WORKFLOW}`),
      10_000,
    );
    const traceId = start()!.spanContext().traceId;
    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    const names = spans.map((s) => s.name);
    const byName = (name: string): ReadableSpan[] => spans.filter((s) => s.name === name);

    expect(start()!.attributes).toMatchObject({
      [SpanAttr.agentId]: agentId,
      [SpanAttr.trigger]: 'notification',
    });
    expect(names).toContain(`RunWorkflow:${ACTIVATION_WORKFLOW}`);
    for (const activity of [
      'prepareActivation',
      'fetchNotifications',
      'startConversation',
      'llmTurn',
      'hubTool',
    ]) {
      expect(names, activity).toContain(`StartActivity:${activity}`);
      expect(names, activity).toContain(`RunActivity:${activity}`);
    }
    // Each activity span carries the agent; the conversation of the notification carries its id.
    for (const s of spans.filter((x) => x.name === 'RunActivity:llmTurn')) {
      expect(s.attributes[SpanAttr.agentId]).toBe(agentId);
    }
    expect(byName('RunActivity:startConversation')[0]!.attributes[SpanAttr.notificationId]).toBe(note.id);

    // The outgoing calls, each inside the activity that made it.
    const models = byName('model.call');
    expect(models.length).toBe(result.iterations);
    const tokens = models.reduce((n, s) => n + (s.attributes[SpanAttr.inputTokens] as number), 0);
    expect(tokens).toBe(result.tokensInput);
    expect(models[0]!.attributes[SpanAttr.outputTokens]).toBeGreaterThan(0);
    expect(models[0]!.attributes[SpanAttr.modelSystem]).toBe('anthropic');
    const mcp = byName('mcp crashy.ok');
    expect(mcp).toHaveLength(1);
    const hubSpans = spans.filter((s) => s.name.startsWith('hub '));
    expect(hubSpans.map((s) => s.attributes[SpanAttr.hubEndpoint])).toEqual(
      expect.arrayContaining([expect.stringContaining('notifications'), expect.stringContaining('search')]),
    );

    // Parent links: every span but the client's has its parent in the same trace.
    const ids = new Set(spans.map((s) => s.spanContext().spanId));
    for (const s of spans) {
      if (s === start()) continue;
      expect(ids.has(s.parentSpanId!), `${s.name} has its parent in the trace`).toBe(true);
    }
    const parentOf = (s: ReadableSpan): ReadableSpan =>
      spans.find((p) => p.spanContext().spanId === s.parentSpanId)!;
    expect(parentOf(models[0]!).name).toBe('RunActivity:llmTurn');
    expect(parentOf(mcp[0]!).name).toMatch(/^RunActivity:/);
  });
});
