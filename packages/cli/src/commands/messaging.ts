/**
 * Messaging from the terminal: send to a contact (or, for someone not on Parley, print the `sms:`
 * link for the user's own phone), reply, react, edit and unsend (delete for everyone), create a
 * group, listen, and list conversations. Every command
 * connects the device's WebSocket for as long as it needs and closes it before exiting.
 */

import { existsSync, statSync } from 'node:fs';
import {
  type ChatMessage,
  type Conversation,
  describeNotice,
  type ParleyClient,
  ParleyError,
  smsFallback,
  timerText,
} from '@parley/client';
import type { DeviceRef, MessageChangeEnvelope } from '@parley/core';
import { UsageError } from '../usage.js';
import { saveAttachment, sendFile } from './files.js';
import { groupCommand } from './groups.js';
import { table } from './output.js';
import { resolvePerson, short } from './people.js';
import { reportSecurityEvents } from './security-events.js';

export interface MessagingArgs {
  client: ParleyClient;
  /** How a sender is shown: the contact's name when known (names.ts), else the short id. */
  nameOf?: (accountId: string) => string;
  positionals: string[];
  values: {
    json?: boolean;
    conversation?: string;
    'reply-to'?: string;
    count?: string;
    timeout?: string;
    'app-url'?: string;
    file?: string;
    caption?: string;
    save?: string;
  };
  out: (text: string) => void;
}

function seconds(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || n <= 0) {
    throw new UsageError(`${flag} must be a positive number of seconds (got '${value}')`);
  }
  return n;
}

async function directConversation(client: ParleyClient, accountId: string): Promise<Conversation> {
  const me = client.account!.accountId;
  const existing = (await client.messenger.conversations()).find((c) => {
    const accounts = new Set(c.members.map((m) => m.accountId));
    return c.active && accounts.size === 2 && accounts.has(me) && accounts.has(accountId);
  });
  return existing ?? client.messenger.createConversation([accountId]);
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new ParleyError('CONNECTION_CLOSED', {
            message: `${what} did not finish within ${ms / 1000} s; it stays queued on this device and goes out with the next command that connects.`,
          }),
        ),
      ms,
    );
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/**
 * A send refused because a verified contact's key changed: the SDK's error, with the commands
 * that resolve it named for each contact concerned.
 */
export function blockedSendError(error: unknown): unknown {
  if (!(error instanceof ParleyError) || error.code !== 'SAFETY_NUMBER_CHANGED') return error;
  const ids = (error.details as { accountIds?: unknown } | undefined)?.accountIds;
  const accounts = Array.isArray(ids) ? ids.filter((a): a is string => typeof a === 'string') : [];
  if (accounts.length === 0) return error;
  const steps = accounts
    .map(
      (a) =>
        `compare it again: parley safety-number account:${a} --verify, or accept it: parley safety-number account:${a} --accept`,
    )
    .join('; ');
  return new ParleyError('SAFETY_NUMBER_CHANGED', {
    message: `${error.message} Nothing was sent. To go on, ${steps}; then send again.`,
    details: error.details,
    cause: error,
  });
}

/** The conversation holding message `id` on this device (message ids are unique). */
async function conversationOf(client: ParleyClient, id: string): Promise<string> {
  for (const c of await client.messenger.conversations()) {
    if ((await client.messenger.history(c.id)).some((m) => m.id === id)) return c.id;
  }
  throw new ParleyError('MESSAGE_NOT_FOUND', { details: { messageId: id } });
}

/** How `listen` shows a reaction, an edit or a delete. */
export function changeLine(
  event: { message: ChatMessage; change: MessageChangeEnvelope; by: DeviceRef },
  json: boolean | undefined,
  nameOf: (accountId: string) => string = short,
): string {
  const { message, change, by } = event;
  if (json) {
    return JSON.stringify({
      event: change.type,
      conversationId: message.conversationId,
      id: message.id,
      by,
      ...(change.type === 'reaction' ? { emoji: change.emoji } : {}),
      ...(change.type === 'edit' ? { text: change.text } : {}),
    });
  }
  const where = `[${short(message.conversationId)}]`;
  const who = nameOf(by.accountId);
  if (change.type === 'edit') return `${where} ${who} edited ${message.id}: ${change.text}`;
  if (change.type === 'delete') return `${where} ${who} deleted ${message.id} for everyone`;
  return change.emoji
    ? `${where} ${who} reacted ${change.emoji} to ${message.id}`
    : `${where} ${who} took back their reaction to ${message.id}`;
}

