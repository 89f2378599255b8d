/**
 * How long to wait, as a person says it: "45 seconds", "about 20 minutes", "about 3 hours",
 * "about 2 days". Rate limits answer in milliseconds (`retryAfterMs`); the web app and the CLI
 * both show them through this, never as raw seconds.
 */

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export function formatWait(ms: number): string {
  if (!Number.isFinite(ms) || ms <= SECOND) return '1 second';
  if (ms < MINUTE) return plural(Math.ceil(ms / SECOND), 'second');
  // Rounded, not truncated: 1193 s is "about 20 minutes"; below 90 minutes, minutes still help.
  if (ms < 90 * MINUTE) return `about ${plural(Math.round(ms / MINUTE), 'minute')}`;
  if (ms < 36 * HOUR) return `about ${plural(Math.round(ms / HOUR), 'hour')}`;
  return `about ${plural(Math.round(ms / DAY), 'day')}`;
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}
