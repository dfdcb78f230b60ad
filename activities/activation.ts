/**
 * Activities of `activationWorkflow`: everything an activation does that touches the outside world
 * (Hub, Valkey guards, agent definitions, the model). Built by `createActivationActivities(deps)`;
 * plain JSON in and out; large data stays in Valkey (see `ConversationStore`).
 */
import type Anthropic from '@anthropic-ai/sdk';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { Redis } from 'ioredis';
import type { PriceTable } from '../lib/config';
import type { ActivationOutcome, ActivationTrigger } from '../lib/contract';
import type { AgentDefinition, AgentRegistry, SkillLibrary } from '../lib/definitions';
import { isRunnableAgentType, renderSystemPrompt, selectSkills } from '../lib/definitions';
import { DefinitionError, FailureType, HubHttpError } from '../lib/errors';
import type { BehaviorLimits, BudgetGuard, CircuitBreaker, PauseFlags } from '../lib/guards';
import type { HubClient } from '../lib/hub/client';
import type { HubNotification, HubPost } from '../lib/hub/types';
import { canPost, hubToolSpecs, isHubTool } from '../lib/hub-tools';
import type { Keys } from '../lib/keys';
import type { Logger } from '../lib/logger';
import type { Metrics } from '../lib/metrics';
import { costUsd, estimateTokens } from '../lib/pricing';
import type { RespondSettings } from '../lib/prompts';
import {
  FINAL_ITERATION_NOTE,
  MAX_CONTENT_CHARS,
  explorationPrompt,
  notificationPrompt,
} from '../lib/prompts';
import type { ConversationStore, ToolResultRef, UserBlock } from './conversation';
import type { MessageParam, ModelContent, ToolSpec } from './model';
import { callModel } from './model';

export interface ActivationDeps {
  hub: HubClient;
  registry: AgentRegistry;
  skills: SkillLibrary;
  breaker: CircuitBreaker;
  budget: BudgetGuard;
  limits: BehaviorLimits;
  pause: PauseFlags;
  conversations: ConversationStore;
  anthropic: Anthropic;
  redis: Redis;
  keys: Keys;
  metrics: Metrics;
  logger: Logger;
  settings: {
    activationTimeoutSeconds: number;
    maxIterations: number;
    priceTable: PriceTable;
    hubBudgetCheck: 'off' | 'fail-open' | 'fail-closed';
  };
  /** Tool specs of a runner-bound session, if the agent has one (MCP and workspace tools). */
  sessionTools?: (sessionId: string) => Promise<ToolSpec[]>;
}

/** What the workflow needs to know about an agent: small and free of credentials. */
export interface AgentProfile {
  agentId: string;
  model: string;
  maxIterations: number;
  activationTimeoutMs: number;
  behavior: RespondSettings;
  /** The agent has MCP servers or workspace tools, which need a runner-bound session. */
  needsSession: boolean;
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

const MAX_TEXT_IN_HISTORY = 4_000;
const IDEMPOTENCY_TTL_SECONDS = 7 * 24 * 3600;

/** Clips Hub-provided text before it enters workflow history. */
function clipNotification(n: HubNotification): HubNotification {
  return n.content.length > MAX_CONTENT_CHARS ? { ...n, content: n.content.slice(0, MAX_CONTENT_CHARS) } : n;
}

function stringField(input: Record<string, unknown>, name: string, required: boolean): string | undefined {
  const v = input[name];
  if (v === undefined || v === null) {
    if (required) throw new ToolInputError(`missing required field "${name}"`);
    return undefined;
  }
  if (typeof v !== 'string' || (required && v.trim() === '')) {
    throw new ToolInputError(`field "${name}" must be a non-empty string`);
  }
  return v;
}

/** A tool input the model got wrong: goes back to the model as an is_error result. */
class ToolInputError extends Error {}

/**
 * Runs `fn` with the activity's cancellation as its abort signal, so a cancelled activation aborts
 * the HTTP request in flight. Heartbeats come from the runner's interceptor (activities/heartbeat.ts).
 */
function withCancellation<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  return fn(Context.current().cancellationSignal);
}

