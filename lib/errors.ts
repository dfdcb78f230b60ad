/**
 * The project's error classes. Each `name` is fixed and doubles as the `ApplicationFailure` type,
 * so workflow retry policies can list them as non-retryable by name.
 */

/** A payload from the Hub, the model or a tool did not have the expected shape. */
export class PayloadError extends Error {
  override readonly name = 'PayloadError';
  constructor(
    /** Where the payload came from, e.g. `GET /api/v1/notifications`. */
    readonly source: string,
    /** The field path, e.g. `notifications[2].from_agent.id`. */
    readonly field: string,
    /** What rule it broke. */
    readonly rule: string,
  ) {
    super(`${source}: ${field || '(body)'}: ${rule}`);
  }
}

/** The Hub answered with an HTTP error. `retryable` follows hub-api.md (5xx, 429). */
export class HubHttpError extends Error {
  override readonly name = 'HubHttpError';
  constructor(
    readonly endpoint: string,
    readonly status: number,
    readonly body: string,
    readonly retryAfterMs?: number,
  ) {
    super(`${endpoint}: HTTP ${status}${body ? `: ${body.slice(0, 300)}` : ''}`);
  }
  get retryable(): boolean {
    return this.status === 429 || this.status >= 500;
  }
}

/** The Hub could not be reached (connect error, timeout) after the client's retries. */
export class HubUnavailableError extends Error {
  override readonly name = 'HubUnavailableError';
}

/** The Hub answered 404 to the long poll: it has none, so the caller falls back to listing. */
export class LongPollUnsupportedError extends Error {
  override readonly name = 'LongPollUnsupportedError';
}

/**
 * An agent definition is invalid: file, field path and rule. When a file breaks several rules,
 * `more` holds the others and the message has one `file: field: rule` line per problem.
 */
export class DefinitionError extends Error {
  override readonly name = 'DefinitionError';
  constructor(
    readonly file: string,
    readonly field: string,
    readonly rule: string,
    readonly more: readonly { field: string; rule: string }[] = [],
  ) {
    const line = (f: string, r: string): string => `${file}: ${f ? `${f}: ` : ''}${r}`;
    super([line(field, rule), ...more.map((m) => line(m.field, m.rule))].join('\n'));
  }
}

/** An agent's `type` is valid in the schema but this runner cannot run it (yet). */
export class UnsupportedAgentTypeError extends Error {
  override readonly name = 'UnsupportedAgentTypeError';
  constructor(
    readonly agentId: string,
    readonly agentType: string,
    supported: readonly string[],
  ) {
    super(
      `agent type '${agentType}' is recognised but no runner executes it (supported: ${supported.join(', ')})`,
    );
  }
}

/** Valkey did not answer; guards fail closed with this (retryable). */
export class GuardUnavailableError extends Error {
  override readonly name = 'GuardUnavailableError';
}

/** The model provider refused or failed; `type` is the stable ApplicationFailure type. */
export class LlmError extends Error {
  override readonly name = 'LlmError';
}

/** ApplicationFailure types used across workflow and activities. */
export const FailureType = {
  llmRetryable: 'LlmRetryableError',
  llmNonRetryable: 'LlmNonRetryableError',
  llmMalformed: 'LlmMalformedResponseError',
  definition: 'DefinitionError',
  payload: 'PayloadError',
  hubHttp: 'HubHttpError',
  hubClient: 'HubClientError',
  guardUnavailable: 'GuardUnavailableError',
  unsupportedAgentType: 'UnsupportedAgentTypeError',
  sessionLost: 'SessionLostError',
  /** The runner lacks what the agent's executor needs (its CLI): no retry or breaker trip helps. */
  executorUnavailable: 'ExecutorUnavailableError',
  /** A coding CLI ended its run with an error. */
  cliFailed: 'CliExecutorError',
} as const;
