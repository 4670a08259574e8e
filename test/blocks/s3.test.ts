import { afterAll, beforeAll } from 'vitest';
import { openBlockStore } from '../../src/core/blocks/index.js';
import { startS3Server, type S3TestServer } from '../support/s3-server.js';
import { describeBlockStoreContract } from './block-store-contract.js';

let server: S3TestServer;
beforeAll(async () => {
  server = await startS3Server();
}, 30_000);
afterAll(() => server?.stop());

describeBlockStoreContract('S3', (staging, stagingDir) =>
  openBlockStore({ type: 'S3', bucket: server.bucket, endpoint: server.endpoint }, { staging, stagingDir }),
);
