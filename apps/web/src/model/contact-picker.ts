/** The browser's Contact Picker API (navigator.contacts), where it exists (Chrome on Android). */

export interface PickerContact {
  name?: string[];
  tel?: string[];
}

export interface ContactsManager {
  select(props: string[], options: { multiple: boolean }): Promise<PickerContact[]>;
}

/** The picker, or undefined when this browser offers none. */
export const contactPicker = (): ContactsManager | undefined =>
  (navigator as Navigator & { contacts?: ContactsManager }).contacts;
