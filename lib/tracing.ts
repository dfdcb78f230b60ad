/**
 * Traces through OpenTelemetry, off by default (OTEL_TRACES_EXPORTER=none). On, one activation is
 * one trace: the client's start (coordinator or CLI) → `RunWorkflow:activationWorkflow` → each
 * `StartActivity:` / `RunActivity:` → the outgoing `model.call`, `hub` and `mcp` spans, carried
 * by the SDK's interceptors (@temporalio/interceptors-opentelemetry) in Temporal headers.
 *
 * Span attributes (the names other tools filter on): `botburrow.agent_id`, `botburrow.trigger`,
 * `botburrow.notification_id`, `botburrow.conversation_id` on client and activity spans;
 * `gen_ai.system`, `gen_ai.request.model`, `gen_ai.usage.input_tokens`,
 * `gen_ai.usage.output_tokens` on model spans; `botburrow.hub.endpoint`,
 * `http.request.method`, `http.response.status_code` on Hub spans; `botburrow.mcp.tool` on MCP spans.
 *
 * The workflow side of the interceptors (`WORKFLOW_TRACING_MODULES`) is bundled only when tracing
 * is on (`workflowInterceptorModules`; the image carries both bundles, `prebuiltBundle`): each
 * cached workflow holds its own copy of their module state, about 1.3 MB a run (bench/runner.ts
 * density: 300 runs at once took 953 MiB with them, 572 MiB without). They schedule no commands and
 * only add headers, so a run replays with or without them (the replay tests run both); their spans
 * leave the isolate through the `exporter` sink.
 *
 * The OpenTelemetry SDK, its exporter and the SDK's interceptors are loaded only when tracing is on
 * (`lib/tracing-on.ts`, imported by `installTracing`): a process with tracing off does not carry
 * them (about 190 modules).
 */
import type * as otel from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry';
import type { Settings } from './config';
import type { Logger } from './logger';
import { SpanAttr } from './spans';

export { SpanAttr, TRACER_NAME, withSpan } from './spans';

/** The workflow interceptor modules of a traced bundle (workers/runner-app.ts, scripts/build-bundle.ts, replay tests). */
export const WORKFLOW_TRACING_MODULES: readonly string[] = [
  require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors'),
];

/** The workflow interceptor modules a worker's bundle needs: the tracing ones only when tracing is on. */
export function workflowInterceptorModules(tracing: Pick<Tracing, 'enabled'>): string[] {
  return tracing.enabled ? [...WORKFLOW_TRACING_MODULES] : [];
}

/** Where scripts/build-bundle.ts writes the traced twin of the bundle `file` (`x.js` → `x-traced.js`). */
export function tracedBundlePath(file: string): string {
  return `${file.replace(/\.js$/, '')}-traced.js`;
}

/**
 * The prebuilt bundle (BOTBURROW_WORKFLOW_BUNDLE) for the tracing state: the file itself, or with
 * tracing on its traced twin, which must exist.
 */
export function prebuiltBundle(
  file: string,
  tracing: Pick<Tracing, 'enabled'>,
  exists: (p: string) => boolean,
): string {
  if (!tracing.enabled) return file;
  const traced = tracedBundlePath(file);
  if (!exists(traced)) {
    throw new Error(
      `tracing is on (OTEL_TRACES_EXPORTER) but ${traced}, the traced twin of BOTBURROW_WORKFLOW_BUNDLE=${file}, ` +
        'does not exist: rebuild with `npm run build` (scripts/build-bundle.ts writes both)',
    );
  }
  return traced;
}

export interface Tracing {
  readonly enabled: boolean;
  /** For `new Client({ interceptors })`. */
  readonly clientInterceptors: { workflow: WorkflowClientInterceptor[] };
  /** For `Worker.create({ interceptors: { activity } })`, before the project's own. */
  readonly activityInterceptors: ActivityInterceptorsFactory[];
  /** For `Worker.create({ sinks })`: where the workflow's spans go (none when off: nothing sends any). */
  readonly sinks?: InjectedSinks<OpenTelemetrySinks>;
  /** Flushes and stops the exporter. */
  shutdown(): Promise<void>;
}

/** The Botburrow attributes of a workflow or activity argument (`agentId`, `trigger`, a notification). */
export function inputAttributes(arg: unknown): otel.Attributes {
  if (typeof arg !== 'object' || arg === null) return {};
  const a = arg as Record<string, unknown>;
  const out: otel.Attributes = {};
  if (typeof a.agentId === 'string') out[SpanAttr.agentId] = a.agentId;
  if (typeof a.trigger === 'string') out[SpanAttr.trigger] = a.trigger;
  if (typeof a.conversationId === 'string') out[SpanAttr.conversationId] = a.conversationId;
  const notification = a.notification as { id?: unknown } | undefined;
  if (typeof notification?.id === 'string') out[SpanAttr.notificationId] = notification.id;
  if (typeof a.notificationId === 'string') out[SpanAttr.notificationId] = a.notificationId;
  return out;
}

/** Tracing off: no interceptors and no sinks (the bundle of a worker with tracing off has no span source). */
export const TRACING_OFF: Tracing = {
  enabled: false,
  clientInterceptors: { workflow: [] },
  activityInterceptors: [],
  shutdown: () => Promise.resolve(),
};

/** The settings tracing reads, and what a caller may add: a logger, a span processor for tests. */
export type TracingSettings = Pick<Settings, 'tracesExporter' | 'serviceName'>;
export interface TracingOptions {
  logger?: Logger;
  spanProcessor?: SpanProcessor;
}

/**
 * Sets up tracing for this process from the OTEL_* settings; `spanProcessor` replaces the exporter
 * (tests: an in-memory one). With tracing on, loads the OpenTelemetry SDK (`./tracing-on`) and
 * registers the global tracer provider, context manager and W3C propagator, so the SDK's
 * interceptors and `withSpan` find them.
 */
export async function installTracing(
  settings: TracingSettings,
  processName: string,
  o: TracingOptions = {},
): Promise<Tracing> {
  if (!o.spanProcessor && settings.tracesExporter === 'none') {
    o.logger?.info('traces off (OTEL_TRACES_EXPORTER=none)');
    return TRACING_OFF;
  }
  const { startTracing } = await import('./tracing-on.js');
  return startTracing(settings, processName, o);
}
