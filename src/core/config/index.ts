export { OPTIONS, envNamesOf } from './options.js';
export { parseByteSize, formatByteSize } from './sizes.js';
export { Secret } from './secret.js';
export {
  ConfigError,
  loadConfig,
  readConfigSources,
  resolveDataDir,
  validateConfig,
  type BlockStoreConfig,
  type Config,
  type ConfigSources,
} from './load.js';
