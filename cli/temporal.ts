/**
 * `ActivationsApi` on a real Temporal client. The workflow is addressed by name, so the CLI never
 * loads workflow code. Every call has a deadline: an unreachable or stuck server fails the command
 * in seconds with a message that says what to check.
 */
import {
  Client,
  Connection,
  ServiceError,
  WorkflowFailedError,
  WorkflowUpdateFailedError,
  isGrpcServiceError,
} from '@temporalio/client';
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { NamespaceNotFoundError, WorkflowNotFoundError } from '@temporalio/common';
import { dataConverter } from '../lib/codec';
import type { Settings } from '../lib/config';
import type { SkillSyncResult } from '../workflows/skill-sync';
import { activationMetadata } from '../lib/activation-summary';
import {
  ACTIVATION_WORKFLOW,
  activationExecutionTimeoutMs,
  SearchAttr,
  activationSearchAttributes,
  activationWorkflowId,
} from '../lib/contract';
import type { ActivationInput, ActivationResult } from '../lib/contract';
import { activationPriority } from '../lib/priority';
import { temporalConnectionOptions } from '../lib/temporal';
import type { ActivationStatus, StopAnswer } from '../workflows/activation';
import type { ActivationRef, ActivationSummary, ActivationsApi, StopReply } from './context';
import { CliError, ExitCode } from './errors';

export interface TemporalOptions {
  /** Connection attempt limit (ms). */
  connectTimeoutMs?: number;
  /** Limit of one ordinary call: describe, signal, query, list page (ms). */
  callTimeoutMs?: number;
}

const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_NOT_FOUND = 5;

const MISSING_ATTRIBUTES_HINT =
  'The namespace lacks the Botburrow search attributes: register them (the k8s Job ' +
  "register-search-attributes, or 'temporal operator search-attribute create' with the names in " +
  'lib/contract.ts SEARCH_ATTRIBUTE_REGISTRATIONS).';

/** The operator-facing message for "cannot reach Temporal at `address`". */
export function temporalUnreachableMessage(address: string, cause: string): string {
  return (
    `Temporal not reachable at ${address} (TEMPORAL_ADDRESS): is the server running? ` +
    `Start it with ./scripts/start.sh or set TEMPORAL_ADDRESS. (${cause})`
  );
}

function grpcCode(err: unknown): number | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (isGrpcServiceError(e)) return e.code;
  }
  return undefined;
}

/** Connects with a short timeout; throws `CliError` 4 (unreachable) or 1 (no such namespace). */
export async function connectTemporal(s: Settings, o: TemporalOptions = {}): Promise<ActivationsApi> {
  const connectTimeoutMs = o.connectTimeoutMs ?? 3000;
  let connection: Connection;
  try {
    connection = await Connection.connect({
      ...temporalConnectionOptions(s),
      connectTimeout: connectTimeoutMs,
    });
  } catch (err) {
    throw new CliError(
      ExitCode.temporalUnreachable,
      temporalUnreachableMessage(s.temporalAddress, (err as Error).message),
    );
  }
  const api = new TemporalActivations(connection, s, o.callTimeoutMs ?? 10_000);
  try {
    await api.checkNamespace();
  } catch (err) {
    await connection.close();
    throw err;
  }
  return api;
}

class TemporalActivations implements ActivationsApi {
  readonly where: string;
  private readonly client: Client;

  constructor(
    private readonly connection: Connection,
    private readonly s: Settings,
    private readonly callTimeoutMs: number,
  ) {
    this.client = new Client({ connection, namespace: s.temporalNamespace, dataConverter: dataConverter(s) });
    this.where = `${s.temporalAddress} namespace ${s.temporalNamespace}`;
  }

  skillSync(sources: string[] | undefined): Promise<SkillSyncResult> {
    // The sync copies whole skill sets; give it the workflow's own 30 minute limit.
    // Loaded on demand: the skill-sync module brings the Temporal worker SDK with it.
    return this.call(
      'skill sync',
      async () => (await import('../workers/skill-sync.js')).runSkillSyncOnce(this.client, sources),
      30 * 60_000,
    );
  }

