/**
 * Soak: activations against a Hub that fails a share of every call, with runners killed at random.
 *
 * Real components as in bench/runner.ts: its own Temporal dev server and Valkey, the Hub simulator
 * with dedupe off (it ignores `Idempotency-Key`, as a real Hub may, so exactly-once rests on the
 * runner's write-ahead records), the scripted model server answering at once, and `--runners`
 * runner processes on the prebuilt workflow bundle. Every Hub endpoint fails `--fault-rate` of its
 * requests: half of them 5xx (500 or 503), a quarter lose the answer after acting, a quarter answer
 * after 3 s. `--kills` times, at random, a runner is SIGKILLed and a replacement started.
 *
 * Each agent has its own thread; an activation is one mention on it, then signal-with-start as the
 * coordinator does, and the agent's next activation starts when the last one closed (a
 * notification a failed run left unread is handled by the next one, as the coordinator would). Agent
 * kinds: `native` replies with the native `hub_post` tool and then closes with text, `texter`
 * answers in text (the workflow posts it), `mcp` replies through the Hub MCP server and closes with
 * text. Every reply and closing text names its notification, so replies are counted per notification.
 *
 * Prints (numbers only, never asserts; exits 1 on harness errors only): replies per handled
 * notification (target exactly 1 each), handled notifications left unread (target 0), notifications
 * never handled and why, stuck runs (open after the deadline; target 0), outcomes by kind, fault hits
 * per endpoint, kills, and the time taken.
 *
 *   npx tsx bench/soak.ts [--activations 500] [--runners 2] [--fault-rate 0.2] [--kills 5]
 *     [--agents 100] [--mcp-share 0.2] [--deadline 420] [--grace 90] [--seed 1]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { writeAgentDefinition } from '../dev/agent-files';
import { createHubSimulator, seededRandom } from '../dev/hub-sim/server';
import type { FaultSpec } from '../dev/hub-sim/server';
import { createModelServer } from '../dev/model-server/server';
import type { Scenario } from '../dev/model-server/scenario';
import { freePort, startEntryProcess, startTemporal, startValkey, waitForPort } from '../dev/services';
import type { ServiceHandle } from '../dev/services';
import type { ActivationInput, ActivationResult } from '../lib/contract';
import {
  ACTIVATION_WORKFLOW,
  TaskQueue,
  activationExecutionTimeoutMs,
  activationSearchAttributes,
  activationWorkflowId,
} from '../lib/contract';
import { HubClient } from '../lib/hub/client';
import { buildWorkflowBundle } from '../scripts/build-bundle';
import { exportHistory } from '../scripts/export-history';

const { values } = parseArgs({
  options: {
    activations: { type: 'string', default: '500' },
    runners: { type: 'string', default: '2' },
    'fault-rate': { type: 'string', default: '0.2' },
    kills: { type: 'string', default: '5' },
    agents: { type: 'string', default: '100' },
    'mcp-share': { type: 'string', default: '0.2' },
    deadline: { type: 'string', default: '420' },
    grace: { type: 'string', default: '90' },
    seed: { type: 'string', default: '1' },
  },
});
const ACTIVATIONS = Number(values.activations);
const RUNNERS = Number(values.runners);
const FAULT_RATE = Number(values['fault-rate']);
const KILLS = Number(values.kills);
const AGENTS = Math.min(Number(values.agents), ACTIVATIONS);
const MCP_SHARE = Number(values['mcp-share']);
/** No activation starts after this many seconds; the open ones get `--grace` more to close. */
const DEADLINE_S = Number(values.deadline);
const GRACE_S = Number(values.grace);
const SEED = Number(values.seed);

/** Every `/api/v1` endpoint but the long poll (a coordinator's call, held open by design). */
const ENDPOINTS = [
  'GET /api/v1/agents',
  'POST /api/v1/agents/register/batch',
  'GET /api/v1/agents/{name}',
  'POST /api/v1/agents/{id}/activated',
  'GET /api/v1/system/budget-health',
  'POST /api/v1/system/consumption',
  'GET /api/v1/notifications',
  'POST /api/v1/notifications/read',
  'GET /api/v1/posts/{id}',
  'POST /api/v1/posts',
  'POST /api/v1/posts/{id}/comments',
  'GET /api/v1/search',
  'GET /api/v1/feed/discover',
];

