/** The script a worker process started by `batch` runs: see {@link workerProcessMain}. */
import { workerProcessMain } from './workerProcess.js';

process.exitCode = await workerProcessMain();
