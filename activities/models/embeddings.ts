/**
 * Embeddings for agent memory: OpenAI-compatible `POST /embeddings` through the `openai` SDK, at
 * the same endpoint and with the same key as the agent's brain (providers openai, local and google
 * through Gemini's OpenAI-compatible path). Anthropic has no embeddings endpoint: `embedderFor`
 * gives null there and memory falls back to keyword retrieval. Vectors come back normalised.
 */
import type OpenAI from 'openai';
import { normalize } from '../memory/store';
import { asCancelled } from './failures';
import { classifyOpenAiError } from './openai';

export interface Embedder {
  /** `provider/model at host`, for logs. */
  readonly label: string;
  /** One unit vector per text, in order. */
  embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]>;
}

export class OpenAiEmbedder implements Embedder {
  readonly label: string;

  constructor(
    private readonly client: OpenAI,
    private readonly model: string,
    private readonly o: { provider: string; timeoutMs: number; apiKey?: string },
  ) {
    let host = client.baseURL;
    try {
      host = new URL(client.baseURL).host;
    } catch {
      // keep the base URL as given
    }
    this.label = `${o.provider}/${model} at ${host}`;
  }

  async embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    let res: OpenAI.Embeddings.CreateEmbeddingResponse;
    try {
      res = await this.client.embeddings.create(
        { model: this.model, input: [...texts], encoding_format: 'float' },
        { timeout: this.o.timeoutMs, ...(signal && { signal }) },
      );
    } catch (err) {
      if (signal?.aborted) throw asCancelled(signal, err);
      throw classifyOpenAiError(err, `POST embeddings (${this.label}):`, this.o.apiKey);
    }
    const data = [...(res.data ?? [])].sort((a, b) => a.index - b.index);
    if (data.length !== texts.length || data.some((d) => !Array.isArray(d.embedding))) {
      throw new Error(
        `POST embeddings (${this.label}): expected ${texts.length} embeddings, got ${data.length}`,
      );
    }
    return data.map((d) => normalize(d.embedding));
  }
}
