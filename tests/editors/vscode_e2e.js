// Drives a real VS Code (code-server in Debian's Chromium, through puppeteer-core) with the
// spark-lsp extension installed: the status bar from loading to ready, ghost text accepted with
// Tab, "Add docstring" from the code-action menu, a rename whose next edit (the other use) is
// jumped to and accepted with Tab, or (scenario "error") the status bar when the server cannot
// start. Prints one JSON line of what it saw; tests/test_editor_vscode_real.py
// checks it against the server's own output and the saved file.
//
// usage: node vscode_e2e.js CONFIG.json
//   (url, chromium, file, path, line, functionLine, rename, serverOutput, screenshots, scenario)
'use strict';

const fs = require('fs');
const path = require('path');
const puppeteer = require('puppeteer-core');

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const STATUS = '[id="spark-lsp.spark-lsp.sparkLsp.status"]';
const seen = { states: [], screenshots: [] };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function shot(page, name) {
  const file = path.join(config.screenshots, `${name}.png`);
  await page.screenshot({ path: file });
  seen.screenshots.push(file);
}

async function statusLabel(page) {
  return page.evaluate((selector) => {
    const item = document.querySelector(selector);
    return item ? item.getAttribute('aria-label') : null;
  }, STATUS);
}

/** Polls the status bar item until `done(label)` holds, keeping each label it shows. */
async function watchStatus(page, done, timeoutMs, onNew) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const label = await statusLabel(page);
    if (label !== null && label !== seen.states[seen.states.length - 1]) {
      seen.states.push(label);
      if (onNew) await onNew(label);
    }
    if (label !== null && done(label)) return label;
    await sleep(100);
  }
  throw new Error(`the status bar never reached the expected state; it showed ${JSON.stringify(seen.states)}`);
}

async function withControl(page, key) {
  await page.keyboard.down('Control');
  await page.keyboard.press(key);
  await page.keyboard.up('Control');
}

/** The ghost text on the cursor's line and the lines Monaco draws below it. */
async function ghostText(page) {
  return page.evaluate(() => {
    const inline = [...document.querySelectorAll('.view-line .ghost-text-decoration')]
      .map((span) => span.textContent)
      .join('');
    const below = [...document.querySelectorAll('.ghost-text .view-line')].map((line) => line.textContent);
    return [inline, ...below].join('\n').replace(/\u00a0/g, ' ');
  });
}

/** Saves the editor (Ctrl+S) and keeps what reached the disk under `name`. */
async function save(page, name) {
  const before = fs.readFileSync(config.path, 'utf8');
  await withControl(page, 'KeyS');
  // Written in place (truncated, then filled): wait for new text that stays the same.
  const deadline = Date.now() + 10000;
  let text = before;
  while (Date.now() < deadline) {
    await sleep(100);
    const now = fs.readFileSync(config.path, 'utf8');
    if (now !== before && now !== '' && now === text) break;
    text = now;
  }
  seen[name] = fs.readFileSync(config.path, 'utf8');
}

async function openFile(page) {
  const row = await page.waitForSelector(`.explorer-folders-view .monaco-list-row ::-p-text(${config.file})`, {
    timeout: 60000,
  });
  await row.click();
  await page.waitForSelector('.monaco-editor .view-lines', { timeout: 60000 });
  await sleep(500);
  await page.click('.monaco-editor .view-lines');
}

async function typeAndAccept(page) {
  await withControl(page, 'End');
  await page.keyboard.type(config.line, { delay: 60 });
  await page.waitForFunction(
    () => document.querySelector('.view-line .ghost-text-decoration') !== null,
    { timeout: 120000 },
  );
  await sleep(300); // the ghost text is drawn in pieces
  seen.ghost = await ghostText(page);
  await shot(page, '03-ghost-text');
  await page.keyboard.press('Tab');
  await page.waitForFunction(() => document.querySelector('.ghost-text-decoration') === null, { timeout: 10000 });
  await save(page, 'afterAccept');
  await shot(page, '04-accepted');
}

