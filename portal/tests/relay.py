"""A TCP relay that can be made to hang: the fault drills' database and broker (no Django needed:
the end-to-end harness and benchmarks use it too)."""

import contextlib
import socket
import threading


class TcpRelay:
    """A TCP relay on loopback in front of a real server, which can be made to hang.

    While paused it still accepts connections and holds them but forwards nothing either
    way: to its clients the server has become a database that accepts and never answers,
    which a refused port cannot imitate. Fault drills point a client at ``port``.
    """

    def __init__(self, target_host: str, target_port: int):

        self.target = (target_host, int(target_port))
        self.flowing = threading.Event()
        self.flowing.set()
        self._closed = threading.Event()
        self._sockets: list = []
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def pause(self) -> None:
        self.flowing.clear()

    def resume(self) -> None:
        self.flowing.set()

    def close(self) -> None:

        self._closed.set()
        self.flowing.set()
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:

        while not self._closed.is_set():
            try:
                client, _address = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source, sink) -> None:

        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                self.flowing.wait()  # paused: the bytes wait here, the peer waits for them
                if self._closed.is_set():
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(2)
