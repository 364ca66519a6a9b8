// Hako runtime client for the managed `nodejsNN.x` runtimes.
//
// Speaks the AWS Lambda Runtime API (2018-06-01) to the Hako server and calls
// the user's handler, behaving like AWS's own client (aws-lambda-ric, the
// classic JavaScript implementation used by nodejs18.x-22.x): the same handler
// resolution (CommonJS / ES modules, nested paths), the same context object
// (including callbackWaitsForEmptyEventLoop and succeed/fail/done), the same
// error bodies and error types, and the same console log format.
//
// Started by Hako as `node <dir>/bootstrap.mjs` with the function's code
// directory as the working directory; configured through the environment
// (AWS_LAMBDA_RUNTIME_API, _HANDLER, LAMBDA_TASK_ROOT, AWS_LAMBDA_*).
//
// Node 18+, no dependencies. The Runtime API is spoken over one raw keep-alive
// TCP socket (no http.Agent, no per-request allocations of sockets); the
// socket is unref'd between requests so that "the event loop is empty" keeps
// meaning what it means on AWS.

import net from 'node:net';
import { format, types as utilTypes } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as nodeModule from 'node:module';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);

const API_PREFIX = '/2018-06-01/runtime';
const USER_AGENT = `aws-lambda-nodejs/${process.version}-hako`;
const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');
const TENANT_ID = Symbol.for('aws.lambda.runtime.tenantId');
const BEFORE_EXIT = Symbol.for('aws.lambda.beforeExit');

// ---------------------------------------------------------------------------
// Errors (aws-lambda-ric src/Errors.js)
// ---------------------------------------------------------------------------

class ImportModuleError extends Error {}
// Hako's addition to the error of a function file the function cannot read.
const UNREADABLE_HINT =
  "(the function runs as an unprivileged user, so every file of its package and layers must be readable by all users: give files mode 0644 and directories 0755 before zipping them; Python's zipfile.writestr, for one, stores entries with mode 0600)";
class HandlerNotFound extends Error {}
class MalformedHandlerName extends Error {}
class UserCodeSyntaxError extends Error {}
class NodeJsExit extends Error {
  constructor() {
    super(
      'The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise that was never settled. For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes',
    );
  }
}
class UnhandledPromiseRejection extends Error {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}
for (const e of [
  ImportModuleError,
  HandlerNotFound,
  MalformedHandlerName,
  UserCodeSyntaxError,
  NodeJsExit,
  UnhandledPromiseRejection,
]) {
  e.prototype.name = `Runtime.${e.name}`;
}

function isErrorLike(obj) {
  return (
    obj &&
    obj.name &&
    obj.message &&
    obj.stack &&
    typeof obj.name === 'string' &&
    typeof obj.message === 'string' &&
    typeof obj.stack === 'string'
  );
}

function intoError(err) {
  return err instanceof Error ? err : new Error(err);
}

