"""A real S3-protocol server on 127.0.0.1 for DVC-remote tests (moto's standalone server).

The server checks signatures: an IAM user with an ``s3:*`` policy is created while moto
still accepts anything, then ``/moto-api/reset-auth`` turns authentication on, so a wrong
secret is refused as AWS refuses it (``SignatureDoesNotMatch``). DVC reaches it through its
own S3 support (dvc-s3, s3fs, botocore) with ``endpointurl``; credentials travel only in
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``.

moto keeps its state per process, so every :class:`S3Server` started in one process serves
the same buckets: a second server is a second door to the same store, which a test can close
(:meth:`S3Server.stop`) to play a server that went away.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
from moto.server import ThreadedMotoServer

REGION = "us-east-1"


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str

    def env(self) -> dict[str, str]:
        """What a workflow's ``env:`` maps from the environment's secrets."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_DEFAULT_REGION": REGION,
        }


class S3Server:
    """moto's threaded server on an ephemeral loopback port."""

    def __init__(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log on stderr
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.url = ""

    def start(self) -> S3Server:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self, creds: Credentials | None = None, service: str = "s3") -> Any:
        key = creds or Credentials("setup", "setup")
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=key.access_key_id,
            aws_secret_access_key=key.secret_access_key,
        )

    def enable_auth(self) -> Credentials:
        """Create a user allowed ``s3:*``, then make the server check every signature.

        moto's state (users, buckets, the authentication switch) is per process, and a test
        process may start several servers one after another: authentication is turned off
        first (an earlier server in this process turned it on) and every call gets a user of
        its own.
        """
        reset = f"{self.url}/moto-api/reset-auth"
        httpx.post(reset, content=b"inf", timeout=10).raise_for_status()
        user = f"mlgate-ci-{uuid.uuid4().hex[:12]}"
        iam = self.client(service="iam")
        iam.create_user(UserName=user)
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
        iam.put_user_policy(
            UserName=user, PolicyName="dvc-remote", PolicyDocument=json.dumps(policy)
        )
        key = iam.create_access_key(UserName=user)["AccessKey"]
        httpx.post(reset, content=b"0", timeout=10).raise_for_status()
        return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


class CuttingProxy:
    """A loopback TCP proxy that drops each connection after ``limit`` bytes from upstream.

    Put in front of the S3 server, it plays a server that stops mid-transfer: listings and
    small answers get through, an object larger than ``limit`` is cut off part-way.
    """

    def __init__(self, upstream: str, limit: int) -> None:
        import socket
        import threading

        host, port = upstream.removeprefix("http://").split(":")
        self._upstream = (host, int(port))
        self._limit = limit
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.cuts = 0

    def __enter__(self) -> CuttingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._listener.close()

    def _accept(self) -> None:
        import socket
        import threading

        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            upstream = socket.create_connection(self._upstream, timeout=10)
            threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True).start()
            threading.Thread(
                target=self._pump, args=(upstream, client, self._limit), daemon=True
            ).start()

    def _pump(self, src: Any, dst: Any, limit: int | None) -> None:
        sent = 0
        try:
            while chunk := src.recv(4096):
                if limit is not None and sent + len(chunk) > limit:
                    dst.sendall(chunk[: limit - sent])
                    self.cuts += 1
                    break
                dst.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.close()
