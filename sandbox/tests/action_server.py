"""A customer's action URLs for the incoming-call tests: a real HTTP server on 127.0.0.1."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

DATA = Path(__file__).parent / "data"

# path: (status, content type, body); "{base}" becomes the server's own URL.
ROUTES = {
    "/playback": (200, "text/plain", "playback {base}/audio/greeting-en.mp3"),
    "/say": (200, "text/plain; charset=utf-8", 'say ja "お電話ありがとうございます。"'),
    "/transfer": (200, "text/plain", "transfer +81336042000"),
    "/voicemail": (200, "text/plain", "voicemail"),
    "/voicemail-say": (200, "text/html", 'voicemail say en "Please leave a message."\n'),
    "/voicemail-playback": (200, "text/plain", "voicemail playback {base}/audio/tone-8khz.mp3"),
    "/error": (500, "text/html", "<h1>Server Error</h1>"),
    "/garbage": (200, "text/plain", "Hello! Thanks for calling."),
    "/bad-quoting": (200, "text/plain", 'say en "He said "hi""'),
    "/playback-missing": (200, "text/plain", "playback {base}/audio/missing.mp3"),
}


class ActionServer:
    """Answers ROUTES, ``/transfer-to/<E.164 digits>``, ``/slow`` and MP3s under ``/audio/``."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.lock = threading.Lock()
        self.release = threading.Event()  # ends a deliberately slow answer at teardown
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self):
                parts = urlsplit(self.path)
                with server.lock:
                    server.requests.append(
                        (parts.path, parse_qs(parts.query, keep_blank_values=True))
                    )
                server.answer(self, parts.path)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # bursts: the default backlog of 5 drops connections
            daemon_threads = True

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def paths(self) -> list[str]:
        return [path for path, _query in self.requests]

    def answer(self, handler: BaseHTTPRequestHandler, path: str) -> None:
        if path == "/slow":
            self.release.wait(1.5)
            return self.send(handler, 200, "text/plain", b"voicemail")
        if path.startswith("/transfer-to/"):
            digits = path.rsplit("/", 1)[1]
            return self.send(handler, 200, "text/plain", f"transfer +{digits}".encode())
        if path.startswith("/audio/"):
            file = DATA / path.rsplit("/", 1)[1]
            if not file.is_file():
                return self.send(handler, 404, "text/html", b"Not Found")
            return self.send(handler, 200, "audio/mpeg", file.read_bytes())
        if path not in ROUTES:
            return self.send(handler, 404, "text/html", b"Not Found")
        status, content_type, body = ROUTES[path]
        self.send(handler, status, content_type, body.format(base=self.base).encode())

    @staticmethod
    def send(handler: BaseHTTPRequestHandler, status: int, content_type: str, body: bytes):
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


@pytest.fixture(scope="session")
def action_server():
    server = ActionServer()
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.httpd.shutdown()
    server.httpd.server_close()
