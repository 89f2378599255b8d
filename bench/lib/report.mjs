// Renders docs/benchmarks.md from section results, and reads back the results a previous run left
// in it (a JSON block in an HTML comment at the end), so a run of a few sections can keep the rest.

const DATA_START = '<!-- bench-data';
const DATA_END = '-->';

/** The JSON data block: "--" is escaped so the comment cannot end early. */
function dataBlock(runs, sections) {
  const json = JSON.stringify({ runs, sections }, null, 1).replace(/--/g, '-\\u002d');
  return `${DATA_START}\n${json}\n${DATA_END}\n`;
}

/** { runs, sections } from an earlier docs/benchmarks.md, or undefined when it has no data. */
export function readData(markdown) {
  const start = markdown.lastIndexOf(DATA_START);
  if (start === -1) return undefined;
  const end = markdown.indexOf(DATA_END, start + DATA_START.length);
  try {
    return JSON.parse(markdown.slice(start + DATA_START.length, end));
  } catch {
    return undefined;
  }
}

function cell(text) {
  return String(text ?? '')
    .replace(/\|/g, '\\|')
    .replace(/\n/g, ' ');
}

function number(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function ratio(value) {
  return value === null || value === undefined ? '' : `${number(value)}×`;
}

function met(value) {
  if (value === true) return '✅ yes';
  if (value === false) return '❌ no';
  return '— not measured';
}

function measured(row) {
  if (row.unavailable || row.value === null || row.value === undefined) return 'not available';
  return `${number(row.value)} ${row.unit}`;
}

function table(header, lines) {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...lines.map((line) => `| ${line.map(cell).join(' | ')} |`),
  ].join('\n');
}

function runsTable(runs) {
  return table(
    [
      'run',
      'command',
      'date (UTC)',
      'commit',
      'CPU',
      'cores',
      'memory',
      'Node',
      'OS',
      'load avg at start',
      'settings',
    ],
    runs.map((r) => [
      r.id,
      `\`${r.command}\``,
      r.date,
      r.commit,
      r.machine.cpu,
      r.machine.cores,
      r.machine.memory,
      r.machine.node,
      r.machine.os,
      r.machine.loadavg,
      r.settings,
    ]),
  );
}

function summary(sections) {
  const lines = [];
  for (const s of sections) {
    if (s.status !== 'ok') {
      lines.push([s.section, `${s.status}: ${s.reason}`, '', '', '—']);
      continue;
    }
    for (const row of s.rows.filter((r) => r.goal)) {
      const against = row.baseline ? ` ${row.baseline.split(':')[0]}` : '';
      const vs = row.ratio != null && row.unit !== '×' ? ` (${ratio(row.ratio)}${against})` : '';
      lines.push([s.section, row.what, `${measured(row)}${vs}`, row.goal, met(row.met)]);
    }
  }
  const goals = sections.flatMap((s) => (s.status === 'ok' ? s.rows.filter((r) => r.goal) : []));
  const count = (v) => goals.filter((r) => r.met === v).length;
  const absent = sections.filter((s) => s.status !== 'ok').map((s) => `${s.section} (${s.status})`);
  return [
    table(['section', 'what', 'measured', 'goal', 'met'], lines),
    '',
    `Goals met: ${count(true)} of ${goals.length}; not met: ${count(false)}; not measured: ${goals.length - count(true) - count(false)}.` +
      (absent.length ? ` Sections without results: ${absent.join(', ')}.` : ''),
  ].join('\n');
}

function sectionBlock(s) {
  const heading = `## \`${s.section}\`: ${s.status === 'ok' ? s.title : s.status}`;
  const from = `From run ${s.run}${s.durationMs ? `, took ${Math.round(s.durationMs / 1000)} s` : ''}.`;
  if (s.status === 'not run') return `${heading}\n\nNot run: ${s.reason}.`;
  if (s.status === 'not available') return `${heading}\n\nNot available: ${s.reason}. ${from}`;
  if (s.status === 'failed') {
    const tail = s.stderrTail?.length ? `\n\n\`\`\`text\n${s.stderrTail.join('\n')}\n\`\`\`` : '';
    return `${heading}\n\nFailed: ${s.reason}. ${from}${tail}`;
  }
  const rows = s.rows.map((row) => [
    row.what,
    row.unavailable || row.value === null ? 'not available' : number(row.value),
    row.unit,
    ratio(row.ratio),
    row.baseline ?? '',
    row.goal ?? '',
    row.goal ? met(row.met) : '',
  ]);
  const notes = s.notes.map((n) => `- ${n}`).join('\n');
  return [
    heading,
    '',
    from,
    '',
    table(['what', 'value', 'unit', 'ratio', 'baseline (same run)', 'goal', 'met'], rows),
    '',
    notes,
  ].join('\n');
}

/** The whole of docs/benchmarks.md. */
export function renderMarkdown(runs, sections) {
  return [
    '# Benchmarks',
    '',
    'Produced by `npm run bench` (`bench/run.mjs`); rerun it rather than editing this file. `node bench/run.mjs oprf pool` reruns only the sections named and keeps the others from the earlier run that measured them (each section says which run). Machines are noisy, so every figure is compared with a baseline measured in the same run; goals are the "Numbers we hold ourselves to" of the design brief, listed under Goals below. How each figure is measured: the header comment of `bench/<section>.mjs`.',
    '',
    '## Runs',
    '',
    runsTable(runs),
    '',
    '## Goals',
    '',
    summary(sections),
    '',
    ...sections.flatMap((s) => [sectionBlock(s), '']),
    dataBlock(runs, sections),
  ].join('\n');
}