export function line(
  m: ChatMessage,
  json: boolean | undefined,
  self: string,
  nameOf: (accountId: string) => string = short,
): string {
  if (json) {
    return JSON.stringify({
      conversationId: m.conversationId,
      id: m.id,
      kind: m.kind,
      from: m.from,
      text: m.text,
      ...(m.notice ? { notice: m.notice } : {}),
      ...(m.kind === 'unsupported' ? { contentType: m.contentType ?? '' } : {}),
      ...(m.replyTo ? { replyTo: m.replyTo } : {}),
      ...(m.expiresIn ? { expiresIn: m.expiresIn } : {}),
      ...(m.attachment
        ? {
            // Never the key: what a script needs to know what arrived.
            attachment: {
              id: m.attachment.id,
              name: m.attachment.name,
              contentType: m.attachment.contentType,
              size: m.attachment.size,
            },
          }
        : {}),
      sentAt: m.sentAt,
    });
  }
  const where = `[${short(m.conversationId)}]`;
  if (m.kind === 'notice' && m.notice) {
    const text = describeNotice(m.notice, (a) => (a === self ? 'you' : nameOf(a)));
    return `${where} * ${text}`;
  }
  if (m.kind === 'unsupported') {
    return `${where} ${nameOf(m.from.accountId)}: (a newer kind of message — update Parley to see it)`;
  }
  if (m.kind === 'attachment' && m.attachment) {
    const { name, size } = m.attachment;
    const caption = m.text ? ` ${m.text}` : '';
    return `${where} ${nameOf(m.from.accountId)}: [file ${name}, ${size} bytes]${caption}`;
  }
  const reply = m.replyTo ? ` (reply to ${m.replyTo.id})` : '';
  return `${where} ${nameOf(m.from.accountId)}${reply}: ${m.text}`;
}

export function messagingCommand(command: string, args: MessagingArgs): Promise<number> {
  // A conversation started or a message sent to a verified contact whose key changed is refused.
  return run(command, args).catch((error: unknown) => {
    throw blockedSendError(error);
  });
}

