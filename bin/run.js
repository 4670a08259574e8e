#!/usr/bin/env node
import { execute, settings } from '@oclif/core';

// The CLI always runs the compiled dist/. With NODE_ENV=test or development (vitest sets the first), oclif would
// otherwise look for TypeScript sources through tsconfig on every start: +40 MiB of RSS in `tinycloud serve`.
settings.enableAutoTranspile = false;
await execute({ dir: import.meta.url });
