/**
 * Disappearing-message timers (the `timer` envelope, and `expiresIn` on what is sent under one):
 * a whole number of seconds, 0 meaning off, at most four weeks.
 */

/** The longest disappearing-message timer: four weeks, in seconds. */
export const DISAPPEARING_MAX_SECONDS = 28 * 24 * 60 * 60;

/** Whether `seconds` is a timer a conversation can have (0: off). */
export const isTimer = (seconds: unknown): seconds is number =>
  Number.isSafeInteger(seconds) &&
  (seconds as number) >= 0 &&
  (seconds as number) <= DISAPPEARING_MAX_SECONDS;

/** `{ expiresIn }` for a message carrying a timer that is on and valid, else `{}`. */
export const expiresInField = (value: unknown): { expiresIn?: number } =>
  isTimer(value) && value > 0 ? { expiresIn: value } : {};
