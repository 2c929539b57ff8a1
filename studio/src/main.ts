// The studio page: loads the run, wires the mask editor, the controls, generation with progress and
// errors, the history and the run tab. The same page is served by `dermosynth serve` (the server API
// generates) and written as a static site by `dermosynth studio build`, whose index.html carries
// <meta name="dermosynth-backend" content="static">: the generator then runs in the browser
// (static_backend.ts, loaded only then).
import { api, ApiError, type Backend, type RunInfo } from './api.js';
import { History } from './history.js';
import { MaskEditor, type Tool } from './mask_editor.js';
import { showRun } from './run_tab.js';

const $ = <T extends HTMLElement>(id: string) => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e as T;
};

const ui = {
  summary: $('run-summary'),
  canvas: $<HTMLCanvasElement>('mask-canvas'),
  size: $<HTMLInputElement>('brush-size'),
  sizeValue: $<HTMLOutputElement>('brush-size-value'),
  undo: $<HTMLButtonElement>('undo'),
  clear: $<HTMLButtonElement>('clear'),
  upload: $<HTMLInputElement>('mask-upload'),
  dataset: $<HTMLSelectElement>('dataset-select'),
  classSelect: $<HTMLSelectElement>('class-select'),
  seed: $<HTMLInputElement>('seed'),
  randomSeed: $<HTMLButtonElement>('random-seed'),
  vary: $<HTMLInputElement>('vary'),
  determinism: $('determinism-note'),
  generate: $<HTMLButtonElement>('generate'),
  progress: $('progress'),
  progressText: $('progress-text'),
  notice: $('notice'),
  error: $('error'),
  history: $('history'),
  hint: $('mask-hint'),
};

function showError(message: string | null): void {
  ui.error.hidden = !message;
  ui.error.textContent = message ?? '';
}

function showNotice(message: string | null): void {
  ui.notice.hidden = !message;
  ui.notice.textContent = message ?? '';
}

function label(name: string): string {
  return name.replace(/_/g, ' ');
}

async function selectBackend(): Promise<Backend> {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="dermosynth-backend"]');
  if (meta?.content === 'static') return (await import('./static_backend.js')).createStaticBackend();
  return api;
}

