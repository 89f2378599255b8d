/**
 * Linking a device from the terminal (docs/design.md, "Linking"). On the new device
 * `parley link` asks to join an account and shows a QR code and a typed code; on a device of the
 * account `parley devices approve CODE` shows what asks to be linked and, once the person agrees,
 * hands it the account's identity and adds it to every conversation. The server only relays.
 */

import type { ParleyClient } from '@parley/client';
import { ParleyError } from '@parley/core';
import { UsageError } from '../usage.js';
import { counted, textQr } from './output.js';
import { confirm } from './prompt.js';

export interface LinkArgs {
  client: Pick<ParleyClient, 'registered' | 'account' | 'getAccount' | 'startLink'>;
  values: { name?: string; json?: boolean };
  out: (text: string) => void;
  /** Progress and instructions; stderr in the CLI. */
  note: (text: string) => void;
  /** Aborts the wait (Ctrl-C in the CLI). */
  signal: AbortSignal;
  /** Whether to draw the QR code (stdout is a terminal). */
  drawQr: boolean;
}

/**
 * `parley link`: refuses on a device that is signed in (linking would replace its account here);
 * a device whose credential the server no longer takes (signed out) may be linked again.
 */
export async function linkCommand(args: LinkArgs): Promise<number> {
  const { client, values, out, note, signal } = args;
  if (client.registered) {
    const signedIn = await client.getAccount().then(
      () => true,
      (error: unknown) => {
        if (error instanceof ParleyError && error.code === 'UNAUTHENTICATED') return false;
        throw error;
      },
    );
    if (signedIn) {
      throw new UsageError(
        `this device is signed in to account ${client.account!.accountId}; linking it would replace that here. Sign it out first (parley devices remove ${client.account!.deviceId}) or link another state directory (--state DIR).`,
      );
    }
  }
  const name = values.name ?? 'terminal';
  const link = await client.startLink({ deviceName: name });
  if (values.json) {
    out(JSON.stringify({ code: link.code, qr: link.qr, expiresAt: link.expiresAt }));
  } else {
    note(
      'On a device already signed in to your account, scan this QR code, or type the code there: parley devices approve CODE',
    );
    if (args.drawQr) out(textQr(link.qr));
    out(`QR text: ${link.qr}`);
    out(`Code: ${link.code}`);
    note(`The request expires at ${link.expiresAt}. Waiting for approval (Ctrl-C cancels)…`);
  }
  let session: Awaited<ReturnType<typeof link.wait>>;
  try {
    session = await link.wait({ signal });
  } catch (error) {
    if (signal.aborted) {
      note('Linking cancelled: this device holds nothing of the account.');
      return 130;
    }
    throw error;
  }
  out(
    values.json
      ? JSON.stringify({ accountId: session.accountId, deviceId: session.deviceId })
      : `Linked: this device ("${name}") is device ${session.deviceId} of account ${session.accountId}. The approving device is adding it to your conversations.`,
  );
  return 0;
}

export interface ApproveArgs {
  client: Pick<ParleyClient, 'inspectLink' | 'approveLink'>;
  /** The words after `devices approve`: a QR text, or a typed code (spaces allowed). */
  code: string[];
  values: { yes?: boolean; 'bring-contacts'?: boolean; json?: boolean };
  out: (text: string) => void;
  note: (text: string) => void;
  /** Asks the person; `confirm` from prompt.ts in the CLI. */
  ask?: (question: string) => Promise<boolean>;
  /** Connects the messenger: the new device is added to conversations by Commits. */
  connect: () => Promise<void>;
}

/** `parley devices approve CODE [--yes] [--bring-contacts]`. */
export async function approveCommand(args: ApproveArgs): Promise<number> {
  const { client, values, out, note } = args;
  const text = args.code.join(' ').trim();
  if (!text) {
    throw new UsageError(
      'devices approve needs the code the new device shows (parley link prints it), or its QR text',
    );
  }
  const request = await client.inspectLink(text);
  const what = `"${request.deviceName}" (asked at ${request.createdAt}; ${request.via === 'qr' ? 'its QR code' : 'the code typed'} matches the key it showed)`;
  note(`A new device asks to be linked to your account: ${what}.`);
  if (!values.yes) {
    const ask = args.ask ?? confirm;
    const agreed = await ask(
      `Link it? It gets your account's identity key${values['bring-contacts'] ? ', your contacts' : ''} and joins your conversations.`,
    );
    if (!agreed) {
      note('Not linked.');
      return 1;
    }
  }
  await args.connect();
  note('Approved; waiting for the new device to publish its keys…');
  const result = await client.approveLink(request, {
    bringContacts: values['bring-contacts'] === true,
  });
  out(
    values.json
      ? JSON.stringify(result)
      : `linked; added to ${counted(result.conversations, 'conversation')} (device ${result.deviceId}, "${request.deviceName}").`,
  );
  if (values['bring-contacts'] && !values.json) {
    note(
      result.contactsBrought > 0
        ? `${result.contactsBrought} contacts brought to it.`
        : 'No contacts brought: this device has none, no address-book consent, or more than the link relay carries (import them there).',
    );
  }
  return 0;
}
