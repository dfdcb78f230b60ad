/**
 * Tracing on (lib/tracing.ts `installTracing`): the OpenTelemetry SDK, the exporter chosen by
 * OTEL_TRACES_EXPORTER and the SDK's interceptors, loaded only by a process that traces.
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
import type { Next, WorkflowClientInterceptor, WorkflowStartInput } from '@temporalio/client';
import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
  makeWorkflowExporter,
} from '@temporalio/interceptors-opentelemetry';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry';
import type {
  ActivityExecuteInput,
  ActivityInboundCallsInterceptor,
  InjectedSinks,
} from '@temporalio/worker';
import { TRACER_NAME } from './spans';
import type { Tracing, TracingOptions, TracingSettings } from './tracing';
import { inputAttributes } from './tracing';

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

/** Sinks that drop the workflow's spans (replaying a traced bundle without exporting). */
export function droppingTracingSinks(): InjectedSinks<OpenTelemetrySinks> {
  return { exporter: makeWorkflowExporter(new NoopSpanProcessor(), Resource.empty()) };
}

/** Tracing on for this process (see `installTracing`). */
export function startTracing(settings: TracingSettings, processName: string, o: TracingOptions): Tracing {
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
