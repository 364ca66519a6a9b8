"""Hako runtime client for the managed ``python3.x`` runtimes.

Speaks the AWS Lambda Runtime API (2018-06-01) to the Hako server and calls
the user's handler, behaving like AWS's own client (awslambdaric): the same
handler resolution, context object, error bodies, error types, and log
formats.

Started by Hako as ``python3.N <dir>/bootstrap.py`` with the function's code
directory as the working directory; configured through the environment
(AWS_LAMBDA_RUNTIME_API, _HANDLER, LAMBDA_TASK_ROOT, AWS_LAMBDA_*).

Stdlib only, CPython 3.8+. Start-up time matters, so the module imports almost
nothing at start-up:
  * HTTP goes over a single raw keep-alive socket (``_socket``), not
    ``http.client``, which would pull in ssl and email (about 25 ms).
  * JSON goes straight to the C accelerator ``_json``, configured exactly as
    ``json.loads``/``json.dumps`` configure it, so ``json`` itself (and ``re``)
    is not imported; ``json`` is only loaded to produce exact error messages.
  * ``logging`` is configured by an import hook the moment anything imports
    it, so functions that never log don't pay for it (about 10 ms).
  * ``traceback`` is imported only when an error has to be reported.
"""

import os
import sys
import time
import _socket

_API_VERSION = "2018-06-01"
_USER_AGENT = "aws-lambda-python/%d.%d.%d-hako" % sys.version_info[:3]

_ERROR_LOG_LINE_TERMINATE = "\r"
_ERROR_LOG_IDENT = "\u00a0"  # NO-BREAK SPACE, as awslambdaric indents error logs

_UNHANDLED_EXCEPTION_WARNING = (
    "LAMBDA_WARNING: "
    "Unhandled exception. "
    "The most likely cause is an issue in the function code. "
    "However, in rare cases, a Lambda runtime update can cause unexpected function behavior. "
    "For functions using managed runtimes, runtime updates can be triggered by a function change, "
    "or can be applied automatically. "
    "To determine if the runtime has been updated, check the runtime version in the INIT_START log entry. "
    "If this error correlates with a change in the runtime version, you may be able to mitigate this "
    "error by temporarily rolling back to the previous runtime version. "
    "For more information, see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html"
)

# Request id of the invocation in progress ("" outside invocations); read by
# the logging filter.
_current_request_id = None
_current_tenant_id = None


class FaultException(Exception):
    """A failure the runtime reports with one of the ``Runtime.*`` types."""

    MARSHAL_ERROR = "Runtime.MarshalError"
    UNMARSHAL_ERROR = "Runtime.UnmarshalError"
    USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
    IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
    BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
    MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
    LAMBDA_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"

    def __init__(self, exception_type, msg, trace=None):
        Exception.__init__(self, msg)
        self.msg = msg
        self.exception_type = exception_type
        self.trace = trace


# --------------------------------------------------------------------------
# JSON, through the C accelerator (same configuration as json.loads/dumps).
# --------------------------------------------------------------------------

_JSON_WS = " \t\n\r"

try:
    from _json import encode_basestring_ascii as _c_encode_str
    from _json import make_encoder as _c_make_encoder
    from _json import make_scanner as _c_make_scanner

    class _ScanContext:
        # The attributes json.JSONDecoder hands to the C scanner by default.
        strict = True
        object_hook = None
        object_pairs_hook = None
        parse_float = float
        parse_int = int
        parse_constant = {
            "-Infinity": float("-inf"),
            "Infinity": float("inf"),
            "NaN": float("nan"),
        }.__getitem__
        memo = {}

    _c_scan = _c_make_scanner(_ScanContext)
    # Fail now (and fall back to the json module) if this interpreter's
    # _json has another make_encoder signature.
    _c_make_encoder({}, None, _c_encode_str, None, ": ", ", ", False, False, True)(None, 0)
except Exception:  # pragma: no cover - non-CPython or changed internals
    _c_scan = None
    _c_make_encoder = None


def _json_default(o):
    dec = sys.modules.get("decimal")
    if dec is not None and isinstance(o, dec.Decimal):
        # awslambdaric (simplejson) serializes Decimal values as numbers.
        if o.is_nan():
            return float("nan")
        if not o.is_finite() or o.as_tuple().exponent < 0:
            return float(o)
        return int(o)
    raise TypeError("Object of type %s is not JSON serializable" % o.__class__.__name__)


