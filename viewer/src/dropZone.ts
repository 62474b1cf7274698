/** The drop zone and file pickers: what is dropped or picked is uploaded as a study and analysed. */
import * as api from './api.js';
import { byId } from './dom.js';
import { fail, say } from './messages.js';
import { startAnalysis } from './queue.js';
import { addQueueItems, currentStudy, type QueueItem, rememberLabel, updateQueueItem } from './state.js';
import { openStudy } from './study.js';
import { describeFiles, filesFromDrop, filesFromList } from './upload.js';

async function uploadAndAnalyse(files: api.UploadFile[]): Promise<void> {
  if (!files.length) {
    say('Nothing to upload: no files were found in what was dropped.', 'error');
    return;
  }
  const spacingInput = byId<HTMLInputElement>('pixel-spacing');
  const spacing = spacingInput.value.trim() || null;
  const item: QueueItem = {
    id: `local-${Date.now()}`,
    uploaded: false,
    label: describeFiles(files),
    phase: 'uploading',
    progress: 0,
    message: 'uploading',
    jobId: null,
  };
  addQueueItems([item], 'front');
  try {
    const result = await api.uploadStudy(files, spacing, (fraction) => {
      updateQueueItem(item, { progress: fraction, message: `uploading ${Math.round(fraction * 100)}%` });
    });
    updateQueueItem(item, {
      id: result.id,
      uploaded: true,
      phase: 'ready',
      message: `uploaded ${result.files} file(s)${result.skipped.length ? `, ${result.skipped.length} skipped` : ''}`,
    });
    rememberLabel(item.id, item.label);
    say(`${item.label}: ${item.message}; analysing.`);
    if (!currentStudy()) void openStudy(item.id);
    await startAnalysis(item);
  } catch (error) {
    updateQueueItem(item, { phase: 'failed', progress: null, message: `failed: ${(error as Error).message}` });
    fail(error, `Could not upload ${item.label}`);
  }
}

/** Wires the drop zone, dragging files over the page, and the file and folder pickers. */
export function bindDropZone(): void {
  const zone = byId('drop-zone');
  let depth = 0;
  document.addEventListener('dragenter', (e) => {
    if (!e.dataTransfer?.types.includes('Files')) return;
    depth++;
    document.body.classList.add('dragging');
  });
  document.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (!depth) document.body.classList.remove('dragging');
  });
  document.addEventListener('dragover', (e) => {
    if (e.dataTransfer?.types.includes('Files')) e.preventDefault();
  });
  document.addEventListener('drop', (e) => {
    if (!e.dataTransfer?.types.includes('Files')) return;
    e.preventDefault();
    depth = 0;
    document.body.classList.remove('dragging');
    const data = e.dataTransfer;
    void filesFromDrop(data).then(uploadAndAnalyse, (error: unknown) => fail(error, 'Could not read what was dropped'));
  });
  const fileInput = byId<HTMLInputElement>('file-input');
  const folderInput = byId<HTMLInputElement>('folder-input');
  zone.addEventListener('click', () => fileInput.click());
  zone.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      fileInput.click();
    }
  });
  for (const input of [fileInput, folderInput]) {
    input.addEventListener('change', () => {
      const files = filesFromList(input.files);
      input.value = '';
      void uploadAndAnalyse(files);
    });
  }
}
