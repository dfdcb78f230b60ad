/**
 * An agent's memory items in Valkey (keys in lib/keys.ts, `memory:<agent>:…`). Every operation is
 * one server-side script, so a store or a retrieval costs one or two Valkey commands whatever the
 * number of items:
 *
 * - `save` adds items (skipping ids already there, so a retried step never duplicates), indexes
 *   their words and evicts oldest-first until the agent is back under its byte bound;
 * - `recent` and `keyword` rank on the server (keyword over per-word zsets whose scores carry the
 *   item's sequence number and word count);
 * - embedding search ranks on the runner: the agent's vectors are mirrored in a per-runner cache
 *   that one `sync` call brings up to date (items only ever join at the newest end and leave from
 *   the oldest, so a sequence range says what changed), then the winners' texts are read.
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../../lib/keys';
import type { MemoryItem, RetrievedMemory } from '../../lib/memory';
import { MAX_TERMS, memoryTerms } from '../../lib/memory';

/** An item to store, with its words and (when the provider has embeddings) its unit vector. */
export interface NewMemory {
  item: MemoryItem;
  vector?: Float32Array;
}

export interface SaveResult {
  added: number;
  evicted: number;
  /** The agent's items and bytes after the save. */
  count: number;
  bytes: number;
}

const SAVE = `
local meta, order, items, terms, vectors = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local prefix, maxBytes, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local added, evicted = 0, 0
for i = 0, n - 1 do
  local id, json, words, count, vec = ARGV[4 + i * 5], ARGV[5 + i * 5], ARGV[6 + i * 5], tonumber(ARGV[7 + i * 5]), ARGV[8 + i * 5]
  if redis.call('HEXISTS', items, id) == 0 then
    local seq = redis.call('HINCRBY', meta, 'seq', 1)
    redis.call('ZADD', order, seq, id)
    redis.call('HSET', items, id, json)
    redis.call('HSET', terms, id, words)
    if vec ~= '' then redis.call('HSET', vectors, id, vec) end
    for w in string.gmatch(words, '%S+') do redis.call('ZADD', prefix .. w, seq * 1000 + count, id) end
    redis.call('HINCRBY', meta, 'bytes', #id * (3 + count) + #json + #words + #vec)
    added = added + 1
  end
end
local bytes = tonumber(redis.call('HGET', meta, 'bytes') or '0')
while bytes > maxBytes do
  local oldest = redis.call('ZRANGE', order, 0, 0)[1]
  if not oldest then break end
  local words = redis.call('HGET', terms, oldest) or ''
  local count = 0
  for w in string.gmatch(words, '%S+') do redis.call('ZREM', prefix .. w, oldest); count = count + 1 end
  local size = #oldest * (3 + count) + redis.call('HSTRLEN', items, oldest) + #words + redis.call('HSTRLEN', vectors, oldest)
  redis.call('HDEL', items, oldest)
  redis.call('HDEL', terms, oldest)
  redis.call('HDEL', vectors, oldest)
  redis.call('ZREM', order, oldest)
  bytes = redis.call('HINCRBY', meta, 'bytes', -size)
  evicted = evicted + 1
end
return {added, evicted, redis.call('ZCARD', order), bytes}
`;

const RECENT = `
local ids = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #ids == 0 then return {} end
local vals = redis.call('HMGET', KEYS[2], unpack(ids))
local out = {}
for i, id in ipairs(ids) do out[#out + 1] = id; out[#out + 1] = vals[i] end
return out
`;

