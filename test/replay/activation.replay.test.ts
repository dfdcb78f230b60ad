/**
 * Replays every committed activationWorkflow history (exported from real runs by the integration
 * tests with RECORD_HISTORIES=1) against today's workflow code. A failure here means a change to
 * workflows/ is not replay-safe: guard it with patched() or re-think it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';

const dir = path.resolve(__dirname, 'histories');
const files = fs.readdirSync(dir).filter((f) => f.startsWith('activation-') && f.endsWith('.json'));

describe('activationWorkflow replay', () => {
  it('has committed histories to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(6);
  });

  it('replays every committed history', async () => {
    const histories = files.map((f) => ({
      workflowId: f.replace(/\.json$/, ''),
      history: JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as unknown,
    }));
    const failures: string[] = [];
    for await (const r of Worker.runReplayHistories(
      { workflowsPath: path.resolve(__dirname, '../../workflows/index.ts') },
      histories,
    )) {
      if (r.error) failures.push(`${r.workflowId}: ${String(r.error)}`);
    }
    expect(failures).toEqual([]);
  });
});
