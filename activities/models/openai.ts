/**
 * OpenAI-compatible Chat Completions behind `ModelClient`, on the official `openai` SDK: used for
 * `brain.provider: openai` (api.openai.com), `local` (vLLM, Ollama, llama.cpp, LiteLLM… at the
 * definition's `api_base`) and `google` (Gemini's OpenAI-compatible endpoint). One non-streaming
 * call per turn; conversion in openai-format.ts.
 *
 * As for Anthropic, the SDK's retries are off and its errors become the stable failure types. The
 * SDK reads nothing from the environment here (key, base URL, organisation and project are
 * passed), and no error text leaves with the key in it.
 */
import OpenAI from 'openai';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../lib/errors';
import type { ModelClient, ModelRequest, ModelResponse } from '../model';
import { asCancelled, httpFailure, malformed } from './failures';
import type { MaxTokensField } from './openai-format';
import { parseCompletion, toChatParams } from './openai-format';

/** A Chat Completions client for activities: no SDK retries, nothing taken from the environment. */
export function createOpenAiClient(o: { apiKey: string; baseURL: string; timeoutMs: number }): OpenAI {
  return new OpenAI({
    apiKey: o.apiKey,
    adminAPIKey: null,
    baseURL: o.baseURL,
    organization: null,
    project: null,
    webhookSecret: null,
    timeout: o.timeoutMs,
    maxRetries: 0,
    logLevel: 'off',
  });
}

/** Replaces the key, and anything shaped like a provider key, in text that may reach history. */
export function redactKey(text: string, key: string | undefined): string {
  let out = key !== undefined && key.length >= 4 ? text.split(key).join('[redacted]') : text;
  out = out.replace(/\b(sk-[\w*-]{8,}|AIza[\w*-]{8,})/g, '[redacted]');
  return out;
}

/**
 * Maps an error from the `openai` SDK to an `ApplicationFailure` with the same types and statuses
 * as the Anthropic client (429/5xx/408/409 and connection errors retryable with `retry-after`,
 * other 4xx not; a body that is not JSON is `LlmMalformedResponseError`). `label` names the
 * provider and host; the SDK error is not kept as the cause, since its text may quote the key.
 */
export function classifyOpenAiError(err: unknown, label: string, key?: string): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof OpenAI.APIError && typeof err.status === 'number') {
    return httpFailure({
      status: err.status,
      message: redactKey(`${label} ${err.message}`, key),
      headers: err.headers as Headers | undefined,
      requestId: err.requestID ?? null,
      errorType: err.type ?? err.code ?? null,
    });
  }
  if (err instanceof OpenAI.APIError) {
    return ApplicationFailure.create({
      type: FailureType.llmRetryable,
      message: redactKey(`${label} unreachable: ${err.message}`, key),
      nonRetryable: false,
      details: [{ status: null, requestId: null, errorType: err.name, retryAfterMs: null }],
    });
  }
  if (err instanceof SyntaxError) {
    return malformed(label, '', `response body is not valid JSON: ${err.message}`);
  }
  if (err instanceof OpenAI.OpenAIError) {
    return ApplicationFailure.create({
      type: FailureType.llmNonRetryable,
      message: redactKey(`${label} client: ${err.message}`, key),
      nonRetryable: true,
    });
  }
  const e = err instanceof Error ? err : new Error(String(err));
  return ApplicationFailure.create({
    type: FailureType.llmRetryable,
    message: redactKey(`${label} call failed: ${e.message}`, key),
    nonRetryable: false,
  });
}

/** `ModelClient` over Chat Completions. */
export class OpenAiModelClient implements ModelClient {
  readonly protocol = 'openai-chat';
  private readonly label: string;

  constructor(
    private readonly client: OpenAI,
    private readonly o: {
      /** The brain's provider, for messages: openai, google or local. */
      provider: string;
      maxTokensField: MaxTokensField;
      /** Only to redact it from error text; the client holds the key itself. */
      apiKey?: string;
    },
  ) {
    let host = client.baseURL;
    try {
      host = new URL(client.baseURL).host;
    } catch {
      // keep the base URL as given
    }
    this.label = `POST chat/completions (${o.provider} at ${host}):`;
  }

  async call(req: ModelRequest, signal?: AbortSignal): Promise<ModelResponse> {
    let raw: unknown;
    try {
      raw = await this.client.chat.completions.create(
        toChatParams(req, this.o.maxTokensField),
        signal ? { signal } : undefined,
      );
    } catch (err) {
      if (signal?.aborted) throw asCancelled(signal, err);
      throw classifyOpenAiError(err, this.label, this.o.apiKey);
    }
    return parseCompletion(raw, this.label.replace(/:$/, ''), req.model);
  }
}
