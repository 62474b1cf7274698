/** Evaluation metrics: agreement, regression, probabilistic, segmentation, detection, bootstrap CIs. */
export * from './agreement.js';
export * from './bootstrap.js';
export * from './detection.js';
export * from './probabilistic.js';
export * from './random.js';
export * from './regression.js';
export * from './segmentation.js';
