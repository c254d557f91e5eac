"""The admin console's pages: one URL per section, one menu marking where you are."""

from __future__ import annotations

import re

import httpx
from holdfast.web.console import SECTIONS


async def test_each_section_has_its_own_page_with_the_menu_marking_it(
    client: httpx.AsyncClient,
) -> None:
    for section, label in SECTIONS:
        page = await client.get(f"/admin/{section}")
        assert page.status_code == 200, section
        html = page.text
        current = re.findall(r'<a href="(/admin/[a-z]+)"[^>]*aria-current="page"', html)
        assert current == [f"/admin/{section}"], section
        assert len(re.findall(r'data-testid="nav-[a-z]+"', html)) == len(SECTIONS), section
        assert f"<title>{label} · Admin · Holdfast</title>" in html, section
        # The shared gate and shell, then the section's own script (each as a file: the CSP).
        assert html.count('data-testid="admin-gate"') == 1, section
        scripts = re.findall(r'<script src="/static/([a-z_]+)\.js"', html)
        assert scripts[:2] == ["dom", "admin"], (section, scripts)
        assert f"admin_{section}" in scripts, (section, scripts)
        for script in scripts:
            assert (await client.get(f"/static/{script}.js")).status_code == 200, script


async def test_the_console_opens_on_today_and_unknown_sections_are_404(
    client: httpx.AsyncClient,
) -> None:
    landing = await client.get("/admin")
    assert (landing.status_code, landing.headers["location"]) == (302, "/admin/today")
    missing = await client.get("/admin/nowhere")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
