// The findings types (src/report/findings.ts) sit in modules that also read files in Node; the viewer
// imports only their types, so the Node modules they name need no real declarations here.
declare module 'node:fs/promises';
