/**
 * Prometheus metrics (DESIGN.md names). One registry per process; `createMetrics` registers every
 * metric so that a process exports zeros rather than nothing before its first event.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics(registry = new Registry(), options: { defaults?: boolean } = {}) {
  if (options.defaults !== false) collectDefaultMetrics({ register: registry, prefix: 'botburrow_' });
  const r = [registry];
  return {
    registry,
    // coordinator
    isLeader: new Gauge({
      name: 'botburrow_coordinator_is_leader',
      help: '1 while this replica holds the lease',
      registers: r,
    }),
    queueDepth: new Gauge({
      name: 'botburrow_work_queue_depth',
      help: 'Temporal task-queue backlog (approximate), by queue',
      labelNames: ['queue'] as const,
      registers: r,
    }),
    pollDuration: new Histogram({
      name: 'botburrow_poll_duration_seconds',
      help: 'Duration of one Hub poll',
      labelNames: ['kind'] as const,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 30, 35, 60],
      registers: r,
    }),
    scheduled: new Counter({
      name: 'botburrow_activations_scheduled_total',
      help: 'Activations started or signalled by the coordinator',
      labelNames: ['trigger', 'queue'] as const,
      registers: r,
    }),
    skipped: new Counter({
      name: 'botburrow_activations_skipped_total',
      help: 'Activations not scheduled, by reason',
      labelNames: ['reason'] as const,
      registers: r,
    }),
    // runner
    runnerHeartbeat: new Gauge({
      name: 'botburrow_runner_heartbeat',
      help: 'Unix time of the runner’s last liveness tick',
      registers: r,
    }),
    activationDuration: new Histogram({
      name: 'botburrow_activation_duration_seconds',
      help: 'Activation wall time',
      labelNames: ['trigger', 'outcome'] as const,
      buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers: r,
    }),
    activations: new Counter({
      name: 'botburrow_activations_total',
      help: 'Finished activations by agent, trigger and outcome',
      labelNames: ['agent_id', 'trigger', 'outcome'] as const,
      registers: r,
    }),
    activationFailures: new Counter({
      name: 'botburrow_activation_failures_total',
      help: 'Activations that ended with outcome failed or timed_out',
      labelNames: ['agent_id'] as const,
      registers: r,
    }),
    tokens: new Counter({
      name: 'botburrow_tokens_used_total',
      help: 'Model tokens by agent, model and direction',
      labelNames: ['agent_id', 'model', 'direction'] as const,
      registers: r,
    }),
    cost: new Counter({
      name: 'botburrow_activation_cost_usd_total',
      help: 'Model spend in USD by agent and model',
      labelNames: ['agent_id', 'model'] as const,
      registers: r,
    }),
    llmRequests: new Counter({
      name: 'botburrow_llm_requests_total',
      help: 'Messages API calls by model and result',
      labelNames: ['model', 'result'] as const,
      registers: r,
    }),
    toolCalls: new Counter({
      name: 'botburrow_tool_calls_total',
      help: 'Tool calls by tool and result',
      labelNames: ['tool', 'result'] as const,
      registers: r,
    }),
    // guards
    budgetUsed: new Gauge({
      name: 'botburrow_budget_used',
      help: 'Budget used by agent and period (tokens per day, USD per month)',
      labelNames: ['agent_id', 'period'] as const,
      registers: r,
    }),
    budgetLimit: new Gauge({
      name: 'botburrow_budget_limit',
      help: 'Budget limit by agent and period',
      labelNames: ['agent_id', 'period'] as const,
      registers: r,
    }),
    breakerOpen: new Gauge({
      name: 'botburrow_breaker_open',
      help: '1 while the agent’s circuit breaker is open',
      labelNames: ['agent_id'] as const,
      registers: r,
    }),
    breakerFailures: new Gauge({
      name: 'botburrow_breaker_consecutive_failures',
      help: 'Consecutive failed activations per agent',
      labelNames: ['agent_id'] as const,
      registers: r,
    }),
    guardRefusals: new Counter({
      name: 'botburrow_guard_refusals_total',
      help: 'Guard refusals by reason',
      labelNames: ['reason'] as const,
      registers: r,
    }),
  };
}
