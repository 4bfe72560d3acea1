"""A real redis-server process for tests: throwaway port and directory, AOF on (fsync on
every write), so a restart on the same directory keeps what was stored; `durable=False` for
a server no test restarts (the session's): its AOF is still on (`check` reports it) but left
to the OS to flush, which spares the disk a sync per write."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """`cluster=True`: a one-node Redis Cluster holding every slot. A script marked `#!lua`
    is then refused when it touches keys of two slots, and so is a transaction."""

    def __init__(
        self,
        directory: Path,
        port: int | None = None,
        *,
        cluster: bool = False,
        replica_of: int | None = None,
        durable: bool = True,
    ) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found: run `make test` (it installs it)")
        self.binary = binary
        self.directory = directory
        self.port = port or free_port()
        self.cluster = cluster
        self.replica_of = replica_of
        self.durable = durable
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        replica_of = self.replica_of
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always" if self.durable else "no",
                "--save",
                "",
                # A replica is served at once, not after 5 s of waiting for others.
                "--repl-diskless-sync-delay",
                "0",
                *self._cluster_args(),
                *(["--replicaof", "127.0.0.1", str(replica_of)] if replica_of else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(64).startswith(b"+PONG") and self._cluster_ready(conn):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def _cluster_args(self) -> list[str]:
        if not self.cluster:
            return []
        nodes = self.directory / "nodes.conf"
        nodes.unlink(missing_ok=True)
        # The bus port is the client port + 10000 unless named: that fails above 55535.
        bus = ["--cluster-port", str(free_port())]
        return ["--cluster-enabled", "yes", "--cluster-config-file", str(nodes), *bus]

    def _cluster_ready(self, conn: socket.socket) -> bool:
        """Every slot on this node, and the cluster answering."""
        if not self.cluster:
            return True
        conn.sendall(b"CLUSTER ADDSLOTSRANGE 0 16383\r\n")
        conn.recv(256)  # OK, or "already busy" when asked again
        conn.sendall(b"CLUSTER INFO\r\n")
        return b"cluster_state:ok" in conn.recv(4096)

    def kill(self) -> int:
        """SIGKILL, as a crashed host would go; the exit status (-9 when it was killed)."""
        assert self.process is not None
        self.process.kill()
        status = self.process.wait(10)
        self.process = None
        return status

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


class SentinelServer:
    """A real Redis Sentinel (redis-server --sentinel) watching one master as `name`, tuned
    to fail over fast: down after `down_after_ms`, one sentinel is a quorum."""

    def __init__(
        self, directory: Path, master_port: int, name: str = "art", down_after_ms: int = 300
    ) -> None:
        self.directory = directory
        self.port = free_port()
        self.name = name
        self.master_port = master_port
        self.down_after_ms = down_after_ms
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        config = self.directory / "sentinel.conf"  # Sentinel rewrites it: its own file
        config.write_text(
            f"port {self.port}\n"
            "bind 127.0.0.1\n"
            f"dir {self.directory}\n"
            f"sentinel monitor {self.name} 127.0.0.1 {self.master_port} 1\n"
            f"sentinel down-after-milliseconds {self.name} {self.down_after_ms}\n"
            f"sentinel failover-timeout {self.name} 2000\n"
        )
        binary = shutil.which("redis-server")
        assert binary is not None
        self.process = subprocess.Popen(
            [binary, str(config), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None