const KEYWORD = `
local prefix, k, threshold, cap, qn = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local hits, info = {}, {}
for i = 1, qn do
  local list = redis.call('ZREVRANGE', prefix .. ARGV[5 + i], 0, cap - 1, 'WITHSCORES')
  for j = 1, #list, 2 do
    local id = list[j]
    hits[id] = (hits[id] or 0) + 1
    info[id] = tonumber(list[j + 1])
  end
end
local ranked = {}
for id, h in pairs(hits) do
  local s = info[id]
  local words = s % 1000
  local smaller = math.min(qn, words)
  local score = 0
  if smaller > 0 then score = h / smaller end
  if score >= threshold then ranked[#ranked + 1] = {id, score, h, (s - words) / 1000} end
end
table.sort(ranked, function(a, b)
  if a[2] ~= b[2] then return a[2] > b[2] end
  if a[3] ~= b[3] then return a[3] > b[3] end
  return a[4] > b[4]
end)
local out = {}
local ids = {}
for i = 1, math.min(k, #ranked) do ids[i] = ranked[i][1] end
if #ids == 0 then return {} end
local vals = redis.call('HMGET', KEYS[1], unpack(ids))
for i = 1, #ids do
  out[#out + 1] = ids[i]; out[#out + 1] = string.format('%.6f', ranked[i][2]); out[#out + 1] = vals[i]
end
return out
`;

const SYNC = `
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local last = redis.call('ZREVRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local out = {first[2] or '0', last[2] or '0'}
local new = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
if #new == 0 then return out end
local ids = {}
for j = 1, #new, 2 do ids[#ids + 1] = new[j] end
local vecs = redis.call('HMGET', KEYS[2], unpack(ids))
for i, id in ipairs(ids) do
  out[#out + 1] = id; out[#out + 1] = new[i * 2]; out[#out + 1] = vecs[i] or ''
end
return out
`;

/**
 * Keyword retrieval reads at most this many of each word's newest items: a word found in thousands
 * of items says little about relevance, and the script's cost stays bounded however large a
 * memory grows.
 */
export const KEYWORD_SCAN = 2_000;

type ScriptCall = (numKeys: number, ...rest: (string | number)[]) => Promise<unknown>;

function script(redis: Redis, name: string, lua: string): ScriptCall {
  const commands = redis as unknown as Record<string, ScriptCall | undefined>;
  if (typeof commands[name] !== 'function') redis.defineCommand(name, { lua });
  const command = commands[name] as ScriptCall;
  return (numKeys, ...rest) => command.call(redis, numKeys, ...rest);
}

export function encodeVector(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}

export function decodeVector(s: string): Float32Array {
  const b = Buffer.from(s, 'base64');
  // A copy into an aligned buffer of its own (Buffer.from may share a pool at any offset).
  const bytes = new Uint8Array(b.byteLength - (b.byteLength % 4));
  bytes.set(b.subarray(0, bytes.byteLength));
  return new Float32Array(bytes.buffer);
}

/** `v` scaled to length 1 (cosine similarity is then a dot product); all zeros stays zero. */
export function normalize(v: ArrayLike<number>): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  const norm = Math.sqrt(sum);
  const out = new Float32Array(v.length);
  if (norm > 0) for (let i = 0; i < v.length; i++) out[i] = v[i]! / norm;
  return out;
}

/**
 * The dot product of two vectors of the same length, with four running sums: independent
 * additions pipeline, where one sum waits for each previous add (about twice as fast in V8 at
 * 1536 dimensions, bench/memory.ts).
 */
export function dotProduct(a: Float32Array, b: Float32Array): number {
  const n = a.length;
  const end = n - (n % 4);
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let i = 0; i < end; i += 4) {
    s0 += a[i]! * b[i]!;
    s1 += a[i + 1]! * b[i + 1]!;
    s2 += a[i + 2]! * b[i + 2]!;
    s3 += a[i + 3]! * b[i + 3]!;
  }
  for (let i = end; i < n; i++) s0 += a[i]! * b[i]!;
  return s0 + s1 + s2 + s3;
}

interface AgentVectors {
  /** Highest sequence number mirrored so far. */
  maxSeq: number;
  /** Mirrored items in sequence order (oldest first), as parallel arrays for a tight ranking loop. */
  ids: string[];
  seqs: number[];
  vecs: Float32Array[];
  bytes: number;
}

export interface MemoryStoreOptions {
  /** Bytes of mirrored vectors a runner keeps across agents; least recently used agents go first. */
  vectorCacheBytes?: number;
  /** Vectors fetched per sync call while a mirror catches up. */
  syncBatch?: number;
}