  /**
   * Runs one call under a deadline, translating "cannot reach the server" into exit 4 and a passed
   * deadline into `onDeadline()` (default: exit 1 naming the operation).
   */
  private async call<T>(
    operation: string,
    fn: () => Promise<T>,
    timeoutMs = this.callTimeoutMs,
    onDeadline?: () => CliError,
  ): Promise<T> {
    try {
      return await this.connection.withDeadline(Date.now() + timeoutMs, fn);
    } catch (err) {
      if (
        err instanceof CliError ||
        err instanceof WorkflowNotFoundError ||
        err instanceof WorkflowFailedError ||
        err instanceof WorkflowUpdateFailedError
      ) {
        throw err;
      }
      if (err instanceof NamespaceNotFoundError) throw this.noNamespace();
      const code = grpcCode(err);
      const message = (err as Error).message;
      if (code === GRPC_UNAVAILABLE) {
        throw new CliError(
          ExitCode.temporalUnreachable,
          temporalUnreachableMessage(this.s.temporalAddress, message),
        );
      }
      if (code === GRPC_DEADLINE_EXCEEDED) {
        if (onDeadline) throw onDeadline();
        throw new CliError(
          ExitCode.failed,
          `${operation}: Temporal at ${this.where} did not answer within ${timeoutMs / 1000}s`,
        );
      }
      if (err instanceof ServiceError || code !== undefined) {
        // The SDK's ServiceError says "Failed to list workflows"; the gRPC cause says why.
        const cause = err instanceof ServiceError && err.cause ? `: ${err.cause.message}` : '';
        const detail = `${message}${cause}`;
        const hint =
          /Botburrow\w+/.test(detail) && /search attribute/i.test(detail)
            ? `. ${MISSING_ATTRIBUTES_HINT}`
            : '';
        throw new CliError(
          ExitCode.failed,
          `${operation} failed on Temporal at ${this.where}: ${detail}${hint}`,
        );
      }
      throw err;
    }
  }

  private noNamespace(): CliError {
    return new CliError(
      ExitCode.failed,
      `Temporal namespace '${this.s.temporalNamespace}' does not exist at ${this.s.temporalAddress} ` +
        '(TEMPORAL_NAMESPACE): set TEMPORAL_NAMESPACE to the namespace the runners use.',
    );
  }

  async checkNamespace(): Promise<void> {
    await this.call('describe namespace', async () => {
      try {
        await this.connection.workflowService.describeNamespace({ namespace: this.s.temporalNamespace });
      } catch (err) {
        if (grpcCode(err) === GRPC_NOT_FOUND) throw this.noNamespace();
        throw err;
      }
    });
  }

  async signalWithStart(input: ActivationInput, taskQueue: string): Promise<ActivationRef> {
    const handle = await this.call('start activation', () =>
      this.client.workflow.signalWithStart(ACTIVATION_WORKFLOW, {
        workflowId: activationWorkflowId(input.agentId),
        taskQueue,
        args: [input],
        signal: 'inboxUpdated',
        signalArgs: [],
        // Like the coordinator: a running activation takes the signal; only a closed one restarts.
        workflowIdConflictPolicy: 'USE_EXISTING',
        typedSearchAttributes: activationSearchAttributes(input.agentId, input.trigger),
        priority: activationPriority(input.agentId, input.trigger, this.s.agentPriority),
        ...activationMetadata({ ...input, taskQueue, startedBy: 'botburrow CLI' }),
        workflowExecutionTimeout: activationExecutionTimeoutMs(this.s.activationTimeout),
      }),
    );
    return { workflowId: handle.workflowId, runId: handle.signaledRunId };
  }

  async result(ref: ActivationRef, timeoutMs: number): Promise<ActivationResult> {
    const handle = this.client.workflow.getHandle(ref.workflowId, ref.runId, { followRuns: false });
    try {
      const stillRunning = (): CliError =>
        new CliError(
          ExitCode.stillRunning,
          `${ref.workflowId} is still running after ${timeoutMs / 1000}s; ` +
            `follow it with: botburrow activation status ${ref.workflowId.replace(/^activation-/, '')}`,
        );
      return (await this.call(
        'wait for the result',
        () => handle.result(),
        timeoutMs,
        stillRunning,
      )) as ActivationResult;
    } catch (err) {
      if (err instanceof WorkflowFailedError) {
        const cause = err.cause ? `${err.cause.name}: ${err.cause.message}` : err.message;
        throw new CliError(
          ExitCode.failed,
          `${ref.workflowId} (run ${ref.runId}) ended without a result: ${cause}`,
        );
      }
      throw err;
    }
  }

