/**
 * The terminal client: reads the options, opens the client on its state directory and hands the
 * command to its module (account, devices and linking, safety numbers, messaging); consent,
 * import, discover, the transparency log and export are here.
 */

import { readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  type DiscoveryProgress,
  describeSkippedEntry,
  disclosureText,
  importSummary,
  ParleyClient,
} from '@parley/client';
import { FileStore, nodeSocket } from '@parley/client/node';
import { ParleyError } from '@parley/core';
import { parse, UsageError } from '../usage.js';
import { accountCommand, codePrompt, pinPrompt, registerCommand } from './account.js';
import { devicesCommand } from './devices.js';
import { linkCommand } from './linking.js';
import { messagingCommand } from './messaging.js';
import { forgetNames, namer, rememberNames } from './names.js';
import { counted, progressBar, table } from './output.js';
import { peopleCommand } from './people-commands.js';
import { confirm } from './prompt.js';
import { safetyNumberCommand } from './safety-number.js';

/** Every option of the client commands (usage.test.ts checks that the help names each). */
export const OPTIONS = {
  state: { type: 'string' },
  server: { type: 'string' },
  region: { type: 'string' },
  discoverable: { type: 'string' },
  presence: { type: 'string' },
  name: { type: 'string' },
  code: { type: 'string' },
  verification: { type: 'string' },
  json: { type: 'boolean' },
  lazy: { type: 'boolean' },
  all: { type: 'boolean' },
  conversation: { type: 'string' },
  'reply-to': { type: 'string' },
  count: { type: 'string' },
  timeout: { type: 'string' },
  'app-url': { type: 'string' },
  yes: { type: 'boolean' },
  out: { type: 'string' },
  pin: { type: 'string' },
  'bring-contacts': { type: 'boolean' },
  verify: { type: 'boolean' },
  scanned: { type: 'string' },
  accept: { type: 'boolean' },
  unverify: { type: 'boolean' },
  file: { type: 'string' },
  caption: { type: 'string' },
  save: { type: 'string' },
  'profile-name': { type: 'string' },
  attach: { type: 'boolean' },
} as const;

