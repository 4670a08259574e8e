export { exportSpace, SpaceExport, type CarProgress, type ExportOptions, type ExportSource, type ExportSummary } from './export.js';
export { importSpace, peekManifest, type ImportOptions, type ImportReport, type ImportTally, type ImportTarget } from './import.js';
export { CAR_CONTENT_TYPE, CAR_FORMAT, CAR_FORMAT_VERSION, decodeManifest, type Manifest, type ManifestCounts } from './format.js';
