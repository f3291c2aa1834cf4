"""The dashboard and analytics pages in a real browser: figures that follow agent calls live, the calls in the
recent list, the deployments' replicas, and usage totals that grow after a refresh."""

from __future__ import annotations

import re
import time

import httpx
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import UI

AGENT = "marketing_content_writer"
CALLS = 3
NUMBER = re.compile(r"^\d[\d,.\s]*$")


def _figure(page: Page, label: str) -> Locator:
    """The value of the figure card labelled `label`."""
    return page.get_by_role("group", name=label, exact=True).locator(".stat-value")


def _number(figure: Locator) -> int:
    text = figure.inner_text()
    assert NUMBER.match(text.strip()), f"not a count: {text!r}"
    return int(re.sub(r"\D", "", text))


def _reaches(figure: Locator, at_least: int, within: float = 30) -> int:
    """The figure once it is at least `at_least`, or whatever it shows after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = _number(figure)
        if value >= at_least or time.monotonic() > deadline:
            return value
        figure.page.wait_for_timeout(250)


def _invoke(client: httpx.Client, n: int, note: str) -> list[str]:
    """Makes `n` calls of the agent; returns their request ids."""
    ids = []
    for i in range(n):
        answer = client.post(
            f"/v1/agents/{AGENT}/invoke",
            json={"input": {"topic": f"{note} {i}", "content_type": "email"}},
        )
        assert answer.status_code == 200, answer.text
        ids.append(answer.headers["x-request-id"])
    return ids


def test_dashboard_follows_agent_calls_live(ui: UI) -> None:
    page = ui.page
    ui.goto("#/dashboard")
    requests = _figure(page, "Requests")
    expect(requests).to_have_text(NUMBER)
    expect(page.get_by_role("status").filter(has_text=re.compile(r"^Live$"))).to_be_visible()
    page.evaluate("window.notReloaded = true")
    before = _number(requests)

    with ui.platform.client() as client:
        ids = _invoke(client, CALLS, "dashboard test")

    recent = page.get_by_role("region", name="Recent executions")
    for request_id in ids:  # streamed in, newest on top
        row = recent.locator(f'tr[data-request-id="{request_id}"]')
        expect(row).to_be_visible()
        expect(row.get_by_role("link", name=AGENT)).to_have_attribute("href", f"#/agents/{AGENT}")
        expect(row).to_contain_text("OK")
    shown = recent.locator("tbody tr").evaluate_all("rows => rows.map((row) => row.dataset.requestId)")
    assert [shown.index(i) for i in reversed(ids)] == sorted(shown.index(i) for i in ids)
    assert _reaches(requests, before + CALLS) >= before + CALLS
    assert page.evaluate("window.notReloaded") is True

    # deployments: the gateway and the agent's category have running replicas
    assert _number(_figure(page, "Applications")) >= 2
    assert _number(_figure(page, "Running replicas")) >= 2
    applications = page.get_by_role("list", name="Applications")
    for name in ("gateway", "marketing"):
        tile = applications.locator(".app-tile").filter(
            has=page.locator(".app-name", has_text=re.compile(f"^{name}$"))
        )
        expect(tile).to_contain_text("Running")
        expect(tile).to_contain_text(re.compile(r"\d+ running"))

    # the chart: a tooltip on keyboard focus, and its figures as a table
    chart = page.locator("figure.chart").filter(
        has=page.get_by_role("group", name=re.compile(r"^Requests and errors"))
    )
    last = chart.locator(".chart-mark").last
    last.focus()
    tooltip = chart.locator(".chart-tooltip")
    expect(tooltip).to_be_visible()
    expect(tooltip).to_contain_text("Requests:")
    page.keyboard.press("ArrowLeft")
    expect(chart.locator(".chart-mark").nth(-2)).to_be_focused()
    chart.get_by_text("Show as table").click()
    expect(chart.get_by_role("columnheader", name="Errors")).to_be_visible()
    ui.shot("dashboard")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(_figure(page, "Requests")).to_have_text(NUMBER)
    expect(_figure(page, "Running replicas")).to_have_text(NUMBER)
    expect(page.get_by_role("status").filter(has_text=re.compile(r"^Live$"))).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    ui.shot("dashboard-390")


def test_analytics_totals_grow_after_a_refresh(ui: UI) -> None:
    page = ui.page
    ui.goto("#/analytics")
    page.get_by_label("Range").select_option("7")
    expect(page).to_have_url(re.compile(r"#/analytics\?days=7$"))
    expect(page.get_by_label("Range")).to_have_value("7")
    calls = _figure(page, "Calls")
    expect(calls).to_have_text(NUMBER)
    before = _number(calls)

    with ui.platform.client() as client:
        _invoke(client, CALLS, "analytics test")

    refresh = page.get_by_role("button", name="Refresh")
    deadline = time.monotonic() + 30
    while True:  # the calls are recorded a moment after they answer
        refresh.click()
        expect(refresh).to_be_enabled()
        after = _number(calls)
        if after >= before + CALLS or time.monotonic() > deadline:
            break
    assert after >= before + CALLS
    expect(page.get_by_role("group", name=re.compile(r"^Calls per day by category"))).to_be_visible()
    busiest = page.get_by_role("table").get_by_role("link", name=AGENT, exact=True)
    expect(busiest).to_have_attribute("href", f"#/agents/{AGENT}")
    ui.shot("analytics")
