#!/usr/bin/env python3
"""Static file server for staticfile_buildpack apps. Python 3 standard library only.

    server.py                 serve the app in $HOME (or the current directory) on $PORT
    server.py --check DIR     validate DIR/Staticfile and print the effective settings

Settings come from the app's `Staticfile` (simple `key: value` lines):

    root: public              directory to serve, relative to the app (default: the app itself)
    directory: visible        list directories that have no index.html (default: hidden)
    pushstate: enabled        serve /index.html for paths that match no file (single-page apps)
    force_https: true         redirect plain-HTTP requests (per X-Forwarded-Proto) to https
    http_strict_transport_security: true   send Strict-Transport-Security
"""

import email.utils
import html
import http.server
import mimetypes
import os
import posixpath
import signal
import socketserver
import sys
import urllib.parse

SERVER_NAME = "ingot-staticfile"

# Deterministic types for the common web formats, whatever /etc/mime.types says.
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".mjs": "application/javascript; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".xml": "application/xml",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".wasm": "application/wasm",
    ".pdf": "application/pdf",
    ".zip": "application/zip",
    ".gz": "application/gzip",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".wav": "audio/wav",
    ".webmanifest": "application/manifest+json",
}

BOOLEAN_TRUE = {"true", "yes", "on", "enabled", "enable", "visible", "1"}
KNOWN_KEYS = {
    "root",
    "directory",
    "pushstate",
    "force_https",
    "http_strict_transport_security",
}
UNSUPPORTED_KEYS = {
    "ssi",
    "location_include",
    "status_codes",
    "http_strict_transport_security_include_subdomains",
    "http_strict_transport_security_preload",
    "host_dot_files",
    "enable_http2",
}


class ConfigError(Exception):
    pass


def read_staticfile(app_dir):
    """The Staticfile's settings as a dict of lower-cased keys to string values."""
    settings = {}
    path = os.path.join(app_dir, "Staticfile")
    if not os.path.isfile(path):
        return settings
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line or line == "---":
                continue
            key, sep, value = line.partition(":")
            if not sep:
                raise ConfigError(f"Staticfile line {number}: expected 'key: value', got {line!r}")
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            settings[key.strip().lower()] = value
    return settings


def load_config(app_dir):
    app_dir = os.path.abspath(app_dir)
    settings = read_staticfile(app_dir)
    if os.path.exists(os.path.join(app_dir, "Staticfile.auth")):
        raise ConfigError(
            "Staticfile.auth (basic authentication) is not supported by this buildpack; "
            "remove it or protect the app another way (a route service, for example)"
        )
    root_setting = settings.get("root", "").strip()
    root = os.path.normpath(os.path.join(app_dir, root_setting)) if root_setting else app_dir
    real_app, real_root = os.path.realpath(app_dir), os.path.realpath(root)
    if real_root != real_app and not real_root.startswith(real_app + os.sep):
        raise ConfigError(f"Staticfile root {root_setting!r} is outside the app")
    if not os.path.isdir(root):
        raise ConfigError(f"Staticfile root {root_setting!r} is not a directory of the app")

    def flag(key):
        return settings.get(key, "").strip().lower() in BOOLEAN_TRUE

    return {
        "root": root,
        "listing": flag("directory"),
        "pushstate": flag("pushstate"),
        "force_https": flag("force_https"),
        "hsts": flag("http_strict_transport_security"),
        "warnings": [
            f"Staticfile setting {key!r} is not supported and is ignored"
            for key in sorted(settings)
            if key in UNSUPPORTED_KEYS or key not in KNOWN_KEYS
        ],
    }


def content_type(path):
    ext = os.path.splitext(path)[1].lower()
    if ext in TYPES:
        return TYPES[ext]
    guessed, _ = mimetypes.guess_type(path, strict=False)
    if guessed is None:
        return "application/octet-stream"
    if guessed.startswith("text/"):
        return guessed + "; charset=utf-8"
    return guessed