def _json_loads(data):
    """json.loads(data) for UTF-8 bytes (or str)."""
    if _c_scan is not None:
        try:
            s = data if isinstance(data, str) else data.decode("utf-8", "surrogatepass")
            n = len(s)
            i = 0
            while i < n and s[i] in _JSON_WS:
                i += 1
            obj, end = _c_scan(s, i)
            if end == n or not s[end:].strip(_JSON_WS):
                return obj
        except Exception:
            pass
    # Slow path: exact json.loads semantics and error messages.
    import json

    return json.loads(data)


def _json_dumps(obj):
    """json.dumps(obj) with default options (ensure_ascii, ', ', ': ')."""
    if _c_make_encoder is not None:
        if obj.__class__ is str:
            return _c_encode_str(obj)
        return "".join(
            _c_make_encoder({}, _json_default, _c_encode_str, None, ": ", ", ", False, False, True)(obj, 0)
        )
    import json

    return json.dumps(obj, default=_json_default)


# --------------------------------------------------------------------------
# Runtime API client: one persistent HTTP/1.1 connection over a raw socket.
# --------------------------------------------------------------------------


class _NoResponse(ConnectionError):
    """The connection closed before any byte of the response arrived."""


_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def _quote(s):
    if s.isascii() and s.replace("-", "").isalnum():  # the usual case: a UUID
        return s
    return "".join(chr(b) if chr(b) in _UNRESERVED else "%%%02X" % b for b in s.encode("utf-8"))


def _header_value(s):
    # Header values must stay on one line.
    return str(s).replace("\r", " ").replace("\n", " ")


