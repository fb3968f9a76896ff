"""The mutual-TLS context of the SNE client: TLS 1.2 at least, client certificate, CA bundle.

A PEM chain and its key (encrypted or not) load as they are; a PKCS#12 bundle is opened with
`cryptography`, then handed to OpenSSL through a private temporary folder that lives only while
``load_cert_chain`` reads it (the key re-encrypted with a one-time password). Never use
``HTTPSConnection(key_file=, cert_file=)``: removed in Python 3.12 (research §5.1, libsne's defect).
"""

from __future__ import annotations

import secrets
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from aiguilleur.connectors.sne.config import SneConfig
from aiguilleur.errors import ConfigError


@dataclass(frozen=True, slots=True)
class TlsMaterial:
    """The SSL context and the client's public leaf certificate (PEM), sent as the ``certificat``."""

    context: ssl.SSLContext
    certificate_pem: bytes
    common_name: str | None


def _cn(cert: x509.Certificate) -> str | None:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def build_context(ca_file: str | None) -> ssl.SSLContext:
    """A client context trusting `ca_file` (else the system store), TLS 1.2 or later, names checked."""
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def load_material(config: SneConfig) -> TlsMaterial:
    """Build the context from the configuration; raises ConfigError naming the key at fault."""
    password = config.secret()
    try:
        context = build_context(config.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError([("ca_file", f"autorités illisibles : {exc}")]) from exc
    if config.pkcs12_file is not None:
        return _load_pkcs12(context, Path(config.pkcs12_file), password)
    assert config.cert_file is not None  # the model requires one or the other
    try:
        context.load_cert_chain(config.cert_file, config.key_file, password=password)
        leaf = x509.load_pem_x509_certificate(Path(config.cert_file).read_bytes())
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise ConfigError(
            [("cert_file", f"certificat ou clé inutilisable (mot de passe ?) : {type(exc).__name__}: {exc}")]
        ) from exc
    return TlsMaterial(context, leaf.public_bytes(serialization.Encoding.PEM), _cn(leaf))


def _load_pkcs12(context: ssl.SSLContext, path: Path, password: str | None) -> TlsMaterial:
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(
            path.read_bytes(), password.encode() if password is not None else None
        )
    except (OSError, ValueError) as exc:
        raise ConfigError([("pkcs12_file", f"PKCS#12 illisible (mot de passe ?) : {exc}")]) from exc
    if key is None or cert is None:
        raise ConfigError([("pkcs12_file", "le PKCS#12 doit contenir le certificat et sa clé")])
    one_time = secrets.token_urlsafe(24)
    chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in [cert, *extra])
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(one_time.encode()),
    )
    with tempfile.TemporaryDirectory(prefix="sne-p12-") as folder:  # mode 0700
        (Path(folder) / "chain.pem").write_bytes(chain)
        (Path(folder) / "key.pem").write_bytes(key_pem)
        try:
            context.load_cert_chain(str(Path(folder) / "chain.pem"), str(Path(folder) / "key.pem"), one_time)
        except ssl.SSLError as exc:
            raise ConfigError([("pkcs12_file", f"certificat inutilisable : {exc}")]) from exc
    return TlsMaterial(context, cert.public_bytes(serialization.Encoding.PEM), _cn(cert))
