"""The certificates an https load-test target may present: one trust for the probe, the model
lookup and every worker, read once where the command runs and handed to the workers as text
(a worker on another node need not have the file)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from raygate.errors import ConfigError

PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----"


def read_ca_certs(path: Path) -> str:
    """The PEM text of a CA file (one or more certificates); a ConfigError naming the file
    and what it should hold otherwise."""
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"--ca-cert {path}: cannot read it ({type(exc).__name__}); pass a PEM file of the "
            "CA certificates the server's certificate is signed by"
        ) from None
    if PEM_CERTIFICATE in text:
        try:
            ssl.create_default_context(cadata=text)
            return text
        except ssl.SSLError:
            pass
    raise ConfigError(
        f"--ca-cert {path}: not a PEM file of certificates (no valid '{PEM_CERTIFICATE}' "
        "block); pass the CA's certificate (for a self-signed server, its own certificate), not "
        "its key"
    )


def tls_context(ca_pem: str | None) -> ssl.SSLContext:
    """Verify against `ca_pem` where given, else the system's trust store."""
    return ssl.create_default_context(cadata=ca_pem) if ca_pem else ssl.create_default_context()


def https_session(ca_pem: str | None) -> Any:
    """A requests session whose https connections trust `ca_pem` as the workers do (without
    it, requests' own bundle of the public CAs)."""
    import requests
    from requests.adapters import HTTPAdapter

    class _Trusting(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["ssl_context"] = tls_context(ca_pem)
            super().init_poolmanager(*args, **kwargs)

    session = requests.Session()
    if ca_pem:
        session.mount("https://", _Trusting())
    return session


def untrusted_hint(exc: BaseException) -> str | None:
    """What to do when `exc` (or what caused it) is a certificate the client did not trust."""
    seen: BaseException | None = exc
    while seen is not None:
        untrusted = isinstance(seen, ssl.SSLCertVerificationError)
        if untrusted or "CERTIFICATE_VERIFY_FAILED" in str(seen):  # urllib3 says it in words
            return (
                "the server's TLS certificate is not trusted here; pass --ca-cert with the PEM "
                "file of the CA that signed it (for a self-signed certificate, the certificate "
                "itself)"
            )
        seen = seen.__cause__ or seen.__context__
    return None
