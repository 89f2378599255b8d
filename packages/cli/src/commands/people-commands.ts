/**
 * Profiles, message requests and blocks from the terminal:
 *   parley profile [set NAME]            show or change this account's profile name
 *   parley requests [--json]             conversations started by people not in your contacts
 *   parley requests accept|delete|block|report ID [--attach]
 *   parley block CONTACT / parley unblock CONTACT
 * Commands that tell other people something (a new name, an accepted request) connect, wait
 * until the server has stored it, and close.
 */

import type { ParleyClient } from '@parley/client';
import { ParleyError } from '@parley/core';
import { UsageError } from '../usage.js';
import { table } from './output.js';
import { resolvePerson, short } from './people.js';

export interface PeopleArgs {
  client: ParleyClient;
  positionals: string[];
  values: { json?: boolean; attach?: boolean; timeout?: string };
  /** How an account is shown: the address book's name, else its profile name, else its id. */
  nameOf: (accountId: string) => string;
  out: (text: string) => void;
}

const WAIT_MS = 30_000;

/** Waits for `work` at most WAIT_MS; what is not stored by then goes out with the next command. */
async function stored(work: Promise<void>, what: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new ParleyError('CONNECTION_CLOSED', {
            message: `${what} was not stored within 30 s; it stays queued on this device and goes out with the next command that connects.`,
          }),
        ),
      WAIT_MS,
    );
  });
  try {
    await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function accountOf(client: ParleyClient, contact: string | undefined, command: string) {
  if (!contact) throw new UsageError(`usage: parley ${command} CONTACT`);
  const person = await resolvePerson(client, contact);
  if ('notOnParley' in person) throw new UsageError(`${contact} is not on Parley`);
  return person.accountId;
}

export async function peopleCommand(command: string, args: PeopleArgs): Promise<number> {
  const { client, positionals, values, out } = args;
  const people = client.messenger.people;
  switch (command) {
    case 'profile': {
      const [action, ...rest] = positionals;
      if (action === undefined) {
        const own = await people.nameOf(client.account!.accountId);
        out(values.json ? JSON.stringify({ name: own ?? null }) : (own ?? '(no profile name)'));
        return 0;
      }
      if (action !== 'set' || rest.length === 0) {
        throw new UsageError('usage: parley profile set NAME');
      }
      await client.messenger.start();
      const { announced } = await people.setName(rest.join(' '));
      await stored(announced, 'The new name');
      out(`Profile name set to "${await people.nameOf(client.account!.accountId)}".`);
      return 0;
    }
    case 'requests': {
      const [action, id] = positionals;
      if (action === undefined) return listRequests(args);
      if (!id) throw new UsageError(`usage: parley requests ${action} ID`);
      const conversationId = await requestId(client, id);
      switch (action) {
        case 'accept': {
          await client.messenger.start();
          const { profileShared } = await people.accept(conversationId);
          await stored(profileShared, 'Your profile');
          out(`Accepted: ${conversationId} is a conversation now.`);
          return 0;
        }
        case 'delete':
          await client.messenger.start();
          await people.delete(conversationId);
          out(`Deleted the request ${conversationId}.`);
          return 0;
        case 'block': {
          await client.messenger.start();
          const blocked = await people.blockRequest(conversationId);
          out(`Blocked ${args.nameOf(blocked)} and deleted the request.`);
          return 0;
        }
        case 'report': {
          const reported = await people.reportSpam(conversationId, values.attach === true);
          out(
            `Reported ${args.nameOf(reported)} as spam${values.attach ? ', with their messages' : ' (no messages sent)'}.`,
          );
          return 0;
        }
        default:
          throw new UsageError(
            `unknown requests action '${action}' (accept, delete, block, report)`,
          );
      }
    }
    case 'block': {
      const accountId = await accountOf(client, positionals[0], 'block');
      await people.block(accountId);
      out(`Blocked ${args.nameOf(accountId)}: they can no longer message you or add you.`);
      return 0;
    }
    case 'unblock': {
      const accountId = await accountOf(client, positionals[0], 'unblock');
      await people.unblock(accountId);
      out(`Unblocked ${args.nameOf(accountId)}.`);
      return 0;
    }
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

/** A request's conversation id, given in full or by its first characters. */
async function requestId(client: ParleyClient, given: string): Promise<string> {
  const matches = (await client.messenger.people.requests()).filter((r) => r.id.startsWith(given));
  if (matches.length === 1) return matches[0]!.id;
  throw new UsageError(
    matches.length === 0
      ? `no message request ${given} (see parley requests)`
      : `${given} names several requests; give more of the id`,
  );
}

async function listRequests({ client, values, nameOf, out }: PeopleArgs): Promise<number> {
  const rows = await Promise.all(
    (await client.messenger.people.requests()).map(async (r) => {
      const history = (await client.messenger.history(r.id)).filter((m) => m.kind === 'text');
      return { request: r, from: r.request!, count: history.length, last: history.at(-1) };
    }),
  );
  if (values.json) {
    out(
      JSON.stringify(
        rows.map((r) => ({
          conversationId: r.request.id,
          from: r.from,
          name: nameOf(r.from),
          messages: r.count,
          last: r.last?.text ?? null,
        })),
      ),
    );
    return 0;
  }
  if (rows.length === 0) {
    out('No message requests.');
    return 0;
  }
  out(
    table(
      ['request', 'from', 'messages', 'last'],
      rows.map((r) => [
        short(r.request.id),
        nameOf(r.from),
        String(r.count),
        (r.last?.text ?? '').slice(0, 40),
      ]),
    ),
  );
  return 0;
}
