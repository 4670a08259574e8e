// `node --import ./test/support/ts-loader.mjs file.ts` runs a TypeScript entry point (see ts-loader-hooks.mjs).
import { register } from 'node:module';

register('./ts-loader-hooks.mjs', import.meta.url);
