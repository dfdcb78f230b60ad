/**
 * The local run (README command one): every piece of the system on embedded defaults.
 *
 * - Temporal dev server with its Web UI (data kept in .data/temporal.db), search attributes registered
 * - Valkey with append-only persistence in .data/valkey
 * - the Hub simulator with the demo world (dev/demo/world.yaml), new notifications arriving all the time
 * - the scripted Messages API server with the demo persona, unless ANTHROPIC_API_KEY is set
 * - one coordinator, one runner and the skill-sync worker, as real processes, on a copy of the demo
 *   definitions in <data>/definitions (skill sync writes there, not into the tracked folder)
 *
 * Prints the addresses and a live progress line; Ctrl-C (or SIGTERM, SIGHUP) stops everything
 * within 5 s. Writes what the CLI needs to find it to `<data>/local-run.env` (cli/local-run.ts).
 * Data lives in `.data/` (or BOTBURROW_LOCAL_DATA_DIR). `--test` runs the same stack on free ports
 * with in-memory Temporal and a temporary data folder, and prints one `READY {json}` line with the
 * addresses (the end-to-end test uses it).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { localDataDir, writeLocalRunFile } from '../cli/local-run';
import { createHubSimulator } from '../dev/hub-sim/server';
import { createModelServer } from '../dev/model-server/server';
import type { ServiceHandle } from '../dev/services';
import { freePort, startEntryProcess, startTemporal, startValkey, waitForPort } from '../dev/services';
import { newCodecKey } from '../lib/codec';
import { SearchAttr } from '../lib/contract';

const ROOT = path.resolve(__dirname, '..');

interface Closeable {
  close(): Promise<void>;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      test: { type: 'boolean', default: false },
      ambient: { type: 'string', default: '20' },
    },
  });
  const test = values.test;
  const dataDir = test
    ? fs.mkdtempSync(path.join(os.tmpdir(), 'botburrow-local-'))
    : localDataDir(process.env, ROOT);
  const logDir = path.join(dataDir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });

  /** Servers (Temporal, Valkey) and the system's processes (coordinator, runner), stopped in that reverse order. */
  const services: ServiceHandle[] = [];
  const processes: ServiceHandle[] = [];
  const closeables: Closeable[] = [];
  let stopping = false;
  let progressTimer: NodeJS.Timeout | undefined;
  let settingsFile: string | undefined;
  const stopAll = async (code: number): Promise<void> => {
    // A second signal while stopping changes nothing: the stop is already bounded.
    if (stopping) return;
    stopping = true;
    clearInterval(progressTimer);
    process.stdout.write('\nstopping…\n');
    if (settingsFile) fs.rmSync(settingsFile, { force: true });
    // Coordinator and runner first (they drain, BOTBURROW_SHUTDOWN_GRACE below), then what they
    // use; each step bounded so that everything is gone within 5 s of the signal.
    const deadline = Date.now() + 4_500;
    await Promise.all(processes.map((h) => h.stop(3_000)));
    await Promise.all(closeables.map((c) => c.close().catch(() => undefined)));
    await Promise.all(services.map((h) => h.stop(Math.max(500, deadline - Date.now()))));
    if (test) fs.rmSync(dataDir, { recursive: true, force: true });
    process.exit(code);
  };
  // A terminal closing sends SIGHUP, a supervisor SIGTERM, Ctrl-C SIGINT: all stop the same way.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stopAll(0));

  const port = async (env: string, def: number): Promise<number> =>
    test ? freePort() : Number(process.env[env] ?? def);

  try {
    const [temporalPort, uiPort, valkeyPort, hubPort, modelPort, coordinatorPort, runnerPort, skillSyncPort] =
      await Promise.all([
        port('BOTBURROW_LOCAL_TEMPORAL_PORT', 7233),
        port('BOTBURROW_LOCAL_UI_PORT', 8233),
        port('BOTBURROW_LOCAL_VALKEY_PORT', 6379),
        port('BOTBURROW_LOCAL_HUB_PORT', 8000),
        port('BOTBURROW_LOCAL_MODEL_PORT', 4010),
        port('BOTBURROW_LOCAL_COORDINATOR_PORT', 9090),
        port('BOTBURROW_LOCAL_RUNNER_PORT', 9091),
        port('BOTBURROW_LOCAL_SKILL_SYNC_PORT', 9092),
      ]);
    const [temporal, valkey] = await Promise.all([
      startTemporal({
        port: temporalPort,
        ...(test
          ? {}
          : {
              uiPort,
              dbFile: path.join(dataDir, 'temporal.db'),
              // The coordinator's codec server: the UI shows the encrypted payloads decoded.
              uiCodecEndpoint: `http://localhost:${coordinatorPort}/codec`,
            }),
        logFile: path.join(logDir, 'temporal.log'),
      }),
      startValkey({
        port: valkeyPort,
        // Valkey requires authentication everywhere (DESIGN.md); a fresh password each run.
        password: randomBytes(16).toString('hex'),
        dataDir: path.join(dataDir, 'valkey'),
        logFile: path.join(logDir, 'valkey.log'),
      }),
    ]);
    services.push(temporal, valkey);

    const hub = await createHubSimulator({
      port: hubPort,
      seed: path.join(ROOT, 'dev/demo/world.yaml'),
      social: true,
      ambientEverySeconds: Number(values.ambient),
      log: (line) => fs.appendFileSync(path.join(logDir, 'hub.log'), `${new Date().toISOString()} ${line}\n`),
    });
    closeables.push(hub);

    const realModel = process.env.ANTHROPIC_API_KEY !== undefined && process.env.ANTHROPIC_API_KEY !== '';
    const model = realModel ? undefined : await createModelServer({ port: modelPort });
    if (model) closeables.push(model);

    // A working copy of the demo definitions, fresh each start: skill sync and edits by hand land
    // in it, never in the tracked dev/demo/definitions.
    const definitionsDir = path.join(dataDir, 'definitions');
    fs.rmSync(definitionsDir, { recursive: true, force: true });
    fs.cpSync(path.join(ROOT, 'dev/demo/definitions'), definitionsDir, { recursive: true });

    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? os.tmpdir(),
      TEMPORAL_ADDRESS: temporal.address,
      BOTBURROW_REDIS_URL: valkey.url,
      BOTBURROW_HUB_URL: hub.url,
      BOTBURROW_AGENT_DEFINITIONS_PATH: definitionsDir,
      BOTBURROW_POLL_INTERVAL: '10',
      BOTBURROW_MIN_ACTIVATION_INTERVAL: '120',
      BOTBURROW_WORKSPACE_ROOT: path.join(dataDir, 'workspaces'),
      BOTBURROW_LOG_LEVEL: 'info',
      // Payloads encrypted as in production, with a key kept in the data folder (old runs stay readable).
      BOTBURROW_CODEC_KEYS: localCodecKey(dataDir),
      BOTBURROW_CODEC_CORS_ORIGINS: `http://localhost:${uiPort},http://127.0.0.1:${uiPort}`,
      // Stopping the local run is bounded (5 s): in-flight activities get 2 s to finish.
      BOTBURROW_SHUTDOWN_GRACE: '2',
      ...(realModel
        ? { ANTHROPIC_API_KEY: process.env.ANTHROPIC_API_KEY ?? '' }
        : { ANTHROPIC_BASE_URL: model!.url, ANTHROPIC_API_KEY: 'scripted-model' }),
    };
    const coordinator = startEntryProcess(
      'coordinator',
      'workers/coordinator.ts',
      { ...env, BOTBURROW_METRICS_PORT: String(coordinatorPort) },
      { port: coordinatorPort, logFile: path.join(logDir, 'coordinator.log') },
    );
    const runner = startEntryProcess(
      'runner',
      'workers/runner.ts',
      { ...env, BOTBURROW_METRICS_PORT: String(runnerPort) },
      { port: runnerPort, logFile: path.join(logDir, 'runner.log') },
    );
    const skillSync = startEntryProcess(
      'skill-sync',
      'workers/skill-sync.ts',
      { ...env, BOTBURROW_METRICS_PORT: String(skillSyncPort) },
      { port: skillSyncPort, logFile: path.join(logDir, 'skill-sync.log') },
    );
    processes.push(coordinator, runner, skillSync);
    await Promise.all([coordinatorPort, runnerPort, skillSyncPort].map((p) => waitForPort(p, 120_000)));

    const addresses = {
      temporal: temporal.address,
      temporalUi: test ? null : `http://localhost:${uiPort}`,
      valkey: valkey.url,
      hub: hub.url,
      model: model?.url ?? 'https://api.anthropic.com',
      coordinatorMetrics: `http://localhost:${coordinatorPort}/metrics`,
      runnerMetrics: `http://localhost:${runnerPort}/metrics`,
      skillSyncMetrics: `http://localhost:${skillSyncPort}/metrics`,
      codec: `http://localhost:${coordinatorPort}/codec`,
      logs: logDir,
      env,
    };
    // What the CLI needs to find this run (it reads the file when its environment names none).
    settingsFile = writeLocalRunFile(dataDir, {
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: 'default',
      BOTBURROW_REDIS_URL: valkey.url,
      BOTBURROW_DEFINITIONS_STORE: 'local',
      BOTBURROW_AGENT_DEFINITIONS_PATH: env.BOTBURROW_AGENT_DEFINITIONS_PATH!,
      BOTBURROW_CODEC_KEYS: env.BOTBURROW_CODEC_KEYS!,
    });
    if (test) {
      process.stdout.write(`READY ${JSON.stringify({ ...addresses, settingsFile })}\n`);
    } else {
      const shownValkey = new URL(valkey.url);
      shownValkey.password = '';
      process.stdout.write(
        [
          '',
          `Temporal Web UI  ${addresses.temporalUi}   (filter: BotburrowAgentId = "research-agent")`,
          `Temporal         ${addresses.temporal}`,
          `Codec server     ${addresses.codec}   (payloads are encrypted; the UI and CLI decode through it)`,
          `Valkey           ${shownValkey.href.replace(/\/$/, '')}   (password in ${settingsFile})`,
          `Hub simulator    ${addresses.hub}   (admin: ${addresses.hub}/_admin/state)`,
          `Model            ${realModel ? 'Anthropic API (ANTHROPIC_API_KEY)' : `scripted, ${addresses.model}`}`,
          `Metrics          ${addresses.coordinatorMetrics}  ${addresses.runnerMetrics}  ${addresses.skillSyncMetrics}`,
          `Logs             ${logDir}`,
          `CLI settings     ${settingsFile}   (botburrow reads it when TEMPORAL_ADDRESS & co. are unset)`,
          'Try the CLI      npm run -s botburrow -- activation run research-agent',
          'Press Ctrl-C to stop.',
          '',
        ].join('\n'),
      );
    }
    const connection = await Connection.connect({ address: temporal.address });
    closeables.push({ close: () => connection.close() });
    const client = new Client({ connection });
    const since = new Date(Date.now() - 60_000).toISOString();
    // On a terminal one line rewritten in place; into a file or pipe a line every 10 s (2 s with
    // --test), never `\r` rewrites that pile up into one endless line.
    const tty = process.stdout.isTTY === true;
    progressTimer = setInterval(
      () => {
        void progressLine(client, since).then(
          (line) => process.stdout.write(tty ? `\r${line}   ` : `${line}\n`),
          () => undefined,
        );
      },
      tty || test ? 2000 : 10_000,
    );
  } catch (err) {
    process.stderr.write(`local run failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.stderr.write(`logs: ${logDir}\n`);
    await stopAll(1);
  }
}

/**
 * The local run's payload key (`local=<base64>`), made once per data folder and kept in it, so the
 * runs in .data/temporal.db stay readable across restarts.
 */
function localCodecKey(dataDir: string): string {
  const file = path.join(dataDir, 'codec-key');
  if (!fs.existsSync(file)) fs.writeFileSync(file, `${newCodecKey('local')}\n`, { mode: 0o600 });
  return fs.readFileSync(file, 'utf8').trim();
}

/** One line of progress from Temporal visibility: running, done by outcome, tokens and cost. */
async function progressLine(client: Client, since: string): Promise<string> {
  const running = await client.workflow.count(
    `WorkflowType = "activationWorkflow" AND ExecutionStatus = "Running"`,
  );
  const outcomes = new Map<string, number>();
  let tokens = 0;
  let cost = 0;
  for await (const w of client.workflow.list({
    query: `WorkflowType = "activationWorkflow" AND ExecutionStatus != "Running" AND StartTime > "${since}"`,
  })) {
    const outcome = w.typedSearchAttributes.get(SearchAttr.outcome) ?? w.status.name.toLowerCase();
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    tokens += w.typedSearchAttributes.get(SearchAttr.tokens) ?? 0;
    cost += w.typedSearchAttributes.get(SearchAttr.costUsd) ?? 0;
  }
  const done = [...outcomes.values()].reduce((a, b) => a + b, 0);
  const by = [...outcomes.entries()].map(([o, n]) => `${o} ${n}`).join(', ') || 'none yet';
  return `activations: ${running.count} running, ${done} done (${by}) · tokens ${tokens} · cost $${cost.toFixed(4)}`;
}

void main();
