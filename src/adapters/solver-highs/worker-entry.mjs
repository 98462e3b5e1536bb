// Worker-thread entry for the HiGHS solver. Worker threads do not inherit the tsx loader that
// bin/flexlon.js registers, so register it here (a second registration under `node --import tsx`
// is harmless) before loading the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