export class MemoryStore {
  private readonly save_: ScriptCall;
  private readonly recent_: ScriptCall;
  private readonly keyword_: ScriptCall;
  private readonly sync_: ScriptCall;
  /** Insertion order doubles as recency of use (re-inserted on every search). */
  private readonly mirrors = new Map<string, AgentVectors>();
  private readonly cacheBytes: number;
  private readonly syncBatch: number;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    o: MemoryStoreOptions = {},
  ) {
    this.save_ = script(redis, 'botburrowMemorySave', SAVE);
    this.recent_ = script(redis, 'botburrowMemoryRecent', RECENT);
    this.keyword_ = script(redis, 'botburrowMemoryKeyword', KEYWORD);
    this.sync_ = script(redis, 'botburrowMemorySync', SYNC);
    this.cacheBytes = o.vectorCacheBytes ?? 256 * 1024 * 1024;
    this.syncBatch = o.syncBatch ?? 2_000;
  }

  /** Adds `items` (ids already stored are skipped) and evicts oldest-first down to `maxBytes`. */
  async save(agentId: string, items: readonly NewMemory[], maxBytes: number): Promise<SaveResult> {
    const k = (p: Parameters<Keys['memory']>[1]): string => this.keys.memory(agentId, p);
    const args: (string | number)[] = [this.keys.memoryTermPrefix(agentId), maxBytes, items.length];
    for (const { item, vector } of items) {
      const words = memoryTerms(item.text, MAX_TERMS);
      args.push(
        item.id,
        JSON.stringify(item),
        words.join(' '),
        words.length,
        vector ? encodeVector(vector) : '',
      );
    }
    const r = (await this.save_(
      5,
      k('meta'),
      k('order'),
      k('items'),
      k('terms'),
      k('vectors'),
      ...args,
    )) as number[];
    return { added: r[0]!, evicted: r[1]!, count: r[2]!, bytes: r[3]! };
  }

  /** The `limit` newest items, newest first. */
  async recent(agentId: string, limit: number): Promise<RetrievedMemory[]> {
    const r = (await this.recent_(
      2,
      this.keys.memory(agentId, 'order'),
      this.keys.memory(agentId, 'items'),
      limit,
    )) as (string | null)[];
    const out: RetrievedMemory[] = [];
    for (let i = 0; i < r.length; i += 2) {
      if (r[i + 1]) out.push({ ...(JSON.parse(r[i + 1]!) as MemoryItem), score: null });
    }
    return out;
  }

  /**
   * Items sharing words with `query`, by overlap (≥ `threshold`), then shared words, then newest;
   * each word is looked up among its KEYWORD_SCAN newest items.
   */
  async keyword(
    agentId: string,
    query: string,
    limit: number,
    threshold: number,
  ): Promise<RetrievedMemory[]> {
    const words = memoryTerms(query, 64);
    if (words.length === 0) return [];
    const r = (await this.keyword_(
      1,
      this.keys.memory(agentId, 'items'),
      this.keys.memoryTermPrefix(agentId),
      limit,
      threshold,
      KEYWORD_SCAN,
      words.length,
      ...words,
    )) as (string | null)[];
    const out: RetrievedMemory[] = [];
    for (let i = 0; i < r.length; i += 3) {
      if (r[i + 2]) out.push({ ...(JSON.parse(r[i + 2]!) as MemoryItem), score: Number(r[i + 1]) });
    }
    return out;
  }

  /**
   * Items whose vectors are nearest `query` (a unit vector) by cosine, ≥ `threshold`, best first
   * (ties: newest first). Items without a vector of the same dimension are not ranked.
   */
  async nearest(
    agentId: string,
    query: Float32Array,
    limit: number,
    threshold: number,
  ): Promise<RetrievedMemory[]> {
    const mirror = await this.syncVectors(agentId);
    const ranked: { id: string; seq: number; score: number }[] = [];
    const dim = query.length;
    const { ids, seqs, vecs } = mirror;
    for (let n = 0; n < vecs.length; n++) {
      const vec = vecs[n]!;
      if (vec.length !== dim) continue;
      const dot = dotProduct(vec, query);
      if (dot >= threshold) ranked.push({ id: ids[n]!, seq: seqs[n]!, score: dot });
    }
    ranked.sort((a, b) => b.score - a.score || b.seq - a.seq);
    const top = ranked.slice(0, limit);
    if (top.length === 0) return [];
    const raw = await this.redis.hmget(this.keys.memory(agentId, 'items'), ...top.map((t) => t.id));
    const out: RetrievedMemory[] = [];
    top.forEach((t, i) => {
      const json = raw[i];
      // Evicted since the sync: skipped.
      if (json) out.push({ ...(JSON.parse(json) as MemoryItem), score: Math.min(1, t.score) });
    });
    return out;
  }

  /** The number of items and bytes the agent has (for tests, the CLI and benchmarks). */
  async stats(agentId: string): Promise<{ count: number; bytes: number }> {
    const [count, bytes] = await Promise.all([
      this.redis.zcard(this.keys.memory(agentId, 'order')),
      this.redis.hget(this.keys.memory(agentId, 'meta'), 'bytes'),
    ]);
    return { count, bytes: Number(bytes ?? 0) };
  }

  /** Every item id, oldest first. */
  async ids(agentId: string): Promise<string[]> {
    return this.redis.zrange(this.keys.memory(agentId, 'order'), 0, -1);
  }

  /** Brings the runner's mirror of the agent's vectors up to date (one call when it is warm). */
  private async syncVectors(agentId: string): Promise<AgentVectors> {
    let mirror = this.mirrors.get(agentId);
    this.mirrors.delete(agentId);
    mirror ??= { maxSeq: 0, ids: [], seqs: [], vecs: [], bytes: 0 };
    this.mirrors.set(agentId, mirror);
    const reset = (m: AgentVectors): void => {
      m.ids = [];
      m.seqs = [];
      m.vecs = [];
      m.bytes = 0;
      m.maxSeq = 0;
    };
    for (;;) {
      const r = (await this.sync_(
        2,
        this.keys.memory(agentId, 'order'),
        this.keys.memory(agentId, 'vectors'),
        mirror.maxSeq,
        this.syncBatch,
      )) as string[];
      const minSeq = Number(r[0]);
      const maxSeq = Number(r[1]);
      if (maxSeq < mirror.maxSeq) {
        // The memory was cleared and started again: mirror it afresh.
        reset(mirror);
        continue;
      }
      // Evicted items are the oldest: drop them from the front.
      let gone = 0;
      while (gone < mirror.seqs.length && mirror.seqs[gone]! < minSeq) {
        mirror.bytes -= mirror.vecs[gone]!.byteLength;
        gone++;
      }
      if (gone > 0) {
        mirror.ids.splice(0, gone);
        mirror.seqs.splice(0, gone);
        mirror.vecs.splice(0, gone);
      }
      const fetched = (r.length - 2) / 3;
      for (let i = 2; i < r.length; i += 3) {
        const seq = Number(r[i + 1]);
        mirror.maxSeq = Math.max(mirror.maxSeq, seq);
        if (r[i + 2] === '') continue;
        const vec = decodeVector(r[i + 2]!);
        mirror.ids.push(r[i]!);
        mirror.seqs.push(seq);
        mirror.vecs.push(vec);
        mirror.bytes += vec.byteLength;
      }
      if (fetched < this.syncBatch) break;
    }
    this.trimMirrors();
    return mirror;
  }

  private trimMirrors(): void {
    let total = 0;
    for (const m of this.mirrors.values()) total += m.bytes;
    for (const [agent, m] of this.mirrors) {
      if (total <= this.cacheBytes || this.mirrors.size <= 1) break;
      this.mirrors.delete(agent);
      total -= m.bytes;
    }
  }
}
