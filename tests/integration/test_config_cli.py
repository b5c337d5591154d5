"""``elite-panel config ...`` as a person or a script uses it."""

from __future__ import annotations

import json

from tests.conftest import Home


def test_show_set_validate_profiles_use(home: Home) -> None:
    shown = json.loads(home.cli("config", "show", "--json").stdout)
    assert shown["sources"]["runner.kind"] == "$ELITE_RUNNER__KIND"
    assert shown["sources"]["dashboard.cpu_percent"] == "default"
    text = home.cli("config", "show")
    assert text.returncode == 0, text.stderr
    assert "[runner.docker]" in text.stdout and "# $ELITE_RUNNER__KIND" in text.stdout

    assert home.cli("config", "set", "dashboard.cpu_percent", "90").returncode == 0
    path = home.root / "config" / "profiles" / "default.toml"
    before = path.read_text(encoding="utf-8")
    bad = home.cli("config", "set", "dashboard.cpu_percent", "190")
    assert bad.returncode == 1 and "dashboard.cpu_percent" in bad.stderr
    assert "unchanged" in bad.stderr and path.read_text(encoding="utf-8") == before
    unknown = home.cli("config", "set", "dashboard.colour", "red")
    assert unknown.returncode == 1 and "unknown key 'colour'" in unknown.stderr

    broken = home.root / "broken.toml"
    broken.write_text("[runner]\nkind = 'warp'\n\n[stack]\nstart_timeout_s = -1\n")
    result = home.cli("config", "validate", str(broken))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert any(ln.startswith("runner.kind") and f"{broken}:2" in ln for ln in lines)
    assert any(ln.startswith("stack.start_timeout_s") and f"{broken}:5" in ln for ln in lines)
    broken.write_text("[runner\n")
    assert home.cli("config", "validate", str(broken)).returncode == 2
    assert home.cli("config", "validate").returncode == 0

    (home.root / "config" / "profiles" / "gpu.toml").write_text(before)
    assert home.cli("config", "use", "gpu").returncode == 0
    assert home.cli("config", "profiles").stdout.split() == ["default", "*", "gpu"]
    assert json.loads(home.cli("config", "show", "--json").stdout)["profile"] == "gpu"
    assert home.cli("config", "use", "nope").returncode == 1
