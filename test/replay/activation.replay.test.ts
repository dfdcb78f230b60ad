/**
 * Replays every committed activationWorkflow history (exported from real runs by the integration
 * tests with RECORD_HISTORIES=1) against today's workflow code: `activation-before-lean-*` were
 * recorded before the `lean-history` patch (timer, per-turn upserts, bookkeeping as regular
 * activities), `activation-baseline-2026-12-*` with the one marker that stands for every earlier
 * patch (today's runs; recorded under the usual names and renamed), the others in between; `activation-encrypted` has its payloads encrypted, so it
 * replays only with the codec (test/support/replay.ts). A failure here means a change to
 * workflows/ is not replay-safe: guard it with patched() or re-think it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { replayOptions } from '../support/replay';

const dir = path.resolve(__dirname, 'histories');
const files = fs.readdirSync(dir).filter((f) => f.startsWith('activation-') && f.endsWith('.json'));

interface JsonHistory {
  events: {
    markerRecordedEventAttributes?: {
      markerName: string;
      details?: Record<string, { payloads: { data: string }[] }>;
    };
  }[];
}

/** The ids of the patches a committed history recorded (`core_patch` markers). */
function patchIds(file: string): string[] {
  const history = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as JsonHistory;
  return history.events
    .map((e) => e.markerRecordedEventAttributes)
    .filter((m) => m?.markerName === 'core_patch')
    .map((m) => {
      const data = m!.details!['patch-data']!.payloads[0]!.data;
      return (JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { id: string }).id;
    });
}

describe('activationWorkflow replay', () => {
  it('has committed histories of runs from before and after the lean-history patch', () => {
    const before = files.filter((f) => f.startsWith('activation-before-lean-'));
    const baseline = files.filter((f) => f.startsWith('activation-baseline-2026-12-'));
    const lean = files.filter((f) => !before.includes(f) && !baseline.includes(f));
    expect(before.length).toBeGreaterThanOrEqual(6);
    expect(lean.length).toBeGreaterThanOrEqual(6);
    // Recorded from runs that took the patched path: its marker is in every one of them.
    for (const f of lean) expect(patchIds(f), f).toContain('lean-history');
    // Runs of today's code: the one baseline marker stands for every patch before it, natively,
    // through the Hub MCP server, with memory, the Updates, cancels and a CLI executor.
    expect(baseline.length).toBeGreaterThanOrEqual(12);
    for (const f of baseline) expect(patchIds(f), f).toEqual(['baseline-2026-12']);
    for (const c of ['succeeded', 'cancel-update', 'memory', 'hub-vocabulary-mcp', 'claude-code-succeeded']) {
      expect(baseline, c).toContain(`activation-baseline-2026-12-${c}.json`);
    }
    // A Hub MCP post run as the native Hub tool (hub-mcp-post-native) is recorded too.
    expect(patchIds('activation-hub-mcp-post.json')).toEqual(['lean-history', 'hub-mcp-post-native']);
    expect(patchIds('activation-temporal-cancel.json')).toEqual(['lean-history', 'temporal-cancel-canceled']);
    expect(patchIds('activation-exploration-inbox.json')).toEqual(['lean-history', 'exploration-inbox']);
    // Agent memory: the memory tools and the remembering step (agent-memory), recorded before the
    // Hub tool registry and after it.
    expect(patchIds('activation-memory-before-hub-registry.json')).toEqual(['lean-history', 'agent-memory']);
    expect(patchIds('activation-memory.json')).toEqual(['lean-history', 'hub-tool-registry', 'agent-memory']);
    // Tools routed by the conversation's own list (the Hub tool registry), natively and via MCP.
    for (const f of ['activation-hub-vocabulary-native.json', 'activation-hub-vocabulary-mcp.json']) {
      expect(patchIds(f), f).toEqual(['lean-history', 'hub-tool-registry']);
    }
    // Runs with the cancel and pause Updates (cancel-pause-updates), each with its Update accepted.
    for (const f of ['activation-cancel-update.json', 'activation-pause-update.json']) {
      expect(patchIds(f), f).toEqual(['lean-history', 'cancel-pause-updates']);
    }
    for (const f of before) expect(patchIds(f), f).toEqual([]);
    // One run recorded with encrypted payloads (the codec key of test/support/replay.ts).
    const encrypted = fs.readFileSync(path.join(dir, 'activation-encrypted.json'), 'utf8');
    expect(encrypted).toContain(Buffer.from('binary/encrypted').toString('base64'));
    expect(encrypted).toContain(Buffer.from('replay-test').toString('base64'));
  });

  // Runners bundle the tracing interceptors only with tracing on: a run replays either way.
  it.each([
    ['without', false],
    ['with', true],
  ])('replays every committed history %s the tracing interceptors', async (_label, traced) => {
    const histories = files.map((f) => ({
      workflowId: f.replace(/\.json$/, ''),
      history: JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as unknown,
    }));
    const failures: string[] = [];
    for await (const r of Worker.runReplayHistories(
      replayOptions(path.resolve(__dirname, '../../workflows/index.ts'), { traced }),
      histories,
    )) {
      if (r.error) failures.push(`${r.workflowId}: ${String(r.error)}`);
    }
    expect(failures).toEqual([]);
  });

  it('needs the codec for the encrypted history: without the key it does not replay', async () => {
    const history = JSON.parse(
      fs.readFileSync(path.join(dir, 'activation-encrypted.json'), 'utf8'),
    ) as unknown;
    const { dataConverter: _codec, ...plain } = replayOptions(
      path.resolve(__dirname, '../../workflows/index.ts'),
    );
    await expect(Worker.runReplayHistory(plain, history, 'activation-encrypted')).rejects.toThrow();
  });
});
