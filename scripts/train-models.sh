#!/bin/sh
# Reproduces every bundled model from SPIDER's training split, in order: the class-prior baseline,
# the disc localiser with its 5-fold cross-validation (fold 1 is the bundled model; folds 2-5 are
# kept in .cache/localizer-folds and reused when trained the same way), then the grader, whose
# crops come from those five localisers so that every patient's discs are found by one that never
# saw them; then the few-shot vendor-split curve for the grader card. Usage: scripts/train-models.sh [dataset-dir]   (default ../shared/data/spider)
set -eu
DATA=${1:-../shared/data/spider}
FOLDS=.cache/localizer-folds
cd "$(dirname "$0")/.."
node bin/spinegrade.js train prior --data "$DATA" --out models/prior --folds 5 --seed 1 --overwrite
node bin/spinegrade.js train localizer --data "$DATA" --out models/localizer --epochs 10 --folds 5 --fold 1 --overwrite \
  --seed 1 --workers 2 --cross-validate "$FOLDS"
node bin/spinegrade.js train grader --data "$DATA" --out models/grader --overwrite \
  --localizer "models/localizer,$FOLDS/fold-2,$FOLDS/fold-3,$FOLDS/fold-4,$FOLDS/fold-5" \
  --epochs "${GRADER_EPOCHS:-16}" --context-epochs "${CONTEXT_EPOCHS:-10}" --folds 5 --seed 1 --workers 2
node bin/spinegrade.js train few-shot --data "$DATA" --out models/grader --overwrite \
  --localizer "models/localizer,$FOLDS/fold-2,$FOLDS/fold-3,$FOLDS/fold-4,$FOLDS/fold-5" \
  --epochs "${GRADER_EPOCHS:-16}" --context-epochs "${CONTEXT_EPOCHS:-10}" --workers 2
# The manifests (name, version, weights SHA-256, training patients) of the models just trained.
node scripts/write-manifests.mjs
