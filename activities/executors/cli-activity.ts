/**
 * `runCliConversation`: one conversation (a notification, or exploration) run by a coding CLI on
 * the runner that holds the agent's session. It builds the task like the built-in loop does,
 * reserves the run's worst case, serves the CLI its only network (model proxy, Hub MCP, the
 * session's MCP tools: bridge.ts) and runs the executor in the sandbox, heartbeating its progress.
 * The model proxy forwards to the brain's route under the runner's allow-lists (providers.ts
 * `upstream`: endpoint, key variable, `api_base`), for the providers the executor speaks. The run
 * settles from the proxy's meter (the provider's own usage); the CLI's events go to the transcript
 * store and history gets a summary.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { PriceTable } from '../../lib/config';
import { EXECUTOR_PROGRESS_SIGNAL } from '../../lib/contract';
import type { ExecutorProgress } from '../../lib/contract';
import type { HubNotification } from '../../lib/hub/types';
import { FailureType } from '../../lib/errors';
import { hubToolsFor, modelToolName } from '../../lib/hub-tools';
import { costUsd, estimateTokens } from '../../lib/pricing';
import type { Price, PriceOptions } from '../../lib/pricing';
import { loadDefinition } from '../activation/definition';
import type { Publish } from '../activation/publish';
import { openingFor, systemPromptFor } from '../activation/start-conversation';
import type { ActivationDeps } from '../activation/types';
import { MAX_TEXT_IN_HISTORY } from '../activation/types';
import type { Sandbox } from '../sandbox';
import type { SessionHost } from '../session';
import type { ToolSpec } from '../model';
import type { ModelProvider, ModelProviders } from '../models/providers';
import type { BridgeHandler } from './bridge';
import { openBridge } from './bridge';
import { createHubMcpEndpoint } from './hub-mcp';
import { createModelProxy } from './model-proxy';
import { cliSessionTools, createSessionMcpEndpoint } from './session-mcp';
import type { CliExecutor } from './types';
import { BRIDGE_PORTS, BUDGET_REFUSAL, CliCancelled, TURN_LIMIT_REFUSAL } from './types';

export type CliActivityDeps = Pick<
  ActivationDeps,
  | 'registry'
  | 'skills'
  | 'limits'
  | 'pause'
  | 'budget'
  | 'conversations'
  | 'metrics'
  | 'logger'
  | 'cliSearchPath'
> & {
  hub: Pick<
    ActivationDeps['hub'],
    'getPost' | 'discoverFeed' | 'search' | 'getNotifications' | 'getBudgetHealth'
  >;
  publish: Publish;
  sessions: Pick<SessionHost, 'call' | 'workspaceDir'>;
  sessionTools: (sessionId: string) => Promise<ToolSpec[]>;
  sandbox: Sandbox;
  executors: Record<string, CliExecutor>;
  /** The runner's model routes (allow-lists, endpoints, keys); without it, the Anthropic settings below. */
  models?: Pick<ModelProviders, 'upstream'>;
  settings: {
    priceTable: PriceTable;
    /** Price of a model no table knows (`BOTBURROW_UNKNOWN_MODEL_PRICE`). */
    unknownModelPrice?: Price;
    /** The Anthropic API the model proxy forwards to, and the runner's key for it. */
    anthropicBaseUrl?: string;
    anthropicApiKey?: string;
  };
};

/** Prices of the brain's provider. */
function priceOptions(provider: ModelProvider, settings: { unknownModelPrice?: Price }): PriceOptions {
  return {
    provider,
    ...(settings.unknownModelPrice !== undefined && { unknown: settings.unknownModelPrice }),
  };
}

export interface CliConversationInput {
  sessionId: string;
  conversationId: string;
  agentId: string;
  executor: string;
  notification?: HubNotification;
  maxTurns: number;
  /** What is left of the activation's time: the CLI's hard limit. */
  timeoutMs: number;
  reservationId: string;
}

