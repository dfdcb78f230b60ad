/** Output hygiene for everything a tool returns: size caps and credential scrubbing. */
import type { ToolResult } from './types';

/** Default cap on what one tool call returns to the model (and so to workflow history). */
export const DEFAULT_MAX_OUTPUT_BYTES = 100 * 1024;

/**
 * Cuts `text` to at most `maxBytes` UTF-8 bytes (on a character boundary) and says so, so the model
 * knows it did not see everything.
 */
export function capOutput(text: string, maxBytes: number = DEFAULT_MAX_OUTPUT_BYTES): string {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes <= maxBytes) return text;
  // Leave room for the note so the result stays within maxBytes (capping twice changes nothing).
  let cut = Buffer.from(text, 'utf8')
    .subarray(0, Math.max(0, maxBytes - 80))
    .toString('utf8');
  // A multi-byte character split at the boundary decodes to U+FFFD; drop it.
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  return `${cut}\n[output truncated: showing ${Buffer.byteLength(cut, 'utf8')} of ${bytes} bytes]`;
}

/** Secrets shorter than this are not scrubbed: replacing "1" everywhere would wreck output. */
const MIN_SECRET_LENGTH = 6;

/**
 * Replaces every occurrence of a secret value with `[redacted]`. Applied to tool specs, results
 * and errors before they leave the runner, because servers may echo their environment.
 */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) {
    if (s.length < MIN_SECRET_LENGTH) continue;
    out = out.split(s).join('[redacted]');
  }
  return out;
}

/** A failed tool call, phrased for the model. */
export function toolError(message: string): ToolResult {
  return { content: message, isError: true };
}

/** The message of anything thrown. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : JSON.stringify(err);
}
