/**
 * The definition a run works with, pinned at its start. `prepareActivation` resolves the agent's
 * current definition once and pins it (`run:definition:<workflowId>:<runId>` in Valkey, and in this
 * process); every later step of the same run reads the pinned version, so a definition changed or
 * invalidated mid-run lands with the next run, never between two steps of one. On the runner that
 * pinned it (the usual case) a step reads no Valkey at all; another runner reads the pin once.
 *
 * A step outside an activity, or of a run that has no pin (started before pinning, or whose pin
 * expired), reads the registry as before.
 */
import { Context } from '@temporalio/activity';
import type { Redis } from 'ioredis';
import type { AgentDefinition, AgentRegistry } from '../../lib/definitions';
import { readCached, writeCached } from '../../lib/definitions/cache';
import type { Keys } from '../../lib/keys';
import type { Logger } from '../../lib/logger';

/** How a step reads the definition of its run (what the activities depend on). */
export interface RunDefinitionSource {
  /** The run's pinned definition (the registry's when the run has none). */
  get(agentId: string): Promise<AgentDefinition>;
  /** Resolves the current definition and pins it for the run (the run's first step). */
  pin(agentId: string): Promise<AgentDefinition>;
}

export interface RunDefinitionsOptions {
  registry: Pick<AgentRegistry, 'get'>;
  redis: Redis;
  keys: Keys;
  logger: Logger;
  /** How long a pin lives in Valkey: longer than any run (its timeout plus the finishing steps). */
  ttlSeconds: number;
  /** Runs remembered in this process (least recently used dropped first). */
  maxRuns?: number;
}

/** `workflowId:runId` of the activity running now, or undefined outside an activity. */
function currentRun(): string | undefined {
  let run: { workflowId: string; runId: string } | undefined;
  try {
    run = Context.current().info.workflowExecution;
  } catch {
    return undefined;
  }
  return run ? `${run.workflowId}:${run.runId}` : undefined;
}

/** See the module comment. */
export class RunDefinitions implements RunDefinitionSource {
  private readonly memo = new Map<string, AgentDefinition>();
  private readonly maxRuns: number;

  constructor(private readonly o: RunDefinitionsOptions) {
    this.maxRuns = o.maxRuns ?? 4096;
  }

  async pin(agentId: string): Promise<AgentDefinition> {
    const def = await this.o.registry.get(agentId);
    const run = currentRun();
    if (run === undefined) return def;
    // A pin that cannot be written only costs other runners the pin (they read the registry).
    await writeCached(this.o.redis, this.o.keys.runDefinition(run), def, this.o.ttlSeconds, this.o.logger);
    this.remember(run, def);
    return def;
  }

  async get(agentId: string): Promise<AgentDefinition> {
    const run = currentRun();
    if (run === undefined) return this.o.registry.get(agentId);
    const known = this.memo.get(run);
    if (known?.id === agentId) {
      // Most recently used last.
      this.memo.delete(run);
      this.memo.set(run, known);
      return known;
    }
    const pinned = await readCached<AgentDefinition>(
      this.o.redis,
      this.o.keys.runDefinition(run),
      this.o.logger,
    );
    if (pinned?.id === agentId) {
      this.remember(run, pinned);
      return pinned;
    }
    return this.o.registry.get(agentId);
  }

  private remember(run: string, def: AgentDefinition): void {
    this.memo.delete(run);
    this.memo.set(run, def);
    while (this.memo.size > this.maxRuns) {
      const oldest = this.memo.keys().next().value as string;
      this.memo.delete(oldest);
    }
  }
}
