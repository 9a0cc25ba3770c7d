#!/usr/bin/env node
// Drives a real headless Chromium (Debian's /usr/bin/chromium, through playwright-core) for the
// integration tests of browser POST uploads and CORS. Installed by scripts/install-browser-deps.sh;
// called from Rust through tests/support/browser.rs.
//
//   node driver.mjs submit-form --page-file FORM.html --file PATH
//        [--redirect-placeholder TOKEN] [--origin-host 127.0.0.1|localhost] [--timeout-ms 30000]
//   node driver.mjs cors-fetch --url URL [--method GET] [--body-text TEXT] [--header 'Name: value']...
//        [--form-fields-json JSON --file-name NAME [--file-field file]]
//        [--origin-host 127.0.0.1|localhost] [--timeout-ms 30000]
//
// Each run starts its own static HTTP server on 127.0.0.1 with an ephemeral port: the "page
// origin" the browser loads its page from (http://<origin-host>:<port>). It prints exactly ONE
// JSON object on stdout and exits 0 whenever the browser did its part, even when the server
// refused the upload or CORS blocked the fetch: the JSON says what happened. It exits non-zero,
// with the reason on stderr and nothing on stdout, only when the driver itself failed (bad
// arguments, browser did not start, no file input on the page, no POST was ever sent, ...).
//
// submit-form serves FORM.html at `/` (TOKEN replaced by the page origin, e.g.
// http://127.0.0.1:41831, when --redirect-placeholder is given), sets --file on the first
// input[type=file], clicks the first [type=submit], waits for the POST's answer and then for the
// navigation (if any) to settle. Every other path of the page origin answers a "done" page and is
// recorded: that is where a success_action_redirect pointing back at the driver lands. Prints
//   {"page_origin": "http://127.0.0.1:P", "post_url": "...", "post_status": 204 | 303 | ... | null,
//    "post_error": null | "net::ERR_CONNECTION_RESET" (no answer at all),
//    "post_headers": {lower-case names}, "post_body": "text ('' for redirects and 204)",
//    "final_url": "...", "redirect_hits": ["/done?bucket=...&key=...&etag=..."],
//    "console": ["error: ...", ...]}
// 204/205 do not navigate (final_url stays the form page); a 303 navigates to its Location.
//
// cors-fetch serves a blank page at `/` and runs fetch(URL, {method, headers, body}) in it; body
// is --body-text, or with --form-fields-json (an object, or a list of [name, value] pairs) a
// FormData of those fields in order with the file (a Blob of --body-text named --file-name, under
// the field --file-field, default "file") appended last. Prints
//   {"ok": true, "status": 200, "headers": {only what CORS lets the page read}, "body": "...",
//    "page_origin": "...", "console": [...]}
// or {"ok": false, "error": "TypeError: Failed to fetch", "page_origin": "...", "console": [...]}
// when the browser refused (CORS) or the request failed; console then says why.
//
// --origin-host chooses the name the page is loaded from (default 127.0.0.1), so a proxy on
// 127.0.0.1 is cross-origin from a localhost page (a different port alone also makes it so).
//
// Only loopback is ever reached: the browser gets no proxy server and a host resolver that
// resolves nothing but localhost, *.localhost, 127.0.0.1 and [::1], so a stray redirect to a real
// host name (or to any other IP address, 127.0.0.2 included) fails in the browser with
// net::ERR_NAME_NOT_RESOLVED instead of leaving the machine.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const DEFAULT_TIMEOUT_MS = 30000;
// After a POST answered 204/205 (which do not navigate), how long to watch that nothing else
// happens before reading the final URL.
const NO_NAVIGATION_GRACE_MS = 300;

const USAGE = `usage:
  node driver.mjs submit-form --page-file FORM.html --file PATH [--redirect-placeholder TOKEN]
                              [--origin-host 127.0.0.1|localhost] [--timeout-ms N]
  node driver.mjs cors-fetch --url URL [--method M] [--body-text TEXT] [--header 'Name: value']...
                             [--form-fields-json JSON --file-name NAME [--file-field NAME]]
                             [--origin-host 127.0.0.1|localhost] [--timeout-ms N]`;

class UsageError extends Error {}

/** Flags that may be given more than once; all others are single-valued. */
const REPEATABLE = new Set(['header']);
const KNOWN = {
  'submit-form': new Set(['page-file', 'file', 'redirect-placeholder', 'origin-host', 'timeout-ms']),
  'cors-fetch': new Set([
    'url', 'method', 'body-text', 'header', 'form-fields-json', 'file-name', 'file-field',
    'origin-host', 'timeout-ms',
  ]),
};

