"""The marketplace and an agent's page in a real browser: search as you type, facets, the schema, try-it."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Page, Request, Route, expect

from tests.e2e.conftest import UI

AGENT = "marketing_content_writer"
COUNT = re.compile(r"^([\d,]+) agents?\b")


def shown_count(page: Page) -> int:
    """The number of agents the result count (the live region) announces."""
    text = page.locator(".market-count").inner_text()
    found = COUNT.match(text)
    assert found, f"no count in {text!r}"
    return int(found.group(1).replace(",", ""))


def cards(page: Page) -> list[str]:
    """The text of every result card on screen."""
    return page.locator(".agent-card").all_inner_texts()


def test_the_marketplace_lists_the_catalogue_and_searches_as_you_type(ui: UI) -> None:
    page = ui.page
    ui.goto("#/agents")
    count = page.get_by_role("status").filter(has_text="agents")
    expect(count).to_have_text("1,500 agents in 29 categories")
    expect(page.locator(".agent-card")).to_have_count(60)
    page.get_by_role("button", name="Show more").click()
    expect(page.locator(".agent-card")).to_have_count(120)
    expect(page.get_by_role("button", name=re.compile(r"^All categories 1,500 agents$"))).to_have_attribute(
        "aria-pressed", "true"
    )
    ui.shot("marketplace")

    search = page.get_by_label("Search agents")
    search.press_sequentially("content", delay=30)
    expect(count).to_contain_text("matching “content”")
    after_one_word = shown_count(page)
    assert 0 < after_one_word < 1500
    search.press_sequentially(" writer", delay=30)
    expect(count).to_contain_text("matching “content writer”")
    after_two_words = shown_count(page)
    assert 0 < after_two_words < after_one_word
    expect(page.get_by_role("link", name=AGENT, exact=True)).to_be_visible()
    texts = cards(page)
    assert len(texts) == min(after_two_words, 60)
    for text in texts:
        assert "content" in text.lower() and "writ" in text.lower(), text
    assert "q=content+writer" in page.url

    page.get_by_role("button", name=re.compile(r"^Marketing \d+ agents?$")).click()
    expect(count).to_contain_text("in Marketing")
    narrowed = shown_count(page)
    assert 0 < narrowed < after_two_words
    for text in cards(page):
        assert "Marketing ·" in text, text
    assert "category=marketing" in page.url
    ui.shot("marketplace-search")

    # The search lives in the URL: a reload keeps it.
    page.reload()
    expect(page.get_by_label("Search agents")).to_have_value("content writer")
    expect(count).to_contain_text("in Marketing")
    assert shown_count(page) == narrowed
    expect(page.get_by_role("button", name=re.compile(r"^Marketing "))).to_have_attribute(
        "aria-pressed", "true"
    )


def test_the_marketplace_fits_a_phone(ui: UI) -> None:
    page = ui.page
    page.set_viewport_size({"width": 390, "height": 844})
    ui.goto("#/agents")
    expect(page.get_by_role("status").filter(has_text="agents")).to_have_text("1,500 agents in 29 categories")
    facet = page.get_by_role("button", name=re.compile(r"^Finance "))
    expect(facet).to_be_hidden()  # the categories start folded on a narrow screen
    page.locator("summary", has_text="Categories").click()
    expect(facet).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    ui.shot("marketplace-narrow")


def test_an_agent_shows_its_schema_and_runs_from_its_form(ui: UI) -> None:
    page = ui.page
    invocations: list[str] = []

    def record(request: Request) -> None:
        if request.method == "POST" and f"/v1/agents/{AGENT}/invoke" in request.url:
            invocations.append(request.url)

    page.on("request", record)
    ui.goto(f"#/agents/{AGENT}")
    expect(page.get_by_role("heading", name=AGENT, level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Marketing").first).to_have_attribute(
        "href", "#/agents?category=marketing"
    )
    schema = page.get_by_role("region", name="Input schema")
    expect(schema.get_by_role("row", name=re.compile(r"content_type"))).to_contain_text(
        "blog_post, social_post, email, landing_page"
    )
    expect(schema.get_by_role("row", name=re.compile(r"word_count"))).to_contain_text("50 \u2013 2000")

    # The form: required fields marked, enum selects, defaults filled in.
    topic = page.get_by_label("Topic")
    expect(topic).to_have_attribute("aria-required", "true")
    expect(page.locator("label[for='try-topic']")).to_contain_text("*")
    content_type = page.get_by_label("Content type")
    expect(content_type).to_have_attribute("required", "")
    expect(content_type.locator("option")).to_have_text(["blog_post", "social_post", "email", "landing_page"])
    tone = page.get_by_label("Tone")
    expect(tone.locator("option")).to_have_text(["—", "professional", "friendly", "playful", "authoritative"])
    expect(tone.locator("option:checked")).to_have_text("professional")
    expect(page.get_by_label("Word count")).to_have_value("400")
    expect(page.get_by_label("Audience")).not_to_have_attribute("aria-required", "true")
    ui.shot("agent")

    # A JSON answer: the output and the usage.
    topic.fill("Spring launch of the garden range")
    content_type.select_option("email")
    run = page.get_by_role("button", name="Run")
    run.click()
    result = page.get_by_role("region", name="Output", exact=True)
    expect(result).to_contain_text("Headline")
    expect(result).to_contain_text("Spring launch of the garden range")
    expect(result).to_contain_text("Tokens in")
    expect(result).to_contain_text("offline / offline-schema-sampler")
    tokens_in = result.locator(".stat", has_text="Tokens in").locator(".stat-value").inner_text()
    assert int(tokens_in.replace(",", "")) > 0
    expect(page.locator(".run-status")).to_contain_text("Done in")
    expect(run).to_be_enabled()
    assert len(invocations) == 1 and "stream=true" not in invocations[0]
    ui.shot("agent-result")

    # The same, streamed: the chunks, then the result.
    topic.fill("Autumn clearance")
    page.get_by_label("Stream the answer").check()
    run.click()
    expect(page.locator(".run-status")).to_contain_text("(streamed)")
    expect(result).to_contain_text("Autumn clearance")
    expect(result.get_by_text("Streamed text")).to_be_visible()
    assert len(invocations) == 2 and "stream=true" in invocations[1]

    # A required field emptied: the error shows on the field and nothing is sent.
    topic.fill("")
    run.click()
    expect(topic).to_have_attribute("aria-invalid", "true")
    error = page.locator("#try-topic-error")
    expect(error).to_have_text("Required.")
    expect(topic).to_have_attribute("aria-describedby", re.compile(r"\btry-topic-error\b"))
    expect(topic).to_be_focused()
    assert len(invocations) == 2
    topic.fill("Back again")
    expect(topic).not_to_have_attribute("aria-invalid", "true")

    # The server's own 422 (the call is sent with an input it refuses): each problem lands on its field.
    def refused_input(route: Route) -> None:
        bad = {"input": {"content_type": "fax", "word_count": 5}}
        route.fulfill(response=route.fetch(post_data=json.dumps(bad)))

    page.route(f"**/v1/agents/{AGENT}/invoke", refused_input)
    page.get_by_label("Stream the answer").uncheck()
    run.click()
    expect(page.locator(".run-status")).to_contain_text("The input was refused: 3 problems")
    expect(page.locator("#try-topic-error")).to_contain_text("required property")
    expect(page.locator("#try-content_type-error")).to_contain_text('"fax" is not one of')
    expect(page.get_by_label("Word count")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#try-word_count-error")).to_contain_text("less than the minimum of 50")
    expect(run).to_be_enabled()