async function addDocstring(page) {
  // The cursor on the first function's name line, then the code-action menu (Ctrl+.).
  await withControl(page, 'Home');
  for (let line = 1; line < config.functionLine; line += 1) await page.keyboard.press('ArrowDown');
  await page.keyboard.press('End');
  await withControl(page, 'Period');
  const item = await page.waitForSelector('.action-widget ::-p-text(Add docstring)', { timeout: 60000 });
  seen.menu = await page.$$eval('.action-widget .monaco-list-row', (rows) => rows.map((row) => row.textContent));
  await shot(page, '05-code-actions');
  await item.click();
  await page.waitForFunction(
    () => [...document.querySelectorAll('.view-line')].some((line) => line.textContent.includes('"""')),
    { timeout: 240000 },
  );
  await save(page, 'afterDocstring');
  await shot(page, '06-docstring');
}

/** How many next-edit answers the server has sent from the substitution (no model). */
function substitutionAnswers() {
  const output = fs.existsSync(config.serverOutput) ? fs.readFileSync(config.serverOutput, 'utf8') : '';
  return (output.match(/"source": ?"substitution"/g) || []).length;
}

async function nextEditAnswered(before, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (substitutionAnswers() > before) return;
    await sleep(200);
  }
  throw new Error('the server sent no next edit for the rename');
}

async function acceptNextEdit(page) {
  // Rename a parameter in its signature (select it, type the new name), then pause.
  const { signature, old, name } = config.rename;
  await sleep(2000); // past the pause after the docstring: the rename is an edit of its own
  const line = fs.readFileSync(config.path, 'utf8').split('\n').indexOf(signature);
  if (line < 0) throw new Error(`no line ${JSON.stringify(signature)} in the file`);
  const before = substitutionAnswers();
  await withControl(page, 'KeyG');
  await sleep(500);
  await page.keyboard.type(String(line + 1));
  await page.keyboard.press('Enter');
  await sleep(500); // the quick input closes; the keys go to the editor again
  await page.keyboard.press('Home');
  for (let step = 0; step < signature.indexOf(old); step += 1) await page.keyboard.press('ArrowRight');
  await page.keyboard.down('Shift');
  for (let step = 0; step < old.length; step += 1) await page.keyboard.press('ArrowRight');
  await page.keyboard.up('Shift');
  await page.keyboard.type(name, { delay: 60 });
  await nextEditAnswered(before, 120000);
  await sleep(1000); // drawn after the answer arrives
  seen.nextEditMarker = await page.evaluate(() => document.querySelector('.view-lines').textContent);
  await shot(page, '07-next-edit');
  await page.keyboard.press('Tab'); // to the suggestion
  await sleep(300);
  await shot(page, '08-next-edit-jumped');
  await page.keyboard.press('Tab'); // accept it
  await sleep(500);
  await save(page, 'afterNextEdit');
  await shot(page, '09-next-edit-accepted');
}

async function main() {
  const browser = await puppeteer.launch({
    executablePath: config.chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu'],
    defaultViewport: { width: 1280, height: 720 },
  });
  const page = await browser.newPage();
  page.setDefaultTimeout(60000);
  try {
    await page.goto(config.url, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('.monaco-workbench', { timeout: 120000 });
    if (config.scenario === 'error') {
      seen.final = await watchStatus(page, (label) => label.includes('error'), 120000);
      await shot(page, '10-error');
      seen.notifications = await page.$$eval('.notification-toast', (toasts) => toasts.map((t) => t.textContent));
      return;
    }
    let loadingShot = false;
    seen.final = await watchStatus(
      page,
      (label) => label.includes('sparkle'),
      300000,
      async (label) => {
        if (!loadingShot && label.includes('loading')) {
          loadingShot = true;
          await shot(page, '01-loading');
        }
      },
    );
    await openFile(page);
    await shot(page, '02-ready');
    await typeAndAccept(page);
    await addDocstring(page);
    await acceptNextEdit(page);
  } catch (error) {
    seen.error = String(error && error.stack ? error.stack : error);
    await shot(page, '99-failure').catch(() => undefined);
  } finally {
    await browser.close();
    process.stdout.write(`${JSON.stringify(seen)}\n`);
  }
}

main();
