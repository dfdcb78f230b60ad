/**
 * Every runner activity's errors leave classified, so no persistent error is retried forever:
 * an error that will be the same on every attempt becomes a non-retryable `ApplicationFailure`
 * (the workflow fails fast with the message), and a transient one stays retryable (bounded by the
 * workflow's retry policies), with the Hub's `Retry-After` as the next delay.
 *
 * | error | retry |
 * |---|---|
 * | `DefinitionError` (any definition that does not load) | never |
 * | `PayloadError` (a Hub, model or tool payload of the wrong shape) | never |
 * | `HubHttpError` 4xx other than 408 and 429 | never (type `HubClientError`) |
 * | `HubHttpError` 408, 429, 5xx; `HubUnavailableError`; everything else | with backoff |
 */
import type { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityInboundCallsInterceptor, ActivityInterceptorsFactory } from '@temporalio/worker';
import { DefinitionError, FailureType, HubHttpError, PayloadError } from '../lib/errors';

/** The failure an activity error leaves as; the error itself when it is transient or already one. */
export function classifyActivityError(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof DefinitionError) {
    return ApplicationFailure.create({
      type: FailureType.definition,
      message: err.message,
      nonRetryable: true,
    });
  }
  if (err instanceof PayloadError) {
    return ApplicationFailure.create({ type: FailureType.payload, message: err.message, nonRetryable: true });
  }
  if (err instanceof HubHttpError) {
    const transient = err.status === 408 || err.status === 429 || err.status >= 500;
    return ApplicationFailure.create({
      type: transient ? FailureType.hubHttp : FailureType.hubClient,
      message: err.message,
      nonRetryable: !transient,
      ...(transient && err.retryAfterMs !== undefined && { nextRetryDelay: err.retryAfterMs }),
    });
  }
  return err;
}

export const classifyInterceptor: ActivityInterceptorsFactory = (_ctx: Context) => {
  const inbound: ActivityInboundCallsInterceptor = {
    async execute(input, next) {
      try {
        return await next(input);
      } catch (err) {
        throw classifyActivityError(err);
      }
    },
  };
  return { inbound };
};