async function main(): Promise<void> {
  let run: RunInfo;
  let backend: Backend;
  try {
    backend = await selectBackend();
    run = await backend.run();
  } catch (e) {
    ui.summary.textContent = `could not load the run: ${(e as Error).message}`;
    ui.generate.disabled = true;
    return;
  }
  document.body.dataset.ready = 'true';
  document.body.dataset.backend = backend.kind;
  ui.summary.textContent = `${run.model} · ${run.width}x${run.height} · weights ${run.weights.name}${run.weights.step !== null ? ` (step ${run.weights.step})` : ''} · sha256 ${run.weights.sha256.slice(0, 12)} · ${run.device}`;
  if (run.licence) {
    // The static site says what the model's training data allows (ISIC: CC-BY-NC 4.0), as its .onnx metadata does.
    ui.summary.title = `training data licence: ${run.licence.licence}; ${run.licence.attribution}`;
    if (/^CC-/.test(run.licence.licence)) ui.summary.textContent += ` · trained on ${run.licence.licence} data`;
  }

  const editor = new MaskEditor(ui.canvas, run.width, run.height);
  ui.size.max = String(Math.max(8, Math.round(Math.min(run.width, run.height) / 3)));
  ui.size.value = String(Math.max(1, Math.round(Math.min(run.width, run.height) / 12)));
  const syncSize = () => {
    editor.size = Number(ui.size.value);
    ui.sizeValue.textContent = ui.size.value;
  };
  syncSize();
  ui.size.addEventListener('input', syncSize);
  for (const r of document.querySelectorAll<HTMLInputElement>('input[name="tool"]')) {
    r.addEventListener('change', () => {
      if (r.checked) editor.tool = r.value as Tool;
    });
  }
  ui.undo.addEventListener('click', () => editor.undo());
  ui.clear.addEventListener('click', () => editor.clear());
  document.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === 'z') {
      e.preventDefault();
      editor.undo();
    }
  });
  editor.onChange = () => {
    const n = editor.lesionPixels;
    ui.hint.textContent =
      n === 0
        ? 'Draw the lesion (brown) on the skin; Fill fills an enclosed area.'
        : `Lesion: ${n} pixels (${((100 * n) / (run.width * run.height)).toFixed(1)}% of the image).`;
  };

  for (const c of run.classes) ui.classSelect.add(new Option(label(c), c));
  ui.randomSeed.addEventListener('click', () => (ui.seed.value = String(Math.floor(Math.random() * 2 ** 31))));
  ui.vary.disabled = !run.varyShape;
  ui.determinism.textContent = run.varyShape
    ? 'The generator is deterministic: the same mask and diagnosis always give the same image. The seed drives "Vary shape" only.'
    : 'The generator is deterministic: the same mask and diagnosis always give the same image; the seed is recorded with each result.';

  // Masks from a file (checked and resized by the server) or from the run's dataset.
  ui.upload.addEventListener('change', async () => {
    const file = ui.upload.files?.[0];
    ui.upload.value = '';
    if (!file) return;
    showError(null);
    try {
      const { png, notice } = await backend.normaliseMask(file);
      await editor.load(png);
      showNotice(notice);
    } catch (e) {
      showError(`upload: ${(e as Error).message}`);
    }
  });
  backend.dataset().then(
    ({ lesions, unavailable }) => {
      if (lesions.length === 0) {
        ui.dataset.disabled = true;
        ui.dataset.title = unavailable ?? 'no lesions';
        return;
      }
      for (const l of lesions)
        ui.dataset.add(new Option(`${l.id} · ${label(l.diagnosis)} · ${l.split}`, String(l.index)));
      ui.dataset.addEventListener('change', async () => {
        const index = Number(ui.dataset.value);
        const lesion = lesions.find((l) => l.index === index);
        if (!ui.dataset.value || !lesion) return;
        showError(null);
        try {
          await editor.load(await backend.datasetMask(index));
          if (run.classes.includes(lesion.diagnosis)) ui.classSelect.value = lesion.diagnosis;
          showNotice(`mask of ${lesion.id} (${label(lesion.diagnosis)}, ${lesion.split} split)`);
        } catch (e) {
          showError(`dataset: ${(e as Error).message}`);
        }
      });
    },
    (e: Error) => {
      ui.dataset.disabled = true;
      ui.dataset.title = e.message;
    },
  );

  const history = new History(ui.history);
  ui.generate.addEventListener('click', async () => {
    showError(null);
    showNotice(null);
    if (editor.lesionPixels === 0) {
      showError('The mask is empty: draw a lesion first (or upload one, or pick one from the dataset).');
      return;
    }
    const seed = Number(ui.seed.value);
    if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 31 - 1) {
      showError('The seed must be an integer from 0 to 2147483647.');
      return;
    }
    const started = performance.now();
    ui.generate.disabled = true;
    ui.progress.hidden = false;
    const tick = () =>
      (ui.progressText.textContent = `generating… ${((performance.now() - started) / 1000).toFixed(1)} s`);
    tick();
    const timer = setInterval(tick, 100);
    const thumb = editor.toDataUrl();
    try {
      const r = await backend.generate({
        class: ui.classSelect.value,
        seed,
        vary: ui.vary.checked,
        rle: editor.toRle(),
      });
      history.add({ ...r, maskThumb: thumb }, run.width, run.height);
      showNotice(r.notice);
    } catch (e) {
      const busy = e instanceof ApiError && e.status === 503;
      showError(`${busy ? 'The server is busy' : 'Generation failed'}: ${(e as Error).message}`);
    } finally {
      clearInterval(timer);
      ui.progress.hidden = true;
      ui.generate.disabled = false;
    }
  });

  // Tabs.
  let runShown = false;
  for (const tab of document.querySelectorAll<HTMLButtonElement>('button.tab')) {
    tab.addEventListener('click', () => {
      for (const t of document.querySelectorAll<HTMLButtonElement>('button.tab'))
        t.classList.toggle('active', t === tab);
      $('panel-studio').hidden = tab.dataset.tab !== 'studio';
      $('panel-run').hidden = tab.dataset.tab !== 'run';
      if (tab.dataset.tab === 'run' && !runShown) {
        runShown = true;
        void showRun(backend, $('metrics'), $('losses'), $('samples'));
      }
    });
  }
}

void main();
