import { describe, expect, it } from 'vitest';
import { queueLabel } from '../../lib/coordinator/queue-depth';
import { TaskQueue } from '../../lib/contract';

describe('queue depth labels', () => {
  it('uses the short names of DESIGN.md (queue="high|normal|low")', () => {
    expect([TaskQueue.high, TaskQueue.normal, TaskQueue.low].map(queueLabel)).toEqual([
      'high',
      'normal',
      'low',
    ]);
  });
});
