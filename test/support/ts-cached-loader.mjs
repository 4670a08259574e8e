// `node --import ./test/support/ts-cached-loader.mjs file.ts`: like ts-loader.mjs, with transpiled modules cached
// on disk by content, so a process that starts often (the SQL executors in tests) loads TypeScript only once.
import { register } from 'node:module';

register('./ts-cached-loader-hooks.mjs', import.meta.url);