export async function clientCommand(command: string, args: string[]): Promise<number> {
  const { values, positionals } = parse(args, OPTIONS);
  const statePath = resolve(
    values.state ?? process.env.PARLEY_CLI_STATE ?? join(homedir(), '.parley'),
  );
  const store = new FileStore(statePath);
  const session = await store.get<{ serverUrl: string }>('session');
  const serverUrl =
    values.server ?? process.env.PARLEY_CLI_SERVER ?? session?.serverUrl ?? 'http://127.0.0.1:8787';
  const region = values.region ?? process.env.PARLEY_CLI_REGION;
  const client = await ParleyClient.open({
    serverUrl,
    store,
    socket: nodeSocket,
    ...(region ? { defaultRegion: region.toUpperCase() } : {}),
  });
  const out = (text: string) => process.stdout.write(`${text}\n`);
  const note = (text: string) => process.stderr.write(`${text}\n`);

  try {
    return await dispatch();
  } finally {
    // Names come from the address book: gone with it (consent withdrawn, account deleted,
    // this device signed out).
    if (!(await client.consent.status())) await forgetNames(store);
  }

  async function dispatch(): Promise<number> {
    switch (command) {
      case 'register':
        return registerCommand(client, positionals, values, {
          out,
          note,
          askPin: pinPrompt(),
          askCode: codePrompt(),
        });
      case 'link': {
        // Ctrl-C stops waiting; the request then lapses on the server by itself.
        const cancel = new AbortController();
        const onSigint = () => cancel.abort();
        process.once('SIGINT', onSigint);
        try {
          return await linkCommand({
            client,
            values,
            out,
            note,
            signal: cancel.signal,
            drawQr: process.stdout.isTTY === true,
          });
        } finally {
          process.off('SIGINT', onSigint);
          client.close();
        }
      }
      case 'safety-number':
        if (!client.registered) throw new ParleyError('NOT_REGISTERED');
        return safetyNumberCommand({
          client,
          positionals,
          values,
          out,
          drawQr: process.stdout.isTTY === true,
        });
      case 'consent': {
        const action = positionals[0] ?? 'show';
        if (action === 'show') {
          const grant = await client.consent.status();
          out(disclosureText(grant?.disclosure ?? client.consent.disclosure()));
          out(
            grant
              ? `\nGranted on ${grant.grantedAt}.`
              : '\nNot granted. Run `parley consent grant` to agree.',
          );
          return 0;
        }
        if (action === 'grant') {
          const disclosure = client.consent.disclosure();
          out(disclosureText(disclosure));
          // Consent is a choice: the disclosure is read, then agreed to (or --yes, for scripts).
          if (!values.yes && !(await confirm('\nAgree to this?'))) {
            out('Not granted: nothing was recorded.');
            return 1;
          }
          await client.consent.grant(disclosure);
          out('\nConsent recorded. Withdraw it any time with `parley consent withdraw`.');
          return 0;
        }
        if (action === 'withdraw') {
          await client.consent.withdraw();
          await forgetNames(store);
          out(
            'Consent withdrawn: imported contacts and discovery results were erased from this device.',
          );
          return 0;
        }
        throw new UsageError(`unknown consent action '${action}' (show, grant, withdraw)`);
      }
      case 'import': {
        const file = positionals[0];
        if (!file) throw new UsageError('import needs a file: a vCard (.vcf) or CSV export');
        let bytes: Uint8Array;
        try {
          bytes = readFileSync(file);
        } catch (cause) {
          throw new ParleyError('IMPORT_FAILED', { cause, message: `Cannot read ${file}.` });
        }
        const result = await client.contacts.importFile(bytes, file);
        if (values.json) {
          out(
            JSON.stringify({
              format: result.format,
              entries: result.entries,
              contacts: result.contacts.length,
              duplicates: result.duplicates,
              repeated: result.repeated,
              added: result.added,
              alreadyInBook: result.alreadyInBook,
              skipped: result.skipped,
              issues: result.issues,
            }),
          );
        } else {
          out(importSummary(result));
          for (const skipped of result.skipped) out(`  ${describeSkippedEntry(skipped)}`);
        }
        return 0;
      }
      case 'add': {
        const [name, number] = positionals;
        if (!name || !number) throw new UsageError('add needs a name and a number');
        const contact = await client.contacts.add(name, number);
        out(`Added ${contact.name} (${contact.phoneNumbers[0]}).`);
        return 0;
      }
      case 'discover': {
        const bar = progressBar(process.stderr);
        const { contacts, report } = await client.discover({
          resolve: values.lazy ? 'lazy' : 'eager',
          onProgress: (p: DiscoveryProgress) => bar.update(p.phase, p.done, p.total),
        });
        bar.done();
        await rememberNames(store, contacts);
        if (values.json) {
          out(
            JSON.stringify({
              contacts,
              stats: report.stats,
              keyId: report.keyId,
              budget: report.budget,
            }),
          );
          return 0;
        }
        const shown = values.all ? contacts : contacts.filter((c) => c.status !== 'not-on-parley');
        const label = {
          'on-parley': 'free messages',
          unresolved: 'probably (open to check)',
          'not-on-parley': 'SMS / invite',
        };
        out(
          table(
            ['Name', 'Number', 'Parley'],
            shown.map((c) => [c.name, c.phoneNumber, label[c.status]]),
          ),
        );
        const { stats } = report;
        out(
          `\nOn Parley: ${stats.resolved} of ${stats.numbers} ${stats.numbers === 1 ? 'number' : 'numbers'}. Sent ${stats.evaluated} blinded numbers (${stats.fromCache} already known${stats.rekeyed ? `, ${stats.rekeyed} re-keyed` : ''}).${report.budget ? ` Budget left: ${report.budget.remaining}.` : ''}`,
        );
        return 0;
      }
      case 'log': {
        const entries = await client.uploads();
        if (values.json) out(JSON.stringify(entries));
        else
          out(
            table(
              ['When', 'What', 'Items', 'Bytes', 'Blinded'],
              entries.map((e) => [
                e.at,
                e.kind,
                String(e.items),
                String(e.bytes),
                e.blinded ? 'yes' : 'no',
              ]),
            ),
          );
        return 0;
      }
      case 'account':
        return accountCommand(client, positionals, values, { out, note, askPin: pinPrompt() });
      case 'devices':
        if (!client.registered) throw new ParleyError('NOT_REGISTERED');
        return devicesCommand({ client, positionals, values, out, note });
      case 'export': {
        const data = await client.exportData();
        const json = `${JSON.stringify(data, null, 2)}\n`;
        if (values.out) {
          // Contacts and messages: readable by the user only.
          writeFileSync(values.out, json, { mode: 0o600 });
          out(
            `Exported to ${values.out}: ${counted(data.contacts.length, 'contact')}, ${counted(data.conversations.length, 'conversation')}, ${counted(data.transparencyLog.length, 'upload')}.`,
          );
        } else {
          process.stdout.write(json);
        }
        return 0;
      }
      case 'send':
      case 'react':
      case 'edit':
      case 'unsend':
      case 'timer':
      case 'group':
      case 'listen':
      case 'conversations':
        if (!client.registered) throw new ParleyError('NOT_REGISTERED');
        try {
          return await messagingCommand(command, {
            client,
            positionals,
            values,
            out,
            nameOf: await namer(store, client.messenger),
          });
        } finally {
          client.close();
        }
      case 'profile':
      case 'requests':
      case 'block':
      case 'unblock':
        if (!client.registered) throw new ParleyError('NOT_REGISTERED');
        try {
          return await peopleCommand(command, {
            client,
            positionals,
            values,
            out,
            nameOf: await namer(store, client.messenger),
          });
        } finally {
          client.close();
        }
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  }
}
