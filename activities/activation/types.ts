/**
 * The shapes activationWorkflow exchanges with its activities, and the dependencies the steps draw
 * on. Each step file takes only the part of `ActivationDeps` it uses (see its `*Deps` type).
 */
import type { Redis } from 'ioredis';
import type { PriceTable } from '../../lib/config';
import type { Price } from '../../lib/pricing';
import type { ActivationOutcome, ActivationTrigger } from '../../lib/contract';
import type { CLI_AGENT_TYPES, SkillLibrary } from '../../lib/definitions';
import type { BehaviorLimits, BudgetGuard, CircuitBreaker, PauseFlags } from '../../lib/guards';
import type { HubClient } from '../../lib/hub/client';
import type { Keys } from '../../lib/keys';
import type { Logger } from '../../lib/logger';
import type { Metrics } from '../../lib/metrics';
import type { RespondSettings } from '../../lib/prompts';
import type { ConversationStore, ToolResultRef } from '../conversation';
import type { AgentMemory } from '../memory/service';
import type { ToolSpec } from '../model';
import type { ModelProviders } from '../models/providers';
import type { RunDefinitionSource } from './run-definitions';

export interface ActivationSettings {
  activationTimeoutSeconds: number;
  maxIterations: number;
  priceTable: PriceTable;
  /** Price of a model no table knows (`BOTBURROW_UNKNOWN_MODEL_PRICE`). */
  unknownModelPrice?: Price;
  hubBudgetCheck: 'off' | 'fail-open' | 'fail-closed';
}

export interface ActivationDeps {
  hub: HubClient;
  /** Definitions as the run pinned them (activities/activation/run-definitions.ts). */
  registry: RunDefinitionSource;
  skills: SkillLibrary;
  breaker: CircuitBreaker;
  budget: BudgetGuard;
  limits: BehaviorLimits;
  pause: PauseFlags;
  conversations: ConversationStore;
  /** The model client of each definition's brain (provider, endpoint, key variable). */
  models: ModelProviders;
  redis: Redis;
  keys: Keys;
  metrics: Metrics;
  logger: Logger;
  settings: ActivationSettings;
  /** Agent memory (`memory.*`); without it, no agent gets memory on this runner. */
  memory?: AgentMemory;
  /** Tool specs of a runner-bound session, if the agent has one (MCP and workspace tools). */
  sessionTools?: (sessionId: string) => Promise<ToolSpec[]>;
  /** PATH searched for the CLIs skills require (`requires_cli`); a standard system PATH when absent. */
  cliSearchPath?: string;
}

/** The executor that runs an agent's conversations: the built-in tool loop or a coding CLI. */
export type ExecutorKind = 'loop' | (typeof CLI_AGENT_TYPES)[number];

/** What the workflow needs to know about an agent: small and free of credentials. */
export interface AgentProfile {
  agentId: string;
  model: string;
  maxIterations: number;
  activationTimeoutMs: number;
  behavior: RespondSettings;
  /** The agent has MCP servers or workspace tools, which need a runner-bound session. */
  needsSession: boolean;
  /** Absent in histories from before the executor seam: the built-in loop. */
  executor?: ExecutorKind;
  /** `memory.enabled` on the built-in loop: conversations are remembered after they end. */
  memory?: true;
}

export type PrepareResult =
  | { status: 'ready'; profile: AgentProfile }
  | { status: 'paused' | 'circuit_open' | 'budget_exceeded' | 'invalid'; reason: string };

export type LlmTurnResult =
  | { kind: 'paused'; reason: string }
  | { kind: 'budget_exceeded'; reason: string }
  | {
      kind: 'ok';
      /** The answer's text (clipped for history; the transcript holds all of it). */
      text: string;
      toolCalls: { id: string; name: string; preview: string }[];
      stopReason: string;
      model: string;
      tokensInput: number;
      tokensOutput: number;
      costUsd: number;
    };

export interface HubToolResult extends ToolResultRef {
  posted?: 'post' | 'comment';
}

export interface FinishInput {
  agentId: string;
  trigger: ActivationTrigger;
  outcome: ActivationOutcome;
  model: string;
  tokensInput: number;
  tokensOutput: number;
  costUsd: number;
  durationMs: number;
  /** The run (`workflowId:runId`): consumption is reported once per key; also the breaker's probe owner. */
  reportKey: string;
  breaker: 'success' | 'failure' | 'none';
}

/** The longest model text a step returns into workflow history; the transcript holds all of it. */
export const MAX_TEXT_IN_HISTORY = 4_000;

/** How long idempotency markers and publish records live in Valkey. */
export const IDEMPOTENCY_TTL_SECONDS = 7 * 24 * 3600;