/** The fault mix, as shares of all requests; the simulator tries them in this order. */
const FAULT_MIX: { kind: string; share: number; spec: Omit<FaultSpec, 'endpoint'> }[] = [
  { kind: '5xx', share: FAULT_RATE / 4, spec: { status: 500 } },
  { kind: '5xx', share: FAULT_RATE / 4, spec: { status: 503 } },
  { kind: 'lost answer', share: FAULT_RATE / 4, spec: { loseAnswer: true } },
  { kind: 'slow (3 s)', share: FAULT_RATE / 4, spec: { delayMs: 3000 } },
];

type AgentKind = 'native' | 'texter' | 'mcp';

/** The tag every reply and closing text carries: `[<notification id>]`. */
const TAG = /\[([^\]\s]+)\]/;

const script: Scenario = {
  name: 'soak',
  vars: {
    nid: { from: 'first_user', pattern: '\\[Notification ([\\w-]+)\\]' },
    post_id: { from: 'first_user', pattern: 'post id ([\\w-]+)' },
  },
  rules: [
    { name: 'texter', when: { system: 'texter persona' }, reply: { text: 'Answer to [{{nid}}].' } },
    {
      name: 'native-post',
      when: { system: 'native persona', turn: 1 },
      reply: {
        toolCalls: [
          { name: 'hub_get_thread', input: { post_id: '{{post_id}}' } },
          { name: 'hub_post', input: { post_id: '{{post_id}}', content: 'Answer to [{{nid}}].' } },
        ],
      },
    },
    {
      name: 'mcp-post',
      when: { system: 'mcp persona', turn: 1 },
      reply: {
        toolCalls: [
          { name: 'mcp_hub_hub_post', input: { post_id: '{{post_id}}', content: 'Answer to [{{nid}}].' } },
        ],
      },
    },
    // Not a reply: if the workflow posted it, the notification would have two.
    { name: 'close', when: {}, reply: { text: 'I answered [{{nid}}] on the thread above.' } },
  ],
  fallback: { text: 'NO_RESPONSE_NEEDED' },
};

