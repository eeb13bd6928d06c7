// files.s3.test.mjs - files.test.mjs again, with blob_backend = s3 against a
// real S3 server that checks signatures (tests/tools/s3-peer.sh): every
// upload goes from a plain HTTP client straight to the bucket through
// Cubby's presigned URL, every download byte for byte from the bucket.
process.env.CUBBY_TEST_BLOBS = 's3';
await import('./files.test.mjs');
