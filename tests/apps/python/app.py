"""Sample app for python_buildpack: answers GET / and exits on GET /crash."""

import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:  # present when the test vendors it (see the buildpack tests)
    import greeting

    EXTRA = " " + greeting.MESSAGE
except ImportError:
    EXTRA = ""


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/crash":
            print("crashing on request", flush=True)
            os._exit(3)
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
