"""The web UI's session in a real browser: sign-in, a reload, a token renewed by its cookie, sign-out."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.conftest import UI, Platform


def _signed_in_token(ui: UI) -> str:
    """Signs in through the form and returns the access token the page received."""
    page = ui.page
    page.goto(f"{ui.platform.url}/ui/#/signin")
    page.get_by_label("E-mail").fill(ui.platform.email)
    page.get_by_label("Password").fill(ui.platform.password)
    with page.expect_response(lambda r: r.url.endswith("/v1/auth/token")) as answer:
        page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    token: str = answer.value.json()["access_token"]
    return token


def test_sign_in_keeps_the_token_from_scripts_and_survives_a_reload(
    platform: Platform, browser_page: Page
) -> None:
    ui = UI(browser_page, platform)
    page = ui.page
    page.goto(f"{platform.url}/ui/#/workflows")
    expect(page).to_have_url(f"{platform.url}/ui/#/signin?next=%23%2Fworkflows")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    ui.shot("signin")
    page.get_by_label("E-mail").fill(platform.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong e-mail or password")
    page.get_by_label("Password").fill(platform.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{platform.url}/ui/#/workflows")  # where the user was headed
    expect(page.locator("#who")).to_contain_text(f"{platform.email} · admin · default")

    cookie = next(c for c in page.context.cookies() if c["name"] == "agents_refresh")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/v1/auth"
    assert page.evaluate("document.cookie") == ""
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0

    page.reload()
    expect(page.get_by_role("heading", name="Workflows", exact=True)).to_be_visible()
    expect(page.locator("#who")).to_contain_text(platform.email)


def test_an_expired_token_is_renewed_and_a_dead_session_goes_back_to_sign_in(
    platform: Platform, browser_page: Page
) -> None:
    ui = UI(browser_page, platform)
    page = ui.page
    token = _signed_in_token(ui)
    with httpx.Client(base_url=platform.url) as http:
        # The page's token stops working (as when it expires); the page renews it with its cookie.
        assert http.post("/v1/auth/logout", headers={"authorization": f"Bearer {token}"}).status_code == 204
        with page.expect_response(lambda r: r.url.endswith("/v1/auth/refresh")) as renewed:
            ui.goto("#/admin")
        assert renewed.value.status == 200
        expect(page.get_by_role("heading", name="Admin", exact=True)).to_be_visible()
        expect(page.locator("#who")).to_contain_text(platform.email)

        # The session itself is revoked elsewhere: the next call sends the user to sign in, and back.
        cookie = next(c for c in page.context.cookies() if c["name"] == "agents_refresh")["value"]
        revoke = http.post("/v1/auth/logout", headers={"cookie": f"agents_refresh={cookie}"})
        assert revoke.status_code == 204
        page.evaluate("window.location.hash = '#/dashboard'")  # no reload: the page's token still works
        expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
        fresh = http.post(
            "/v1/auth/token", json={"email": platform.email, "password": platform.password}
        ).json()["access_token"]
        http.post("/v1/auth/logout", headers={"authorization": f"Bearer {fresh}"})
    page.reload()
    expect(page).to_have_url(f"{platform.url}/ui/#/signin?next=%23%2Fdashboard")


def test_sign_out_revokes_the_token_and_the_cookie(platform: Platform, browser_page: Page) -> None:
    ui = UI(browser_page, platform)
    page = ui.page
    token = _signed_in_token(ui)
    cookie = next(c for c in page.context.cookies() if c["name"] == "agents_refresh")["value"]
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert not [c for c in page.context.cookies() if c["name"] == "agents_refresh"]
    with httpx.Client(base_url=platform.url) as http:
        assert http.get("/v1/agents", headers={"authorization": f"Bearer {token}"}).status_code == 401
        assert (
            http.post("/v1/auth/refresh", headers={"cookie": f"agents_refresh={cookie}"}).status_code == 401
        )
    page.goto(f"{platform.url}/ui/#/agents")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_narrow_screen_menu(ui: UI) -> None:
    page = ui.page
    page.set_viewport_size({"width": 390, "height": 844})
    ui.goto("#/agents")
    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_role("link", name="Analytics")).to_be_hidden()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    page.get_by_role("link", name="Analytics").click()
    expect(page.get_by_role("heading", name="Analytics", exact=True)).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    ui.shot("narrow-menu")