def http_date(timestamp):
    return email.utils.formatdate(timestamp, usegmt=True)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    config = None  # set by main()

    def version_string(self):
        return SERVER_NAME

    # --- request entry points ---

    def do_GET(self):
        self.handle_request(send_body=True)

    def do_HEAD(self):
        self.handle_request(send_body=False)

    def do_POST(self):
        self.method_not_allowed()

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_POST

    def method_not_allowed(self):
        self.send_error_page(405, extra_headers={"Allow": "GET, HEAD"})

    # --- the work ---

    def handle_request(self, send_body):
        cfg = self.config
        url = urllib.parse.urlsplit(self.path)
        if cfg["force_https"] and self.headers.get("X-Forwarded-Proto", "").lower() == "http":
            host = self.headers.get("Host", "")
            target = urllib.parse.urlunsplit(("https", host, url.path, url.query, ""))
            return self.redirect(301, target, send_body)

        fs_path = self.translate(url.path)
        if fs_path is None:
            return self.send_error_page(404, send_body=send_body)
        if os.path.isdir(fs_path):
            if not url.path.endswith("/"):
                target = url.path + "/" + ("?" + url.query if url.query else "")
                return self.redirect(301, target, send_body)
            index = os.path.join(fs_path, "index.html")
            if os.path.isfile(index):
                return self.send_file(index, send_body)
            if cfg["listing"]:
                return self.send_listing(fs_path, url.path, send_body)
            return self.send_error_page(403, send_body=send_body)
        if os.path.isfile(fs_path):
            return self.send_file(fs_path, send_body)
        if cfg["pushstate"]:
            index = os.path.join(cfg["root"], "index.html")
            if os.path.isfile(index):
                return self.send_file(index, send_body)
        return self.send_error_page(404, send_body=send_body)

    def translate(self, url_path):
        """The file for a URL path, or None when it may not be served."""
        path = urllib.parse.unquote(url_path, errors="replace") if "%" in url_path else url_path
        if "\x00" in path:
            return None
        parts = [p for p in posixpath.normpath("/" + path).split("/") if p]
        for part in parts:
            # Dot files (.profile.d, .git, .env, ...) are never served; .well-known is.
            if part.startswith(".") and part != ".well-known":
                return None
        root = self.config["root"]
        candidate = os.path.join(root, *parts)
        real_root = self.server.real_root
        real = os.path.realpath(candidate)
        if real != real_root and not real.startswith(real_root + os.sep):
            return None
        return candidate

    def common_headers(self):
        if self.config["hsts"]:
            self.send_header("Strict-Transport-Security", "max-age=31536000")

    def send_file(self, path, send_body):
        try:
            f = open(path, "rb")
        except OSError:
            return self.send_error_page(404, send_body=send_body)
        with f:
            st = os.fstat(f.fileno())
            size = st.st_size
            etag = '"%x-%x"' % (int(st.st_mtime), size)
            last_modified = http_date(st.st_mtime)
            if self.not_modified(etag, st.st_mtime):
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", last_modified)
                self.common_headers()
                self.end_headers()
                return
            start, end, status = 0, size - 1, 200
            byte_range = self.headers.get("Range")
            if byte_range and size > 0:
                parsed = parse_range(byte_range, size)
                if parsed == "unsatisfiable":
                    return self.send_error_page(
                        416, send_body=send_body, extra_headers={"Content-Range": f"bytes */{size}"}
                    )
                if parsed is not None:
                    start, end = parsed
                    status = 206
            length = max(0, end - start + 1)
            self.send_response(status)
            self.send_header("Content-Type", content_type(path))
            self.send_header("Content-Length", str(length))
            self.send_header("Last-Modified", last_modified)
            self.send_header("ETag", etag)
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.common_headers()
            self.end_headers()
            if send_body and length:
                f.seek(start)
                remaining = length
                while remaining:
                    chunk = f.read(min(65536, remaining))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    remaining -= len(chunk)

    def not_modified(self, etag, mtime):
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            return etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*"
        ims = self.headers.get("If-Modified-Since")
        if ims:
            try:
                since = email.utils.parsedate_to_datetime(ims).timestamp()
            except (TypeError, ValueError, IndexError, OverflowError):
                return False
            return int(mtime) <= since
        return False

    def send_listing(self, fs_path, url_path, send_body):
        try:
            names = sorted(os.listdir(fs_path))
        except OSError:
            return self.send_error_page(403, send_body=send_body)
        title = html.escape(urllib.parse.unquote(url_path))
        rows = ['<a href="../">../</a>']
        for name in names:
            if name.startswith("."):
                continue
            display = name + ("/" if os.path.isdir(os.path.join(fs_path, name)) else "")
            rows.append(
                '<a href="%s">%s</a>' % (urllib.parse.quote(display), html.escape(display))
            )
        body = (
            "<!DOCTYPE html>\n<html><head><title>Index of %s</title></head>\n"
            "<body><h1>Index of %s</h1><hr><pre>\n%s\n</pre><hr></body></html>\n"
            % (title, title, "\n".join(rows))
        ).encode("utf-8")
        self.send_body(200, "text/html; charset=utf-8", body, send_body)

    def redirect(self, status, location, send_body):
        self.send_body(
            status,
            "text/html; charset=utf-8",
            b"<html><body>Moved</body></html>\n",
            send_body,
            extra_headers={"Location": location},
        )

    def send_error_page(self, status, send_body=True, extra_headers=None):
        reason = self.responses.get(status, ("Error",))[0]
        body = (
            "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>"
            "<body><h1>%d %s</h1></body></html>\n" % (status, reason, status, reason)
        ).encode("utf-8")
        error_page = os.path.join(self.config["root"], f"{status}.html")
        if status in (403, 404) and os.path.isfile(error_page):
            try:
                with open(error_page, "rb") as f:
                    body = f.read()
            except OSError:
                pass
        self.send_body(status, "text/html; charset=utf-8", body, send_body, extra_headers)

    def send_body(self, status, ctype, body, send_body, extra_headers=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra_headers or {}).items():
            self.send_header(key, value)
        self.common_headers()
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    # --- logging: one access-log line per request on stdout ---

    def log_request(self, code="-", size="-"):
        code = getattr(code, "value", code)
        forwarded = self.headers.get("X-Forwarded-For", "") if self.headers else ""
        client = forwarded.split(",")[0].strip() or self.client_address[0]
        sys.stdout.write(
            '%s - - [%s] "%s" %s\n' % (client, self.log_date_time_string(), self.requestline, code)
        )
        sys.stdout.flush()

    def log_message(self, format, *args):
        sys.stderr.write("%s %s\n" % (self.client_address[0], format % args))
        sys.stderr.flush()


