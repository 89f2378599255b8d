/**
 * The account's devices from the terminal: the list (with whether each device's certificate
 * chains to the identity key this device holds, checked here, not taken from the server),
 * signing devices out, and approving a new device (linking.ts).
 */

import type { ParleyClient } from '@parley/client';
import { UsageError } from '../usage.js';
import { approveCommand } from './linking.js';
import { confirm } from './prompt.js';
import { reportSecurityEvents } from './security-events.js';

export interface DevicesArgs {
  client: ParleyClient;
  positionals: string[];
  values: { json?: boolean; yes?: boolean; 'bring-contacts'?: boolean };
  out: (text: string) => void;
  note: (text: string) => void;
}

export async function devicesCommand(args: DevicesArgs): Promise<number> {
  const { client, positionals, values, out } = args;
  const action = positionals[0] ?? 'list';
  if (action === 'list') {
    const devices = await client.devices();
    out(
      values.json
        ? JSON.stringify(devices)
        : devices
            .map(
              (d) =>
                `${d.deviceId}  ${d.name}  added ${d.createdAt}  ${d.verified ? 'certificate verified' : 'no verified certificate'}${d.current ? '  (this device)' : ''}`,
            )
            .join('\n'),
    );
    return 0;
  }
  if (action === 'approve') {
    // The new device's own arrival is this command's output, not a warning.
    reportSecurityEvents(client.messenger, args.note, { deviceLinked: false });
    try {
      return await approveCommand({
        client,
        code: positionals.slice(1),
        values,
        out,
        note: args.note,
        ask: (question) => confirm(question),
        connect: () => client.messenger.start(),
      });
    } finally {
      client.close();
    }
  }
  if (action === 'remove') {
    const id = positionals[1];
    if (!id) throw new UsageError('devices remove needs a device id (see `parley devices`)');
    const self = id === client.account?.deviceId;
    await client.removeDevice(id);
    out(
      self
        ? `This device (${id}) is signed out and its Parley data erased; the account stays.`
        : `Device ${id} is signed out: its credential no longer works and nothing more is delivered to it.`,
    );
    return 0;
  }
  if (action === 'sign-out-others') {
    const removed = await client.signOutOtherDevices();
    out(`Signed out ${removed} other device(s); this one stays signed in.`);
    return 0;
  }
  throw new UsageError(
    `unknown devices action '${action}' (list, approve CODE, remove ID, sign-out-others)`,
  );
}
