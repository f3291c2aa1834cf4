"""The workflow pages and the admin page in a real browser: a run started from its form and followed live
to the end; an API key created (its secret shown once), used and revoked; a user created and given a
new role."""

from __future__ import annotations

import json
import re
import secrets

import httpx
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import UI, Platform

WORKFLOW = "seo_article"
STEPS = ("brief", "sections", "meta_tags", "claims", "brand_voice")
RUN_TIMEOUT = 120_000


def _node(page: Page, step: str) -> Locator:
    """The graph's node of `step` (a focusable button inside the SVG)."""
    return page.locator(".dag-svg").get_by_role("button", name=re.compile(rf"^{step} "))


def _row(page: Page, text: str) -> Locator:
    return page.get_by_role("row").filter(has_text=text)


def test_a_run_started_from_its_form_is_followed_to_the_end(ui: UI) -> None:
    page = ui.page
    ui.goto("#/workflows")
    card = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=WORKFLOW, exact=True))
    expect(card).to_contain_text("5 steps in 3 stages")
    ui.shot("workflows")

    card.get_by_role("link", name=WORKFLOW, exact=True).click()
    expect(page.get_by_role("heading", name=WORKFLOW, level=1)).to_be_visible()
    for step in STEPS:
        expect(_node(page, step)).to_have_accessible_name(re.compile(r" pending$"))
    # A node is selected with the keyboard and its call is described.
    _node(page, "sections").focus()
    page.keyboard.press("Enter")
    detail = page.locator(".wf-step-detail")
    expect(detail).to_contain_text("marketing_content_writer")
    expect(detail).to_contain_text("steps.brief.output.outline")
    expect(_node(page, "sections")).to_have_attribute("aria-pressed", "true")

    form = page.get_by_role("region", name="Start a run")
    outlines = [{"url": "https://example.com/a", "headings": ["What it is", "Why it matters"]}]
    fields = {
        "Target keyword": "workflow automation",
        "Serp outlines": json.dumps(outlines),
        "Url": "https://example.com/blog/automation",
        "Audience": "operations leads",
        "Brand guidelines": "Plain and friendly, no hype.",
    }
    for label, value in fields.items():
        form.get_by_role("textbox", name=label, exact=True).fill(value)
    ui.shot("workflow")
    page.get_by_role("button", name="Start run").click()

    expect(page).to_have_url(re.compile(r"#/runs/[0-9a-f-]{36}$"), timeout=30_000)
    run_id = page.url.rsplit("/", 1)[1]
    for step in STEPS:
        expect(_node(page, step)).to_have_class(re.compile(r"\bstatus-succeeded\b"), timeout=RUN_TIMEOUT)
        expect(_node(page, step)).to_have_accessible_name(re.compile(r" succeeded$"))
    status = page.locator(".wf-run-status")
    expect(status).to_have_text(re.compile("succeeded"), timeout=RUN_TIMEOUT)
    expect(page.get_by_text("5 / 5", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Cancel run")).to_be_hidden()

    # The selected step's output, readably and as raw JSON.
    _node(page, "sections").click()
    panel = page.locator(".wf-step-panel")
    expect(panel).to_contain_text("marketing_content_writer")
    expect(panel).to_contain_text("Headline")
    with ui.platform.client() as client:
        run = client.get(f"/v1/runs/{run_id}").json()
    assert run["status"] == "succeeded"
    sections = next(s for s in run["steps"] if s["step"] == "sections")
    expect(panel).to_contain_text(sections["output"][0]["headline"])
    panel.get_by_text("Raw JSON").click()
    expect(panel.locator("pre")).to_contain_text('"headline"')
    # The timeline has a bar per step, and the run's output is shown.
    expect(page.locator(".wf-tl-row.status-succeeded")).to_have_count(len(STEPS))
    expect(page.get_by_role("region", name="Output")).to_contain_text("Brand voice")
    ui.shot("run")

    page.set_viewport_size({"width": 390, "height": 844})
    ui.goto(f"#/runs/{run_id}")
    expect(_node(page, "brand_voice")).to_have_class(re.compile(r"\bstatus-succeeded\b"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    ui.shot("run-390")


def test_a_graph_run_shows_each_turn_and_its_shared_state(ui: UI) -> None:
    page = ui.page
    data = {"topic": "Acme Cloud", "audience": "CTOs", "brand_guidelines": "Plain words, no hype."}
    with ui.platform.client() as client:
        started = client.post("/v1/workflows/brand_copy_loop/runs?wait=true", json={"input": data})
        run = started.json()
    assert run["status"] == "succeeded", run
    ui.goto(f"#/runs/{run['id']}")
    expect(page.locator(".wf-run-status")).to_have_text(re.compile("succeeded"), timeout=RUN_TIMEOUT)
    _node(page, "copy").click()
    card = page.get_by_role("region", name=re.compile("^Turns of step copy"))
    turns = card.locator("li.wf-turn")
    expect(turns).to_have_count(len(run["turns"]))
    first = run["turns"][0]
    expect(turns.first).to_contain_text(f"Turn 1 · {first['role']}")
    expect(turns.first).to_contain_text("marketing_content_writer")
    turns.first.get_by_text("Shared state after this node of turn 1", exact=True).click()
    expect(turns.first).to_contain_text(first["state"]["draft"][:40])
    ui.shot("run-graph-turns")


def test_an_api_key_is_shown_once_works_and_is_revoked(ui: UI) -> None:
    page = ui.page
    name = f"e2e key {secrets.token_hex(4)}"
    ui.goto("#/admin")
    expect(page.get_by_role("tab", name="API keys")).to_have_attribute("aria-selected", "true")
    panel = page.get_by_role("tabpanel", name="API keys")
    panel.get_by_label("Name", exact=True).fill(name)
    panel.get_by_label("Role", exact=True).select_option("developer")
    panel.get_by_label("Expires after (days)").fill("7")
    panel.get_by_role("button", name="Create key").click()

    expect(page.get_by_role("heading", name="Copy your new API key now")).to_be_visible()
    expect(page.get_by_text("Shown only this once.")).to_be_visible()
    secret = page.get_by_label(f"API key “{name}”").input_value()
    assert secret.startswith("aap_")
    expect(_row(page, name)).to_contain_text("developer")
    expect(_row(page, name)).to_contain_text("active")
    ui.shot("admin-new-key")
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0

    with httpx.Client(base_url=ui.platform.url, timeout=30) as http:
        assert http.get("/v1/agents", params={"limit": 1}, headers={"x-api-key": secret}).status_code == 200

        page.reload()
        expect(_row(page, name)).to_contain_text("active")
        expect(page.get_by_role("heading", name="Copy your new API key now")).to_have_count(0)
        assert secret not in page.content()
        assert secret not in page.evaluate("document.body.innerText")
        ui.shot("admin")

        _row(page, name).get_by_role("button", name=re.compile("^Revoke key")).click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text(name)
        dialog.get_by_role("button", name="Revoke key").click()
        expect(_row(page, name)).to_contain_text("revoked")
        expect(_row(page, name).get_by_role("button")).to_have_count(0)
        assert http.get("/v1/agents", params={"limit": 1}, headers={"x-api-key": secret}).status_code == 401


def test_a_user_is_created_and_given_another_role(ui: UI) -> None:
    page = ui.page
    email = f"e2e-{secrets.token_hex(4)}@example.com"
    ui.goto("#/admin?tab=users")
    expect(page.get_by_role("tab", name="Users")).to_have_attribute("aria-selected", "true")
    panel = page.get_by_role("tabpanel", name="Users")
    panel.get_by_label("E-mail", exact=True).fill(email)
    panel.get_by_label("Password", exact=True).fill("too short")
    panel.get_by_label("Role", exact=True).select_option("viewer")
    panel.get_by_role("button", name="Create user").click()
    expect(panel.get_by_text("At least 12 characters.", exact=True)).to_be_visible()
    panel.get_by_label("Password", exact=True).fill(secrets.token_urlsafe(12))
    panel.get_by_role("button", name="Create user").click()
    expect(_row(page, email)).to_contain_text("active")
    expect(page.get_by_label(f"Role of {email}", exact=True)).to_have_value("viewer")

    page.get_by_label(f"Role of {email}", exact=True).select_option("developer")
    page.get_by_role("button", name=f"Save role of {email}").click()
    expect(panel.get_by_role("status")).to_contain_text(f"{email} is now developer.")
    with ui.platform.client() as client:
        users = {u["email"]: u for u in client.get("/v1/users").json()}
    assert users[email]["role"] == "developer"

    page.get_by_role("button", name=f"Disable {email}").click()
    expect(_row(page, email)).to_contain_text("disabled")
    with ui.platform.client() as client:
        users = {u["email"]: u for u in client.get("/v1/users").json()}
    assert users[email]["disabled"] is True

    page.reload()
    expect(page.get_by_label(f"Role of {email}", exact=True)).to_have_value("developer")
    expect(_row(page, email)).to_contain_text("disabled")


def test_the_last_admin_of_a_tenant_cannot_step_down(platform: Platform, browser_page: Page) -> None:
    tenant, password = f"solo-{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    email = f"owner@{tenant}.example"
    platform.agentctl("tenants", "create", tenant)
    platform.agentctl("users", "create", email, "--role", "admin", "--tenant", tenant, "--password", password)
    ui = UI(browser_page, platform)
    ui.sign_in(email, password)
    page = ui.page
    ui.goto("#/admin?tab=users")
    page.get_by_label(f"Role of {email}", exact=True).select_option("viewer")
    page.get_by_role("button", name=f"Save role of {email}").click()
    panel = page.get_by_role("tabpanel", name="Users")
    refused = "409 conflict: the tenant would be left without an active admin"
    expect(panel.get_by_role("alert")).to_contain_text(refused)
    expect(panel).to_contain_text("The tenant must keep at least one active admin: make another user admin")
    expect(page.get_by_label(f"Role of {email}", exact=True)).to_have_value("admin")
    page.reload()
    expect(page.get_by_label(f"Role of {email}", exact=True)).to_have_value("admin")
    ui.shot("admin-last-admin")
