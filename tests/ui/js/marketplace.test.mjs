import { test } from "node:test";
import assert from "node:assert/strict";

import {
  categoryCounts, filterAgents, hashFor, indexAgents, readState, searchWords, topTags,
} from "../../../dashboard/js/pages/marketplace.js";

const AGENTS = [
  { name: "accounting_invoice_matcher", category: "accounting", description: "Matches invoices to purchase orders.", tags: ["invoices", "ap"] },
  { name: "marketing_content_writer", category: "marketing", description: "Writes blog posts and emails.", tags: ["content", "email"] },
  { name: "marketing_seo_auditor", category: "marketing", description: "Audits pages for SEO content gaps.", tags: ["seo", "content"] },
  { name: "sales_email_drafter", category: "sales", description: "Drafts outreach to prospects.", tags: ["email", "outreach"] },
];
const TITLES = new Map([["accounting", "Accounting"], ["marketing", "Marketing"], ["sales", "Sales & Revenue"]]);
const INDEX = indexAgents(AGENTS, TITLES);
const names = (list) => list.map((a) => a.name);

test("searchWords splits and lower-cases", () => {
  assert.deepEqual(searchWords("  SEO   Content "), ["seo", "content"]);
  assert.deepEqual(searchWords(""), []);
  assert.deepEqual(searchWords(undefined), []);
});

test("no filters keep every agent in catalogue order", () => {
  assert.deepEqual(names(filterAgents(INDEX, {})), names(AGENTS));
});

test("every word must appear, case-insensitively, in name, description, tags or category", () => {
  assert.deepEqual(names(filterAgents(INDEX, { q: "EMAIL" })), ["sales_email_drafter", "marketing_content_writer"]);
  assert.deepEqual(names(filterAgents(INDEX, { q: "content email" })), ["marketing_content_writer"]);
  assert.deepEqual(names(filterAgents(INDEX, { q: "purchase" })), ["accounting_invoice_matcher"]);
  assert.deepEqual(names(filterAgents(INDEX, { q: "revenue" })), ["sales_email_drafter"]);
  assert.deepEqual(names(filterAgents(INDEX, { q: "content writer" })), ["marketing_content_writer"]);
  assert.deepEqual(names(filterAgents(INDEX, { q: "content xyz" })), []);
});

test("partial words match as you type", () => {
  assert.deepEqual(names(filterAgents(INDEX, { q: "inv" })), ["accounting_invoice_matcher"]);
  assert.equal(filterAgents(INDEX, { q: "m" }).length, 4);
});

test("name matches rank before description matches", () => {
  // "content" is in the writer's name, and only in the auditor's description and tags.
  assert.deepEqual(names(filterAgents(INDEX, { q: "content" })), ["marketing_content_writer", "marketing_seo_auditor"]);
});

test("category and tag narrow the search", () => {
  assert.deepEqual(names(filterAgents(INDEX, { q: "email", category: "sales" })), ["sales_email_drafter"]);
  assert.deepEqual(names(filterAgents(INDEX, { category: "marketing", tag: "seo" })), ["marketing_seo_auditor"]);
  assert.deepEqual(names(filterAgents(INDEX, { tag: "content" })), ["marketing_content_writer", "marketing_seo_auditor"]);
  assert.deepEqual(filterAgents(INDEX, { category: "nowhere" }), []);
});

test("categoryCounts counts per category", () => {
  const counts = categoryCounts(filterAgents(INDEX, { q: "content" }));
  assert.deepEqual([...counts], [["marketing", 2]]);
  assert.equal(categoryCounts(AGENTS).get("sales"), 1);
});

test("topTags ranks by frequency, then name, and keeps the chosen tag", () => {
  assert.deepEqual(topTags(AGENTS, 2), [{ tag: "content", count: 2 }, { tag: "email", count: 2 }]);
  assert.deepEqual(topTags(AGENTS, 1, "seo"), [{ tag: "content", count: 2 }, { tag: "seo", count: 1 }]);
  assert.deepEqual(topTags(AGENTS, 1, "gone"), [{ tag: "content", count: 2 }, { tag: "gone", count: 0 }]);
  assert.deepEqual(topTags([], 5), []);
});

test("hashFor and readState round-trip the search", () => {
  assert.equal(hashFor({}), "#/agents");
  assert.equal(hashFor({ q: "  " }), "#/agents");
  const hash = hashFor({ q: "seo & ads", category: "marketing", tag: "content" });
  assert.equal(hash, "#/agents?q=seo+%26+ads&category=marketing&tag=content");
  const state = readState(new URLSearchParams(hash.split("?")[1]));
  assert.deepEqual(state, { q: "seo & ads", category: "marketing", tag: "content" });
  assert.deepEqual(readState(new URLSearchParams("")), { q: "", category: "", tag: "" });
});