  async describe(workflowId: string): Promise<ActivationSummary | null> {
    try {
      const d = await this.call('describe activation', () =>
        this.client.workflow.getHandle(workflowId).describe(),
      );
      return summarize(d);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return null;
      throw err;
    }
  }

  async liveStatus(ref: ActivationRef): Promise<ActivationStatus> {
    const handle = this.client.workflow.getHandle(ref.workflowId, ref.runId);
    return this.call('status query', () => handle.query<ActivationStatus>('status'));
  }

  async cancel(ref: ActivationRef, reason: string | undefined): Promise<StopReply> {
    const reply = await this.stopUpdate(ref, 'cancel', reason);
    if (reply.kind !== 'signalled') return reply;
    const handle = this.client.workflow.getHandle(ref.workflowId, ref.runId);
    await this.call('cancel signal', () => handle.signal('cancel', reason === undefined ? {} : { reason }));
    return reply;
  }

  pause(ref: ActivationRef, reason: string | undefined): Promise<StopReply> {
    return this.stopUpdate(ref, 'pause', reason);
  }

  /** Sends the `cancel` or `pause` Update (workflows/activation.ts) and waits for its answer. */
  private async stopUpdate(
    ref: ActivationRef,
    name: 'cancel' | 'pause',
    reason: string | undefined,
  ): Promise<StopReply> {
    const handle = this.client.workflow.getHandle(ref.workflowId, ref.runId);
    try {
      const answer = await this.call(`${name} update`, () =>
        handle.executeUpdate<StopAnswer, [{ reason?: string }]>(name, {
          args: [reason === undefined ? {} : { reason }],
        }),
      );
      return { kind: 'stopped', answer };
    } catch (err) {
      // Sent while the run was in its last (local) step: Temporal delivers it after that step, and
      // the run has closed by then.
      if (err instanceof WorkflowNotFoundError && /aborted by closing workflow/.test(err.message)) {
        return { kind: 'refused', reason: `the activation finished before the ${name} reached it` };
      }
      if (!(err instanceof WorkflowUpdateFailedError)) throw err;
      const why = err.cause?.message ?? err.message;
      // A run started before the Updates existed has no handler for them.
      if (/No registered handler for update/.test(why)) return { kind: 'signalled' };
      return { kind: 'refused', reason: why };
    }
  }

  async list(query: string, limit: number): Promise<ActivationSummary[]> {
    return this.call('list activations', async () => {
      const out: ActivationSummary[] = [];
      for await (const info of this.client.workflow.list({ query, pageSize: Math.min(limit, 1000) })) {
        out.push(summarize(info));
        if (out.length >= limit) break;
      }
      return out;
    });
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}

/** Plain data from the SDK's execution info (describe and list return the same shape). */
function summarize(info: Omit<WorkflowExecutionInfo, 'raw'>): ActivationSummary {
  const sa = info.typedSearchAttributes;
  const out: ActivationSummary = {
    workflowId: info.workflowId,
    runId: info.runId,
    status: info.status.name,
    taskQueue: info.taskQueue,
    startTime: info.startTime,
  };
  if (info.closeTime) out.closeTime = info.closeTime;
  const put = <K extends keyof ActivationSummary>(k: K, v: ActivationSummary[K] | undefined): void => {
    if (v !== undefined) out[k] = v;
  };
  put('agentId', sa.get(SearchAttr.agentId));
  put('trigger', sa.get(SearchAttr.trigger));
  put('outcome', sa.get(SearchAttr.outcome));
  put('iterations', sa.get(SearchAttr.iterations));
  put('tokens', sa.get(SearchAttr.tokens));
  put('costUsd', sa.get(SearchAttr.costUsd));
  return out;
}
