/**
 * Replays the committed skillSyncWorkflow history (recorded by test/integration/skill-sync.test.ts
 * with RECORD_HISTORIES=1: three sources, one of them unavailable) against today's workflow code.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { replayOptions } from '../support/replay';

const history: unknown = JSON.parse(
  fs.readFileSync(path.resolve(__dirname, 'histories/skill-sync.json'), 'utf8'),
);

describe('skillSyncWorkflow replay', () => {
  it('replays the committed history', async () => {
    await expect(
      Worker.runReplayHistory(
        replayOptions(path.resolve(__dirname, '../../workflows/skill-sync.ts')),
        history,
      ),
    ).resolves.toBeUndefined();
  });
});
