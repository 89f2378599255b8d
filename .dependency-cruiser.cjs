/**
 * The import rule, checked in CI (`npm run lint` runs `npm run check:imports`). docs/architecture.md
 * explains it: packages depend downwards only (core ← client, server ← cli, web ← e2e); inside a
 * package, layers depend downwards only; no cycle anywhere, type-only imports included; test
 * support is imported by tests only. Tests (`*.test.ts`) may import across layers, never in a cycle.
 */

const SERVER = '^packages/server/src/';
const CLIENT = '^packages/client/src/';
const DOMAIN = `${SERVER}(identity|directory|discovery|messaging|push)/`;
const NOT_TEST = '\\.test\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      comment: 'A cycle (type-only imports count) ties modules so neither can change alone.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    // Packages.
    {
      name: 'core-depends-on-nothing-of-ours',
      severity: 'error',
      from: { path: '^packages/core/' },
      to: { path: '^(packages/(client|server|cli|e2e|oprf-native)|apps)/' },
    },
    {
      name: 'client-depends-on-core-only',
      comment:
        'The SDK runs in browsers: it may use the protocol core, never the server or the CLI.',
      severity: 'error',
      from: { path: '^packages/client/' },
      to: { path: '^(packages/(server|cli|e2e|oprf-native)|apps)/' },
    },
    {
      name: 'server-depends-on-core-only',
      severity: 'error',
      from: { path: '^packages/server/' },
      to: { path: '^(packages/(client|cli|e2e)|apps)/' },
    },
    {
      name: 'cli-is-not-imported-by-libraries',
      severity: 'error',
      from: { path: '^(packages/(core|client|server)|apps)/' },
      to: { path: '^packages/(cli|e2e)/' },
    },
    {
      name: 'web-uses-sdk-and-core-only',
      severity: 'error',
      from: { path: '^apps/web/' },
      to: { path: '^packages/(server|cli|e2e|oprf-native)/' },
    },
    // Inside the server: infra ← domain ← realtime ← http ← wiring.
    {
      name: 'server-infra-is-below-the-domain',
      comment: 'Adapters (database, bus, OPRF pool, SMS, metrics) know nothing of the features.',
      severity: 'error',
      from: { path: `${SERVER}infra/`, pathNot: NOT_TEST },
      to: {
        path: `${SERVER}(http|realtime|identity|directory|discovery|messaging|push|testing)/|${SERVER}(server|services|index)\\.ts$`,
      },
    },
    {
      name: 'server-domain-reaches-realtime-through-its-port-only',
      comment:
        'Domain code names what it needs of the sockets in one small interface (realtime/port.ts).',
      severity: 'error',
      from: { path: DOMAIN, pathNot: NOT_TEST },
      to: {
        path: `${SERVER}(http|testing)/|${SERVER}realtime/(?!port\\.ts$)|${SERVER}(server|services|index)\\.ts$`,
      },
    },
    {
      name: 'server-realtime-is-below-http',
      severity: 'error',
      from: { path: `${SERVER}realtime/`, pathNot: NOT_TEST },
      to: { path: `${SERVER}(http|testing)/|${SERVER}(server|index)\\.ts$` },
    },
    {
      name: 'server-config-is-below-everything',
      severity: 'error',
      from: { path: `${SERVER}config/`, pathNot: NOT_TEST },
      to: {
        path: `${SERVER}(http|realtime|identity|directory|discovery|messaging|push|testing)/|${SERVER}(server|services|index)\\.ts$`,
      },
    },
    // Inside the SDK: store ← transport ← features (discovery, contacts, messaging) ← the facade.
    {
      name: 'client-store-is-the-bottom',
      severity: 'error',
      from: { path: `${CLIENT}store/`, pathNot: NOT_TEST },
      to: { path: `${CLIENT}(?!store/)` },
    },
    {
      name: 'client-transport-is-below-the-features',
      comment:
        'The API client records each upload in the transparency log, and knows nothing else.',
      severity: 'error',
      from: { path: `${CLIENT}transport/`, pathNot: NOT_TEST },
      to: { path: `${CLIENT}(?!(transport|store)/|privacy/transparency-log\\.ts$)` },
    },
    {
      name: 'client-features-stay-apart',
      comment:
        'Features may ask consent and write the transparency log; ParleyClient (client.ts) joins them.',
      severity: 'error',
      from: { path: `${CLIENT}(messaging|discovery)/`, pathNot: NOT_TEST },
      to: {
        path: `${CLIENT}contacts/|${CLIENT}privacy/(?!(consent|transparency-log)\\.ts$)|${CLIENT}(client|index|node)\\.ts$`,
      },
    },
    {
      name: 'client-identity-is-below-messaging',
      comment:
        'Identity keys, trust, linking and safety numbers: messaging asks them; they know no feature.',
      severity: 'error',
      from: { path: `${CLIENT}identity/`, pathNot: NOT_TEST },
      to: {
        path: `${CLIENT}(messaging|discovery|contacts|privacy)/|${CLIENT}(client|index|node)\\.ts$`,
      },
    },
    {
      name: 'client-messaging-and-discovery-do-not-know-each-other',
      severity: 'error',
      from: { path: `${CLIENT}(messaging|discovery)/`, pathNot: NOT_TEST },
      to: { path: `${CLIENT}(messaging|discovery)/`, pathNot: `${CLIENT}$1/` },
    },
    // Inside the web app: screens and components go through the model.
    {
      name: 'web-screens-go-through-the-model',
      severity: 'error',
      from: { path: '^apps/web/src/((screens|components)/|[^/]+.tsx$)' },
      to: { path: '^packages/|libphonenumber-js' },
    },
    // Test support.
    {
      name: 'test-support-is-for-tests',
      comment: 'Fakes and fixtures never ship in a library or the app.',
      severity: 'error',
      from: {
        path: '^(packages/(core|client|server|cli)|apps/web)/src/',
        pathNot: `${NOT_TEST}|/testing/`,
      },
      to: { path: '/testing/' },
    },
  ],
  options: {
    // Type-only imports are dependencies too: a type-level cycle still couples two modules.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.depcruise.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)dist/|\\.d\\.ts$' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['types', 'import', 'default'],
      extensions: ['.ts', '.tsx', '.js', '.mjs'],
    },
    combinedDependencies: false,
  },
};
