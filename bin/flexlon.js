#!/usr/bin/env node
// Entry point for `npx flexlon` and `npm start`. The sources are TypeScript run through tsx's
// loader, so there is no separate build step to forget; worker threads register the same loader.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
