"""bench/load/seed_load_test.py (`make load-test`) against the real stack, with small counts:
it passes on a healthy stack and fails when requests fail, so the check it prints can fail."""

from __future__ import annotations

import importlib.util

from conftest import REPO


def load_test_module():
    spec = importlib.util.spec_from_file_location("seed_load_test", REPO / "bench/load/seed_load_test.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_seed_load_test_passes_on_a_healthy_stack(new_client, auth_url, mt5_url, capsys):
    creds = new_client(scopes=("trade:read", "account:read"))
    code = await load_test_module().main(["--auth-url", auth_url, "--mt5-url", mt5_url, "--client-id",
                                          creds.client_id, f"--client-secret={creds.client_secret}",
                                          "--tokens", "40", "--reads", "80", "--p99-ms", "10000"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "POST /auth/service-token" in out and "40/40" in out and "80/80" in out
    assert out.count("PASS") == 2


async def test_it_fails_when_requests_fail(new_client, auth_url, mt5_url, capsys):
    # The load test asks for trade:read and account:read: this client holds only one of them.
    creds = new_client(scopes=("trade:read",))
    code = await load_test_module().main(["--auth-url", auth_url, "--mt5-url", mt5_url, "--client-id",
                                          creds.client_id, f"--client-secret={creds.client_secret}",
                                          "--tokens", "5", "--reads", "5", "--p99-ms", "10000",
                                          "--connection-per-request"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "0/5" in out and "failures: {'400': 5}" in out
