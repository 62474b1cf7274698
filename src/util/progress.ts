/** Progress reporting that long library work (training, dataset predictions) calls and the edges draw. */

/** Reports `done / total` progress of a named task. */
export interface Progress {
  update(done: number, total: number): void;
  finish(): void;
}
