"""Unknown non-UI paths answer a JSON 404 in the API's error shape, not the dashboard (26.6).

A browser that mistypes a dashboard path still gets the dashboard's own "not found" page; the
dashboard's real pages and NiceGUI's assets are untouched.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from hubtest import running_hub

pytestmark = pytest.mark.e2e


def test_unknown_paths_get_json_404_and_pages_still_work(tmp_path: Path) -> None:
    with running_hub(tmp_path) as hub, httpx.Client(base_url=hub.base_url, timeout=10) as http:
        for method, path in [
            ("GET", "/metricz"),
            ("GET", "/api/nonexistent"),
            ("POST", "/api/v2/write"),
            ("GET", "/federate?match[]=up"),
            ("GET", "/server/x/y/z"),
        ]:
            r = http.request(method, path, headers={"Accept": "*/*"})
            assert r.status_code == 404, (path, r.status_code)
            assert r.headers["content-type"].startswith("application/json"), path
            error = r.json()["error"]
            assert error["code"] == "not_found"
            assert path.split("?")[0] in error["message"]
        browser = {"Accept": "text/html,application/xhtml+xml"}
        page = http.get("/no-such-page", headers=browser)
        assert page.status_code == 404 and "text/html" in page.headers["content-type"]
        api = http.get("/api/no-such-thing", headers=browser)
        assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
        login = http.get("/login", headers=browser)
        assert login.status_code == 200 and "<html" in login.text.lower()
        assert http.get("/api/ping").status_code == 200
        assert http.get("/favicon.ico").status_code == 200