class RuntimeClient:
    def __init__(self, address):
        host, sep, port = address.rpartition(":")
        if not sep:
            raise ValueError("AWS_LAMBDA_RUNTIME_API must be host:port, got %r" % address)
        family = _socket.AF_INET
        if host.startswith("["):
            host = host[1:-1]
            family = _socket.AF_INET6
        elif ":" in host:
            family = _socket.AF_INET6
        elif not host:
            host = "127.0.0.1"
        self._addr = (host, int(port))
        self._family = family
        self._sock = None
        self._rbuf = b""
        self._common = "Host: %s\r\nUser-Agent: %s\r\n" % (address, _USER_AGENT)
        self._next_request = (
            "GET /%s/runtime/invocation/next HTTP/1.1\r\n%s\r\n" % (_API_VERSION, self._common)
        ).encode("latin-1")

    # -- connection -------------------------------------------------------

    def _connect(self):
        sock = _socket.socket(self._family, _socket.SOCK_STREAM)
        try:
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        except OSError:
            pass
        try:
            sock.connect(self._addr)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self._rbuf = b""

    def close(self):
        sock, self._sock = self._sock, None
        self._rbuf = b""
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def _request(self, head, body=None):
        """Send one request; return (status, headers, body)."""
        reused = self._sock is not None
        try:
            return self._exchange(head, body)
        except (_NoResponse, BrokenPipeError, ConnectionResetError):
            # Most likely a kept-alive connection the server had dropped:
            # reconnect and send again, once.
            self.close()
            if not reused:
                raise
        except BaseException:
            self.close()
            raise
        try:
            return self._exchange(head, body)
        except BaseException:
            self.close()
            raise

    def _exchange(self, head, body):
        if self._sock is None:
            self._connect()
        sock = self._sock
        if body is None:
            sock.sendall(head)
        elif len(body) <= 65536:
            sock.sendall(head + body)
        else:
            sock.sendall(head)
            sock.sendall(body)
        return self._read_response()

    def _recv(self):
        chunk = self._sock.recv(262144)
        if not chunk:
            raise ConnectionError("Runtime API closed the connection")
        return chunk

    def _read_response(self):
        buf = self._rbuf
        while True:
            i = buf.find(b"\r\n\r\n")
            if i >= 0:
                break
            chunk = self._sock.recv(262144)
            if not chunk:
                if buf:
                    raise ConnectionError("Runtime API closed the connection mid-response")
                raise _NoResponse("Runtime API closed the connection")
            buf += chunk
        lines = buf[:i].decode("latin-1").split("\r\n")
        rest = buf[i + 4 :]
        status_line = lines[0]
        version = status_line[:8]
        status = int(status_line[9:12])
        headers = {}
        for line in lines[1:]:
            k, sep, v = line.partition(":")
            if sep:
                headers[k.lower()] = v.strip()
        if 100 <= status < 200:  # interim response: skip it
            self._rbuf = rest
            return self._read_response()

        keep_alive = headers.get("connection", "").lower()
        keep_alive = keep_alive != "close" if version != "HTTP/1.0" else keep_alive == "keep-alive"

        te = headers.get("transfer-encoding")
        if te is not None and "chunked" in te.lower():
            body, rest = self._read_chunked(rest)
        else:
            length = headers.get("content-length")
            if length is not None:
                n = int(length)
                if len(rest) >= n:
                    body = rest[:n]
                    rest = rest[n:]
                else:
                    ba = bytearray(n)
                    have = len(rest)
                    ba[:have] = rest
                    view = memoryview(ba)
                    recv_into = self._sock.recv_into
                    while have < n:
                        got = recv_into(view[have:], n - have)
                        if not got:
                            raise ConnectionError("Runtime API closed the connection mid-body")
                        have += got
                    body = ba
                    rest = b""
            elif status in (204, 304):
                body = b""
            else:  # body runs until the server closes the connection
                parts = [rest]
                while True:
                    chunk = self._sock.recv(262144)
                    if not chunk:
                        break
                    parts.append(chunk)
                body = b"".join(parts)
                rest = b""
                keep_alive = False
        if keep_alive:
            self._rbuf = rest
        else:
            self.close()
        return status, headers, body

    def _read_chunked(self, buf):
        out = []
        while True:
            while True:
                i = buf.find(b"\r\n")
                if i >= 0:
                    break
                buf += self._recv()
            size = int(buf[:i].split(b";", 1)[0].strip(), 16)
            buf = buf[i + 2 :]
            if size == 0:
                # trailers, up to an empty line
                while True:
                    while True:
                        i = buf.find(b"\r\n")
                        if i >= 0:
                            break
                        buf += self._recv()
                    line = buf[:i]
                    buf = buf[i + 2 :]
                    if not line:
                        return b"".join(out), buf
            while len(buf) < size + 2:
                buf += self._recv()
            out.append(buf[:size])
            buf = buf[size + 2 :]

    def _post(self, path, body, content_type, extra_headers=""):
        head = (
            "POST /%s/runtime/%s HTTP/1.1\r\n%s%s%sContent-Length: %d\r\n\r\n"
            % (
                _API_VERSION,
                path,
                self._common,
                "Content-Type: %s\r\n" % content_type if content_type else "",
                extra_headers,
                len(body),
            )
        ).encode("utf-8")
        try:
            status, _, answer = self._request(head, body)
        except OSError as e:
            # The server dropped the connection instead of answering (it does
            # so when it refuses an oversized body). The invocation is the
            # server's to fail now; carry on with the next one.
            _stderr("POST /%s failed: %s" % (path.rsplit("/", 1)[-1], e))
            return
        if 200 <= status < 300:
            return
        # 413: the response was too large; the server has already failed the
        # invocation. 400/403/404/410: the invocation is no longer ours to
        # answer. Either way, go on with the next one. 5xx: the container is
        # in a non-recoverable state and the runtime must exit.
        _stderr("Runtime API answered %d to POST /%s: %r" % (status, path, bytes(answer[:1000])))
        if status >= 500:
            sys.exit(1)

    # -- Runtime API ------------------------------------------------------

    def wait_next_invocation(self):
        status, headers, body = self._request(self._next_request)
        if status != 200:
            _stderr("Runtime API answered %d to GET /invocation/next: %r" % (status, bytes(body[:1000])))
            sys.exit(1)
        return headers, body

    def post_invocation_result(self, invoke_id, payload, content_type):
        self._post("invocation/%s/response" % _quote(invoke_id), payload, content_type)

    def stream_invocation_result(self, invoke_id, items):
        """A streamed response (the Runtime API's response streaming): a chunked POST with
        ``Lambda-Runtime-Function-Response-Mode: streaming``, each item of ``items`` sent as
        its own chunk as the handler yields it. An error the generator raises ends the body with
        the trailers ``Lambda-Runtime-Function-Error-Type`` / ``-Body`` (base64), as AWS's
        clients send it; it is returned (an error result) for logging, else None."""
        first = _SENTINEL
        try:
            first = next(items)
        except StopIteration:
            pass
        except Exception:
            return self._stream(invoke_id, "application/octet-stream", iter(()), _error_result(invoke_id))
        content_type = "application/octet-stream"
        prefix = []
        if isinstance(first, dict) and "statusCode" in first:
            # The HTTP prelude of a function URL (as Node's HttpResponseStream.from writes it).
            content_type = "application/vnd.awslambda.http-integration-response"
            prefix = [_json_dumps(first).encode("utf-8") + b"\0" * 8]
        elif first is not _SENTINEL:
            prefix = [first]
        return self._stream(invoke_id, content_type, _chain(prefix, items), None)

    def _stream(self, invoke_id, content_type, items, error_result):
        head = (
            "POST /%s/runtime/invocation/%s/response HTTP/1.1\r\n%sContent-Type: %s\r\n"
            "Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n"
            "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n"
            % (_API_VERSION, _quote(invoke_id), self._common, content_type)
        ).encode("latin-1")
        try:
            if self._sock is None:
                self._connect()
            sock = self._sock
            sock.sendall(head)
            if error_result is None:
                try:
                    for item in items:
                        data = _chunk_bytes(item)
                        if data:
                            sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))
                except Exception:
                    error_result = _error_result(invoke_id)
            end = b"0\r\n"
            if error_result is not None:
                import base64

                body = base64.b64encode(_json_dumps(error_result).encode("utf-8")).decode("ascii")
                end += (
                    "Lambda-Runtime-Function-Error-Type: %s\r\nLambda-Runtime-Function-Error-Body: %s\r\n"
                    % (_header_value(error_result["errorType"]), body)
                ).encode("latin-1")
            sock.sendall(end + b"\r\n")
            status, _, answer = self._read_response()
        except OSError as e:
            # The server stopped reading (a timeout, the limit passed): the invocation is the
            # server's to fail now.
            self.close()
            _stderr("POST /invocation/%s/response (streaming) failed: %s" % (invoke_id, e))
            return error_result
        if not 200 <= status < 300:
            _stderr("Runtime API answered %d to a streamed response: %r" % (status, bytes(answer[:1000])))
            if status >= 500:
                sys.exit(1)
        return error_result

    def post_invocation_error(self, invoke_id, error_json, error_type, xray_fault):
        self._post(
            "invocation/%s/error" % _quote(invoke_id),
            error_json.encode("utf-8"),
            "application/json",
            _error_headers(error_type, xray_fault),
        )

    def post_init_error(self, error_json, error_type):
        # (awslambdaric sends init errors without a Content-Type)
        self._post("init/error", error_json.encode("utf-8"), None, _error_headers(error_type, None))


