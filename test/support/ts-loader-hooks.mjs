// Module hooks that let a plain `node` child process run this repository's TypeScript sources (Node 20 cannot
// strip types itself). Type-only constructs are erased per file with TypeScript's transpiler; no type checking.
// ts-cached-loader-hooks.mjs shares `resolve` and `transpile`; the `typescript` package is imported at the first
// transpile, so a loader that finds a module in its cache never loads it.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

let typescript;

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    // Sources import `./x.js` (NodeNext style) while only `./x.ts` exists on disk.
    const fromTs = context.parentURL?.endsWith('.ts');
    if (fromTs && error?.code === 'ERR_MODULE_NOT_FOUND' && specifier.endsWith('.js')) {
      return nextResolve(`${specifier.slice(0, -3)}.ts`, context);
    }
    throw error;
  }
}

/** The ES module JavaScript of one TypeScript source, with its source map inline. */
export async function transpile(fileName, source) {
  typescript ??= (await import('typescript')).default;
  const { outputText } = typescript.transpileModule(source, {
    fileName,
    compilerOptions: {
      module: typescript.ModuleKind.ESNext,
      target: typescript.ScriptTarget.ES2022,
      inlineSourceMap: true,
    },
  });
  return outputText;
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);
  const fileName = fileURLToPath(url);
  return { format: 'module', source: await transpile(fileName, await readFile(fileName, 'utf8')), shortCircuit: true };
}
