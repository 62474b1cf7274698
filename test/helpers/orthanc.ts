/**
 * A real PACS for the tests: Debian's Orthanc with its DICOMweb plugin, started on a free loopback
 * port with its own temporary configuration and storage (remote access off, no DICOM port), and
 * stopped (waiting for it to exit) when the test ends. A test that needs it skips, saying why, only
 * when Orthanc or the plugin is not installed.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { freeLoopbackPort } from '../../src/util/net.js';
import { skipWhenMissing } from './programs.js';

/** Where Debian installs Orthanc. */
export const ORTHANC_PATH = '/usr/sbin/Orthanc';
/** Where Debian's `orthanc-dicomweb` installs the plugin. */
export const DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';

/** A running Orthanc. */
export interface Orthanc {
  /** REST API base, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** DICOMweb base, `<url>/dicom-web`. */
  dicomweb: string;
  port: number;
  /** Stops it and waits for the process to exit; removes its storage. Safe to call twice. */
  stop(): Promise<void>;
}

/** Why Orthanc cannot run here, or undefined when it can. */
export function orthancMissing(): string | undefined {
  for (const [path, what] of [
    [ORTHANC_PATH, 'Orthanc (Debian package "orthanc")'],
    [DICOMWEB_PLUGIN, 'the Orthanc DICOMweb plugin (Debian package "orthanc-dicomweb")'],
  ] as const) {
    try {
      accessSync(path, path === ORTHANC_PATH ? constants.X_OK : constants.R_OK);
    } catch {
      return `${what} is not installed (no ${path})`;
    }
  }
  return undefined;
}

/** A free TCP port on 127.0.0.1 (free now; Orthanc is started right after). */
export const freePort = freeLoopbackPort;

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function startOnce(port: number): Promise<Orthanc> {
  const dir = await mkdtemp(join(tmpdir(), 'spinegrade-orthanc-'));
  const config = {
    Name: 'spinegrade-test',
    StorageDirectory: join(dir, 'db'),
    IndexDirectory: join(dir, 'db'),
    HttpPort: port,
    HttpServerEnabled: true,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    DicomServerEnabled: false,
    SaveJobs: false,
    StorageCompression: false,
    HttpCompressionEnabled: false,
    Plugins: [DICOMWEB_PLUGIN],
    DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: false, StudiesMetadata: 'Full', SeriesMetadata: 'Full' },
  };
  const configPath = join(dir, 'orthanc.json');
  await writeFile(configPath, JSON.stringify(config, null, 2));
  const logPath = join(dir, 'orthanc.log');
  const logFd = openSync(logPath, 'w');
  const child = spawn(ORTHANC_PATH, [configPath], { stdio: ['ignore', logFd, logFd], detached: false });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (!stopped) {
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited(child);
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    }
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    try {
      const response = await fetch(`${url}/system`, { signal: AbortSignal.timeout(2000) });
      if (response.ok) {
        await response.arrayBuffer();
        return { url, dicomweb: `${url}/dicom-web`, port, stop };
      }
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  const log = (() => {
    try {
      return readFileSync(logPath, 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '';
    }
  })();
  await stop();
  throw new Error(`Orthanc did not answer on port ${port} within 30 s:\n${log}`);
}

/** Starts Orthanc on a free loopback port (trying another port if the first is taken meanwhile). */
export async function startOrthanc(): Promise<Orthanc> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(await freePort());
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

/**
 * Orthanc for one test (or suite, given its context): skips the test with the reason when Orthanc is
 * not installed (returns undefined), stops it when the test ends.
 */
export async function withOrthanc(t: TestContext): Promise<Orthanc | undefined> {
  const missing = orthancMissing();
  if (skipWhenMissing(t, missing ?? false)) return undefined;
  const orthanc = await startOrthanc();
  t.after(() => orthanc.stop());
  return orthanc;
}

/** Stores Part 10 files in Orthanc through its REST API (`POST /instances`), not through DICOMweb. */
export async function uploadInstances(orthanc: Orthanc, files: readonly Uint8Array[]): Promise<void> {
  for (const data of files) {
    const response = await fetch(`${orthanc.url}/instances`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/dicom' },
      body: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    });
    if (!response.ok) throw new Error(`Orthanc refused an instance: HTTP ${response.status}`);
    await response.arrayBuffer();
  }
}