_SENTINEL = object()


def _chain(prefix, items):
    for item in prefix:
        yield item
    for item in items:
        yield item


def _chunk_bytes(item):
    """A streamed item as bytes: bytes as they are, text as UTF-8, anything else as JSON."""
    if isinstance(item, (bytes, bytearray, memoryview)):
        return bytes(item)
    if isinstance(item, str):
        return item.encode("utf-8")
    return _json_dumps(item).encode("utf-8")


def _error_result(invoke_id):
    """The error result of the exception being handled (a streaming handler's)."""
    etype, value, tb = sys.exc_info()
    frames = _user_frames(tb)
    del tb
    return make_error(str(value), etype.__name__, _format_frames(frames), invoke_id)


def _error_headers(error_type, xray_fault):
    h = "Lambda-Runtime-Function-Error-Type: %s\r\n" % _header_value(error_type or "Unhandled")
    if xray_fault is not None:
        cause = _json_dumps(xray_fault)
        if len(cause) < 1024 * 1024:
            h += "Lambda-Runtime-Function-XRay-Error-Cause: %s\r\n" % _header_value(cause)
    return h


def _stderr(msg):
    try:
        sys.stderr.write("[hako-runtime] %s\n" % msg)
        sys.stderr.flush()
    except Exception:
        pass


