"""The agent's status endpoint and `fleetwatch top` live in the subpackages `agent.status` and
`agent.top`: their public names import from the package, and one module does not drag in the rest.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from fleetwatch.agent import status, top


def test_public_names_import_from_the_packages() -> None:
    from fleetwatch.agent.status import (
        StatusLink,
        StatusServer,
        build_tree,
        is_loopback,
        lookup,
        parse_listen,
        render_metrics,
        stats_of,
    )
    from fleetwatch.agent.top import (
        CRITICAL,
        DEFAULT_THRESHOLDS,
        WARNING,
        LocalAlert,
        Threshold,
        evaluate,
        human_bytes,
        human_duration,
        human_rate,
        render_frame,
    )

    assert parse_listen("127.0.0.1:9101") == ("127.0.0.1", 9101)
    assert is_loopback("::1") and not is_loopback("10.0.0.1")
    assert lookup(build_tree({"system": {"hostname": "web-01"}}), ["host", "hostname"]) == "web-01"
    assert stats_of(object()) is None
    assert "fleetwatch_" in render_metrics({"system": {"hostname": "web-01"}, "metrics": {}})
    assert callable(StatusLink) and callable(StatusServer)
    assert human_bytes(1024) == "1.0 KiB"
    assert human_duration(90) and human_rate(2048)
    assert {CRITICAL, WARNING} == {"CRITICAL", "WARNING"}
    assert isinstance(DEFAULT_THRESHOLDS["memory"], Threshold)
    assert evaluate({"metrics": {"memory_percent": 95.0}})[0].level == CRITICAL
    assert LocalAlert.__name__ == "LocalAlert" and callable(render_frame)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = status.nope  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = top.nope  # type: ignore[attr-defined]


def test_the_old_flat_modules_are_gone() -> None:
    for old in ("status_server", "status_tree", "top_view", "top_alerts"):
        with pytest.raises(ModuleNotFoundError):
            __import__(f"fleetwatch.agent.{old}")


def test_one_module_stays_light() -> None:
    """The daemon imports `status.link` and `top_hub` imports `top.alerts`: neither loads the
    status server nor the renderer."""
    code = (
        "import sys\n"
        "import fleetwatch.agent.status.link, fleetwatch.agent.top.alerts\n"
        "loaded = ('fleetwatch.agent.status.server', 'fleetwatch.agent.status.http', "
        "'fleetwatch.agent.top.view', 'rich')\n"
        "print(sorted(m for m in loaded if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
