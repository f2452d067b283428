"""A TCP proxy in front of PostgreSQL that can be frozen: it keeps accepting bytes and
forwards none, like a server host that has hung while its network stack still answers."""

import socket
import threading
from urllib.parse import parse_qs, urlsplit, urlunsplit


def _upstream_address(url: str) -> tuple[int, object]:
    parts = urlsplit(url)
    host = parse_qs(parts.query).get("host", [parts.hostname or "/tmp"])[0]
    port = parts.port or 5432
    if host.startswith("/"):
        return socket.AF_UNIX, f"{host}/.s.PGSQL.{port}"
    return socket.AF_INET, (host, port)


class FreezableProxy:
    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._family, self._address = _upstream_address(database_url)
        self._flowing = threading.Event()
        self._flowing.set()
        self._sockets: list[socket.socket] = []
        self.accepted = 0  # connections accepted so far: a client's connect is under way
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        """The database URL, pointing at the proxy."""
        parts = urlsplit(self._database_url)
        netloc = f"{parts.username or 'postgres'}@127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc, query=""))

    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    def close(self) -> None:
        self.thaw()
        for sock in [self._listener, *self._sockets]:
            sock.close()

    def __enter__(self) -> "FreezableProxy":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.socket(self._family, socket.SOCK_STREAM)
            upstream.connect(self._address)
            self._sockets += [client, upstream]
            self.accepted += 1
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                self._flowing.wait()
                target.sendall(data)
        except OSError:
            pass
        finally:
            target.close()
