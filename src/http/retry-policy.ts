/**
 * curl's `--retry` rules, for `netkit http`: which failed attempts are tried again and after how
 * long. A pure state machine (the CLI does the waiting), written from curl 7.88's
 * `tool_operate.c` and checked against the curl binary:
 *
 * - always retried ("transient"): a timeout (connect, response, body, `--max-time`), a host name
 *   that did not resolve, and a response with status 408, 429, 500, 502, 503 or 504 — whatever the
 *   method: curl retries a POST that got a 503 too;
 * - a refused connection only with `--retry-connrefused`;
 * - any other failure (a reset connection, a body cut short, an HTTP error turned into a failure by
 *   `--fail`) only with `--retry-all-errors`. A 4xx without `--fail` is a success, never retried;
 * - the wait starts at 1 s and doubles after each retry up to 10 minutes, unless `--retry-delay`
 *   fixes it; a `Retry-After` on a retried status replaces the wait for that retry (`0` and past
 *   dates count as absent, as in curl);
 * - with `--retry-max-time`, no retry starts once that long has passed since the first attempt,
 *   nor one whose `Retry-After` would end past it.
 */

export interface RetryOptions {
  /** retries after the first attempt (curl --retry N); 0 = none */
  retries: number;
  /** fixed wait between attempts (--retry-delay); 0 or undefined = exponential back-off */
  delayMs?: number;
  /** no retry once this long has passed since the first attempt (--retry-max-time); 0 = no limit */
  maxTimeMs?: number;
  /** retry a refused connection too (--retry-connrefused) */
  connRefused?: boolean;
  /** retry every failure (--retry-all-errors) */
  allErrors?: boolean;
}

/** Statuses retried as transient (curl's list). */
export const RETRY_STATUSES: readonly number[] = [408, 429, 500, 502, 503, 504];
/** The first back-off wait (curl's RETRY_SLEEP_DEFAULT). */
export const RETRY_SLEEP_DEFAULT_MS = 1000;
/** The longest back-off wait (curl's RETRY_SLEEP_MAX). */
export const RETRY_SLEEP_MAX_MS = 10 * 60 * 1000;

/** How one attempt ended. */
export type AttemptOutcome =
  | {
      kind: 'response';
      status: number;
      /** `--fail` turned this status into a failure */
      failed?: boolean;
      /** the response's Retry-After, in ms (0 or absent: none) */
      retryAfterMs?: number;
    }
  | { kind: 'error'; error: 'timeout' | 'resolve' | 'refused' | 'other' };

export interface RetryState {
  /** retries left */
  left: number;
  /** the next back-off wait */
  sleepMs: number;
  /** when the first attempt started (ms, any clock) */
  startedAt: number;
}

export type RetryReason = 'timeout' | 'connection refused' | 'HTTP error' | 'error';

export type RetryDecision =
  | { retry: true; delayMs: number; reason: RetryReason; state: RetryState }
  | {
      retry: false;
      /** why a retry that was otherwise due was not made (for a warning), if it was due */
      note?: string;
    };

/** The state before the first attempt, `now` being the time it starts (ms). */
export function initialRetryState(options: RetryOptions, now: number): RetryState {
  return {
    left: Math.max(0, options.retries),
    sleepMs: options.delayMs && options.delayMs > 0 ? options.delayMs : RETRY_SLEEP_DEFAULT_MS,
    startedAt: now,
  };
}

/** Whether the outcome is a failure at all (a response is one only when --fail made it so). */
function isFailure(outcome: AttemptOutcome): boolean {
  return outcome.kind === 'error' || outcome.failed === true;
}

/** Whether to retry after `outcome`, how long to wait first, and the state after. */
export function decideRetry(
  options: RetryOptions,
  state: RetryState,
  outcome: AttemptOutcome,
  now: number,
): RetryDecision {
  if (state.left <= 0) return { retry: false };
  const elapsed = now - state.startedAt;
  if (options.maxTimeMs && elapsed >= options.maxTimeMs) return { retry: false };
  let reason: RetryReason | undefined;
  if (outcome.kind === 'error') {
    if (outcome.error === 'timeout' || outcome.error === 'resolve') reason = 'timeout';
    else if (outcome.error === 'refused' && options.connRefused) reason = 'connection refused';
  } else if (RETRY_STATUSES.includes(outcome.status)) reason = 'HTTP error';
  if (reason === undefined && options.allErrors && isFailure(outcome)) reason = 'error';
  if (reason === undefined) return { retry: false };

  let delayMs = state.sleepMs;
  if (reason === 'HTTP error' && outcome.kind === 'response' && outcome.retryAfterMs) {
    delayMs = outcome.retryAfterMs;
    if (options.maxTimeMs && elapsed + outcome.retryAfterMs > options.maxTimeMs)
      return {
        retry: false,
        note: 'the Retry-After time would go past --retry-max-time: not retrying',
      };
  }
  const fixed = options.delayMs !== undefined && options.delayMs > 0;
  return {
    retry: true,
    delayMs,
    reason,
    state: {
      left: state.left - 1,
      sleepMs: fixed ? state.sleepMs : Math.min(state.sleepMs * 2, RETRY_SLEEP_MAX_MS),
      startedAt: state.startedAt,
    },
  };
}

/** How a failure is classed for {@link decideRetry}, from a NetkitError's code and cause. */
export function classifyError(err: unknown): 'timeout' | 'resolve' | 'refused' | 'other' {
  const code = (err as { code?: string })?.code;
  const causeCode = ((err as { cause?: { code?: string } })?.cause as { code?: string } | undefined)?.code;
  if (code === 'NETKIT_TIMEOUT') return 'timeout';
  if (causeCode === 'ENOTFOUND' || causeCode === 'EAI_AGAIN') return 'resolve';
  if (causeCode === 'ECONNREFUSED') return 'refused';
  return 'other';
}
