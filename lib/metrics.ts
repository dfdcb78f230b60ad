/**
 * Prometheus metrics (DESIGN.md names). One registry per process; `createMetrics` registers the
 * metrics of that process (`options.process`) so that it exports zeros rather than nothing before
 * its first event, and nothing of the other processes: a coordinator family on a runner would hide
 * a missing coordinator from `absent()` alerts.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type Metrics = ReturnType<typeof createMetrics>;

/** The botburrow processes, each with its own metric families. */
export type MetricsProcess = 'coordinator' | 'runner' | 'skill-sync';

/** Families only the coordinator exports. */
const COORDINATOR_FAMILIES = [
  'botburrow_coordinator_is_leader',
  'botburrow_work_queue_depth',
  'botburrow_poll_duration_seconds',
  'botburrow_activations_scheduled_total',
  'botburrow_activations_skipped_total',
];
/** Families only the runner exports. */
const RUNNER_FAMILIES = [
  'botburrow_runner_heartbeat',
  'botburrow_activation_duration_seconds',
  'botburrow_activations_total',
  'botburrow_activation_failures_total',
  'botburrow_tokens_used_total',
  'botburrow_activation_cost_usd_total',
  'botburrow_llm_requests_total',
  'botburrow_tool_calls_total',
  'botburrow_workflow_task_failures_total',
  'botburrow_stuck_workflow_tasks',
];
/** Guard gauges: the coordinator and the runner both consult the guards. */
const GUARD_FAMILIES = [
  'botburrow_budget_used',
  'botburrow_budget_limit',
  'botburrow_breaker_open',
  'botburrow_breaker_consecutive_failures',
  'botburrow_guard_refusals_total',
];
/**
 * prom-client's totals of the per-type `nodejs_active_*` gauges: gauges named like counters, which
 * `promtool check metrics` rejects. `sum(botburrow_nodejs_active_handles)` gives the same number.
 */
const COUNTER_NAMED_GAUGES = [
  'botburrow_nodejs_active_handles_total',
  'botburrow_nodejs_active_requests_total',
  'botburrow_nodejs_active_resources_total',
];

/** The families a process does not export (the others' own families). */
function foreignFamilies(p: MetricsProcess): string[] {
  if (p === 'coordinator') return RUNNER_FAMILIES;
  if (p === 'runner') return COORDINATOR_FAMILIES;
  return [...COORDINATOR_FAMILIES, ...RUNNER_FAMILIES, ...GUARD_FAMILIES];
}

/**
 * Every metric object (so shared code can update any of them), registered on `registry` as far as
 * `options.process` exports it; without a process, all of them (tests, benches).
 */
export function createMetrics(
  registry = new Registry(),
  options: { defaults?: boolean; process?: MetricsProcess } = {},
) {
  if (options.defaults !== false) {
    collectDefaultMetrics({ register: registry, prefix: 'botburrow_' });
    for (const name of COUNTER_NAMED_GAUGES) registry.removeSingleMetric(name);
  }
  const metrics = buildMetrics(registry);
  if (options.process) for (const name of foreignFamilies(options.process)) registry.removeSingleMetric(name);
  return metrics;
}

function buildMetrics(registry: Registry) {
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
    // workflow tasks (workers/workflow-task-watch.ts)
    workflowTaskFailures: new Counter({
      name: 'botburrow_workflow_task_failures_total',
      help: 'Runs whose workflow task started failing on this runner, by workflow type and reason',
      labelNames: ['workflow_type', 'reason'] as const,
      registers: r,
    }),
    stuckWorkflowTasks: new Gauge({
      name: 'botburrow_stuck_workflow_tasks',
      help: 'Runs whose workflow task keeps failing, as followed by this runner',
      labelNames: ['workflow_type'] as const,
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