# --------------------------------------------------------------------------
# Context object (mirrors awslambdaric.lambda_context).
# --------------------------------------------------------------------------


_FUNCTION_ENV = tuple(
    os.environ.get(k)
    for k in (
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
    )
)


class LambdaContext(object):
    def __init__(
        self,
        invoke_id,
        client_context,
        cognito_identity,
        epoch_deadline_time_in_ms,
        invoked_function_arn=None,
        tenant_id=None,
    ):
        self.aws_request_id = invoke_id
        # (the environment is read once, at start-up: see _FUNCTION_ENV)
        (
            self.log_group_name,
            self.log_stream_name,
            self.function_name,
            self.memory_limit_in_mb,
            self.function_version,
        ) = _FUNCTION_ENV
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id

        self.client_context = _make_obj_from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = _make_obj_from_dict(Client, self.client_context.client)

        identity = self.identity = CognitoIdentity()
        if cognito_identity is not None:
            identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")
        else:
            identity.cognito_identity_id = identity.cognito_identity_pool_id = None

        self._epoch_deadline_time_in_ms = epoch_deadline_time_in_ms

    def get_remaining_time_in_millis(self):
        delta_ms = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return delta_ms if delta_ms > 0 else 0

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (
            "%s([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,function_name=%s,"
            "memory_limit_in_mb=%s,function_version=%s,invoked_function_arn=%s,"
            "client_context=%s,identity=%s,tenant_id=%s])"
            % (
                self.__class__.__name__,
                self.aws_request_id,
                self.log_group_name,
                self.log_stream_name,
                self.function_name,
                self.memory_limit_in_mb,
                self.function_version,
                self.invoked_function_arn,
                self.client_context,
                self.identity,
                self.tenant_id,
            )
        )


class CognitoIdentity(object):
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __repr__(self):
        return "%s([cognito_identity_id=%s,cognito_identity_pool_id=%s])" % (
            self.__class__.__name__,
            self.cognito_identity_id,
            self.cognito_identity_pool_id,
        )


class Client(object):
    __slots__ = [
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    ]

    def __repr__(self):
        return "%s([installation_id=%s,app_title=%s,app_version_name=%s,app_version_code=%s,app_package_name=%s])" % (
            self.__class__.__name__,
            self.installation_id,
            self.app_title,
            self.app_version_name,
            self.app_version_code,
            self.app_package_name,
        )


class ClientContext(object):
    __slots__ = ["custom", "env", "client"]

    def __repr__(self):
        return "%s([custom=%s,env=%s,client=%s])" % (
            self.__class__.__name__,
            self.custom,
            self.env,
            self.client,
        )


def _make_obj_from_dict(cls, d):
    if d is None:
        return None
    obj = cls()
    for field in cls.__slots__:
        setattr(obj, field, d.get(field, None))
    return obj


def _parse_json_header(value, name):
    try:
        return _json_loads(value)
    except Exception as e:
        raise FaultException(
            FaultException.LAMBDA_CONTEXT_UNMARSHAL_ERROR,
            "Unable to parse {} JSON: {}".format(name, str(e)),
            None,
        )


# --------------------------------------------------------------------------
# Logging: awslambdaric's root-logger handler, installed when `logging` is
# first imported (by user code or by us).
# --------------------------------------------------------------------------

