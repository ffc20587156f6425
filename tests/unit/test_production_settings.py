"""Production settings: TLS and API key for an external Temporal or Temporal Cloud, as the client gets them."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from services.bootstrap import temporal_connect_options
from services.settings import Settings


@pytest.fixture
def pems(tmp_path: Path) -> dict[str, Path]:
    files = {}
    for name in ("ca", "cert", "key"):
        files[name] = tmp_path / f"{name}.pem"
        files[name].write_bytes(f"-----BEGIN {name.upper()}-----\n".encode())
    return files


def test_tls_files_and_api_key_reach_the_client(monkeypatch: pytest.MonkeyPatch, pems: dict[str, Path]) -> None:
    monkeypatch.setenv("ONESEAL_TEMPORAL_ADDRESS", "oneseal.a1b2c.tmprl.cloud:7233")
    monkeypatch.setenv("ONESEAL_TEMPORAL_NAMESPACE", "oneseal.a1b2c")
    monkeypatch.setenv("ONESEAL_TEMPORAL_TLS_CA", str(pems["ca"]))
    monkeypatch.setenv("ONESEAL_TEMPORAL_TLS_CERT", str(pems["cert"]))
    monkeypatch.setenv("ONESEAL_TEMPORAL_TLS_KEY", str(pems["key"]))
    monkeypatch.setenv("ONESEAL_TEMPORAL_TLS_SERVER_NAME", "temporal.internal.example")
    monkeypatch.setenv("ONESEAL_TEMPORAL_API_KEY", "secret-key-123")
    s = Settings.from_env()
    assert s.temporal_tls and "secret-key-123" not in repr(s)
    options = temporal_connect_options(s)
    tls = options["tls"]
    assert isinstance(tls, TLSConfig)
    assert tls.server_root_ca_cert == b"-----BEGIN CA-----\n" and tls.client_cert == b"-----BEGIN CERT-----\n"
    assert tls.client_private_key == b"-----BEGIN KEY-----\n" and tls.domain == "temporal.internal.example"
    assert options["api_key"] == "secret-key-123" and options["namespace"] == "oneseal.a1b2c"


def test_an_api_key_alone_turns_tls_on_with_the_system_roots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONESEAL_TEMPORAL_API_KEY", "k")
    tls = temporal_connect_options(Settings.from_env())["tls"]
    assert isinstance(tls, TLSConfig) and tls.server_root_ca_cert is None and tls.client_cert is None


def test_plain_by_default_and_tls_can_be_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    assert temporal_connect_options(Settings.from_env())["tls"] is False
    assert "api_key" not in temporal_connect_options(Settings.from_env())
    monkeypatch.setenv("ONESEAL_TEMPORAL_TLS", "1")
    assert isinstance(temporal_connect_options(Settings.from_env())["tls"], TLSConfig)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ONESEAL_TEMPORAL_TLS_CERT": "cert"}, "须同时设置"),
        ({"ONESEAL_TEMPORAL_TLS_CA": "/nonexistent/ca.pem"}, "文件不存在"),
        ({"ONESEAL_TEMPORAL_TLS": "maybe"}, "应为 1 或 0"),
        ({"ONESEAL_METRICS_PORT": "-1"}, "非负整数"),
    ],
)
def test_wrong_settings_are_named(
    monkeypatch: pytest.MonkeyPatch, pems: dict[str, Path], env: dict[str, str], message: str
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, str(pems[v]) if v in pems else v)
    with pytest.raises(SystemExit, match=message):
        Settings.from_env()
