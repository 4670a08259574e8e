export { addToTransactionEpoch, appendEpoch, epochEntries, headEpochs, type AppendedEpoch, type EpochRows, type EventInput, type EventKind } from './epochs.js';
export { encodeEpoch, encodeKvOp, kvOpCid, eventCid, type KvOp, type EpochEventEntry } from './encoding.js';
