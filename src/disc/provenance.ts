/**
 * Model provenance: which model wrote a prediction and which patients (of which dataset) it learned
 * from. The full record is a model folder's `manifest.json` (docs/models.md); outputs carry its
 * {@link ModelIdentity}, and in-sample checks compare (dataset, patient) pairs, never bare patient ids.
 */

/** The patients of one dataset a model learned from. */
export interface TrainingPatients {
  /** The dataset's name: `SPIDER` for either SPIDER layout, an own-data folder's name otherwise. */
  readonly dataset: string;
  /** Patient ids as that dataset names them. */
  readonly patients: readonly string[];
}

/** What outputs say about a model: who it is and what it learned from (counts, no patient lists, no paths). */
export interface ModelIdentity {
  readonly name: string;
  readonly version: string;
  /** `grader`, `localizer` or `class-prior`. */
  readonly kind: string;
  /** SHA-256 over its weight files (docs/models.md says how). */
  readonly sha256: string;
  /** Patients per dataset it learned from (a tuned model: its base model's and its tuning patients). */
  readonly trainedOn: readonly { readonly dataset: string; readonly patients: number }[];
  /** The model a tuned model started from. */
  readonly base?: { readonly name: string; readonly version: string; readonly sha256: string };
}

/** The patients of `dataset` among `patients` that any of the training sets holds (same dataset name and id). */
export function patientsInTraining(
  dataset: string,
  patients: readonly string[],
  trainingSets: readonly (readonly TrainingPatients[])[],
): string[] {
  const seen = new Set<string>();
  for (const sets of trainingSets)
    for (const set of sets) if (set.dataset === dataset) for (const patient of set.patients) seen.add(patient);
  return patients.filter((p) => seen.has(p));
}

/** One line naming a model: `grader 1.0.0 (sha256 1a2b3c4d5e6f; SPIDER 179 patients; tuned from grader 1.0.0)`. */
export function describeIdentity(identity: ModelIdentity): string {
  const data = identity.trainedOn.map((t) => `${t.dataset} ${t.patients} patients`).join(' + ');
  const base = identity.base ? `; tuned from ${identity.base.name} ${identity.base.version}` : '';
  return `${identity.name} ${identity.version} (sha256 ${identity.sha256.slice(0, 12)}; trained on ${data || 'no recorded data'}${base})`;
}
