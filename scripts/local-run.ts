/**
 * The local run: a Temporal dev server with its Web UI (data kept in .data/temporal.db) and a Valkey
 * with append-only persistence in .data/valkey. Ctrl-C stops everything.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startTemporal, startValkey } from '../dev/services';
import type { ServiceHandle } from '../dev/services';

const ROOT = path.resolve(__dirname, '..');
const DATA = path.join(ROOT, '.data');

async function main(): Promise<void> {
  fs.mkdirSync(path.join(DATA, 'logs'), { recursive: true });
  const handles: ServiceHandle[] = [];
  let stopping = false;
  const stopAll = async (code: number): Promise<never> => {
    if (!stopping) {
      stopping = true;
      console.log('\nstopping…');
      await Promise.all(handles.map((h) => h.stop()));
    }
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  const temporalPort = Number(process.env.BOTBURROW_LOCAL_TEMPORAL_PORT ?? 7233);
  const uiPort = Number(process.env.BOTBURROW_LOCAL_UI_PORT ?? 8233);
  const valkeyPort = Number(process.env.BOTBURROW_LOCAL_VALKEY_PORT ?? 6379);
  try {
    const [temporal, valkey] = await Promise.all([
      startTemporal({
        port: temporalPort,
        uiPort,
        dbFile: path.join(DATA, 'temporal.db'),
        logFile: path.join(DATA, 'logs', 'temporal.log'),
      }),
      startValkey({
        port: valkeyPort,
        dataDir: path.join(DATA, 'valkey'),
        logFile: path.join(DATA, 'logs', 'valkey.log'),
      }),
    ]);
    handles.push(temporal, valkey);
    console.log(`Temporal:    ${temporal.address}  (Web UI http://localhost:${uiPort})`);
    console.log(`Valkey:      ${valkey.url}`);
    console.log('Logs in .data/logs. Press Ctrl-C to stop.');
  } catch (err) {
    console.error(`local run failed to start: ${err instanceof Error ? err.message : String(err)}`);
    await stopAll(1);
  }
}

void main();