export type CliConversationResult =
  | { kind: 'paused'; reason: string }
  | { kind: 'budget_exceeded'; reason: string }
  | {
      kind: 'ok';
      outcome: 'succeeded' | 'iteration_cap' | 'failed';
      /** The CLI's final answer, clipped for history. */
      text: string;
      turns: number;
      tokensInput: number;
      tokensOutput: number;
      costUsd: number;
      model: string;
      posts: number;
      comments: number;
      /** Posts found already made by an earlier attempt of this conversation. */
      replayedPosts: number;
      lastTool: string | null;
      error?: string;
    };

/** The fastest the workflow is told of a CLI's progress (each signal is a history event). */
const PROGRESS_SIGNAL_MS = 3_000;
const DEFAULT_ANTHROPIC_URL = 'https://api.anthropic.com';
/** Each turn of a CLI re-sends the conversation; this is what a turn's tool results add, at worst. */
const TURN_GROWTH_TOKENS = 2_000;

/** How each CLI executor with an MCP client names the Hub MCP server's tools. */
const HUB_TOOL_NAMING: Partial<Record<string, 'claude-code' | 'opencode'>> = {
  'claude-code': 'claude-code',
  opencode: 'opencode',
};

export function createCliActivities(deps: CliActivityDeps) {
  const { metrics, settings } = deps;

  return {
    async runCliConversation(input: CliConversationInput): Promise<CliConversationResult> {
      const ctx = Context.current();
      const def = await loadDefinition(deps.registry, input.agentId);
      const executor = deps.executors[input.executor];
      const located = executor?.locate() ?? { missing: `no executor '${input.executor}' on this runner` };
      if ('missing' in located) {
        throw ApplicationFailure.create({
          type: FailureType.executorUnavailable,
          message: `agent ${def.id} (type ${def.config.type}) cannot run here: ${located.missing}`,
          nonRetryable: true,
        });
      }
      const brain = def.config.brain;
      const provider = brain.provider;
      const speaks = executor!.providers ?? ['anthropic'];
      if (!speaks.includes(provider)) {
        throw ApplicationFailure.create({
          type: FailureType.definition,
          message:
            speaks.length === 1 && speaks[0] === 'anthropic'
              ? `agent ${def.id}: brain.provider: ${input.executor} speaks only the Anthropic API, got '${provider}'`
              : `agent ${def.id}: brain.provider: ${input.executor} speaks ${speaks.join(', ')}, got '${provider}'`,
          nonRetryable: true,
        });
      }
      // The brain's route under the runner's allow-lists (refused: a non-retryable failure naming why).
      const upstream = deps.models
        ? deps.models.upstream({
            provider,
            ...(brain.api_base !== undefined && { apiBase: brain.api_base }),
            ...(brain.api_key_env !== undefined && { apiKeyEnv: brain.api_key_env }),
          })
        : { baseUrl: settings.anthropicBaseUrl ?? DEFAULT_ANTHROPIC_URL, key: settings.anthropicApiKey };
      const workspace = deps.sessions.workspaceDir?.(input.sessionId);
      if (!workspace) {
        throw ApplicationFailure.create({
          type: FailureType.sessionLost,
          message: `session ${input.sessionId} is not open on this runner`,
          nonRetryable: true,
        });
      }
      const paused = await deps.pause.isPaused(def.id);
      if (paused.paused) return { kind: 'paused', reason: paused.reason ?? 'paused by an operator' };

      // How the CLI names the Hub MCP tools; a CLI without MCP (aider) is given none, and its
      // prompt names none.
      const naming = HUB_TOOL_NAMING[input.executor];
      const hubTools = hubToolsFor(def.config.capabilities.grants ?? []).map((t) => t.name);
      const offered = naming ? hubTools.map((t) => modelToolName(t, naming)) : [];
      const served = (t: string): string | undefined =>
        naming && hubTools.includes(t) ? modelToolName(t, naming) : undefined;
      const opening = await openingFor(deps, def, input.notification, {
        posting: { comment: served('create_comment'), post: served('create_post') },
      });
      const systemPrompt = await systemPromptFor(deps, def, opening.context, {
        offered: new Set(offered),
        naming: naming ?? 'claude-code',
      });
      const model = def.config.brain.model;
      const maxTokens = def.config.brain.max_tokens ?? 4096;

      // Worst case: every turn re-sends the prompt plus what earlier turns added, and answers in full.
      const base = estimateTokens(systemPrompt + opening.text);
      const turns = input.maxTurns;
      const worstInput = turns * base + (TURN_GROWTH_TOKENS * turns * (turns - 1)) / 2;
      const worstCost = costUsd(
        model,
        { inputTokens: worstInput, outputTokens: turns * maxTokens },
        settings.priceTable,
        priceOptions(provider, settings),
      );
      const reservationId = `${input.reservationId}:${ctx.info.attempt}`;
      const reserved = await deps.budget.reserve(def.id, {
        reservationId,
        tokens: worstInput + turns * maxTokens,
        costUsd: worstCost,
      });
      if (!reserved.ok) return { kind: 'budget_exceeded', reason: reserved.message };

      let spent = { tokens: 0, costUsd: 0 };
      const proxy = createModelProxy({
        upstream: upstream.baseUrl,
        // A keyless local server still gets a placeholder, as the built-in loop's client sends.
        apiKey: upstream.key ?? (provider === 'local' ? 'no-key' : 'unset'),
        auth: provider === 'anthropic' ? 'x-api-key' : 'bearer',
        admit: (used) => {
          if (used.calls >= input.maxTurns) return `${TURN_LIMIT_REFUSAL} (${input.maxTurns} model calls)`;
          const c = costUsd(model, used, settings.priceTable, priceOptions(provider, settings));
          return c > worstCost ? `${BUDGET_REFUSAL} of $${worstCost.toFixed(4)} is spent` : undefined;
        },
      });
      const hubMcp = createHubMcpEndpoint({
        def,
        hub: deps.hub,
        publish: deps.publish,
        conversationId: input.conversationId,
      });
      const toolSpecs = cliSessionTools(await deps.sessionTools(input.sessionId));
      let lastTool: string | null = null;
      const toolsMcp = createSessionMcpEndpoint({
        sessions: deps.sessions,
        sessionId: input.sessionId,
        tools: toolSpecs,
      });
      const routes: Record<number, BridgeHandler> = {
        [BRIDGE_PORTS.model]: proxy.handler,
        [BRIDGE_PORTS.hub]: hubMcp.handler,
      };
      if (toolSpecs.length > 0) routes[BRIDGE_PORTS.tools] = toolsMcp.handler;
      const bridge = await openBridge({
        routes,
        ...(process.getuid?.() === 0 && { sandboxUid: 65534 }),
      });
      const log = deps.logger.child({
        agentId: def.id,
        conversationId: input.conversationId,
        executor: input.executor,
      });
      const progress = progressReporter(ctx);
      try {
        const summary = await executor!.run(
          {
            def,
            systemPrompt,
            task: opening.text,
            provider,
            model,
            workspace,
            sandbox: deps.sandbox,
            bridge,
            modelUrl: `http://127.0.0.1:${BRIDGE_PORTS.model}`,
            modelKey: 'botburrow-proxy-placeholder',
            mcpServers: {
              hub: `http://127.0.0.1:${BRIDGE_PORTS.hub}/mcp`,
              ...(toolSpecs.length > 0 && { tools: `http://127.0.0.1:${BRIDGE_PORTS.tools}/mcp` }),
            },
            mcpTools: {
              hub: hubTools,
              ...(toolSpecs.length > 0 && { tools: toolSpecs.map((t) => t.name) }),
            },
            maxTurns: input.maxTurns,
            timeoutMs: input.timeoutMs,
            signal: ctx.cancellationSignal,
            onProgress: (p) => {
              if (p.lastTool) lastTool = p.lastTool;
              progress.report({ executor: input.executor, turn: p.turn, lastTool });
            },
            logger: log,
          },
          located.path,
        );
        // The meter saw what the provider billed; the CLI's own count covers a proxy that saw none.
        const metered = proxy.usage();
        const usage =
          metered.inputTokens + metered.outputTokens > 0
            ? { inputTokens: metered.inputTokens, outputTokens: metered.outputTokens }
            : { inputTokens: summary.inputTokens, outputTokens: summary.outputTokens };
        const cost = costUsd(model, usage, settings.priceTable, priceOptions(provider, settings));
        spent = { tokens: usage.inputTokens + usage.outputTokens, costUsd: cost };
        await deps.conversations.saveCliTranscript(input.conversationId, {
          executor: input.executor,
          events: summary.events,
        });
        metrics.llmRequests.inc(
          { model, result: summary.outcome === 'failed' ? FailureType.cliFailed : 'ok' },
          Math.max(1, metered.calls),
        );
        metrics.tokens.inc({ agent_id: def.id, model, direction: 'input' }, usage.inputTokens);
        metrics.tokens.inc({ agent_id: def.id, model, direction: 'output' }, usage.outputTokens);
        metrics.cost.inc({ agent_id: def.id, model }, cost);
        const created = hubMcp.created();
        return {
          kind: 'ok',
          outcome: summary.outcome,
          text: summary.finalText.slice(0, MAX_TEXT_IN_HISTORY),
          // Model calls the proxy answered: the CLI's own count includes the turn it refused at the cap.
          turns: metered.calls > 0 ? metered.calls : summary.turns,
          tokensInput: usage.inputTokens,
          tokensOutput: usage.outputTokens,
          costUsd: cost,
          model: summary.model ?? metered.model ?? model,
          posts: created.posts,
          comments: created.comments,
          replayedPosts: created.replayed,
          lastTool: summary.toolsUsed.at(-1) ?? lastTool,
          ...(summary.error !== undefined && { error: summary.error.slice(0, 2_000) }),
        };
      } catch (err) {
        // A cancelled or crashed run was billed for what the proxy saw.
        const metered = proxy.usage();
        spent = {
          tokens: metered.inputTokens + metered.outputTokens,
          costUsd: costUsd(model, metered, settings.priceTable, priceOptions(provider, settings)),
        };
        // Temporal reports the activity as cancelled only for a CancelledFailure.
        if (err instanceof CliCancelled) throw new CancelledFailure(err.message);
        throw err;
      } finally {
        progress.stop();
        await bridge.close();
        await deps.budget.settle(def.id, reservationId, spent);
      }
    },
  };
}

/** Heartbeats go out every second with the latest progress; the workflow hears of each new turn
 * by a signal (at most one per PROGRESS_SIGNAL_MS), so `status` shows it. */
function progressReporter(ctx: Context): {
  report(p: ExecutorProgress): void;
  stop(): void;
} {
  let latest: ExecutorProgress | undefined;
  let signalled: ExecutorProgress | undefined;
  let lastSignalAt = 0;
  const { workflowId, runId } = ctx.info.workflowExecution!;
  const flush = (): void => {
    if (!latest || latest === signalled || Date.now() - lastSignalAt < PROGRESS_SIGNAL_MS) return;
    signalled = latest;
    lastSignalAt = Date.now();
    // Progress is advisory: a lost signal only leaves `status` a turn behind.
    ctx.client.workflow
      .getHandle(workflowId, runId)
      .signal(EXECUTOR_PROGRESS_SIGNAL, latest)
      .catch(() => undefined);
  };
  const timer = setInterval(() => {
    ctx.heartbeat(latest);
    flush();
  }, 1_000);
  return {
    report(p) {
      latest = p;
      ctx.heartbeat(p);
      flush();
    },
    stop: () => clearInterval(timer),
  };
}

export type CliActivities = ReturnType<typeof createCliActivities>;
