/**
 * Which `ModelClient` answers a definition's brain, under the runner operator's rules: the key
 * comes from a runner variable on the allow-list (`BOTBURROW_MODEL_KEY_ENVS`), a definition's
 * `api_base` must be on the host allow-list (`BOTBURROW_MODEL_API_HOSTS`; https, plain http only on
 * loopback or on hosts listed as `http://host`), and the runner's own base URL per provider (`ANTHROPIC_BASE_URL`, `OPENAI_BASE_URL`,
 * `GEMINI_BASE_URL`) wins over the definition's. A definition carries only the NAME of a key
 * variable; keys are read on the runner and never leave this module except into the SDK clients
 * and the CLI executors' model proxy (`upstream`).
 */
import type { ApplicationFailure } from '@temporalio/common';
import type { ModelProvider } from '../../lib/pricing';
import type { ModelClient } from '../model';
import { AnthropicModelClient, createAnthropicClient } from './anthropic';
import type { Embedder } from './embeddings';
import { OpenAiEmbedder } from './embeddings';
import { nonRetryable } from './failures';
import { OpenAiModelClient, createOpenAiClient } from './openai';

export type { ModelProvider } from '../../lib/pricing';

/** A definition's brain as far as the route goes (no key: only the variable's name). */
export interface BrainRoute {
  provider: ModelProvider;
  apiBase?: string;
  apiKeyEnv?: string;
}

export interface ModelProviderSettings {
  /** Runner variables a definition may name as `api_key_env`. */
  keyEnvs: readonly string[];
  /** Hosts a definition's `api_base` may point at. */
  apiHosts: readonly string[];
  /** The runner's base URL per provider; wins over the definition's `api_base`. */
  baseUrls: Partial<Record<ModelProvider, string>>;
  timeoutMs: number;
}

/** Each provider's endpoint and key variable when the definition names none. */
export const PROVIDER_DEFAULTS: Readonly<Record<ModelProvider, { baseUrl?: string; keyEnv?: string }>> = {
  anthropic: { baseUrl: 'https://api.anthropic.com', keyEnv: 'ANTHROPIC_API_KEY' },
  openai: { baseUrl: 'https://api.openai.com/v1', keyEnv: 'OPENAI_API_KEY' },
  google: { baseUrl: 'https://generativelanguage.googleapis.com/v1beta/openai/', keyEnv: 'GEMINI_API_KEY' },
  // A local server has no public endpoint and often no key: `api_base` is required, a key optional.
  local: {},
};

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1']);

/** `[::1]` → `::1`, lower case: the form hosts are listed in. */
function bareHost(hostname: string): string {
  return hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
}

export interface ResolvedRoute {
  client: ModelClient;
  /** The endpoint called (no credentials in it). */
  baseUrl: string;
  /** The key variable used, or null (a local server without key). */
  keyEnv: string | null;
}

/**
 * The model clients of one runner, one per (provider, endpoint, key variable), made on first use.
 * `keys` holds the values of the allow-listed variables, read once on the runner at start.
 */
export class ModelProviders {
  private readonly clients = new Map<string, ResolvedRoute>();
  private readonly embedders = new Map<string, Embedder>();
  private readonly keyEnvs: Set<string>;
  private readonly hosts = new Set<string>();
  private readonly plainHttpHosts = new Set<string>(LOOPBACK);