def parse_range(header, size):
    """(start, end) for a single `bytes=` range, None to ignore it, or "unsatisfiable"."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            suffix = int(last)
            if suffix <= 0:
                return "unsatisfiable"
            return max(0, size - suffix), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size:
        return "unsatisfiable"
    if end < start:
        return None
    return start, min(end, size - 1)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main(argv):
    if len(argv) == 3 and argv[1] == "--check":
        try:
            cfg = load_config(argv[2])
        except ConfigError as e:
            print(str(e), file=sys.stderr)
            return 1
        for warning in cfg["warnings"]:
            print("WARNING: " + warning, file=sys.stderr)
        rel = os.path.relpath(cfg["root"], os.path.abspath(argv[2]))
        print("root: " + ("(the app)" if rel == "." else rel))
        print("directory listing: " + ("visible" if cfg["listing"] else "hidden"))
        if cfg["pushstate"]:
            print("pushstate: enabled")
        if cfg["force_https"]:
            print("force_https: enabled")
        return 0
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2

    app_dir = os.environ.get("HOME") or os.getcwd()
    if not os.path.isfile(os.path.join(app_dir, "Staticfile")):
        app_dir = os.getcwd()
    try:
        cfg = load_config(app_dir)
    except ConfigError as e:
        print("staticfile: " + str(e), file=sys.stderr)
        return 1
    port = os.environ.get("PORT")
    if not port or not port.isdigit():
        print("staticfile: PORT must be set to the port to listen on", file=sys.stderr)
        return 1

    mimetypes.init()
    Handler.config = cfg
    server = Server(("0.0.0.0", int(port)), Handler)
    server.real_root = os.path.realpath(cfg["root"])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"staticfile: serving {cfg['root']} on port {port}", flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
