/**
 * `runWorkers` (workers/runner-app.ts): a worker that fails stops the runner's other workers, and
 * the failure is reported only once every worker has stopped (so the connection can close and the
 * process reports the worker's error).
 */
import { describe, expect, it } from 'vitest';
import { runWorkers } from '../../workers/runner-app';

type State = 'RUNNING' | 'STOPPING' | 'STOPPED';

function fakeWorker(name: string, log: string[]) {
  let state: State = 'RUNNING';
  let stop!: () => void;
  let fail!: (err: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    stop = resolve;
    fail = reject;
  });
  return {
    run: () => done,
    getState: () => state,
    shutdown: () => {
      log.push(`shutdown ${name}`);
      state = 'STOPPING';
      // Draining takes a moment, as a real worker's does.
      setTimeout(() => {
        state = 'STOPPED';
        log.push(`stopped ${name}`);
        stop();
      }, 20);
    },
    fail: (err: Error) => {
      state = 'STOPPED';
      log.push(`failed ${name}`);
      fail(err);
    },
  };
}

describe('runWorkers', () => {
  it('stops the other workers when one fails, and rejects with its error once all have stopped', async () => {
    const log: string[] = [];
    const [a, b, c] = ['a', 'b', 'c'].map((n) => fakeWorker(n, log)) as [
      ReturnType<typeof fakeWorker>,
      ReturnType<typeof fakeWorker>,
      ReturnType<typeof fakeWorker>,
    ];
    const running = runWorkers([a, b, c]);
    b.fail(new Error('Workflow Worker Thread exited prematurely: ERR_WORKER_OUT_OF_MEMORY'));
    await expect(running).rejects.toThrow(/ERR_WORKER_OUT_OF_MEMORY/);
    // Settled only after the others drained.
    expect(log).toEqual(['failed b', 'shutdown a', 'shutdown c', 'stopped a', 'stopped c']);
    expect([a, b, c].map((w) => w.getState())).toEqual(['STOPPED', 'STOPPED', 'STOPPED']);
  });

  it('resolves when every worker stops without failing', async () => {
    const log: string[] = [];
    const workers = ['a', 'b'].map((n) => fakeWorker(n, log));
    const running = runWorkers(workers);
    for (const w of workers) w.shutdown();
    await expect(running).resolves.toBeUndefined();
    expect(log.filter((l) => l.startsWith('stopped'))).toHaveLength(2);
  });
});
