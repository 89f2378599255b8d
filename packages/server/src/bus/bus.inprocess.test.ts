import { after, describe } from 'node:test';
import { busCases } from './bus-cases.js';
import { InProcessBus } from './in-process.js';

describe('in-process bus', () => {
  // Two "nodes" in one process share the process-level instance.
  const bus = new InProcessBus();
  after(() => bus.close());
  busCases(() => ({ a: bus, b: bus }));
});