async function run(command: string, args: MessagingArgs): Promise<number> {
  const { client, positionals, values, out } = args;
  const timeoutMs = seconds(values.timeout, '--timeout', 30) * 1000;
  // Keys and devices noticed while connected, whatever the command (stdout stays its output).
  reportSecurityEvents(client.messenger, (text) => process.stderr.write(`${text}\n`));
  switch (command) {
    case 'send': {
      const text = values.conversation ? positionals[0] : positionals[1];
      const contact = values.conversation ? undefined : positionals[0];
      if ((text === undefined && !values.file) || (!values.conversation && !contact)) {
        throw new UsageError('send needs a contact and a text: parley send +14155550123 "Hi"');
      }
      let conversationId = values.conversation;
      if (contact) {
        const person = await resolvePerson(client, contact);
        if ('notOnParley' in person && values.file) {
          throw new UsageError(`${contact} is not on Parley: a file can only go to someone who is`);
        }
        if ('notOnParley' in person) {
          const link = smsFallback(person.notOnParley, text ?? '', {
            appUrl: values['app-url'] ?? client.serverUrl,
          });
          out(
            values.json
              ? JSON.stringify({ sent: false, notOnParley: true, sms: link })
              : `${contact} is not on Parley. Send it as an SMS from your own phone (with an invitation):\n${link}`,
          );
          return 0;
        }
        await withTimeout(client.messenger.start(), timeoutMs, 'Connecting');
        conversationId = (await directConversation(client, person.accountId)).id;
      } else {
        await withTimeout(client.messenger.start(), timeoutMs, 'Connecting');
      }
      // A file's upload takes as long as it takes; the message after it has the usual timeout.
      const replyTo = values['reply-to'];
      const message = values.file
        ? await sendFile(client, conversationId!, values.file, values.caption ?? text)
        : await withTimeout(
            client.messenger.send(conversationId!, text!, replyTo ? { replyTo } : {}),
            timeoutMs,
            'Sending',
          );
      out(
        values.json
          ? JSON.stringify({ sent: true, conversationId, id: message.id, status: message.status })
          : `Sent (${message.status}) in conversation ${conversationId}.`,
      );
      return 0;
    }
    case 'react':
    case 'edit':
    case 'unsend': {
      const [id, value] = positionals;
      const needs = {
        react: 'MESSAGE_ID EMOJI (EMOJI "" takes it back)',
        edit: 'MESSAGE_ID TEXT',
        unsend: 'MESSAGE_ID',
      }[command];
      if (!id || (command !== 'unsend' && value === undefined)) {
        throw new UsageError(`usage: parley ${command} ${needs}`);
      }
      const conversationId = values.conversation ?? (await conversationOf(client, id));
      await withTimeout(client.messenger.start(), timeoutMs, 'Connecting');
      const m = client.messenger;
      const changed = await withTimeout(
        command === 'react'
          ? m.react(conversationId, id, value!)
          : command === 'edit'
            ? m.edit(conversationId, id, value!)
            : m.deleteForEveryone(conversationId, id),
        timeoutMs,
        'Sending',
      );
      const done = { react: 'Reaction sent', edit: 'Edited', unsend: 'Deleted for everyone' }[
        command
      ];
      out(
        values.json
          ? JSON.stringify({
              conversationId,
              id,
              text: changed.text,
              reactions: changed.reactions ?? {},
            })
          : `${done}: ${id} in conversation ${conversationId}.`,
      );
      return 0;
    }
    case 'timer': {
      const [value] = positionals;
      if (!values.conversation || value === undefined) {
        throw new UsageError('usage: parley timer --conversation=ID SECONDS|off');
      }
      const seconds = value === 'off' ? 0 : /^\d+$/.test(value) ? Number(value) : Number.NaN;
      await withTimeout(client.messenger.start(), timeoutMs, 'Connecting');
      await withTimeout(
        client.messenger.setTimer(values.conversation, seconds),
        timeoutMs,
        'Sending',
      );
      out(
        values.json
          ? JSON.stringify({ conversationId: values.conversation, timer: seconds })
          : seconds === 0
            ? 'Disappearing messages off.'
            : `Messages sent from now on disappear ${timerText(seconds)} after they are read.`,
      );
      return 0;
    }
    case 'group':
      return groupCommand({
        client,
        positionals,
        conversation: values.conversation,
        json: values.json,
        connect: () => withTimeout(client.messenger.start(), timeoutMs, 'Connecting'),
        within: (work, what) => withTimeout(work, timeoutMs, what),
        out,
      });
    case 'listen': {
      const count = values.count === undefined ? Number.POSITIVE_INFINITY : Number(values.count);
      if (!(count > 0) || (values.count !== undefined && !/^\d+$/.test(values.count))) {
        throw new UsageError(`--count must be a positive integer (got '${values.count}')`);
      }
      let seen = 0;
      const self = client.account!.accountId;
      if (values.save && !(existsSync(values.save) && statSync(values.save).isDirectory())) {
        throw new UsageError(`--save must name a directory (got '${values.save}')`);
      }
      // Files are saved one after another, each before its message counts.
      let saving = Promise.resolve();
      const done = new Promise<void>((resolve) => {
        client.messenger.on('message', (m) => {
          out(line(m, values.json, self, args.nameOf));
          // Printed is read: a disappearing message's time starts (and the sender sees it read).
          if (m.expiresIn) void client.messenger.markRead(m.conversationId, [m.id]).catch(() => {});
          const dir = values.save;
          if (dir && m.kind === 'attachment') {
            saving = saving.then(() =>
              saveAttachment(client, m, dir).then(
                (path) =>
                  out(
                    values.json ? JSON.stringify({ id: m.id, saved: path }) : `  saved to ${path}`,
                  ),
                (e: unknown) => {
                  process.stderr.write(`parley: ${m.id}: ${String((e as Error).message)}\n`);
                },
              ),
            );
          }
          // Notices are printed but not counted: --count counts what people sent.
          if (m.kind !== 'notice' && ++seen >= count) void saving.then(resolve);
        });
        process.once('SIGINT', () => resolve());
        if (values.timeout !== undefined) setTimeout(resolve, timeoutMs).unref();
      });
      client.messenger.on('changed', (event) => out(changeLine(event, values.json, args.nameOf)));
      client.messenger.on('error', (e) =>
        process.stderr.write(`parley: ${e.code}: ${e.message}\n`),
      );
      await withTimeout(client.messenger.start(), 30_000, 'Connecting');
      await done;
      return 0;
    }
    case 'conversations': {
      await client.messenger.expireDue();
      const list = await client.messenger.conversations();
      const me = client.account!.accountId;
      const rows = await Promise.all(
        list.map(async (c) => {
          // What people sent; membership notices are not counted.
          const history = (await client.messenger.history(c.id)).filter((m) => m.kind !== 'notice');
          return { conversation: c, last: history.at(-1), count: history.length };
        }),
      );
      if (values.json) {
        out(
          JSON.stringify(
            rows.map((r) => ({
              ...r.conversation,
              messages: r.count,
              last: r.last ? { kind: r.last.kind, text: r.last.text, status: r.last.status } : null,
            })),
          ),
        );
        return 0;
      }
      out(
        table(
          ['conversation', 'people', 'messages', 'last'],
          rows.map((r) => [
            r.conversation.id,
            String(
              new Set(r.conversation.members.map((m) => m.accountId).filter((a) => a !== me)).size,
            ),
            String(r.count),
            r.last ? `${r.last.text.slice(0, 40)} (${r.last.status})` : '',
          ]),
        ),
      );
      return 0;
    }
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}