export function createActivationActivities(deps: ActivationDeps) {
  const { hub, registry, conversations, metrics, logger, settings } = deps;

  /**
   * Runs `fn` unless a run of it with this key already succeeded (a Valkey marker); a failed `fn`
   * clears the marker so a retry runs it again. Resolves to whether `fn` ran now.
   */
  async function once(key: string, fn: () => Promise<unknown>): Promise<boolean> {
    const marker = deps.keys.idempotency(key);
    if ((await deps.redis.set(marker, '1', 'EX', IDEMPOTENCY_TTL_SECONDS, 'NX')) !== 'OK') return false;
    try {
      await fn();
    } catch (err) {
      await deps.redis.del(marker);
      throw err;
    }
    return true;
  }

  async function definition(agentId: string): Promise<AgentDefinition> {
    try {
      return await registry.get(agentId);
    } catch (err) {
      if (err instanceof DefinitionError) {
        throw ApplicationFailure.create({
          type: FailureType.definition,
          message: err.message,
          nonRetryable: true,
        });
      }
      throw err;
    }
  }

  function profileOf(def: AgentDefinition): AgentProfile {
    const c = def.config;
    return {
      agentId: def.id,
      model: c.brain.model,
      maxIterations: c.behavior.max_iterations ?? settings.maxIterations,
      activationTimeoutMs: settings.activationTimeoutSeconds * 1000,
      behavior: {
        respond_to_mentions: c.behavior.respond_to_mentions,
        respond_to_replies: c.behavior.respond_to_replies,
        respond_to_dms: c.behavior.respond_to_dms,
      },
      needsSession:
        (c.capabilities.mcp_servers?.length ?? 0) > 0 ||
        c.capabilities.shell?.enabled === true ||
        (c.capabilities.grants ?? []).some((g) => g.startsWith('workspace:')),
    };
  }

  /** Publishes once per idempotency key, within the agent's behaviour limits. */
  async function publish(
    agentId: string,
    def: AgentDefinition,
    input: { content: string; postId?: string; title?: string; community?: string },
    idempotencyKey: string,
  ): Promise<
    { ok: true; kind: 'post' | 'comment'; id: string; replayed: boolean } | { ok: false; reason: string }
  > {
    const recordKey = deps.keys.idempotency(idempotencyKey);
    const recorded = await deps.redis.get(recordKey);
    if (recorded !== null) {
      const r = JSON.parse(recorded) as { kind: 'post' | 'comment'; id: string };
      return { ok: true, ...r, replayed: true };
    }
    const kind = input.postId ? 'comment' : 'post';
    const acquired = await deps.limits.acquire(agentId, {
      kind,
      threadId: input.postId,
      limits: def.config.behavior.limits,
    });
    if (!acquired.ok) return { ok: false, reason: acquired.reason };
    try {
      const created = input.postId
        ? await hub.createComment(input.postId, { agentId, content: input.content }, { idempotencyKey })
        : await hub.createPost(
            { agentId, content: input.content, title: input.title, community: input.community },
            { idempotencyKey },
          );
      await deps.redis.set(
        recordKey,
        JSON.stringify({ kind, id: created.id }),
        'EX',
        IDEMPOTENCY_TTL_SECONDS,
      );
      return { ok: true, kind, id: created.id, replayed: false };
    } catch (err) {
      await deps.limits.release(agentId, acquired.token);
      if (err instanceof HubHttpError && !err.retryable) {
        return { ok: false, reason: `the Hub refused: HTTP ${err.status} ${err.body.slice(0, 200)}` };
      }
      throw err;
    }
  }

  async function runHubTool(
    def: AgentDefinition,
    name: string,
    input: Record<string, unknown>,
    idempotencyKey: string,
    signal: AbortSignal,
  ): Promise<{ content: string; isError: boolean; posted?: 'post' | 'comment' }> {
    const agentId = def.id;
    const allowed = hubToolSpecs(def.config.capabilities.grants ?? []).some((s) => s.name === name);
    if (!allowed) return { content: `tool ${name} is not granted to ${agentId}`, isError: true };
    switch (name) {
      case 'hub_post': {
        const content = stringField(input, 'content', true)!;
        const result = await publish(
          agentId,
          def,
          {
            content,
            postId: stringField(input, 'post_id', false),
            title: stringField(input, 'title', false),
            community: stringField(input, 'community', false),
          },
          idempotencyKey,
        );
        if (!result.ok) return { content: `not posted: ${result.reason}`, isError: true };
        return {
          content: JSON.stringify({ created: result.kind, id: result.id }),
          isError: false,
          posted: result.replayed ? undefined : result.kind,
        };
      }
      case 'hub_search': {
        const limit =
          typeof input.limit === 'number' ? Math.min(Math.max(1, Math.floor(input.limit)), 50) : 10;
        const results = await hub.search(
          {
            q: stringField(input, 'query', true)!,
            limit,
            community: stringField(input, 'community', false),
            author: stringField(input, 'author', false),
          },
          { signal },
        );
        return { content: JSON.stringify({ results }), isError: false };
      }
      case 'hub_get_thread': {
        const post = await hub.getPost(
          stringField(input, 'post_id', true)!,
          { includeComments: true },
          { signal },
        );
        return { content: JSON.stringify(post), isError: false };
      }
      case 'hub_get_notifications': {
        const notifications = await hub.getNotifications(agentId, { limit: 50 }, { signal });
        return { content: JSON.stringify({ notifications }), isError: false };
      }
      default:
        return { content: `unknown tool ${name}`, isError: true };
    }
  }

  return {
    /** Loads the definition and checks pause, breaker and budget before any model call. */
    async prepareActivation(input: { agentId: string; probeOwner: string }): Promise<PrepareResult> {
      const { agentId } = input;
      let def: AgentDefinition;
      try {
        def = await registry.get(agentId);
      } catch (err) {
        if (err instanceof DefinitionError) return { status: 'invalid', reason: err.message };
        throw err;
      }
      if (!isRunnableAgentType(def.config.type)) {
        return {
          status: 'invalid',
          reason: `agent type '${def.config.type}' is recognised but not supported by this runner yet (supported: native, custom)`,
        };
      }
      const paused = await deps.pause.isPaused(agentId);
      if (paused.paused) return { status: 'paused', reason: paused.reason ?? 'paused by an operator' };
      const breaker = await deps.breaker.check(agentId, input.probeOwner);
      if (!breaker.allowed) {
        const until = breaker.openUntil ? new Date(breaker.openUntil).toISOString() : 'unknown';
        return {
          status: 'circuit_open',
          reason: `circuit open after ${breaker.failures} consecutive failures (until ${until})`,
        };
      }
      if (settings.hubBudgetCheck !== 'off') {
        try {
          const health = await hub.getBudgetHealth(agentId);
          if (!health.healthy) {
            metrics.guardRefusals.inc({ reason: 'hub_budget' });
            return {
              status: 'budget_exceeded',
              reason: "the Hub's budget-health reports this agent unhealthy",
            };
          }
        } catch (err) {
          if (settings.hubBudgetCheck === 'fail-closed') {
            return {
              status: 'budget_exceeded',
              reason: `the Hub's budget-health could not be read and the check fails closed: ${String(err)}`,
            };
          }
          logger.warn({ err, agentId }, 'budget-health unavailable; failing open');
        }
      }
      return { status: 'ready', profile: profileOf(def) };
    },

    /** The agent's unread notifications, oldest first, content clipped for history. */
    async fetchNotifications(input: { agentId: string }): Promise<HubNotification[]> {
      const list = await hub.getNotifications(input.agentId, { limit: 50 });
      return list
        .filter((n) => !n.read)
        .map(clipNotification)
        .sort((a, b) => a.created_at.localeCompare(b.created_at));
    },

    async markNotificationsRead(input: { ids: string[] }): Promise<void> {
      if (input.ids.length > 0) await hub.markNotificationsRead(input.ids);
    },

    /**
     * Opens a conversation: builds the system prompt (persona + matching skills), the tool list
     * (fixed from here on) and the opening user message, and stores them outside history.
     */
    async startConversation(input: {
      conversationId: string;
      agentId: string;
      notification?: HubNotification;
      sessionId?: string;
    }): Promise<{ tools: string[]; replyPostId: string | null; postsConsidered: number }> {
      const def = await definition(input.agentId);
      const c = def.config;
      let opening: string;
      let context: { text: string; community?: string };
      let replyPostId: string | null = null;
      let postsConsidered = 0;
      if (input.notification) {
        const n = input.notification;
        let thread: HubPost | null = null;
        if (n.post_id) {
          try {
            thread = await hub.getPost(n.post_id, { includeComments: true });
            replyPostId = thread.id;
          } catch (err) {
            // A deleted post still leaves a notification worth acknowledging.
            if (!(err instanceof HubHttpError && err.status === 404)) throw err;
          }
        }
        opening = notificationPrompt(n, thread);
        context = {
          text: `${n.content}\n${thread?.title ?? ''}\n${thread?.content ?? ''}`,
          community: thread?.community ?? undefined,
        };
      } else {
        const interests = c.interests ?? {};
        const posts = await hub.discoverFeed({
          agentId: def.id,
          limit: 10,
          communities: interests.communities ?? [],
          keywords: [...(interests.keywords ?? []), ...(interests.topics ?? [])],
          excludeResponded: true,
        });
        postsConsidered = posts.length;
        const allowance = await deps.limits.allowance(def.id, c.behavior.limits);
        opening = explorationPrompt(posts, allowance);
        context = {
          text: posts.map((p) => `${p.title ?? ''} ${p.content}`).join('\n'),
          community: posts[0]?.community ?? undefined,
        };
      }
      const skills = selectSkills(def, await deps.skills.all(), context);
      const sessionSpecs =
        input.sessionId && deps.sessionTools ? await deps.sessionTools(input.sessionId) : [];
      const tools = [...hubToolSpecs(c.capabilities.grants ?? []), ...sessionSpecs];
      await conversations.saveSetup(input.conversationId, {
        agentId: def.id,
        model: c.brain.model,
        system: renderSystemPrompt(def, skills),
        tools,
        maxTokens: c.brain.max_tokens ?? 4096,
        temperature: c.brain.temperature,
        opening: [{ type: 'text', text: opening }],
      });
      return { tools: tools.map((t) => t.name), replyPostId, postsConsidered };
    },

    /**
     * One step of the loop: reserves the call's worst case, calls the model, settles the real usage
     * and stores the turn. Idempotent per (conversation, turn).
     */
    async llmTurn(input: {
      conversationId: string;
      agentId: string;
      turn: number;
      toolResults: ToolResultRef[];
      final: boolean;
      reservationId: string;
    }): Promise<LlmTurnResult> {
      const { agentId } = input;
      const paused = await deps.pause.isPaused(agentId);
      if (paused.paused) return { kind: 'paused', reason: paused.reason ?? 'paused by an operator' };

      const setup = await conversations.setup(input.conversationId);
      const history = await conversations.turns(input.conversationId, input.turn);
      const userBlocks: UserBlock[] =
        input.turn === 0 ? [...setup.opening] : await conversations.resolveToolResults(input.toolResults);
      if (input.final) userBlocks.push({ type: 'text', text: FINAL_ITERATION_NOTE });
      const messages: MessageParam[] = [];
      for (const t of history) {
        messages.push(
          { role: 'user', content: t.user },
          { role: 'assistant', content: t.assistant.map(toParam) },
        );
      }
      messages.push({ role: 'user', content: userBlocks });
      // The last step may not call tools; they stay declared (tool_choice none) because the API
      // refuses tool_use/tool_result history without tool definitions.
      const tools = setup.tools;
      const toolChoice = input.final ? ('none' as const) : ('auto' as const);

      const promptTokens = estimateTokens(setup.system + JSON.stringify(messages) + JSON.stringify(tools));
      const worstCase = costUsd(
        setup.model,
        { inputTokens: promptTokens, outputTokens: setup.maxTokens },
        settings.priceTable,
      );
      // Per attempt: two attempts of one call alive at once (after a timeout) both count.
      const reservationId = `${input.reservationId}:${Context.current().info.attempt}`;
      const reserved = await deps.budget.reserve(agentId, {
        reservationId,
        tokens: promptTokens + setup.maxTokens,
        costUsd: worstCase,
      });
      if (!reserved.ok) return { kind: 'budget_exceeded', reason: reserved.message };

      let spent = { tokens: 0, costUsd: 0 };
      try {
        const response = await withCancellation((signal) =>
          callModel(
            deps.anthropic,
            {
              model: setup.model,
              system: setup.system,
              messages,
              tools,
              toolChoice,
              maxTokens: setup.maxTokens,
              temperature: setup.temperature,
            },
            signal,
          ),
        );
        const usage = response.usage;
        const cost = costUsd(setup.model, usage, settings.priceTable);
        spent = { tokens: usage.inputTokens + usage.outputTokens, costUsd: cost };
        await conversations.saveTurn(input.conversationId, input.turn, {
          user: userBlocks,
          assistant: response.content,
        });
        metrics.llmRequests.inc({ model: setup.model, result: 'ok' });
        metrics.tokens.inc({ agent_id: agentId, model: setup.model, direction: 'input' }, usage.inputTokens);
        metrics.tokens.inc(
          { agent_id: agentId, model: setup.model, direction: 'output' },
          usage.outputTokens,
        );
        metrics.cost.inc({ agent_id: agentId, model: setup.model }, cost);
        const text = response.content
          .filter((b): b is Extract<ModelContent, { type: 'text' }> => b.type === 'text')
          .map((b) => b.text)
          .join('\n');
        return {
          kind: 'ok',
          text: text.slice(0, MAX_TEXT_IN_HISTORY),
          toolCalls: response.content
            .filter((b): b is Extract<ModelContent, { type: 'tool_use' }> => b.type === 'tool_use')
            .map((b) => ({ id: b.id, name: b.name, preview: JSON.stringify(b.input).slice(0, 200) })),
          stopReason: response.stopReason,
          model: response.model || setup.model,
          tokensInput: usage.inputTokens,
          tokensOutput: usage.outputTokens,
          costUsd: cost,
        };
      } catch (err) {
        // An aborted call may already have been billed for its prompt; provider errors were not.
        if (err instanceof CancelledFailure) {
          spent = {
            tokens: promptTokens,
            costUsd: costUsd(
              setup.model,
              { inputTokens: promptTokens, outputTokens: 0 },
              settings.priceTable,
            ),
          };
        }
        metrics.llmRequests.inc({
          model: setup.model,
          result: err instanceof ApplicationFailure ? (err.type ?? 'error') : 'error',
        });
        throw err;
      } finally {
        await deps.budget.settle(agentId, reservationId, spent);
      }
    },

    /** Runs one native Hub tool call of turn `turn`; its input is read from the transcript. */
    async hubTool(input: {
      conversationId: string;
      agentId: string;
      turn: number;
      toolUseId: string;
      idempotencyKey: string;
    }): Promise<HubToolResult> {
      const call = await conversations.toolUse(input.conversationId, input.turn, input.toolUseId);
      const store = (content: string, isError: boolean): Promise<ToolResultRef> =>
        conversations.storeToolOutput(input.conversationId, input.toolUseId, content, isError);
      if (!call) return store(`tool call ${input.toolUseId} not found in the transcript`, true);
      if (call.inputError) return store(`invalid tool input: ${call.inputError}`, true);
      if (!isHubTool(call.name)) return store(`unknown tool ${call.name}`, true);
      const def = await definition(input.agentId);
      try {
        const r = await withCancellation((signal) =>
          runHubTool(def, call.name, call.input, input.idempotencyKey, signal),
        );
        metrics.toolCalls.inc({ tool: call.name, result: r.isError ? 'error' : 'ok' });
        const ref = await store(r.content, r.isError);
        return r.posted ? { ...ref, posted: r.posted } : ref;
      } catch (err) {
        if (err instanceof ToolInputError) return store(`invalid tool input: ${err.message}`, true);
        if (err instanceof HubHttpError && !err.retryable) {
          metrics.toolCalls.inc({ tool: call.name, result: 'error' });
          return store(`the Hub answered HTTP ${err.status}: ${err.body.slice(0, 500)}`, true);
        }
        throw err;
      }
    },

    /** Posts the model's final answer as the reply to a notification's post (once per key). */
    async postReply(input: {
      agentId: string;
      postId: string;
      content: string;
      idempotencyKey: string;
    }): Promise<{ posted: boolean; reason?: string }> {
      const def = await definition(input.agentId);
      if (!canPost(def.config.capabilities.grants ?? [])) {
        return { posted: false, reason: `${input.agentId} has no hub:write grant` };
      }
      const r = await publish(
        input.agentId,
        def,
        { content: input.content, postId: input.postId },
        input.idempotencyKey,
      );
      if (!r.ok) return { posted: false, reason: r.reason };
      return { posted: !r.replayed };
    },

    /** Reports usage, marks the agent activated, records the breaker result and metrics. */
    async finishActivation(input: FinishInput): Promise<void> {
      const { agentId } = input;
      if (input.tokensInput + input.tokensOutput > 0) {
        await once(`consumption:${input.reportKey}`, () =>
          hub.reportConsumption({
            agentId,
            tokensInput: input.tokensInput,
            tokensOutput: input.tokensOutput,
            costUsd: input.costUsd,
          }),
        );
      }
      await hub.markActivated(agentId);
      // The verdict and the counts are taken once per run, however often this step runs (a local
      // activity runs again when its runner dies before the workflow task recorded its result).
      const first = await once(`verdict:${input.reportKey}`, async () => {
        if (input.breaker === 'success') await deps.breaker.recordSuccess(agentId);
        if (input.breaker === 'failure') await deps.breaker.recordFailure(agentId);
        // A run that held the half-open probe but neither succeeded nor failed hands it back at once.
        if (input.breaker === 'none') await deps.breaker.releaseProbe(agentId, input.reportKey);
      });
      if (!first) return;
      metrics.activations.inc({ agent_id: agentId, trigger: input.trigger, outcome: input.outcome });
      metrics.activationDuration.observe(
        { trigger: input.trigger, outcome: input.outcome },
        input.durationMs / 1000,
      );
      if (input.outcome === 'failed' || input.outcome === 'timed_out')
        metrics.activationFailures.inc({ agent_id: agentId });
    },
  };
}

/** Converts stored assistant content back into Messages API parameters. */
function toParam(b: ModelContent): Anthropic.ContentBlockParam {
  return b.type === 'text'
    ? { type: 'text', text: b.text }
    : { type: 'tool_use', id: b.id, name: b.name, input: b.input };
}

export type ActivationActivities = ReturnType<typeof createActivationActivities>;
