/**
 * Help text of the commands whose modules are loaded only when run (so that `--help` and the
 * other commands do not load the server, the queue or their dependencies).
 */
import { TOKEN_VARIABLE } from '../server/constants.js';

/** Usage lines of the two commands, for `spinegrade --help`. */
export const BATCH_USAGE = `  spinegrade batch <input-root|manifest.csv> --out <dir> [--workers N] [--redis <url>] [--concurrency N]
                   [--model <dir>] [--localizer <dir>] [--pixel-spacing X[,Y]] [--retry-failed] [--in-process]
      Grade a cohort: one job per study (DICOM grouped by Study Instance UID; each NIfTI/MetaImage file;
      or the rows study_id,path[,pixel_spacing] of a manifest) on BullMQ workers; per-study outputs in
      <dir>/studies/<id>/, the cohort table in <dir>/cohort.csv and cohort.jsonl, its page cohort.html.
      Re-running resumes: studies done with the same models are skipped. Without --redis a private
      redis-server is started (or, if there is none, the studies run in this process).
  spinegrade worker [--redis <url>] [--concurrency N] [--model <dir>] [--localizer <dir>]
      Take batch jobs from the Redis queue of this worker's models until stopped (SIGINT/SIGTERM).`;

/** Usage lines of `serve`, for the main help. */
export const SERVE_USAGE = `  spinegrade serve [--port 8080] [--host 127.0.0.1] [--dicomweb <url>] [--token <t>]
                   [--concurrency 1|2] [--data-dir <dir> | --in-memory] [--max-upload-mb N] [--max-files N]
                   [--model <dir>] [--localizer <dir>]
      HTTP server with the viewer at / and the JSON API under /api (docs/api.md): upload or import
      from the PACS (DICOMweb), queued analyses, corrections, exports, STOW-RS of SR + SEG. Binds
      127.0.0.1 unless --host is given; any other address needs a token (--token or ${TOKEN_VARIABLE}).
      Studies, findings, corrections and job states are kept in the data folder (default
      $SPINEGRADE_DATA_DIR, else $XDG_DATA_HOME/spinegrade or ~/.local/share/spinegrade) and are back
      after a restart; --in-memory keeps them only while the server runs.`;

/** Usage lines of `watch`, for the main help. */
export const WATCH_USAGE = `  spinegrade watch --dicomweb <url> [--interval 60] [--settle 30] [--state spinegrade-watch.json] [--once]
                   [--max-attempts 3] [--model <dir>] [--localizer <dir>]
      Poll the PACS (QIDO-RS) for MR studies, analyse each new study's sagittal lumbar series once
      (remembered in the --state file across restarts) and store the SR + SEG back with STOW-RS.
      A new study is analysed once its instance count has not changed for --settle seconds (0: at once).`;
