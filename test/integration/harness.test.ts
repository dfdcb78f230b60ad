/**
 * Proves the harness with real components: a worker on the real Temporal dev server runs a workflow
 * whose activities read and write the real Valkey. With RECORD_HISTORIES=1 it also refreshes the
 * committed replay history.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Redis } from 'ioredis';
import { exportHistory } from '../../scripts/export-history';
import { createProbeActivities } from '../support/probe-activities';
import { redisClient, services, unique } from '../support/env';

describe('harness: real Temporal + real Valkey', () => {
  let redis: Redis;
  let connection: Connection;
  let nativeConnection: NativeConnection;

  beforeAll(async () => {
    redis = redisClient();
    connection = await Connection.connect({ address: services().temporalAddress });
    nativeConnection = await NativeConnection.connect({ address: services().temporalAddress });
  });
  afterAll(async () => {
    redis.disconnect();
    await connection.close();
    await nativeConnection.close();
  });

  it('runs a workflow whose activities read and write Valkey', async () => {
    const taskQueue = unique('probe');
    const key = unique('probe-counter');
    await redis.set(key, '40');
    const worker = await Worker.create({
      connection: nativeConnection,
      taskQueue,
      workflowsPath: path.resolve(__dirname, '../support/workflows/probe.ts'),
      activities: createProbeActivities(redis),
    });
    const client = new Client({ connection });
    const workflowId = unique('probe-wf');
    const result = await worker.runUntil(
      client.workflow.execute('probeWorkflow', { taskQueue, workflowId, args: [{ key, times: 2 }] }),
    );
    expect(result).toEqual({ final: 42, seen: [41, 42] });
    expect(await redis.get(key)).toBe('42');

    if (process.env.RECORD_HISTORIES === '1') {
      await exportHistory(client, workflowId, path.resolve(__dirname, '../replay/histories/probe.json'));
    }
  });
});
