// Loaded by path (DataConverter.failureConverterPath) by every client, worker
// and workflow bundle: failure messages and stack traces carry tenant output,
// so they move into an encoded payload that the payload codec encrypts.
// CommonJS because the SDK require()s it and bundles it into workflow code.
const { DefaultFailureConverter } = require('@temporalio/common');

exports.failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
