"""The monitoring files an operator deploys: Prometheus' alert rules pass `promtool check rules`,
and they and the Grafana dashboard name only metrics that /metrics really exports."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "holdfast.json"
SUFFIXES = ("", "_total", "_bucket", "_sum", "_count")


def _promtool() -> str:
    found = shutil.which("promtool") or str(ROOT / ".venv" / "bin" / "promtool")
    if Path(found).is_file():
        return found
    why = "promtool is missing (./run.sh test fetches it from Debian's prometheus package)"
    if os.environ.get("CI") == "true":
        pytest.fail(why)
    pytest.skip(why)


def _exported() -> set[str]:
    import holdfast.web.app  # noqa: F401  (registers every metric the API exports)

    names = set()
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in SUFFIXES)
    return names


def _used(text: str) -> set[str]:
    return set(re.findall(r"\bholdfast_[a-z_]+", text))


def test_promtool_accepts_the_alert_rules() -> None:
    checked = subprocess.run(
        [_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


def test_rules_and_dashboard_name_only_exported_metrics() -> None:
    exported = _exported()
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert expressions, "the dashboard has no queries"
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
    used = _used(RULES.read_text()) | _used(" ".join(expressions))
    assert used and not used - exported, f"not exported: {sorted(used - exported)}"