_LOG_FORMAT_JSON = (os.environ.get("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON"
_LOG_LEVEL = {None: "", "TRACE": "DEBUG"}.get(os.environ.get("AWS_LAMBDA_LOG_LEVEL"), os.environ.get("AWS_LAMBDA_LOG_LEVEL") or "").upper()
_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
_JSON_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class StandardLogSink(object):
    def log(self, msg, frame_type=None):
        sys.stdout.write(msg)

    def log_error(self, message_lines):
        sys.stdout.write(_ERROR_LOG_LINE_TERMINATE.join(message_lines) + "\n")


_log_sink = StandardLogSink()


def _setup_logging(logging):
    """Configure the freshly imported ``logging`` module like awslambdaric."""
    logging.Formatter.converter = time.gmtime
    logger = logging.getLogger()

    class LambdaLoggerHandler(logging.Handler):
        def __init__(self, log_sink):
            logging.Handler.__init__(self)
            self.log_sink = log_sink

        def emit(self, record):
            self.log_sink.log(self.format(record))

    class LambdaLoggerFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = _current_request_id or ""
            record.tenant_id = _current_tenant_id
            return True

    handler = LambdaLoggerHandler(_log_sink)
    if _LOG_FORMAT_JSON:
        handler.setFormatter(_make_json_formatter(logging))
    else:
        handler.setFormatter(
            logging.Formatter(
                "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                _DATETIME_FORMAT,
            )
        )
    if _LOG_LEVEL in logging._nameToLevel:
        logger.setLevel(_LOG_LEVEL)
    handler.addFilter(LambdaLoggerFilter())
    logger.addHandler(handler)


def _make_json_formatter(logging):
    import json

    reserved = {
        "name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module",
        "exc_info", "exc_text", "stack_info", "lineno", "funcName", "created", "msecs",
        "relativeCreated", "thread", "threadName", "processName", "process",
        "aws_request_id", "tenant_id", "_frame_type",
    }
    encode = json.JSONEncoder(ensure_ascii=False).encode

    class JsonFormatter(logging.Formatter):
        def __init__(self):
            logging.Formatter.__init__(self, datefmt=_JSON_DATETIME_FORMAT)

        def format(self, record):
            record.levelno = min(50, max(0, record.levelno)) // 10 * 10
            record.levelname = logging.getLevelName(record.levelno)
            exc_info = record.exc_info
            stack = None
            if exc_info:
                import traceback

                stack = traceback.format_tb(exc_info[2])
            result = {
                "timestamp": self.formatTime(record, self.datefmt),
                "level": record.levelname,
                "message": record.msg if isinstance(record.msg, dict) and not record.args else record.getMessage(),
                "logger": record.name,
                "stackTrace": stack,
                "errorType": exc_info[0].__name__ if exc_info else None,
                "errorMessage": str(exc_info[1]) if exc_info else None,
                "requestId": getattr(record, "aws_request_id", None),
                "location": "%s:%s:%s" % (record.pathname, record.funcName, record.lineno) if exc_info else None,
            }
            if getattr(record, "tenant_id", None) is not None:
                result["tenantId"] = record.tenant_id
            result.update(
                (k, v) for k, v in record.__dict__.items() if k not in reserved and k not in result
            )
            result = {k: v for k, v in result.items() if v is not None}
            return encode(result) + "\n"

    return JsonFormatter()


class _ConfiguringLoader(object):
    """Wraps the loader of ``logging`` to configure it right after it runs."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module):
        self._loader.exec_module(module)
        try:
            _setup_logging(module)
        except Exception as e:  # never break the user's `import logging`
            _stderr("could not set up logging: %r" % (e,))

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _LoggingImportHook(object):
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name != "logging":
            return None
        try:
            sys.meta_path.remove(_LoggingImportHook)
        except ValueError:
            pass
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None)
            if find_spec is None:
                continue
            spec = find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _ConfiguringLoader(spec.loader)
        return spec


def _install_logging():
    if "logging" in sys.modules:
        _setup_logging(sys.modules["logging"])
    else:
        sys.meta_path.insert(0, _LoggingImportHook)


def _log_error(error_result):
    if _LOG_FORMAT_JSON:
        # awslambdaric's key (4.2.2, bootstrap.py, log_error): "level".
        record = {
            "timestamp": time.strftime(_JSON_DATETIME_FORMAT, time.gmtime(time.time())),
            "level": "ERROR",
        }
        record.update(error_result)
        _log_sink.log_error([_json_dumps(record)])
        return
    description = "[ERROR]"
    error_type = error_result.get("errorType")
    if error_type:
        description += " " + error_type
    error_message = error_result.get("errorMessage")
    if error_message:
        if error_type:
            description += ":"
        description += " " + error_message
    lines = [description]
    stack_trace = error_result.get("stackTrace")
    if stack_trace is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack_trace:
            if element == "":
                lines.append("")
            else:
                for line in element.splitlines():
                    stripped = line.lstrip(" ")
                    lines.append(_ERROR_LOG_IDENT * (len(line) - len(stripped)) + stripped)
    _log_sink.log_error(lines)


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


def make_error(error_message, error_type, stack_trace, invoke_id=None):
    return {
        "errorMessage": error_message if error_message else "",
        "errorType": error_type if error_type else "",
        "requestId": invoke_id if invoke_id is not None else "",
        "stackTrace": stack_trace if stack_trace else [],
    }


def _user_frames(tb):
    import traceback

    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    for i in range(len(frames)):
        if "/bootstrap.py" not in frames[i][0]:
            return frames[i:]
    return frames


def _format_frames(frames):
    import traceback

    return traceback.format_list(frames)


def make_xray_fault(ex_type, ex_msg, working_dir, frames):
    stack = []
    files = set()
    for filename, lineno, name, _line in frames:
        stack.append({"label": name, "path": filename, "line": lineno})
        files.add(filename)
    return {
        "working_directory": working_dir,
        "exceptions": [{"message": ex_msg, "type": ex_type, "stack": stack}],
        "paths": list(files),
    }


# --------------------------------------------------------------------------
# Handler loading
# --------------------------------------------------------------------------


_UNREADABLE_HINT = (
    "(the function runs as an unprivileged user, so every file of its package and layers must "
    "be readable by all users: give files mode 0644 and directories 0755 before zipping them; "
    "Python's zipfile.writestr, for one, stores entries with mode 0600)"
)


def _get_handler(handler):
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException(
            FaultException.MALFORMED_HANDLER_NAME,
            "Bad handler '{}': {}".format(handler, str(e)),
        )

    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultException(
                FaultException.BUILT_IN_MODULE_CONFLICT,
                "Cannot use built-in module {} as a handler module".format(modname),
            )
        import importlib

        m = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultException(
            FaultException.IMPORT_MODULE_ERROR,
            "Unable to import module '{}': {}".format(modname, str(e)),
        )
    except PermissionError as e:
        # A file of the package the function's user cannot read (AWS fails the same way):
        # say what to fix.
        raise FaultException(
            FaultException.IMPORT_MODULE_ERROR,
            "Unable to import module '{}': {} {}".format(modname, str(e), _UNREADABLE_HINT),
        )
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultException(
            FaultException.USER_CODE_SYNTAX_ERROR,
            "Syntax error in module '{}': {}".format(modname, str(e)),
            trace,
        )

    try:
        return getattr(m, fname)
    except AttributeError:
        raise FaultException(
            FaultException.HANDLER_NOT_FOUND,
            "Handler '{}' missing on module '{}'".format(fname, modname),
            None,
        )


# --------------------------------------------------------------------------
# Invocation loop
# --------------------------------------------------------------------------


def _is_generator(obj):
    """Whether a handler's result is a generator (a streaming handler: ``yield``)."""
    t = type(obj)
    return t.__name__ == "generator" and t.__module__ == "builtins"


def _handle_invocation(client, request_handler, headers, body):
    invoke_id = headers.get("lambda-runtime-aws-request-id", "")
    error_result = None
    try:
        client_context = headers.get("lambda-runtime-client-context")
        client_context = _parse_json_header(client_context, "Client Context") if client_context else None
        cognito_identity = headers.get("lambda-runtime-cognito-identity")
        cognito_identity = _parse_json_header(cognito_identity, "Cognito Identity") if cognito_identity else None
        deadline = headers.get("lambda-runtime-deadline-ms")
        context = LambdaContext(
            invoke_id,
            client_context,
            cognito_identity,
            int(deadline) if deadline else 0,
            headers.get("lambda-runtime-invoked-function-arn"),
            headers.get("lambda-runtime-aws-tenant-id"),
        )

        content_type = headers.get("content-type")
        if content_type is None or content_type.startswith("application/json"):
            try:
                event = _json_loads(body)
            except Exception as e:
                raise FaultException(
                    FaultException.UNMARSHAL_ERROR,
                    "Unable to unmarshal input: {}".format(str(e)),
                    None,
                )
        else:
            event = bytes(body)

        response = request_handler(event, context)

        if _is_generator(response):
            # A streaming handler (Hako's own: AWS has no Python streaming): what it yields goes
            # to the caller as it yields it.
            error_result = client.stream_invocation_result(invoke_id, response)
            if error_result is not None:
                _log_error(error_result)
            return
        if isinstance(response, bytes):
            payload, payload_type = response, "application/unknown"
        else:
            try:
                payload = _json_dumps(response).encode("utf-8")
            except Exception as e:
                raise FaultException(
                    FaultException.MARSHAL_ERROR,
                    "Unable to marshal response: {}".format(str(e)),
                    None,
                )
            payload_type = "application/json"
    except FaultException as e:
        xray_fault = make_xray_fault("LambdaValidationError", e.msg, os.getcwd(), [])
        error_result = make_error(e.msg, e.exception_type, e.trace, invoke_id)
    except Exception:
        etype, value, tb = sys.exc_info()
        frames = _user_frames(tb)
        del tb
        xray_fault = make_xray_fault(etype.__name__, str(value), os.getcwd(), frames)
        error_result = make_error(str(value), etype.__name__, _format_frames(frames), invoke_id)

    if error_result is not None:
        _log_error(error_result)
        client.post_invocation_error(
            invoke_id, _json_dumps(error_result), error_result["errorType"], xray_fault
        )
    else:
        client.post_invocation_result(invoke_id, payload, payload_type)


class _Unbuffered(object):
    def __init__(self, stream):
        self.stream = stream

    def __getattr__(self, attr):
        return getattr(self.stream, attr)

    def write(self, msg):
        self.stream.write(msg)
        self.stream.flush()

    def writelines(self, msgs):
        self.stream.writelines(msgs)
        self.stream.flush()


def main():
    global _current_request_id, _current_tenant_id

    if not os.environ.get("PYTHONUNBUFFERED"):
        sys.stdout = _Unbuffered(sys.stdout)
        sys.stderr = _Unbuffered(sys.stderr)

    env = os.environ
    handler_name = env.get("_HANDLER") or (sys.argv[1] if len(sys.argv) > 1 else "")
    task_root = env.get("LAMBDA_TASK_ROOT") or os.getcwd()
    # AWS's order: the task root, then the layers' paths, then the rest (PYTHONPATH's
    # /var/runtime, the standard library, the runtime's site-packages with boto3).
    layers = ["/opt/python/lib/python%d.%d/site-packages" % sys.version_info[:2], "/opt/python"]
    for i, p in enumerate([task_root] + layers):
        if p in sys.path:
            sys.path.remove(p)
        sys.path.insert(i, p)

    client = RuntimeClient(env["AWS_LAMBDA_RUNTIME_API"])
    _install_logging()

    try:
        request_handler = _get_handler(handler_name)
    except Exception as e:
        if isinstance(e, FaultException):
            error_result = make_error(e.msg, e.exception_type, e.trace)
        else:
            etype, value, tb = sys.exc_info()
            error_result = make_error(str(value), etype.__name__, _format_frames(_user_frames(tb)))
            del tb
        try:
            import logging

            logging.warning(_UNHANDLED_EXCEPTION_WARNING)
        except Exception:
            pass
        _log_error(error_result)
        try:
            client.post_init_error(_json_dumps(error_result), error_result["errorType"])
        except OSError as err:
            _stderr("could not report the init error: %s" % (err,))
        sys.exit(1)

    environ = os.environ
    next_invocation = client.wait_next_invocation
    while True:
        headers, body = next_invocation()
        _current_request_id = headers.get("lambda-runtime-aws-request-id")
        _current_tenant_id = headers.get("lambda-runtime-aws-tenant-id")
        trace_id = headers.get("lambda-runtime-trace-id")
        if trace_id:
            environ["_X_AMZN_TRACE_ID"] = trace_id
        elif "_X_AMZN_TRACE_ID" in environ:
            del environ["_X_AMZN_TRACE_ID"]
        _handle_invocation(client, request_handler, headers, body)


if __name__ == "__main__":
    try:
        main()
    except OSError as e:
        # The Runtime API went away (the sandbox is being torn down).
        _stderr("lost the Runtime API connection: %s" % (e,))
        sys.exit(1)
