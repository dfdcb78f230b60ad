/**
 * The project's own spans (model, Hub and MCP calls) and the attribute names of every span: the
 * light half of lib/tracing.ts, which clients like the Hub client import without the SDK's interceptors.
 */
import * as otel from '@opentelemetry/api';

export const TRACER_NAME = 'botburrow-agents';

/** Span attribute names (lib/tracing.ts says which span carries which). */
export const SpanAttr = {
  agentId: 'botburrow.agent_id',
  trigger: 'botburrow.trigger',
  notificationId: 'botburrow.notification_id',
  conversationId: 'botburrow.conversation_id',
  hubEndpoint: 'botburrow.hub.endpoint',
  mcpTool: 'botburrow.mcp.tool',
  modelSystem: 'gen_ai.system',
  model: 'gen_ai.request.model',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  httpMethod: 'http.request.method',
  httpStatus: 'http.response.status_code',
} as const;

/**
 * Runs `fn` in a child span of the current one (an activity's), ending it with the outcome; with
 * no span active (tracing off, or a call outside any activation such as the coordinator's polls)
 * it just runs `fn`.
 */
export async function withSpan<T>(
  name: string,
  attributes: otel.Attributes,
  fn: (span: otel.Span | undefined) => Promise<T>,
): Promise<T> {
  if (!otel.trace.getActiveSpan()) return fn(undefined);
  const tracer = otel.trace.getTracer(TRACER_NAME);
  return tracer.startActiveSpan(name, { attributes, kind: otel.SpanKind.CLIENT }, async (span) => {
    try {
      const result = await fn(span);
      span.setStatus({ code: otel.SpanStatusCode.OK });
      return result;
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: otel.SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}
