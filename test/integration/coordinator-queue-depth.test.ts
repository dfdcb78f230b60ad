/**
 * `readQueueDepth` against the suite's real Temporal dev server (server 1.32, SDK 1.24): the backlog
 * of a task queue nobody polls grows with every workflow started on it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { readQueueDepth } from '../../lib/coordinator/queue-depth';
import { services, unique } from '../support/env';
import { waitUntil } from './coordinator-support';

describe('coordinator queue depth', () => {
  let connection: Connection;
  let client: Client;

  beforeAll(async () => {
    connection = await Connection.connect({ address: services().temporalAddress });
    client = new Client({ connection });
  });
  afterAll(async () => {
    await connection.close();
  });

  it('reports the approximate backlog of a task queue', async () => {
    const queue = unique('depth');
    expect(await readQueueDepth(client, queue)).toBe(0);
    const ids = Array.from({ length: 4 }, () => unique('depth-wf'));
    for (const workflowId of ids) {
      await client.workflow.start('activationWorkflow', { taskQueue: queue, workflowId, args: [] });
    }
    const depth = await waitUntil(
      'backlog of 4',
      async () => ((await readQueueDepth(client, queue)) >= 4 ? readQueueDepth(client, queue) : undefined),
      20_000,
      250,
    );
    expect(depth).toBe(4);
    await Promise.all(ids.map((id) => client.workflow.getHandle(id).terminate('test done')));
  });
});
