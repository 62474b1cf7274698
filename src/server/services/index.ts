/**
 * The services of one server, wired together: studies, images, analysis jobs, findings and
 * corrections, exports and the PACS, over one study repository and one job queue. None of them knows
 * HTTP; the route plugins (`../routes/`) map them onto the API.
 */
import type { DicomwebClient } from '../../pacs/client.js';
import type { AnalysisRunner } from '../analysisEngine.js';
import type { UploadLimits } from '../files.js';
import { JobQueue } from '../queue.js';
import { AnalysisService } from './analysis.js';
import { CompareService } from './compare.js';
import { ExportService } from './exports.js';
import { FindingsService } from './findings.js';
import { ImageService } from './images.js';
import { PacsService } from './pacs.js';
import { InMemoryStudyRepository, type StudyRepository } from './repository.js';
import { StudyService } from './studies.js';

/** Options of {@link createServices}. */
export interface ServicesOptions {
  /** Folder the studies are kept in (one sub-folder each). */
  workDir: string;
  /** Where the analyses run (worker threads for `serve`). */
  runner: AnalysisRunner;
  dicomweb?: DicomwebClient;
  limits: UploadLimits;
  /** Most studies held at once. */
  maxStudies: number;
  /** Analyses running at once. */
  concurrency: number;
  /** Most jobs waiting. */
  maxQueued: number;
  /** Where the studies are kept (default: in memory). */
  repository?: StudyRepository;
  /** One log line (ids and codes only). */
  log: (line: string) => void;
  /** The localiser whose measured repeatability is a comparison's noise (default: the bundled one). */
  localizerDir?: string;
}

/** The services of one server. */
export interface ServerServices {
  queue: JobQueue;
  studies: StudyService;
  images: ImageService;
  analysis: AnalysisService;
  findings: FindingsService;
  exports: ExportService;
  compare: CompareService;
  pacs: PacsService;
  /** Stops the queue (running jobs end), aborts imports and closes the store (an ephemeral one's files are deleted). */
  close(): Promise<void>;
}

/** Makes the services of one server. */
export function createServices(options: ServicesOptions): ServerServices {
  const { log } = options;
  let studies: StudyService | undefined;
  const queue = new JobQueue({
    concurrency: options.concurrency,
    maxQueued: options.maxQueued,
    onFailure: (view) => log(`job ${view.id} (${view.kind}, study ${view.studyId}) failed: ${view.error?.code}`),
    onChange: (view) => studies?.saveJob(view),
  });
  studies = new StudyService({
    repository: options.repository ?? new InMemoryStudyRepository(),
    workDir: options.workDir,
    limits: options.limits,
    maxStudies: options.maxStudies,
    queue,
    log,
  });
  const images = new ImageService(studies);
  const analysis = new AnalysisService({ studies, queue, runner: options.runner, log });
  const findings = new FindingsService({ studies, analysis, log });
  const exports = new ExportService({ studies, analysis, findings });
  const compare = new CompareService({
    findings,
    exports,
    ...(options.localizerDir !== undefined ? { localizerDir: options.localizerDir } : {}),
  });
  const pacs = new PacsService({ client: options.dicomweb, studies, exports, log });
  return {
    queue,
    studies,
    images,
    analysis,
    findings,
    exports,
    compare,
    pacs,
    close: async () => {
      studies.abortImports();
      await queue.close();
      await options.runner.close();
      await studies.close();
    },
  };
}
