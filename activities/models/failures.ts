/**
 * What every model protocol shares about failing: the stable `ApplicationFailure` types, the
 * server's `retry-after` as `nextRetryDelay`, aborts as `CancelledFailure`, and previews of bad
 * bodies. Temporal owns retries, so each adapter turns its SDK's errors into these.
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { FailureType } from '../../lib/errors';

/** Longest `retry-after` honoured; a larger value is clamped so one bad header cannot park a run. */
const MAX_RETRY_DELAY_MS = 60 * 60 * 1000;

/**
 * The delay the server asked for: `retry-after-ms`, else `retry-after` in seconds or as an HTTP
 * date. Undefined when absent, unparsable or not in the future.
 */
export function retryAfterMs(headers: Headers | undefined, now: number = Date.now()): number | undefined {
  if (!headers) return undefined;
  let ms: number | undefined;
  const msHeader = headers.get('retry-after-ms');
  if (msHeader !== null && msHeader.trim() !== '') {
    const v = Number(msHeader);
    if (Number.isFinite(v)) ms = v;
  }
  const header = headers.get('retry-after');
  if (ms === undefined && header !== null && header.trim() !== '') {
    const seconds = Number(header);
    if (Number.isFinite(seconds)) ms = seconds * 1000;
    else {
      const at = Date.parse(header);
      if (Number.isFinite(at)) ms = at - now;
    }
  }
  if (ms === undefined || ms <= 0) return undefined;
  return Math.min(Math.round(ms), MAX_RETRY_DELAY_MS);
}

/** Statuses that a later attempt can succeed on (the SDKs' own retry set, plus 529). */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** An HTTP error of a provider as `LlmRetryableError` (with the server's delay) or `LlmNonRetryableError`. */
export function httpFailure(o: {
  status: number;
  message: string;
  headers: Headers | undefined;
  requestId: string | null;
  errorType: string | null;
  cause?: Error;
}): ApplicationFailure {
  const delay = retryAfterMs(o.headers);
  const retryable = retryableStatus(o.status);
  return ApplicationFailure.create({
    type: retryable ? FailureType.llmRetryable : FailureType.llmNonRetryable,
    message: o.message,
    nonRetryable: !retryable,
    ...(retryable && delay !== undefined && { nextRetryDelay: delay }),
    details: [
      { status: o.status, requestId: o.requestId, errorType: o.errorType, retryAfterMs: delay ?? null },
    ],
    ...(o.cause !== undefined && { cause: o.cause }),
  });
}

/** A refusal that no retry can fix (bad credentials, a key or host the runner does not allow). */
export function nonRetryable(message: string, details?: Record<string, unknown>): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.llmNonRetryable,
    message,
    nonRetryable: true,
    details: details === undefined ? [] : [details],
  });
}

export function asCancelled(signal: AbortSignal, err: unknown): CancelledFailure {
  const reason: unknown = signal.reason;
  if (reason instanceof CancelledFailure) return reason;
  const why = reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : 'aborted';
  return new CancelledFailure(`model call aborted: ${why}`, [], err instanceof Error ? err : undefined);
}

/** `LlmMalformedResponseError` (retryable): `source` is the endpoint, e.g. `POST /v1/messages`. */
export function malformed(source: string, field: string, rule: string, body?: unknown): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.llmMalformed,
    message: `${source}: ${field || '(body)'}: ${rule}`,
    nonRetryable: false,
    details: body === undefined ? [] : [{ body: preview(body) }],
  });
}

export function preview(v: unknown): string {
  let s: string;
  try {
    s = typeof v === 'string' ? v : JSON.stringify(v);
  } catch {
    s = String(v);
  }
  return s.length > 500 ? `${s.slice(0, 500)}…` : s;
}

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
