/** The disappearing-messages setting of a chat: a labelled choice every member sees change. */

import { timerText } from '../model/sdk.js';

/** The timers offered (seconds; 0 is off). Any timer another member set is shown as well. */
export const TIMERS = [0, 30, 300, 3600, 86_400, 604_800] as const;

export function TimerChoice(props: { seconds: number; onChange: (seconds: number) => void }) {
  const { seconds } = props;
  const offered: number[] = TIMERS.includes(seconds as (typeof TIMERS)[number])
    ? [...TIMERS]
    : [...TIMERS, seconds].sort((a, b) => a - b);
  return (
    <div className="timer-choice">
      <label htmlFor="timer-choice">Disappearing messages</label>
      <select
        id="timer-choice"
        value={seconds}
        onChange={(e) => props.onChange(Number(e.target.value))}
      >
        {offered.map((s) => (
          <option key={s} value={s}>
            {s === 0 ? 'Off' : timerText(s)}
          </option>
        ))}
      </select>
    </div>
  );
}
