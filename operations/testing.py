"""A local HTTP server that plays a deployment target in tests (no network).

::

    with FakeTarget() as target:
        target.respond(200, {"id": "run-1"})            # the next answers, in order
        target.respond(503, delay=0.0)
        ...  target.url  ...  target.requests  ...         # what it received

Answers queue up; when the queue is empty it answers ``default`` (200 ``{}``). ``delay`` makes
an answer slow (to trip timeouts). ``requests`` records method, path, headers and body of every
request, so a test can count the idempotency keys it saw.
"""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    method: str
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body or b"null")


@dataclass
class Answer:
    status: int = 200
    body: object = field(default_factory=dict)
    delay: float = 0.0
    headers: dict = field(default_factory=dict)


class FakeTarget:
    def __init__(self, default: Answer | None = None):
        self.default = default or Answer()
        self.requests: list[Received] = []
        self._answers: list[Answer] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def respond(self, status: int = 200, body: object = None, *, delay: float = 0.0, headers=None) -> None:
        with self._lock:
            self._answers.append(Answer(status, {} if body is None else body, delay, headers or {}))

    def _next_answer(self) -> Answer:
        with self._lock:
            return self._answers.pop(0) if self._answers else self.default

    def __enter__(self) -> "FakeTarget":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with fake._lock:
                    fake.requests.append(Received(self.command, self.path, dict(self.headers), body))
                answer = fake._next_answer()
                if answer.delay:
                    time.sleep(answer.delay)
                payload = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "application/json")
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, *args):  # tests stay quiet
                pass

        return Handler
