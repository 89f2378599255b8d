/**
 * Links a new device to an account through the real link endpoints, as people do: the new
 * device asks (its typed code stands in for the QR code), the existing device reads the code,
 * checks the key against it and approves, and the new device takes what it was handed.
 */

import type { ParleyClient, Session } from '@parley/client/node';

export async function linkDevice(
  existing: ParleyClient,
  fresh: ParleyClient,
  deviceName: string,
  options: { via?: 'qr' | 'typed'; bringContacts?: boolean } = {},
): Promise<{ session: Session; deviceId: string; conversations: number }> {
  const link = await fresh.startLink({ deviceName });
  const approved = link.wait({ pollMs: 100 });
  // If approval fails, the waiting side must not hang the test.
  approved.catch(() => {});
  const request = await existing.inspectLink(options.via === 'qr' ? link.qr : link.code);
  const result = await existing.approveLink(request, {
    ...(options.bringContacts !== undefined ? { bringContacts: options.bringContacts } : {}),
  });
  return { session: await approved, ...result };
}