interface Activation {
  seq: number;
  agentId: string;
  kind: AgentKind;
  notificationId: string;
  startedAt: number;
  runId?: string;
  closedAt?: number;
  /** ActivationResult.outcome, or how the workflow ended when it returned none. */
  outcome?: string;
  error?: string;
  result?: ActivationResult;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const secs = (ms: number): string => `${(ms / 1000).toFixed(0)} s`;

function countBy<T>(xs: T[], key: (x: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of xs) m.set(key(x), (m.get(key(x)) ?? 0) + 1);
  return m;
}

const table = (m: Map<string, number>): string =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ') || 'none';

/** What a closed workflow that returned no result ended with. */
function describeEnd(err: unknown): { outcome: string; error: string } {
  if (err instanceof WorkflowFailedError) {
    const cause = err.cause;
    return {
      outcome: `workflow ${cause?.constructor.name ?? 'failed'}`,
      error: cause?.message ?? err.message,
    };
  }
  return { outcome: 'result unavailable', error: err instanceof Error ? err.message : String(err) };
}

/** The runners' warn and error lines by message (run and task ids stripped), for the summary. */
function runnerLogLines(dir: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const file of fs.readdirSync(dir).filter((f) => f.startsWith('runner-'))) {
    for (const line of fs.readFileSync(path.join(dir, file), 'utf8').split('\n')) {
      let entry: { level?: unknown; msg?: unknown };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        continue; // the watchdog's own lines
      }
      if ((entry.level !== 'warn' && entry.level !== 'error') || typeof entry.msg !== 'string') continue;
      const key = `${entry.level} "${entry.msg.replace(/[0-9a-f-]{36}(:\d+:\d+)?/g, '…')}"`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const random = seededRandom(SEED);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bb-bench-soak-'));
  const logDir = path.join(tmp, 'logs');
  fs.mkdirSync(logDir);
  const [temporal, valkey, hub, model] = await Promise.all([
    startTemporal({ logFile: path.join(logDir, 'temporal.log') }),
    startValkey(),
    createHubSimulator({ seed: { agents: [], posts: [] }, dedupe: false, faultSeed: SEED }),
    createModelServer({ script, instant: true }),
  ]);
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });
  const defsDir = path.join(tmp, 'defs');
  fs.mkdirSync(path.join(defsDir, 'agents'), { recursive: true });
  const bundlePath = path.join(tmp, 'workflow-bundle.js');
  await buildWorkflowBundle(bundlePath);
  const activationTimeoutS = 600;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: os.tmpdir(),
    TEMPORAL_ADDRESS: temporal.address,
    BOTBURROW_REDIS_URL: valkey.url,
    BOTBURROW_HUB_URL: hub.url,
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: 'bench',
    BOTBURROW_AGENT_DEFINITIONS_PATH: defsDir,
    BOTBURROW_WORKFLOW_BUNDLE: bundlePath,
    BOTBURROW_WORKSPACE_ROOT: path.join(tmp, 'workspaces'),
    BOTBURROW_LOG_LEVEL: 'warn',
    BOTBURROW_ACTIVATION_TIMEOUT: String(activationTimeoutS),
    // As deployed (k8s/…/botburrow.env): the budget-health endpoint is part of every activation.
    BOTBURROW_HUB_BUDGET_CHECK: 'fail-open',
    BOTBURROW_DAILY_TOKEN_LIMIT: '100000000',
    BOTBURROW_MONTHLY_COST_LIMIT: '100000',
    BOTBURROW_MAX_CONCURRENT_ACTIVITIES: '200',
    BOTBURROW_MAX_CONCURRENT_WORKFLOW_TASKS: '100',
    BOTBURROW_RUNNER_MODE: 'notification',
    NODE_OPTIONS: '--max-old-space-size=320',
  };

  // Agents, one thread each. Registered before the faults start.
  const kindOf = new Map<string, AgentKind>();
  const agentIds = Array.from({ length: AGENTS }, (_, i) => `soak-${i}`);
  for (const [i, id] of agentIds.entries()) {
    const kind: AgentKind = i < Math.round(AGENTS * MCP_SHARE) ? 'mcp' : i % 2 === 0 ? 'native' : 'texter';
    kindOf.set(id, kind);
    writeAgentDefinition(defsDir, id, {
      config:
        kind === 'mcp' ? { capabilities: { grants: ['hub:read', 'hub:write'], mcp_servers: ['hub'] } } : {},
      systemPrompt: `You are a ${kind} persona. Your id is ${id}.`,
    });
    await hub.admin.injectPost({
      id: `p-${id}`,
      author: { id: 'alice', name: 'Alice' },
      content: `Soak thread of ${id}.`,
    });
  }
  const hubClient = new HubClient({ baseUrl: hub.url });
  for (let i = 0; i < agentIds.length; i += 100) {
    await hubClient.registerAgents(
      'soak',
      agentIds
        .slice(i, i + 100)
        .map((id) => ({ name: id, display_name: id, description: 'soak', type: 'native', config_hash: id })),
    );
  }

  // Runners.
  let runnerSeq = 0;
  const startRunner = async (): Promise<ServiceHandle> => {
    const port = await freePort();
    runnerSeq += 1;
    const handle = startEntryProcess(
      `runner-${runnerSeq}`,
      'workers/runner.ts',
      { ...env, BOTBURROW_METRICS_PORT: String(port) },
      { logFile: path.join(logDir, `runner-${runnerSeq}.log`) },
    );
    await waitForPort(port, 120_000);
    return handle;
  };
  const runners = await Promise.all(Array.from({ length: RUNNERS }, () => startRunner()));
  const setupMs = Date.now() - t0;

  // Faults on every endpoint; each entry's probability is its share of what earlier ones spared.
  let spared = 1;
  const faultKinds = new Map<string, string>();
  for (const { kind, share, spec } of FAULT_MIX) {
    const probability = share / spared;
    spared -= share;
    for (const endpoint of ENDPOINTS) {
      const f = await hub.admin.addFault({ endpoint, ...spec, probability });
      faultKinds.set(f.id, kind);
    }
  }

  const activations: Activation[] = [];
  const begin = Date.now();
  const softEnd = begin + DEADLINE_S * 1000;
  const hardEnd = softEnd + GRACE_S * 1000;
  const hardEndReached = sleep(hardEnd - Date.now()).then(() => 'deadline' as const);
  let next = 0;
  let done = false;

  /** One agent's activations, one after another, until the work or the time runs out. */
  async function agentLoop(agentId: string): Promise<void> {
    while (next < ACTIVATIONS && Date.now() < softEnd) {
      const seq = next++;
      const n = await hub.admin.injectNotification({
        agent_id: agentId,
        type: 'mention',
        post_id: `p-${agentId}`,
        from_agent: { id: 'alice', name: 'Alice' },
        content: `@${agentId} question ${seq}?`,
      });
      const a: Activation = {
        seq,
        agentId,
        kind: kindOf.get(agentId)!,
        notificationId: n.id,
        startedAt: Date.now(),
      };
      activations.push(a);
      const input: ActivationInput = {
        agentId,
        trigger: 'notification',
        requestedAt: new Date().toISOString(),
      };
      let handle;
      try {
        handle = await client.workflow.signalWithStart(ACTIVATION_WORKFLOW, {
          workflowId: activationWorkflowId(agentId),
          taskQueue: TaskQueue.high,
          args: [input],
          signal: 'inboxUpdated',
          signalArgs: [],
          workflowIdConflictPolicy: 'USE_EXISTING',
          typedSearchAttributes: activationSearchAttributes(agentId, 'notification'),
          workflowExecutionTimeout: activationExecutionTimeoutMs(activationTimeoutS),
        });
      } catch (err) {
        a.outcome = 'start failed';
        a.error = (err as Error).message;
        continue;
      }
      a.runId = handle.signaledRunId;
      const end = await Promise.race([
        handle.result().then(
          (r) => ({ result: r as ActivationResult }),
          (err: unknown) => ({ failure: err }),
        ),
        hardEndReached,
      ]);
      if (end === 'deadline') {
        a.outcome = 'open at the deadline';
        return;
      }
      a.closedAt = Date.now();
      if ('result' in end) {
        a.result = end.result;
        a.outcome = end.result.outcome;
        a.error = end.result.error;
      } else {
        Object.assign(a, describeEnd(end.failure));
      }
    }
  }

  /** SIGKILLs a random runner at random times and starts its replacement. */
  const killLog: string[] = [];
  async function killer(): Promise<void> {
    for (let k = 0; k < KILLS; k++) {
      const waitMs = 10_000 + random() * 40_000;
      const until = Date.now() + waitMs;
      while (!done && Date.now() < until) await sleep(250);
      if (done) return;
      const i = Math.floor(random() * runners.length);
      const victim = runners[i]!;
      const inFlight = activations.filter((a) => a.closedAt === undefined && a.outcome === undefined).length;
      await victim.kill();
      killLog.push(`${secs(Date.now() - begin)} ${victim.name} (${inFlight} activations open)`);
      runners[i] = await startRunner();
    }
  }

  const progress = setInterval(() => {
    const closed = activations.filter((a) => a.closedAt !== undefined).length;
    console.log(
      `  … ${secs(Date.now() - begin)}: ${activations.length} started, ${closed} closed, ` +
        `${killLog.length} kills`,
    );
  }, 30_000);
  console.log(
    `soak: ${ACTIVATIONS} activations over ${AGENTS} agents (${table(countBy([...kindOf.values()], (k) => k))}), ` +
      `${RUNNERS} runners, Hub fault rate ${FAULT_RATE} per request on ${ENDPOINTS.length} endpoints, ` +
      `${KILLS} runner kills; ${os.cpus().length} cores; set up in ${secs(setupMs)}; logs in ${logDir}`,
  );
  const killing = killer();
  await Promise.all(agentIds.map((id) => agentLoop(id)));
  done = true;
  await killing;
  clearInterval(progress);
  const wallMs = Date.now() - begin;
  const faults = await hub.admin.faults();
  await hub.admin.clearFaults();

  // Runs still open: in Temporal's visibility, with what each is doing.
  const stuck: string[] = [];
  for await (const wf of client.workflow.list({ query: 'ExecutionStatus="Running"' })) {
    let status = '';
    try {
      const s = await client.workflow.getHandle(wf.workflowId, wf.runId).query<{
        phase: string;
        currentNotification: string | null;
        lastTool: string | null;
        stopping: string | null;
      }>('status');
      status = `phase ${s.phase}, notification ${s.currentNotification}, last tool ${s.lastTool}, stopping ${s.stopping}`;
    } catch (err) {
      status = `status query failed: ${(err as Error).message}`;
    }
    stuck.push(`${wf.workflowId} ${wf.runId} started ${wf.startTime.toISOString()}: ${status}`);
  }

  // What the Hub holds.
  const state = await hub.admin.state();
  const consumption = await hub.admin.consumption();
  const requests = await hub.admin.requestCounts();
  const read = new Map(state.notifications.map((n) => [n.id, n.read]));
  const replies = new Map<string, { id: string; content: string; created_at: string }[]>();
  const untagged: string[] = [];
  for (const c of state.comments) {
    if (!c.author.id.startsWith('soak-')) continue;
    const nid = TAG.exec(c.content)?.[1];
    const owner = activations.find((a) => a.notificationId === nid);
    if (!nid || !owner || owner.agentId !== c.author.id || c.post_id !== `p-${owner.agentId}`) {
      untagged.push(`${c.author.id} on ${c.post_id}: ${c.content}`);
      continue;
    }
    replies.set(nid, [...(replies.get(nid) ?? []), c]);
  }
  const notes = activations.map((a) => ({
    a,
    read: read.get(a.notificationId) === true,
    replies: replies.get(a.notificationId)?.length ?? 0,
  }));
  const handled = notes.filter((n) => n.read || n.replies > 0);
  const never = notes.filter((n) => !n.read && n.replies === 0);
  const handledUnread = handled.filter((n) => !n.read);
  const readNoReply = handled.filter((n) => n.replies === 0);
  const dupes = handled.filter((n) => n.replies > 1);
  const closed = activations.filter((a) => a.closedAt !== undefined);
  const durations = closed.map((a) => a.closedAt! - a.startedAt).sort((x, y) => x - y);
  const pct = (p: number): number =>
    durations[Math.min(durations.length - 1, Math.floor(p * durations.length))] ?? NaN;
  const counted = closed.reduce((s, a) => s + (a.result?.commentsCreated ?? 0), 0);
  const onHub = [...replies.values()].reduce((s, r) => s + r.length, 0);

  console.log(
    `reached: ${activations.length} of ${ACTIVATIONS} activations started, ${closed.length} closed, in ` +
      `${secs(wallMs)} (${((closed.length / wallMs) * 60_000).toFixed(0)} per minute; run time median ` +
      `${secs(pct(0.5))}, p99 ${secs(pct(0.99))}, max ${secs(durations.at(-1) ?? NaN)})` +
      (activations.length < ACTIVATIONS ? ` — stopped at the ${DEADLINE_S} s deadline` : ''),
  );
  console.log(
    `replies per handled notification (target exactly 1): ` +
      `${table(countBy(handled, (n) => `${n.replies} repl${n.replies === 1 ? 'y' : 'ies'}:`))} ` +
      `of ${handled.length} handled`,
  );
  console.log(`handled but left unread (target 0): ${handledUnread.length}`);
  console.log(`marked read without a reply (target 0): ${readNoReply.length}`);
  console.log(
    `never handled: ${never.length} (${table(countBy(never, (n) => n.a.outcome ?? 'no outcome'))})`,
  );
  console.log(`stuck runs, open after the deadline plus ${GRACE_S} s (target 0): ${stuck.length}`);
  console.log(
    `outcomes: ${['native', 'texter', 'mcp']
      .map(
        (k) =>
          `${k}: ${table(
            countBy(
              closed.filter((a) => a.kind === k),
              (a) => a.outcome!,
            ),
          )}`,
      )
      .join('; ')}`,
  );
  console.log(
    `replies counted by the runs ${counted}, on the Hub ${onHub}; comments not attributable to a ` +
      `notification ${untagged.length}; consumption reports ${consumption.length} for ${closed.length} closed runs`,
  );
  const hitsBy = new Map<string, Map<string, number>>();
  for (const f of faults) {
    const m = hitsBy.get(f.endpoint) ?? new Map<string, number>();
    m.set(faultKinds.get(f.id)!, (m.get(faultKinds.get(f.id)!) ?? 0) + f.hits);
    hitsBy.set(f.endpoint, m);
  }
  console.log('Hub requests and fault hits per endpoint:');
  for (const [endpoint, n] of Object.entries(requests).sort((x, y) => y[1] - x[1])) {
    const m = hitsBy.get(endpoint);
    const hits = m ? [...m.values()].reduce((s, h) => s + h, 0) : 0;
    console.log(
      `  ${endpoint.padEnd(36)} ${String(n).padStart(6)} requests, ${String(hits).padStart(5)} faulted ` +
        `(${((hits / n) * 100).toFixed(1)} %${m ? `: ${table(m)}` : ''})`,
    );
  }
  console.log(
    `runner kills: ${killLog.length} of ${KILLS}${killLog.length ? `: ${killLog.join('; ')}` : ''}`,
  );
  console.log('runner log warnings and errors (most frequent first):');
  for (const [line, n] of [...runnerLogLines(logDir)].sort((x, y) => y[1] - x[1]).slice(0, 10)) {
    console.log(`  ${String(n).padStart(6)} ${line}`);
  }
  console.log(`total time ${secs(Date.now() - t0)} (set-up ${secs(setupMs)})`);

  // Details, for the investigation the numbers call for.
  const detail = (title: string, lines: string[]): void => {
    if (lines.length === 0) return;
    console.log(`${title}:`);
    for (const l of lines.slice(0, 20)) console.log(`  ${l}`);
    if (lines.length > 20) console.log(`  … and ${lines.length - 20} more`);
  };
  const run = (a: Activation): string =>
    `${a.agentId} (${a.kind}) ${a.notificationId} run ${a.runId ?? '-'} ${a.outcome ?? ''}${a.error ? `: ${a.error}` : ''}`;
  detail(
    'duplicate replies',
    dupes.map(
      (n) =>
        `${run(n.a)}; replies ${replies
          .get(n.a.notificationId)!
          .map((c) => `${c.id} at ${c.created_at} "${c.content}"`)
          .join(', ')}`,
    ),
  );
  detail(
    'handled but unread',
    handledUnread.map((n) => run(n.a)),
  );
  detail(
    'read without a reply',
    readNoReply.map((n) => run(n.a)),
  );
  detail(
    'never handled',
    never.map((n) => run(n.a)),
  );
  detail('stuck runs', stuck);
  detail('comments not attributable', untagged);

  // The histories of the runs behind any miss, kept with the logs (the dev server is in memory).
  const suspects = [...dupes, ...handledUnread, ...readNoReply, ...never].map((n) => n.a);
  const histories = path.join(tmp, 'histories');
  for (const a of suspects.filter((x) => x.runId).slice(0, 30)) {
    const file = path.join(histories, `${a.agentId}-${a.runId}.json`);
    await exportHistory(client, activationWorkflowId(a.agentId), file, a.runId);
  }
  const keep = process.env.BENCH_KEEP === '1' || suspects.length > 0 || stuck.length > 0;
  if (keep) console.log(`logs${suspects.length ? ' and the histories of those runs' : ''} kept in ${tmp}`);

  await Promise.all(runners.map((r) => r.stop(5_000)));
  await connection.close();
  await Promise.all([hub.close(), model.close()]);
  await Promise.all([temporal.stop(), valkey.stop()]);
  if (!keep) fs.rmSync(tmp, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
