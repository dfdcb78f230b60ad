/**
 * What commands talk to, as narrow interfaces: the real implementations live in ./temporal.ts and
 * ./valkey.ts; unit tests pass fakes. Commands never see an SDK object.
 */
import type { Settings } from '../lib/config';
import type { ActivationInput, ActivationResult } from '../lib/contract';
import type { ValidationReport } from '../lib/definitions/validate';
import type { BreakerStatus, BudgetStatus, PauseState } from '../lib/guards';
import type { ActivationStatus, StopAnswer } from '../workflows/activation';
import type { SkillSyncResult } from '../workflows/skill-sync';

/** One run of an activation workflow. */
export interface ActivationRef {
  workflowId: string;
  runId: string;
}

/** What Temporal knows about one run without asking its workflow (describe / visibility). */
export interface ActivationSummary extends ActivationRef {
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT… */
  status: string;
  agentId?: string;
  trigger?: string;
  outcome?: string;
  iterations?: number;
  tokens?: number;
  costUsd?: number;
  taskQueue?: string;
  startTime: Date;
  closeTime?: Date;
}

/** Activation operations on Temporal. Failures to reach it throw `CliError` (exit 4). */
export interface ActivationsApi {
  /** Human description of the server, e.g. `localhost:7233 namespace default`. */
  readonly where: string;
  /** signal-with-start (`inboxUpdated`), as the coordinator does; joins a running activation. */
  signalWithStart(input: ActivationInput, taskQueue: string): Promise<ActivationRef>;
  /** The run's result; throws `CliError` (exit 6) when `timeoutMs` passes first. */
  result(ref: ActivationRef, timeoutMs: number): Promise<ActivationResult>;
  /** The latest run of `workflowId`, or null when there never was one. */
  describe(workflowId: string): Promise<ActivationSummary | null>;
  /** The `status` query of a running activation (answered by a runner). */
  liveStatus(ref: ActivationRef): Promise<ActivationStatus>;
  /**
   * The `cancel` Update (the in-flight call is aborted; the run reports `cancelled`): what was
   * stopped, or why the run refused (already finishing). A run from before the Update existed gets
   * the `cancel` signal instead.
   */
  cancel(ref: ActivationRef, reason: string | undefined): Promise<StopReply>;
  /** The `pause` Update: the run stops at its next safe point; answers like `cancel`. */
  pause(ref: ActivationRef, reason: string | undefined): Promise<StopReply>;
  /** Visibility query, newest first, at most `limit` rows. */
  list(query: string, limit: number): Promise<ActivationSummary[]>;
  /** Runs skillSyncWorkflow once on the maintenance queue and waits for its result. */
  skillSync(sources: string[] | undefined): Promise<SkillSyncResult>;
  close(): Promise<void>;
}

/** The answer of a `cancel` or `pause` Update. */
export type StopReply =
  | { kind: 'stopped'; answer: StopAnswer }
  | { kind: 'refused'; reason: string }
  /** A run from before the Updates: the `cancel` signal was sent (pause: the Valkey flag acts). */
  | { kind: 'signalled' };

/** Guard state in Valkey. Failures to reach it throw `CliError` (exit 5). */
export interface ValkeyApi {
  readonly where: string;
  pause(agentId: string, reason: string | undefined): Promise<void>;
  resume(agentId: string): Promise<void>;
  isPaused(agentId: string): Promise<PauseState>;
  breakerStatus(agentId: string): Promise<BreakerStatus>;
  breakerReset(agentId: string): Promise<void>;
  budgetStatus(agentId: string): Promise<BudgetStatus>;
  /** Drops cached definitions (one agent, or all); resolves to the number of entries dropped. */
  invalidateCache(agentId?: string): Promise<number>;
  close(): Promise<void>;
}

/** The agent definition store (to refuse running an agent that does not exist). */
export interface DefinitionsApi {
  readonly where: string;
  exists(agentId: string): Promise<boolean>;
  /** Checks every definition and skill of the configured store, or of the folder `dir`. */
  validate(dir?: string): Promise<ValidationReport>;
}

export interface Output {
  /** One block of normal output (stdout). */
  out(text: string): void;
  /** Progress notes and errors (stderr). */
  err(text: string): void;
}

/** Everything the CLI needs from the outside world; `botburrow.ts` builds the real one. */
export interface CliContext {
  env: Record<string, string | undefined>;
  output: Output;
  now(): number;
  connectTemporal(s: Settings): Promise<ActivationsApi>;
  connectValkey(s: Settings): Promise<ValkeyApi>;
  definitions(s: Settings): Promise<DefinitionsApi>;
}

/** What one command receives besides its parsed arguments; connections are opened on first use. */
export interface CommandDeps {
  settings: Settings;
  output: Output;
  json: boolean;
  now(): number;
  temporal(): Promise<ActivationsApi>;
  valkey(): Promise<ValkeyApi>;
  definitions(): Promise<DefinitionsApi>;
}