  constructor(
    private readonly settings: ModelProviderSettings,
    private readonly keys: Readonly<Record<string, string | undefined>>,
  ) {
    this.keyEnvs = new Set(settings.keyEnvs);
    // An entry `http://host` also allows plain http to that host (an in-cluster model server).
    for (const entry of settings.apiHosts) {
      const plain = /^http:\/\//i.test(entry);
      const host = bareHost(entry.replace(/^https?:\/\//i, '').replace(/\/.*$/, ''));
      this.hosts.add(host);
      if (plain) this.plainHttpHosts.add(host);
    }
  }

  /**
   * The client for `route`.
   *
   * @throws ApplicationFailure `LlmNonRetryableError` naming the variable or host when the key
   *   variable is not allowed or not set on this runner, or `api_base` is not allowed.
   */
  resolve(route: BrainRoute): ResolvedRoute {
    const { provider } = route;
    const { baseUrl, keyEnv } = this.route(route);
    let key: string | undefined;
    if (keyEnv !== null) {
      key = this.keys[keyEnv];
      if (key === undefined || key === '') {
        throw nonRetryable(`brain.api_key_env ${keyEnv} is not set on this runner (provider ${provider})`, {
          provider,
          variable: keyEnv,
        });
      }
    }
    const cacheKey = `${provider} ${baseUrl} ${keyEnv ?? '-'}`;
    let resolved = this.clients.get(cacheKey);
    if (!resolved) {
      resolved = { client: this.create(provider, baseUrl, key), baseUrl, keyEnv };
      this.clients.set(cacheKey, resolved);
    }
    return resolved;
  }

  /**
   * The embeddings client of `route`'s endpoint and key (memory's `embedding_search`) for `model`,
   * or null when the provider has no embeddings endpoint (anthropic). Same allow-list checks and
   * failures as `resolve`.
   */
  embedder(route: BrainRoute, model: string, timeoutMs: number): Embedder | null {
    if (route.provider === 'anthropic') return null;
    const { baseUrl, keyEnv } = this.route(route);
    const key = keyEnv === null ? undefined : this.keys[keyEnv];
    if (keyEnv !== null && (key === undefined || key === '')) {
      throw nonRetryable(
        `brain.api_key_env ${keyEnv} is not set on this runner (provider ${route.provider})`,
        {
          provider: route.provider,
          variable: keyEnv,
        },
      );
    }
    const cacheKey = `${route.provider} ${baseUrl} ${keyEnv ?? '-'} ${model}`;
    let e = this.embedders.get(cacheKey);
    if (!e) {
      const client = createOpenAiClient({ apiKey: key ?? 'no-key', baseURL: baseUrl, timeoutMs });
      e = new OpenAiEmbedder(client, model, {
        provider: route.provider,
        timeoutMs,
        ...(key !== undefined && { apiKey: key }),
      });
      this.embedders.set(cacheKey, e);
    }
    return e;
  }

  /**
   * The endpoint and key of `route` for the CLI executors' model proxy, which puts the key on each
   * request it forwards (the CLI in its sandbox only ever holds a placeholder). The same checks as
   * `resolve`; `key` is undefined only for a keyless local server.
   *
   * @throws ApplicationFailure `LlmNonRetryableError`, as `resolve`.
   */
  upstream(route: BrainRoute): { baseUrl: string; key: string | undefined; keyEnv: string | null } {
    const { baseUrl, keyEnv } = this.route(route);
    if (keyEnv === null) return { baseUrl, key: undefined, keyEnv };
    const key = this.keys[keyEnv];
    if (key === undefined || key === '') {
      throw nonRetryable(
        `brain.api_key_env ${keyEnv} is not set on this runner (provider ${route.provider})`,
        {
          provider: route.provider,
          variable: keyEnv,
        },
      );
    }
    return { baseUrl, key, keyEnv };
  }

  /**
   * Why a runner with these settings refuses `route` (its key variable or `api_base` is not
   * allowed, or it has no endpoint), whatever keys it holds; undefined when allowed.
   * `botburrow agents validate` reports it before any activation does.
   */
  refusal(route: BrainRoute): string | undefined {
    try {
      this.route(route);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  }

  /** The endpoint and key variable of `route`, or a non-retryable failure saying what is refused. */
  private route(route: BrainRoute): { baseUrl: string; keyEnv: string | null } {
    const { provider } = route;
    const defaults = PROVIDER_DEFAULTS[provider];
    if (route.apiBase !== undefined) this.checkApiBase(provider, route.apiBase);
    const baseUrl = this.settings.baseUrls[provider] ?? route.apiBase ?? defaults.baseUrl;
    if (baseUrl === undefined) {
      throw nonRetryable(
        `brain.provider ${provider} needs brain.api_base (the server's OpenAI-compatible URL)`,
        {
          provider,
        },
      );
    }
    const keyEnv = route.apiKeyEnv ?? defaults.keyEnv ?? null;
    if (keyEnv !== null && !this.keyEnvs.has(keyEnv)) {
      throw nonRetryable(
        `brain.api_key_env ${keyEnv} is not a model key variable this runner allows (allowed: ${[...this.keyEnvs].join(', ') || 'none'}; setting BOTBURROW_MODEL_KEY_ENVS)`,
        { provider, variable: keyEnv },
      );
    }
    return { baseUrl, keyEnv };
  }

  private checkApiBase(provider: ModelProvider, apiBase: string): void {
    const refuse = (why: string): ApplicationFailure =>
      nonRetryable(
        `brain.api_base ${apiBase}: ${why} (provider ${provider}; setting BOTBURROW_MODEL_API_HOSTS)`,
        {
          provider,
          apiBase,
        },
      );
    let url: URL;
    try {
      url = new URL(apiBase);
    } catch {
      throw refuse('not a URL');
    }
    const host = bareHost(url.hostname);
    if (url.username !== '' || url.password !== '') throw refuse('credentials in the URL are not allowed');
    if (!this.hosts.has(host)) throw refuse(`host ${host} is not on this runner's allow-list`);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && this.plainHttpHosts.has(host))) {
      throw refuse('only https is allowed (plain http on loopback, or on a host listed as http://host)');
    }
  }

  private create(provider: ModelProvider, baseUrl: string, key: string | undefined): ModelClient {
    const timeoutMs = this.settings.timeoutMs;
    if (provider === 'anthropic') {
      return new AnthropicModelClient(createAnthropicClient({ apiKey: key, baseURL: baseUrl, timeoutMs }));
    }
    // A keyless local server still gets a placeholder: the SDK refuses to build a client without one.
    const apiKey = key ?? 'no-key';
    return new OpenAiModelClient(createOpenAiClient({ apiKey, baseURL: baseUrl, timeoutMs }), {
      provider,
      // OpenAI's own API refuses max_tokens for newer models; compatible servers know max_tokens.
      maxTokensField: provider === 'openai' ? 'max_completion_tokens' : 'max_tokens',
      ...(key !== undefined && { apiKey: key }),
    });
  }
}