function parseArgs(argv) {
  const [command, ...rest] = argv;
  if (!command || !(command in KNOWN)) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  const flags = { header: [] };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    let name;
    let value;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
    const eq = arg.indexOf('=');
    if (eq > 0) {
      name = arg.slice(2, eq);
      value = arg.slice(eq + 1);
    } else {
      name = arg.slice(2);
      if (i + 1 >= rest.length) throw new UsageError(`--${name} needs a value`);
      value = rest[++i];
    }
    if (!KNOWN[command].has(name)) throw new UsageError(`unknown flag --${name} for ${command}`);
    if (REPEATABLE.has(name)) flags[name].push(value);
    else if (name in flags) throw new UsageError(`--${name} given twice`);
    else flags[name] = value;
  }
  const timeoutMs = flags['timeout-ms'] === undefined ? DEFAULT_TIMEOUT_MS : Number(flags['timeout-ms']);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new UsageError('--timeout-ms must be a positive integer');
  flags['timeout-ms'] = timeoutMs;
  const host = flags['origin-host'] ?? '127.0.0.1';
  if (host !== '127.0.0.1' && host !== 'localhost') throw new UsageError('--origin-host must be 127.0.0.1 or localhost');
  flags['origin-host'] = host;
  return { command, flags };
}

function need(flags, name) {
  if (flags[name] === undefined) throw new UsageError(`--${name} is required`);
  return flags[name];
}

/**
 * The page origin: a static server on 127.0.0.1, ephemeral port. `/` answers `pageHtml()`;
 * `/favicon.ico` answers an empty 204 (and is not recorded); every other path answers a small "done" page and is recorded in
 * `hits` (path and query, as received): that is where a success_action_redirect pointing back
 * at this server lands.
 */
