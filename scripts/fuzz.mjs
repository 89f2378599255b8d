// Long fuzz runs: every property-based suite (*.fuzz.test.js) with FUZZ_RUNS inputs per property
// (default 10,000; socket properties take a tenth or a hundredth, see fuzzSettings' weight) from
// a fresh seed, then a summary of the inputs tried per property.
//   npm run fuzz                          # 10,000 runs, random seed
//   FUZZ_RUNS=100000 FUZZ_SEED=42 npm run fuzz
// A failure prints fast-check's report; rerun with the seed it names to replay it.
import { spawn } from 'node:child_process';

const runs = process.env.FUZZ_RUNS ?? '10000';
const seed = process.env.FUZZ_SEED ?? String(Math.floor(Math.random() * 2 ** 31));
console.log(`fuzzing with FUZZ_RUNS=${runs} FUZZ_SEED=${seed}`);
const started = Date.now();
const child = spawn(process.execPath, ['scripts/test.mjs', '.fuzz.test.js'], {
  env: { ...process.env, FUZZ_RUNS: runs, FUZZ_SEED: seed },
  stdio: ['inherit', 'pipe', 'inherit'],
});
const counts = [];
let pending = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  pending += chunk.toString('utf8');
  const lines = pending.split('\n');
  pending = lines.pop() ?? '';
  for (const line of lines) {
    const match = /fuzz: (.+): (\d+) inputs/.exec(line);
    if (match) counts.push([match[1], Number(match[2])]);
  }
});
child.on('close', (code) => {
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  console.log(`\ninputs tried per property (FUZZ_SEED=${seed}, ${minutes} min):`);
  for (const [name, n] of counts) console.log(`  ${String(n).padStart(8)}  ${name}`);
  const total = counts.reduce((sum, [, n]) => sum + n, 0);
  console.log(`  ${String(total).padStart(8)}  in all`);
  process.exit(code ?? 1);
});