/** The body of an error report: {errorType, errorMessage, trace}. */
function toRapidResponse(error) {
  try {
    if (utilTypes.isNativeError(error) || isErrorLike(error)) {
      return {
        errorType: error.name?.replaceAll('\x7F', '%7F'),
        errorMessage: error.message?.replaceAll('\x7F', '%7F'),
        trace: error.stack.replaceAll('\x7F', '%7F').split('\n'),
      };
    }
    return {
      errorType: typeof error,
      errorMessage: error.toString(),
      trace: [],
    };
  } catch (_err) {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

function withEnumerableProperties(error) {
  if (error instanceof Error) {
    const ret = Object.assign(
      { errorType: error.name, errorMessage: error.message, code: error.code },
      error,
    );
    if (typeof error.stack == 'string') {
      ret.stack = error.stack.split('\n');
    }
    return ret;
  }
  return error;
}

/** An error as logged after "Invoke Error" and friends (always starts with a tab). */
function toFormatted(error) {
  try {
    return '\t' + JSON.stringify(error, (_k, v) => withEnumerableProperties(v));
  } catch (_err) {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}

/** The Lambda-Runtime-Function-XRay-Error-Cause header (aws-lambda-ric XRayError.js). */
function xrayErrorCause(err) {
  try {
    const stack = [];
    if (err.stack) {
      const lines = err.stack.split('\n');
      lines.shift();
      for (const stackLine of lines) {
        let line = stackLine.trim().replace(/\(|\)/g, '');
        line = line.substring(line.indexOf(' ') + 1);
        const label = line.lastIndexOf(' ') >= 0 ? line.slice(0, line.lastIndexOf(' ')) : null;
        let where = label == undefined || label == null || label.length === 0 ? line : line.slice(line.lastIndexOf(' ') + 1);
        where = where.split(':');
        stack.push({ path: where[0], line: parseInt(where[1]), label: label || 'anonymous' });
      }
    }
    return JSON.stringify({
      working_directory: process.cwd(),
      exceptions: [{ type: err.name, message: err.message, stack }],
      paths: Array.from(new Set(stack.map((e) => e.path))),
    });
  } catch (_err) {
    return '';
  }
}

// ---------------------------------------------------------------------------
// Console (aws-lambda-ric src/LogPatch.js, stdout variant)
// ---------------------------------------------------------------------------

const LEVELS = Object.freeze({
  TRACE: { name: 'TRACE', priority: 1 },
  DEBUG: { name: 'DEBUG', priority: 2 },
  INFO: { name: 'INFO', priority: 3 },
  WARN: { name: 'WARN', priority: 4 },
  ERROR: { name: 'ERROR', priority: 5 },
  FATAL: { name: 'FATAL', priority: 6 },
});

function logTextToStdout(level, message, ...params) {
  let line = `${new Date().toISOString()}\t${globalThis[REQUEST_ID]}\t${level.name}\t${format(message, ...params)}`;
  line = line.replace(/\n/g, '\r');
  process.stdout.write(line + '\n');
}

const jsonErrorReplacer = (_, value) => {
  if (value instanceof Error) {
    return Object.assign(
      {
        errorType: value?.constructor?.name ?? 'UnknownError',
        errorMessage: value.message,
        stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
      },
      value,
    );
  }
  return value;
};

function formatJsonMessage(requestId, timestamp, level, ...messageParams) {
  const result = { timestamp, level: level.name, requestId };
  const tenantId = globalThis[TENANT_ID];
  if (tenantId !== undefined && tenantId !== null) {
    result.tenantId = tenantId;
  }
  if (messageParams.length === 1) {
    result.message = messageParams[0];
    try {
      return JSON.stringify(result, jsonErrorReplacer);
    } catch (_) {
      result.message = format(result.message);
      return JSON.stringify(result);
    }
  }
  result.message = format(...messageParams);
  for (const param of messageParams) {
    if (param instanceof Error) {
      result.errorType = param?.constructor?.name ?? 'UnknownError';
      result.errorMessage = param.message;
      result.stackTrace = typeof param.stack === 'string' ? param.stack.split('\n') : [];
      break;
    }
  }
  return JSON.stringify(result);
}

function logJsonToStdout(level, message, ...params) {
  let line = formatJsonMessage(globalThis[REQUEST_ID], new Date().toISOString(), level, message, ...params);
  line = line.replace(/\n/g, '\r');
  process.stdout.write(line + '\n');
}

/** Logs a runtime-level error: "<msg> \t{...error as JSON...}" (text) or the error (JSON). */
let logError = (msg, err) => console.error(msg, toFormatted(intoError(err)));

function patchConsole() {
  const json = (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';
  const log = json ? logJsonToStdout : logTextToStdout;
  const minLevel = LEVELS[process.env.AWS_LAMBDA_LOG_LEVEL?.toUpperCase()] ?? LEVELS.TRACE;
  const NopLog = (_message, ..._params) => {};
  const at = (level) =>
    level.priority >= minLevel.priority ? (msg, ...params) => log(level, msg, ...params) : NopLog;
  console.trace = at(LEVELS.TRACE);
  console.debug = at(LEVELS.DEBUG);
  console.info = at(LEVELS.INFO);
  console.log = console.info;
  console.warn = at(LEVELS.WARN);
  console.error = at(LEVELS.ERROR);
  console.fatal = (msg, ...params) => log(LEVELS.FATAL, msg, ...params);
  logError = json
    ? (_, err) => console.error(intoError(err))
    : (msg, err) => console.error(msg, toFormatted(intoError(err)));
}

// ---------------------------------------------------------------------------
// Runtime API client: one persistent HTTP/1.1 connection over a raw socket.
// ---------------------------------------------------------------------------

function headerValue(v) {
  return String(v).replace(/[\r\n]/g, ' ');
}

class RuntimeApiClient {
  constructor(address) {
    const i = address.lastIndexOf(':');
    let host = address.slice(0, i);
    if (host.startsWith('[')) host = host.slice(1, -1);
    this.host = host || '127.0.0.1';
    this.port = Number(address.slice(i + 1));
    this.common = `Host: ${address}\r\nUser-Agent: ${USER_AGENT}\r\n`;
    this.nextHead = `GET ${API_PREFIX}/invocation/next HTTP/1.1\r\n${this.common}\r\n`;
    this.address = address;
    this.side = null;
    this.sock = null;
    this.cur = null; // the request in flight
    this.waiting = []; // requests queued behind it
  }

  // -- transport ------------------------------------------------------------

  request(head, body, longPoll = false) {
    return new Promise((resolve, reject) => {
      const req = { head, body, resolve, reject, retried: false, longPoll };
      if (this.cur) this.waiting.push(req);
      else this._start(req);
    });
  }

  /**
   * A POST must not queue behind a pending GET /next, which only completes
   * when an event arrives (an error reported between invocations, or an init
   * error raised asynchronously while the first GET waits): such POSTs go over
   * a second connection.
   */
  _transportFor() {
    if (this.cur && this.cur.longPoll) {
      if (!this.side) this.side = new RuntimeApiClient(this.address);
      return this.side;
    }
    return this;
  }

  _connect() {
    const sock = net.connect({ host: this.host, port: this.port });
    sock.setNoDelay(true);
    sock.on('data', (chunk) => {
      if (sock === this.sock) this._onData(chunk);
    });
    sock.on('error', (err) => this._onEnd(sock, err));
    sock.on('close', () => this._onEnd(sock, null));
    this.sock = sock;
  }

  _start(req) {
    this.cur = req;
    req.reused = this.sock !== null;
    req.got = false;
    req.phase = 'head';
    req.buf = null;
    if (!this.sock) this._connect();
    else this.sock.ref();
    const sock = this.sock;
    if (req.body === undefined) {
      sock.write(req.head);
    } else {
      sock.cork();
      sock.write(req.head);
      sock.write(req.body);
      sock.uncork();
    }
  }

  _finish(result, keepAlive) {
    const req = this.cur;
    this.cur = null;
    if (!keepAlive && this.sock) {
      const s = this.sock;
      this.sock = null;
      s.destroy();
    }
    const next = this.waiting.shift();
    if (next) this._start(next);
    else if (this.sock) this.sock.unref();
    req.resolve(result);
  }

  _onEnd(sock, err) {
    if (sock !== this.sock) return;
    this.sock = null;
    sock.destroy();
    const req = this.cur;
    if (!req) return;
    if (!err && req.phase === 'close') {
      this._finish(this._response(req, Buffer.concat(req.parts)), false);
      return;
    }
    if (req.reused && !req.got && !req.retried) {
      // A kept-alive connection the server had dropped: send again, once.
      req.retried = true;
      this._start(req);
      return;
    }
    this.cur = null;
    const next = this.waiting.shift();
    if (next) this._start(next);
    req.reject(err || new Error('the Runtime API closed the connection'));
  }

  _response(req, body) {
    return { status: req.status, headers: req.headers, body };
  }

  _onData(chunk) {
    const req = this.cur;
    if (!req) return; // nothing asked for; ignore
    req.got = true;
    if (req.phase === 'head') {
      const buf = req.buf ? Buffer.concat([req.buf, chunk]) : chunk;
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        req.buf = buf;
        return;
      }
      req.buf = null;
      const lines = buf.toString('latin1', 0, end).split('\r\n');
      const status = parseInt(lines[0].split(' ')[1], 10);
      const headers = {};
      for (let i = 1; i < lines.length; i++) {
        const line = lines[i];
        const c = line.indexOf(':');
        if (c > 0) headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
      }
      const rest = buf.subarray(end + 4);
      if (status >= 100 && status < 200) {
        if (rest.length) this._onData(rest);
        return;
      }
      req.status = status;
      req.headers = headers;
      const conn = (headers['connection'] || '').toLowerCase();
      req.keepAlive = lines[0].startsWith('HTTP/1.0') ? conn === 'keep-alive' : conn !== 'close';
      const te = headers['transfer-encoding'];
      if (te !== undefined && te.toLowerCase().includes('chunked')) {
        req.phase = 'chunked';
        req.cstate = 'size';
        req.cbuf = null;
        req.parts = [];
      } else if (headers['content-length'] !== undefined) {
        const n = parseInt(headers['content-length'], 10);
        if (rest.length >= n) {
          this._finish(this._response(req, rest.subarray(0, n)), req.keepAlive);
          return;
        }
        req.phase = 'length';
        req.rbody = Buffer.allocUnsafe(n);
        req.filled = rest.copy(req.rbody, 0);
        return;
      } else if (status === 204 || status === 304) {
        this._finish(this._response(req, Buffer.alloc(0)), req.keepAlive);
        return;
      } else {
        req.phase = 'close';
        req.parts = [rest];
        return;
      }
      if (rest.length) this._onChunked(req, rest);
      return;
    }
    if (req.phase === 'length') {
      const need = req.rbody.length - req.filled;
      if (chunk.length >= need) {
        chunk.copy(req.rbody, req.filled, 0, need);
        this._finish(this._response(req, req.rbody), req.keepAlive);
      } else {
        req.filled += chunk.copy(req.rbody, req.filled);
      }
    } else if (req.phase === 'chunked') {
      this._onChunked(req, chunk);
    } else {
      req.parts.push(chunk);
    }
  }

  _onChunked(req, chunk) {
    let buf = req.cbuf ? Buffer.concat([req.cbuf, chunk]) : chunk;
    for (;;) {
      if (req.cstate === 'size') {
        const i = buf.indexOf('\r\n');
        if (i < 0) break;
        const size = parseInt(buf.toString('latin1', 0, i).split(';')[0].trim(), 16);
        buf = buf.subarray(i + 2);
        if (size === 0) {
          req.cstate = 'trailer';
        } else {
          req.cstate = 'data';
          req.left = size;
        }
      } else if (req.cstate === 'data') {
        if (buf.length === 0) break;
        const take = Math.min(req.left, buf.length);
        req.parts.push(buf.subarray(0, take));
        buf = buf.subarray(take);
        req.left -= take;
        if (req.left === 0) req.cstate = 'crlf';
      } else if (req.cstate === 'crlf') {
        if (buf.length < 2) break;
        buf = buf.subarray(2);
        req.cstate = 'size';
      } else {
        const i = buf.indexOf('\r\n');
        if (i < 0) break;
        buf = buf.subarray(i + 2);
        if (i === 0) {
          req.cbuf = null;
          this._finish(this._response(req, Buffer.concat(req.parts)), req.keepAlive);
          return;
        }
      }
    }
    req.cbuf = buf.length ? buf : null;
  }

  async _post(pathPart, body, headers) {
    let extra = '';
    for (const k in headers) {
      if (headers[k]) extra += `${k}: ${headerValue(headers[k])}\r\n`;
    }
    const head =
      `POST ${API_PREFIX}/${pathPart} HTTP/1.1\r\n${this.common}Content-Type: application/json\r\n` +
      `${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
    let res;
    try {
      res = await this._transportFor().request(head, body);
    } catch (err) {
      // The server dropped the connection instead of answering (it does so
      // when it refuses an oversized body): the invocation is the server's to
      // fail now. Carry on with the next one.
      runtimeLog(`POST ${pathPart} failed: ${err}`);
      return;
    }
    if (res.status >= 200 && res.status < 300) return;
    // 413: too large, the server already failed the invocation; 4xx: the
    // invocation is no longer ours to answer. 5xx: non-recoverable, exit.
    runtimeLog(`the Runtime API answered ${res.status} to POST ${pathPart}: ${res.body.toString().slice(0, 1000)}`);
    if (res.status >= 500) process.exit(1);
  }

  // -- Runtime API -----------------------------------------------------------

  async nextInvocation() {
    let res;
    try {
      res = await this.request(this.nextHead, undefined, true);
    } catch (err) {
      runtimeLog(`lost the Runtime API connection: ${err}`);
      process.exit(1);
    }
    if (res.status !== 200) {
      runtimeLog(`the Runtime API answered ${res.status} to GET invocation/next: ${res.body.toString().slice(0, 1000)}`);
      process.exit(1);
    }
    return { bodyJson: res.body.toString('utf8'), headers: res.headers };
  }

  /** Throws (synchronously) when the result cannot be serialized, as aws-lambda-ric does. */
  postInvocationResponse(response, id) {
    const body = trySerializeResponse(response);
    return this._post(`invocation/${encodeURIComponent(id)}/response`, body, {});
  }

  postInvocationError(error, id) {
    const response = toRapidResponse(error);
    const body = trySerializeResponse(response);
    return this._post(`invocation/${encodeURIComponent(id)}/error`, body, errorHeaders(response, error));
  }

  postInitError(error) {
    const response = toRapidResponse(error);
    const body = trySerializeResponse(response);
    // (aws-lambda-ric sends no X-Ray cause with init errors)
    return this._post('init/error', body, { 'Lambda-Runtime-Function-Error-Type': response.errorType || 'Unhandled' });
  }
}

function errorHeaders(response, error) {
  let cause = xrayErrorCause(error);
  // header values: keep them ASCII
  cause = cause.replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  return {
    'Lambda-Runtime-Function-Error-Type': response.errorType || 'Unhandled',
    'Lambda-Runtime-Function-XRay-Error-Cause': cause.length < 1024 * 1024 ? cause : '',
  };
}

function trySerializeResponse(body) {
  let s;
  try {
    s = JSON.stringify(body === undefined ? null : body);
  } catch (err) {
    throw new Error('Unable to stringify response body');
  }
  return s === undefined ? 'null' : s;
}

function runtimeLog(msg) {
  try {
    process.stderr.write(`[hako-runtime] ${msg}\n`);
  } catch (_) {
    // nothing to do
  }
}

// ---------------------------------------------------------------------------
// Handler loading (aws-lambda-ric src/UserFunction.js)
// ---------------------------------------------------------------------------

const FUNCTION_EXPR = /^([^.]*)\.(.*)$/;

function tryRequireFile(file, extension) {
  const p = file + (extension || '');
  return existsSync(p) ? require(p) : undefined;
}

async function tryAwaitImport(file, extension) {
  const p = file + (extension || '');
  if (!existsSync(p)) return undefined;
  const url = pathToFileURL(p).href;
  esmNodePath(true);
  try {
    return await import(url);
  } catch (e) {
    // A package the normal resolution cannot find (resolution fails before any of the graph
    // runs): with the hook installed, again, under another URL (the failed one is cached).
    if (e?.code === 'ERR_MODULE_NOT_FOUND' && /^Cannot find package/.test(e.message) && esmNodePath(false)) {
      return await import(`${url}?node_path`);
    }
    throw e;
  }
}

// ES modules ignore NODE_PATH; AWS's Node.js 18+ runtimes search its folders when loading ES
// modules all the same (a layer's nodejs/node_modules, the runtime's SDK in
// /var/runtime/node_modules). A resolve hook does the same here: a bare specifier that the
// normal resolution cannot find is resolved again as if imported from beside each NODE_PATH
// `node_modules` folder. Where Node.js has in-thread hooks (22.15+) they are installed before
// the function's first ES module is imported; elsewhere (Node.js 20) the hooks run on a thread
// of their own that costs tens of milliseconds to start, so they are installed only when an
// import of the function's module has failed to find a package, and the import is retried.
const ESM_NODE_PATH_HOOK = `
let parents = [];
export function initialize(data) { parents = data; }
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (e) {
    if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !/^[^./#][^:]*$/.test(specifier)) throw e;
    for (const parentURL of parents) {
      try { return await next(specifier, { ...context, parentURL }); } catch {}
    }
    throw e;
  }
}`;
let esmNodePathDone = false;

// Installs the hook: in-thread hooks always, off-thread ones only when not `eager`. True when
// it was installed by this call.
function esmNodePath(eager) {
  if (esmNodePathDone) return false;
  const inThread = typeof nodeModule.registerHooks === 'function';
  if (eager && !inThread) return false;
  esmNodePathDone = true;
  const parents = (process.env.NODE_PATH || '')
    .split(':')
    .filter((d) => d && path.basename(d) === 'node_modules' && existsSync(d))
    .map((d) => pathToFileURL(path.join(path.dirname(d), '[node_path].mjs')).href);
  if (parents.length === 0) return false;
  if (inThread) {
    // In-thread, synchronous hooks (Node.js 22.15+).
    nodeModule.registerHooks({
      resolve(specifier, context, next) {
        try {
          return next(specifier, context);
        } catch (e) {
          if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !/^[^./#][^:]*$/.test(specifier)) throw e;
          for (const parentURL of parents) {
            try {
              return next(specifier, { ...context, parentURL });
            } catch {}
          }
          throw e;
        }
      },
    });
    return true;
  }
  if (typeof nodeModule.register === 'function') {
    nodeModule.register('data:text/javascript,' + encodeURIComponent(ESM_NODE_PATH_HOOK), {
      data: parents,
    });
    return true;
  }
  return false;
}

function hasFolderPackageJsonTypeModule(folder) {
  if (folder.endsWith('/node_modules')) return false;
  const pj = path.join(folder, '/package.json');
  if (existsSync(pj)) {
    try {
      const pkg = JSON.parse(readFileSync(pj));
      if (pkg) return pkg.type === 'module';
    } catch (e) {
      console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, e);
      return false;
    }
  }
  if (folder === '/') return false;
  return hasFolderPackageJsonTypeModule(path.resolve(folder, '..'));
}

async function tryRequire(appRoot, moduleRoot, module) {
  const lambdaStylePath = path.resolve(appRoot, moduleRoot, module);

  // Extensionless files are loaded via require.
  const extensionless = tryRequireFile(lambdaStylePath);
  if (extensionless) return extensionless;

  // .js is CommonJS unless the nearest package.json says "type": "module".
  const pjHasModule = hasFolderPackageJsonTypeModule(path.resolve(path.dirname(lambdaStylePath)));
  if (!pjHasModule) {
    const loaded = tryRequireFile(lambdaStylePath, '.js');
    if (loaded) return loaded;
  }

  const loaded =
    (pjHasModule && (await tryAwaitImport(lambdaStylePath, '.js'))) ||
    (await tryAwaitImport(lambdaStylePath, '.mjs')) ||
    tryRequireFile(lambdaStylePath, '.cjs');
  if (loaded) return loaded;

  // Fall back to Node's resolution (node_modules, NODE_PATH), relative to the
  // function, not to this file.
  const nodeStylePath = require.resolve(module, { paths: [appRoot, path.join(appRoot, moduleRoot)] });
  return require(nodeStylePath);
}

async function loadUserApp(appRoot, moduleRoot, module) {
  try {
    return await tryRequire(appRoot, moduleRoot, module);
  } catch (e) {
    if (e instanceof SyntaxError) {
      throw new UserCodeSyntaxError(e);
    } else if (e && e.code === 'MODULE_NOT_FOUND') {
      throw new ImportModuleError(e);
    } else if (e && e.code === 'EACCES') {
      // AWS fails the same way; say what to fix.
      throw new ImportModuleError(`${e} ${UNREADABLE_HINT}`);
    }
    throw e;
  }
}

async function loadHandler(appRoot, fullHandlerString) {
  if (fullHandlerString.includes('..')) {
    throw new MalformedHandlerName(
      `'${fullHandlerString}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const handlerString = path.basename(fullHandlerString);
  const moduleRoot = fullHandlerString.substring(0, fullHandlerString.indexOf(handlerString));
  const match = handlerString.match(FUNCTION_EXPR);
  if (!match || match.length != 3) {
    throw new MalformedHandlerName('Bad handler');
  }
  const [, module, handlerPath] = match;

  const userApp = await loadUserApp(appRoot, moduleRoot, module);
  const handlerFunc = handlerPath.split('.').reduce((nested, key) => nested && nested[key], userApp);
  if (!handlerFunc) {
    throw new HandlerNotFound(`${fullHandlerString} is undefined or not exported`);
  }
  if (typeof handlerFunc !== 'function') {
    throw new HandlerNotFound(`${fullHandlerString} is not a function`);
  }
  return handlerFunc;
}

// ---------------------------------------------------------------------------
// Invocation (aws-lambda-ric src/Runtime.js, CallbackContext.js, InvokeContext.js)
// ---------------------------------------------------------------------------

const NO_OP = () => {};
globalThis[BEFORE_EXIT] = NO_OP;
const setBeforeExit = (listener) => (globalThis[BEFORE_EXIT] = listener);
const resetBeforeExit = () => (globalThis[BEFORE_EXIT] = NO_OP);

function parseJsonHeader(value, name) {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

function attachEnvironmentData(callbackContext, headers) {
  const trace = headers['lambda-runtime-trace-id'];
  if (trace) process.env._X_AMZN_TRACE_ID = trace;
  else delete process.env._X_AMZN_TRACE_ID;

  const env = process.env;
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  return Object.assign(
    callbackContext,
    {
      functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
      functionName: env.AWS_LAMBDA_FUNCTION_NAME,
      memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    },
    {
      clientContext: parseJsonHeader(headers['lambda-runtime-client-context'], 'ClientContext'),
      identity: parseJsonHeader(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
      invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
      awsRequestId: headers['lambda-runtime-aws-request-id'],
      tenantId: headers['lambda-runtime-aws-tenant-id'],
      getRemainingTimeInMillis: function () {
        return deadline - Date.now();
      },
    },
  );
}

/**
 * The node-style callback, the context's succeed/fail/done and
 * callbackWaitsForEmptyEventLoop; only the first call of any of them counts.
 */
function buildCallbackContext(client, id, scheduleNext) {
  const postError = (err, callback) => {
    logError('Invoke Error', err);
    client.postInvocationError(err, id).then(callback);
  };

  let isCompleteInvoked = false;
  const complete = (result, callback) => {
    if (isCompleteInvoked) {
      console.error(
        'Invocation has already been reported as done. Cannot call complete more than once per invocation.',
      );
      return;
    }
    isCompleteInvoked = true;
    client.postInvocationResponse(result, id).then(callback);
  };

  let waitForEmptyEventLoop = true;

  const callback = function (err, result) {
    resetBeforeExit();
    if (err !== undefined && err !== null) {
      postError(err, scheduleNext);
    } else if (!waitForEmptyEventLoop) {
      complete(result, scheduleNext);
    } else {
      // Answer once the event loop has nothing left to do, as AWS does.
      setBeforeExit(() => {
        setImmediate(() => {
          complete(result, scheduleNext);
        });
      });
    }
  };

  const done = (err, result) => {
    resetBeforeExit();
    if (err !== undefined && err !== null) {
      postError(err, scheduleNext);
    } else {
      complete(result, scheduleNext);
    }
  };
  const succeed = (result) => {
    done(null, result);
  };
  const fail = (err) => {
    if (err === undefined || err === null) {
      done('handled');
    } else {
      done(err, null);
    }
  };

  const callbackContext = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
    succeed,
    fail,
    done,
  };

  let finished = false;
  const onlyAllowFirstCall = (toWrap) =>
    function () {
      if (!finished) {
        toWrap.apply(null, arguments);
        finished = true;
      }
    };
  callbackContext.succeed = onlyAllowFirstCall(callbackContext.succeed);
  callbackContext.fail = onlyAllowFirstCall(callbackContext.fail);
  callbackContext.done = onlyAllowFirstCall(callbackContext.done);

  return [
    onlyAllowFirstCall(callback),
    callbackContext,
    () => {
      isCompleteInvoked = true;
    },
  ];
}

function isPromise(obj) {
  return obj && obj.then && typeof obj.then === 'function';
}

function isAsyncFunction(fn) {
  try {
    return fn && typeof fn === 'function' && fn.constructor && fn.constructor.name === 'AsyncFunction';
  } catch (_) {
    return false;
  }
}

class Runtime {
  constructor(client, handler, errorCallbacks) {
    this.client = client;
    this.handler = handler;
    this.isAsync = isAsyncFunction(handler);
    this.errorCallbacks = errorCallbacks;
    this.scheduleIteration = this.scheduleIteration.bind(this);
  }

  scheduleIteration() {
    setImmediate(() => {
      this.handleOnce().then(
        () => {},
        (err) => {
          console.log(`Unexpected Top Level Error: ${err.toString()}`);
          this.errorCallbacks.uncaughtException(err);
        },
      );
    });
  }

  async handleOnce() {
    if (this.handler[HANDLER_STREAMING] === STREAM_RESPONSE) {
      return handleOnceStreaming(this, this.client.address);
    }
    const { bodyJson, headers } = await this.client.nextInvocation();
    const invokeId = headers['lambda-runtime-aws-request-id'];
    if (!invokeId) throw new Error('invocation id is missing or invalid');
    globalThis[REQUEST_ID] = invokeId;
    globalThis[TENANT_ID] = headers['lambda-runtime-aws-tenant-id'];

    const [callback, callbackContext, markCompleted] = buildCallbackContext(
      this.client,
      invokeId,
      this.scheduleIteration,
    );

    try {
      this.setErrorCallbacks(invokeId);
      this.setDefaultExitListener(invokeId, markCompleted);

      const result = this.handler(
        JSON.parse(bodyJson),
        attachEnvironmentData(callbackContext, headers),
        callback,
      );
      if (isPromise(result)) {
        result.then(callbackContext.succeed, callbackContext.fail).catch(callbackContext.fail);
      }
    } catch (err) {
      callback(err);
    }
  }

  setErrorCallbacks(invokeId) {
    this.errorCallbacks.uncaughtException = (error) => {
      this.client.postInvocationError(error, invokeId).then(() => process.exit(129));
    };
    this.errorCallbacks.unhandledRejection = (error) => {
      this.client.postInvocationError(error, invokeId).then(() => process.exit(128));
    };
  }

  // Used when the event loop empties before the handler answered: a
  // non-async handler that never called back answers null; an async one
  // whose promise can no longer settle fails with Runtime.NodeJsExit.
  setDefaultExitListener(invokeId, markCompleted) {
    setBeforeExit(() => {
      markCompleted();
      if (this.isAsync) {
        const error = new NodeJsExit();
        logError('Invoke Error', error);
        this.client.postInvocationError(error, invokeId).then(this.scheduleIteration);
      } else {
        this.client.postInvocationResponse(null, invokeId).then(this.scheduleIteration);
      }
    });
  }
}

// ---------------------------------------------------------------------------
// Response streaming (aws-lambda-ric src/ResponseStream.js, HttpResponseStream.js,
// UserFunction.js): the `awslambda` global, and the streamed POST of a handler
// wrapped by awslambda.streamifyResponse.
// ---------------------------------------------------------------------------

const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const STREAM_RESPONSE = 'response';
const PRELUDE_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';

class HttpResponseStream {
  /** Opens the stream with a function URL's HTTP prelude: its JSON, then 8 NUL bytes. */
  static from(underlyingStream, prelude) {
    underlyingStream.setContentType(PRELUDE_CONTENT_TYPE);
    const metadata = JSON.stringify(prelude);
    underlyingStream._onBeforeFirstWrite = (write) => {
      write(metadata);
      write(new Uint8Array(8));
    };
    return underlyingStream;
  }
}

globalThis.awslambda = {
  streamifyResponse: (handler, options) => {
    handler[HANDLER_STREAMING] = STREAM_RESPONSE;
    void options;
    return handler;
  },
  HttpResponseStream,
};

/**
 * The response stream of one invocation: a chunked POST /response with
 * Lambda-Runtime-Function-Response-Mode: streaming, on its own connection
 * (the keep-alive one is idle meanwhile). `done` settles when the Runtime API
 * has answered; `fail(err)` ends the body with the error trailers.
 */
function createResponseStream(address, id) {
  const i = address.lastIndexOf(':');
  let host = address.slice(0, i);
  if (host.startsWith('[')) host = host.slice(1, -1);
  let started = false;
  let resolveDone;
  const done = new Promise((resolve) => (resolveDone = resolve));
  // Loaded only by streaming functions (start-up time).
  const http = require('node:http');
  const req = http.request({
    host: host || '127.0.0.1',
    port: Number(address.slice(i + 1)),
    method: 'POST',
    path: `${API_PREFIX}/invocation/${encodeURIComponent(id)}/response`,
    agent: false,
    headers: {
      'User-Agent': USER_AGENT,
      'Lambda-Runtime-Function-Response-Mode': 'streaming',
      Trailer: 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body',
      'Content-Type': 'application/octet-stream',
    },
  });
  req.on('socket', (sock) => sock.setNoDelay(true));
  req.on('response', (res) => {
    res.resume();
    res.on('end', () => resolveDone(res.statusCode));
    res.on('error', () => resolveDone(0));
  });
  req.on('error', (err) => {
    runtimeLog(`streamed POST /invocation/${id}/response failed: ${err}`);
    resolveDone(0);
  });
  const origWrite = req.write.bind(req);
  req.setContentType = (contentType) => {
    if (started) throw new InvalidStreamingOperation('Cannot set content-type, too late.');
    req.setHeader('Content-Type', contentType);
  };
  req.write = function (chunk, encoding, callback) {
    if (typeof chunk !== 'string' && !Buffer.isBuffer(chunk) && chunk?.constructor !== Uint8Array) {
      chunk = JSON.stringify(chunk);
    }
    if (!started && typeof req._onBeforeFirstWrite === 'function') {
      req._onBeforeFirstWrite((c) => origWrite(c));
    }
    started = true;
    return origWrite(chunk, encoding, callback);
  };
  const fail = (err) => {
    const error = toRapidResponse(err);
    if (!req.writableEnded) {
      if (!started && typeof req._onBeforeFirstWrite === 'function') {
        req._onBeforeFirstWrite((c) => origWrite(c));
        started = true;
      }
      req.addTrailers({
        'Lambda-Runtime-Function-Error-Type': error.errorType,
        'Lambda-Runtime-Function-Error-Body': Buffer.from(JSON.stringify(error)).toString('base64'),
      });
      req.end();
    }
  };
  return { stream: req, done, fail };
}

class InvalidStreamingOperation extends Error {
  constructor(message) {
    super(message);
    this.name = 'Runtime.InvalidStreamingOperation';
  }
}

async function handleOnceStreaming(runtime, address) {
  const { bodyJson, headers } = await runtime.client.nextInvocation();
  const invokeId = headers['lambda-runtime-aws-request-id'];
  if (!invokeId) throw new Error('invocation id is missing or invalid');
  globalThis[REQUEST_ID] = invokeId;
  globalThis[TENANT_ID] = headers['lambda-runtime-aws-tenant-id'];
  const { stream, done, fail } = createResponseStream(address, invokeId);
  const failWith = (err) => {
    logError('Invoke Error', err);
    fail(err);
  };
  runtime.setErrorCallbacks(invokeId);
  // The event loop emptied while the handler had not ended its stream.
  setBeforeExit(() => {
    resetBeforeExit();
    failWith(new NodeJsExit());
  });
  let waitForEmptyEventLoop = true;
  const ctx = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
  };
  try {
    const result = runtime.handler(JSON.parse(bodyJson), stream, attachEnvironmentData(ctx, headers));
    if (!isPromise(result)) {
      failWith(new InvalidStreamingOperation('Streaming does not support non-async handlers.'));
    } else {
      const value = await result;
      if (typeof value !== 'undefined') console.warn('Streaming handlers ignore return values.');
      // A handler that returned without ending its stream: it ends here.
      if (!stream.writableEnded) stream.end();
    }
  } catch (err) {
    failWith(err);
  }
  await done;
  resetBeforeExit();
  runtime.scheduleIteration();
}

// ---------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------

async function main() {
  patchConsole();
  const client = new RuntimeApiClient(process.env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001');

  const errorCallbacks = {
    uncaughtException: (error) => {
      client.postInitError(error).then(() => process.exit(129));
    },
    unhandledRejection: (error) => {
      client.postInitError(error).then(() => process.exit(128));
    },
  };

  process.on('uncaughtException', (error) => {
    logError('Uncaught Exception', error);
    errorCallbacks.uncaughtException(error);
  });
  process.on('unhandledRejection', (reason, promise) => {
    const error = new UnhandledPromiseRejection(reason, promise);
    logError('Unhandled Promise Rejection', error);
    errorCallbacks.unhandledRejection(error);
  });
  process.on('beforeExit', () => globalThis[BEFORE_EXIT]());

  const appRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  const handlerString = process.env._HANDLER || process.argv[2] || '';

  let handler;
  try {
    handler = await loadHandler(appRoot, handlerString);
  } catch (error) {
    // aws-lambda-ric lets this escape as an uncaught exception.
    logError('Uncaught Exception', error);
    errorCallbacks.uncaughtException(error);
    return;
  }
  new Runtime(client, handler, errorCallbacks).scheduleIteration();
}

main();
