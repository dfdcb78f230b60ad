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
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import * as otel from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  NoopSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Next, WorkflowClientInterceptor, WorkflowStartInput } from '@temporalio/client';
import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
  makeWorkflowExporter,
} from '@temporalio/interceptors-opentelemetry';
import type {
  ActivityExecuteInput,
  ActivityInboundCallsInterceptor,
  ActivityInterceptorsFactory,
  InjectedSinks,
} from '@temporalio/worker';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry';
import type { Settings } from './config';
import type { Logger } from './logger';
import { SpanAttr, TRACER_NAME } from './spans';

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
  /** For `Worker.create({ sinks })`: where the workflow's spans go (nowhere when off). */
  readonly sinks: InjectedSinks<OpenTelemetrySinks>;
  /** Flushes and stops the exporter. */
  shutdown(): Promise<void>;
}

/** A context manager on AsyncLocalStorage, so spans started inside an activity nest under it. */
class AsyncLocalContextManager implements otel.ContextManager {
  private readonly storage = new AsyncLocalStorage<otel.Context>();
  active(): otel.Context {
    return this.storage.getStore() ?? otel.ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: otel.Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.storage.run(context, () => fn.apply(thisArg, args));
  }
  bind<T>(context: otel.Context, target: T): T {
    if (typeof target !== 'function') return target;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const manager = this;
    return function (this: unknown, ...args: unknown[]) {
      return manager.with(context, () => (target as (...a: unknown[]) => unknown).apply(this, args));
    } as T;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.storage.disable();
    return this;
  }
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

/** Runs inside the SDK's span of a client call and labels it with the activation's attributes. */
class AttributesClientInterceptor implements WorkflowClientInterceptor {
  start(input: WorkflowStartInput, next: Next<WorkflowClientInterceptor, 'start'>): Promise<string> {
    otel.trace.getActiveSpan()?.setAttributes(inputAttributes(input.options.args[0]));
    return next(input);
  }
  signalWithStart(
    input: Parameters<NonNullable<WorkflowClientInterceptor['signalWithStart']>>[0],
    next: Next<WorkflowClientInterceptor, 'signalWithStart'>,
  ): Promise<string> {
    otel.trace.getActiveSpan()?.setAttributes(inputAttributes(input.options.args[0]));
    return next(input);
  }
}

/** Runs inside the SDK's `RunActivity` span and labels it with the activation's attributes. */
class AttributesActivityInterceptor implements ActivityInboundCallsInterceptor {
  execute(
    input: ActivityExecuteInput,
    next: Next<ActivityInboundCallsInterceptor, 'execute'>,
  ): Promise<unknown> {
    otel.trace.getActiveSpan()?.setAttributes(inputAttributes(input.args[0]));
    return next(input);
  }
}

/** Tracing off: no interceptors, and a sink that drops the workflow's spans. */
export const TRACING_OFF: Tracing = {
  enabled: false,
  clientInterceptors: { workflow: [] },
  activityInterceptors: [],
  sinks: { exporter: makeWorkflowExporter(new NoopSpanProcessor(), Resource.empty()) },
  shutdown: () => Promise.resolve(),
};

/**
 * Sets up tracing for this process from the OTEL_* settings; `spanProcessor` replaces the exporter
 * (tests: an in-memory one). Registers the global tracer provider, context manager and W3C
 * propagator, so the SDK's interceptors and `withSpan` find them.
 */
export function installTracing(
  settings: Pick<Settings, 'tracesExporter' | 'serviceName'>,
  processName: string,
  o: { logger?: Logger; spanProcessor?: SpanProcessor } = {},
): Tracing {
  if (!o.spanProcessor && settings.tracesExporter === 'none') {
    o.logger?.info('traces off (OTEL_TRACES_EXPORTER=none)');
    return TRACING_OFF;
  }
  const resource = new Resource({ 'service.name': settings.serviceName ?? `botburrow-${processName}` });
  // The OTLP exporter reads OTEL_EXPORTER_OTLP_ENDPOINT, _HEADERS and _TIMEOUT itself.
  const processor =
    o.spanProcessor ??
    new BatchSpanProcessor(
      settings.tracesExporter === 'console' ? new ConsoleSpanExporter() : new OTLPTraceExporter(),
    );
  const provider = new BasicTracerProvider({ resource, spanProcessors: [processor] });
  otel.context.setGlobalContextManager(new AsyncLocalContextManager());
  otel.propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  otel.trace.setGlobalTracerProvider(provider);
  const tracer = provider.getTracer(TRACER_NAME);
  o.logger?.info(
    {
      exporter: o.spanProcessor ? 'custom' : settings.tracesExporter,
      service: resource.attributes['service.name'],
    },
    'traces on',
  );
  return {
    enabled: true,
    clientInterceptors: {
      workflow: [new OpenTelemetryWorkflowClientInterceptor({ tracer }), new AttributesClientInterceptor()],
    },
    activityInterceptors: [
      (ctx) => ({
        inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer }),
        outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
      }),
      () => ({ inbound: new AttributesActivityInterceptor() }),
    ],
    sinks: { exporter: makeWorkflowExporter(processor, resource) },
    shutdown: () => provider.shutdown(),
  };
}
