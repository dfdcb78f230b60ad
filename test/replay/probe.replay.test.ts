/**
 * Replays the committed probe history: the workflow as committed must replay it, and a
 * deliberately non-deterministic variant must be rejected.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker } from '@temporalio/worker';

const history: unknown = JSON.parse(fs.readFileSync(path.resolve(__dirname, 'histories/probe.json'), 'utf8'));

describe('probe workflow replay', () => {
  it('replays the committed history', async () => {
    await expect(
      Worker.runReplayHistory(
        { workflowsPath: path.resolve(__dirname, '../support/workflows/probe.ts') },
        history,
      ),
    ).resolves.toBeUndefined();
  });

  it('rejects a non-deterministic change', async () => {
    await expect(
      Worker.runReplayHistory(
        { workflowsPath: path.resolve(__dirname, '../support/workflows/probe-nondeterministic.ts') },
        history,
      ),
    ).rejects.toBeInstanceOf(DeterminismViolationError);
  });
});
