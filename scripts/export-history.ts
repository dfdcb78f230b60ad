/**
 * Exports a workflow's event history as JSON for the replay suite:
 *
 *   tsx scripts/export-history.ts --workflow-id activation-x [--run-id R] --out test/replay/histories/x.json
 *
 * Reads TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE like every process. `exportHistory` is reused by the
 * integration tests that record histories of real runs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { loadSettingsOrExit } from '../lib/config';
import { temporalConnectionOptions } from '../lib/temporal';

/** Writes the history of `workflowId` to `outFile` (pretty JSON); returns its size in bytes. */
export async function exportHistory(
  client: Client,
  workflowId: string,
  outFile: string,
  runId?: string,
): Promise<number> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const json = JSON.stringify(JSON.parse(historyToJSON(history)), null, 1);
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, `${json}\n`);
  return Buffer.byteLength(json);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { 'workflow-id': { type: 'string' }, 'run-id': { type: 'string' }, out: { type: 'string' } },
  });
  const workflowId = values['workflow-id'];
  const out = values.out;
  if (!workflowId || !out) {
    console.error('usage: tsx scripts/export-history.ts --workflow-id ID [--run-id R] --out FILE');
    process.exit(2);
  }
  const settings = loadSettingsOrExit();
  const connection = await Connection.connect(temporalConnectionOptions(settings));
  try {
    const client = new Client({ connection, namespace: settings.temporalNamespace });
    const bytes = await exportHistory(client, workflowId, out, values['run-id']);
    console.log(`wrote ${out} (${bytes} bytes)`);
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
