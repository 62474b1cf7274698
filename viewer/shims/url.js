// Browser stand-in for Node's `url` module, for the few bundled packages that name it
// (@oozcitak/url via vtk.js's XML reader). Only what they call is provided.
export function domainToASCII(domain) {
  try {
    return new URL(`http://${domain}`).hostname;
  } catch {
    return '';
  }
}
export function domainToUnicode(domain) {
  return domain;
}
export function fileURLToPath(url) {
  return new URL(String(url)).pathname;
}
export function pathToFileURL(path) {
  return new URL(`file://${path}`);
}
export default { domainToASCII, domainToUnicode, fileURLToPath, pathToFileURL, URL: globalThis.URL };
