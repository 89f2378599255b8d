/**
 * Groups from the terminal: `parley group create CONTACT...`, and for an existing one
 * (`--conversation ID`) `name TEXT`, `add CONTACT...`, `remove CONTACT...` and `leave`. Every
 * change is an MLS message or Commit that every member sees as a notice.
 */

import type { Conversation, ParleyClient } from '@parley/client';
import { UsageError } from '../usage.js';
import { resolvePerson } from './people.js';

const USAGE =
  'usage: parley group create CONTACT...  |  parley group --conversation ID name TEXT|add CONTACT...|remove CONTACT...|leave';

export interface GroupArgs {
  client: ParleyClient;
  positionals: string[];
  conversation: string | undefined;
  json: boolean | undefined;
  /** Connects the messenger within the command's timeout. */
  connect: () => Promise<void>;
  /** Runs a step within the command's timeout. */
  within: <T>(work: Promise<T>, what: string) => Promise<T>;
  out: (text: string) => void;
}

async function accountsOf(client: ParleyClient, contacts: string[]): Promise<string[]> {
  const accounts: string[] = [];
  for (const contact of contacts) {
    const person = await resolvePerson(client, contact);
    if ('notOnParley' in person) throw new UsageError(`${contact} is not on Parley`);
    accounts.push(person.accountId);
  }
  return accounts;
}

const people = (c: Conversation) => new Set(c.members.map((m) => m.accountId)).size;

export async function groupCommand(args: GroupArgs): Promise<number> {
  const { client, positionals, out } = args;
  const [action, ...rest] = positionals;
  const m = client.messenger;
  if (action === 'create') {
    if (rest.length === 0) throw new UsageError(USAGE);
    const accounts = await accountsOf(client, rest);
    await args.connect();
    const conversation = await m.createConversation(accounts);
    out(
      args.json
        ? JSON.stringify(conversation)
        : `Group ${conversation.id} with ${conversation.members.length} devices.`,
    );
    return 0;
  }
  const id = args.conversation;
  if (!id || !['name', 'add', 'remove', 'leave'].includes(action ?? '')) {
    throw new UsageError(USAGE);
  }
  if (action === 'name' && rest.length !== 1) throw new UsageError(USAGE);
  if ((action === 'add' || action === 'remove') && rest.length === 0) {
    throw new UsageError(USAGE);
  }
  const accounts = action === 'add' || action === 'remove' ? await accountsOf(client, rest) : [];
  await args.connect();
  let conversation: Conversation;
  if (action === 'name') {
    await args.within(m.nameConversation(id, rest[0]!), 'Naming the group');
    conversation = await m.conversation(id);
  } else if (action === 'add') {
    conversation = await args.within(m.addMembers(id, accounts), 'Adding');
  } else if (action === 'remove') {
    conversation = await args.within(m.removeMembers(id, accounts), 'Removing');
  } else {
    conversation = await args.within(m.leave(id), 'Leaving');
  }
  if (args.json) {
    out(JSON.stringify(conversation));
    return 0;
  }
  const said = {
    name: conversation.name ? `Named “${conversation.name}”.` : 'The group has no name now.',
    add: `Added: ${people(conversation)} people in the group now.`,
    remove: `Removed: ${people(conversation)} people in the group now.`,
    leave: 'You left the group; its history stays on this device.',
  }[action as 'name' | 'add' | 'remove' | 'leave'];
  out(said);
  return 0;
}
