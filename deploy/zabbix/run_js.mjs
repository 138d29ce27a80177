// Runs a Zabbix JavaScript (script item or webhook) under Node.js the way Zabbix would:
// the script body gets `value` (its parameters as a JSON string) and may use HttpRequest
// and Zabbix.log. HttpRequest is served by curl, synchronously like Zabbix's. Before
// running, the script is parsed as ECMAScript 5, the language of Zabbix's Duktape engine
// (acorn, from the npm registry, when ACORN_PATH points at it).
//
//   node run_js.mjs <script.js> '<parameters as JSON>'
//
// Prints what the script returns; exits 1 with the thrown message if it throws.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [scriptPath, params] = process.argv.slice(2);
if (!scriptPath || params === undefined) {
    console.error('usage: node run_js.mjs <script.js> <parameters-json>');
    process.exit(2);
}
const source = readFileSync(scriptPath, 'utf8');

if (process.env.ACORN_PATH) {
    const acorn = createRequire(join(process.env.ACORN_PATH, 'noop.js'))('acorn');
    try {
        acorn.parse(source, { ecmaVersion: 5, allowReturnOutsideFunction: true });
    } catch (e) {
        console.error(`${scriptPath}: not ECMAScript 5 (Zabbix runs Duktape): ${e.message}`);
        process.exit(1);
    }
}

const work = mkdtempSync(join(tmpdir(), 'zbx-js-'));
let calls = 0;

class HttpRequest {
    constructor() { this.headers = []; this.status = 0; this.proxy = null; }
    addHeader(h) { this.headers.push(h); }
    clearHeader() { this.headers = []; }
    setProxy(p) { this.proxy = p; }
    getStatus() { return this.status; }
    request(method, url, body) {
        const out = join(work, `body-${++calls}`);
        const args = ['-sS', '-X', method, '-o', out, '-w', '%{http_code}', '--max-time', '15'];
        for (const h of this.headers) args.push('-H', h);
        if (this.proxy) args.push('--proxy', this.proxy);
        if (body !== undefined && body !== null) args.push('--data-binary', '@-');
        args.push(url);
        const code = execFileSync('curl', args, { input: body ?? '', encoding: 'utf8' });
        this.status = parseInt(code, 10);
        return readFileSync(out, 'utf8');
    }
    get(url, body) { return this.request('GET', url, body); }
    post(url, body) { return this.request('POST', url, body); }
    put(url, body) { return this.request('PUT', url, body); }
}

const Zabbix = {
    log(level, message) {
        if (process.env.ZBX_JS_DEBUG) console.error(`[log ${level}] ${message}`);
    },
};

try {
    // eslint-disable-next-line no-new-func
    const run = new Function('value', 'HttpRequest', 'Zabbix', source);
    const result = run(params, HttpRequest, Zabbix);
    console.log(result);
} catch (e) {
    console.error(String(e));
    process.exitCode = 1;
} finally {
    rmSync(work, { recursive: true, force: true });
}
