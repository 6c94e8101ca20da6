"""Sample app for python_buildpack: answers GET /, exits on GET /crash, on GET /alloc?mb=N
allocates and keeps N MiB (to test memory limits), and on GET /log?n=N writes N numbered
lines to stdout and to stderr, each stamped with the time (ns) just before it is written, so
tests can follow them and benchmarks can time them."""

import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

try:  # present when the test vendors it (see the buildpack tests)
    import greeting

    EXTRA = " " + greeting.MESSAGE
except ImportError:
    EXTRA = ""


HELD = []


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/crash":
            print("crashing on request", flush=True)
            os._exit(3)
        url = urlsplit(self.path)
        if url.path == "/alloc":
            mb = int(parse_qs(url.query).get("mb", ["1"])[0])
            print("allocating %d MiB" % mb, flush=True)
            for _ in range(mb):
                HELD.append(bytearray(b"x" * (1 << 20)))
        if url.path == "/log":
            count = int(parse_qs(url.query).get("n", ["1"])[0])
            for i in range(count):
                print("log line %d out at %d" % (i, time.time_ns()), flush=True)
                print("log line %d err at %d" % (i, time.time_ns()), file=sys.stderr, flush=True)
        body = "hello from python, instance %s%s\n" % (
            os.environ.get("CF_INSTANCE_INDEX", "?"),
            EXTRA,
        )
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    port = int(os.environ["PORT"])
    print("python sample listening on %d (%s)" % (port, sys.version.split()[0]), flush=True)
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