async function startStaticServer(host, pageHtml) {
  const hits = [];
  const server = http.createServer((req, res) => {
    const pathOnly = req.url.split('?')[0];
    if (req.method === 'GET' && pathOnly === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(pageHtml());
    } else if (pathOnly === '/favicon.ico') {
      // An empty answer: a 404 here would put a noise line in every run's console.
      res.writeHead(204);
      res.end();
    } else {
      hits.push(req.url);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end('<!doctype html><html><head><title>done</title></head><body>done</body></html>');
    }
    // Drain any request body so the connection stays usable.
    req.resume();
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const origin = `http://${host}:${server.address().port}`;
  return { server, origin, hits };
}

async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run scripts/install-browser-deps.sh`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      // Chromium refuses to start as root with its sandbox.
      '--no-sandbox',
      // Loopback only: no proxy from the environment, and no name resolves except localhost.
      '--no-proxy-server',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE *.localhost, EXCLUDE 127.0.0.1, EXCLUDE ::1',
    ],
  });
}

/** Records console messages and uncaught page errors, as "type: text" strings. */
function recordConsole(page) {
  const lines = [];
  page.on('console', (msg) => lines.push(`${msg.type()}: ${msg.text()}`));
  page.on('pageerror', (err) => lines.push(`pageerror: ${err.message}`));
  return lines;
}

function timeout(ms, what) {
  let timer;
  const promise = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

async function lowerCaseHeaders(response) {
  let headers;
  try {
    headers = await response.allHeaders();
  } catch {
    headers = response.headers();
  }
  const out = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}

async function submitForm(flags) {
  const pageFile = need(flags, 'page-file');
  const filePath = need(flags, 'file');
  const timeoutMs = flags['timeout-ms'];
  const placeholder = flags['redirect-placeholder'];
  if (!fs.existsSync(filePath)) throw new Error(`--file ${filePath} does not exist`);
  const rawPage = fs.readFileSync(pageFile, 'utf8');

  let origin;
  const { server, origin: o, hits } = await startStaticServer(flags['origin-host'], () =>
    placeholder ? rawPage.split(placeholder).join(origin) : rawPage,
  );
  origin = o;
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    const consoleLines = recordConsole(page);
    await page.goto(`${origin}/`, { timeout: timeoutMs });

    const fileInput = page.locator('input[type=file]').first();
    if ((await fileInput.count()) === 0) throw new Error(`${pageFile} has no input[type=file]`);
    await fileInput.setInputFiles(path.resolve(filePath), { timeout: timeoutMs });
    const submit = page.locator('[type=submit]').first();
    if ((await submit.count()) === 0) throw new Error(`${pageFile} has no [type=submit]`);

    // Navigations of the main frame after the click: a POST answered with a body or a redirect
    // ends in one; 204/205 do not navigate.
    let navigations = 0;
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations += 1;
    });

    // The POST ends either with a response (any status, a redirect included) or with a network
    // failure (the server reset the connection mid-upload, ...). Both are outcomes, not failures.
    const isPost = (request) => request.method() === 'POST';
    const outcome = new Promise((resolve) => {
      page.on('response', (response) => {
        if (isPost(response.request())) resolve({ response });
      });
      page.on('requestfailed', (request) => {
        if (isPost(request)) resolve({ request, failure: request.failure()?.errorText ?? 'failed' });
      });
    });
    const posted = timeout(timeoutMs, 'the form POST to be answered');
    await submit.click({ timeout: timeoutMs, noWaitAfter: true });
    let result;
    try {
      result = await Promise.race([outcome, posted.promise]);
    } finally {
      posted.cancel();
    }

    const out = {
      page_origin: origin,
      post_url: null,
      post_status: null,
      post_error: null,
      post_headers: {},
      post_body: '',
      final_url: null,
      redirect_hits: hits,
      console: consoleLines,
    };
    if (result.response) {
      const response = result.response;
      out.post_url = response.url();
      out.post_status = response.status();
      out.post_headers = await lowerCaseHeaders(response);
      try {
        // Unavailable for redirects and for bodies the page navigated away from.
        out.post_body = (await response.body()).toString('utf8');
      } catch {
        out.post_body = '';
      }
    } else {
      out.post_url = result.request.url();
      out.post_error = result.failure;
    }

    // Let the navigation (if any) settle.
    const status = out.post_status;
    if (status === 204 || status === 205) {
      await page.waitForTimeout(NO_NAVIGATION_GRACE_MS);
    } else {
      const deadline = Date.now() + timeoutMs;
      while (navigations === 0 && Date.now() < deadline) await page.waitForTimeout(50);
      await page.waitForLoadState('load', { timeout: Math.max(1, deadline - Date.now()) }).catch(() => {});
      // A redirect to the page origin may still be in flight when the first navigation (an
      // error page, say) committed; give the static server a moment to see it.
      if (status >= 300 && status < 400) {
        await page.waitForLoadState('networkidle', { timeout: Math.max(1, deadline - Date.now()) }).catch(() => {});
      }
    }
    out.final_url = page.url();
    out.redirect_hits = [...hits];
    return out;
  } finally {
    await browser.close().catch(() => {});
    server.close();
  }
}

function parseHeaderFlag(text) {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new UsageError(`--header ${JSON.stringify(text)} is not 'Name: value'`);
  return [text.slice(0, colon).trim(), text.slice(colon + 1).trim()];
}

async function corsFetch(flags) {
  const url = need(flags, 'url');
  const method = (flags.method ?? 'GET').toUpperCase();
  const timeoutMs = flags['timeout-ms'];
  const headers = flags.header.map(parseHeaderFlag);
  let formFields = null;
  if (flags['form-fields-json'] !== undefined) {
    let parsed;
    try {
      parsed = JSON.parse(flags['form-fields-json']);
    } catch (e) {
      throw new UsageError(`--form-fields-json is not JSON: ${e.message}`);
    }
    // An object (its key order is kept) or a list of [name, value] pairs (names may repeat).
    formFields = Array.isArray(parsed) ? parsed : Object.entries(parsed);
    formFields = formFields.map(([k, v]) => [String(k), String(v)]);
    need(flags, 'file-name');
  }
  const args = {
    url,
    method,
    headers,
    bodyText: flags['body-text'] ?? null,
    formFields,
    fileName: flags['file-name'] ?? null,
    fileField: flags['file-field'] ?? 'file',
    timeoutMs,
  };

  const { server, origin } = await startStaticServer(
    flags['origin-host'],
    () => '<!doctype html><html><head><title>blank</title></head><body></body></html>',
  );
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    const consoleLines = recordConsole(page);
    await page.goto(`${origin}/`, { timeout: timeoutMs });
    const result = await page.evaluate(async (a) => {
      const init = { method: a.method, headers: a.headers, signal: AbortSignal.timeout(a.timeoutMs) };
      if (a.formFields) {
        const form = new FormData();
        for (const [name, value] of a.formFields) form.append(name, value);
        form.append(a.fileField, new Blob([a.bodyText ?? '']), a.fileName);
        init.body = form;
      } else if (a.bodyText !== null) {
        init.body = a.bodyText;
      }
      try {
        const response = await fetch(a.url, init);
        const headers = {};
        response.headers.forEach((value, name) => {
          headers[name] = value;
        });
        const body = await response.text();
        return { ok: true, status: response.status, headers, body };
      } catch (e) {
        return { ok: false, error: `${e.name}: ${e.message}` };
      }
    }, args);
    // CORS refusals are reported on the console only; give the message a moment to arrive.
    if (!result.ok) await page.waitForTimeout(100);
    return { ...result, page_origin: origin, console: consoleLines };
  } finally {
    await browser.close().catch(() => {});
    server.close();
  }
}

async function main() {
  let parsed;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`driver.mjs: ${e.message}\n${USAGE}\n`);
    process.exit(2);
  }
  const { command, flags } = parsed;
  // A last resort so the driver never hangs: the timeouts inside should fire well before this.
  const watchdog = setTimeout(() => {
    process.stderr.write(`driver.mjs: ${command} still running after ${flags['timeout-ms'] * 2 + 15000} ms, giving up\n`);
    process.exit(3);
  }, flags['timeout-ms'] * 2 + 15000);
  watchdog.unref();
  try {
    const out = command === 'submit-form' ? await submitForm(flags) : await corsFetch(flags);
    process.stdout.write(`${JSON.stringify(out)}\n`);
    process.exit(0);
  } catch (e) {
    const code = e instanceof UsageError ? 2 : 1;
    if (code === 2) process.stderr.write(`driver.mjs: ${e.message}\n${USAGE}\n`);
    else process.stderr.write(`driver.mjs: ${command} failed: ${e.stack ?? e}\n`);
    process.exit(code);
  }
}

main();
