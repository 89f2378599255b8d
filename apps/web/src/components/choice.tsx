/** One answer of a radio-button question, its whole label clickable. */

import type { ReactNode } from 'react';

export function Choice(props: {
  name: string;
  checked: boolean;
  onChoose: () => void;
  children: ReactNode;
}) {
  return (
    <label className="choice">
      <input type="radio" name={props.name} checked={props.checked} onChange={props.onChoose} />
      {props.children}
    </label>
  );
}
