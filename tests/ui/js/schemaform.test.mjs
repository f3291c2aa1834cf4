import { test } from "node:test";
import assert from "node:assert/strict";

import {
  coerce, exampleOf, formPath, inputTypeFor, kindOf, labelFor, pointer, schemaRows, toRaw, typeLabel,
  typeOf, validateValue,
} from "../../../dashboard/js/schemaform.js";

const WRITER = {
  type: "object",
  additionalProperties: false,
  required: ["topic", "content_type"],
  properties: {
    topic: { description: "What the piece is about", type: "string", maxLength: 2000 },
    content_type: { type: "string", enum: ["blog_post", "social_post", "email", "landing_page"] },
    tone: { type: "string", enum: ["professional", "friendly"], default: "professional" },
    word_count: { type: "integer", minimum: 50, maximum: 2000, default: 400 },
    keywords: { type: "array", items: { type: "string", maxLength: 2000 }, maxItems: 3 },
    sections: {
      type: "array",
      items: { type: "object", required: ["heading"], properties: { heading: { type: "string" } } },
    },
    brand: {
      type: "object",
      required: ["name"],
      properties: { name: { type: "string" }, founded: { type: "string", format: "date" } },
    },
  },
};

test("pointer escapes ~ and /", () => {
  assert.equal(pointer(["a", 0, "b/c", "d~e"]), "/a/0/b~1c/d~0e");
  assert.equal(pointer([]), "");
});

test("typeOf reads single, nullable and implied types", () => {
  assert.equal(typeOf({ type: "integer" }), "integer");
  assert.equal(typeOf({ type: ["string", "null"] }), "string");
  assert.equal(typeOf({ type: ["string", "number"] }), null);
  assert.equal(typeOf({ properties: { a: {} } }), "object");
  assert.equal(typeOf({}), null);
});

test("kindOf picks the control for each schema", () => {
  const p = WRITER.properties;
  assert.equal(kindOf(p.topic), "textarea");
  assert.equal(kindOf({ type: "string", maxLength: 80 }), "string");
  assert.equal(kindOf({ type: "string", description: "line one\nline two" }), "textarea");
  assert.equal(kindOf(p.content_type), "enum");
  assert.equal(kindOf({ enum: [1, 2, 3] }), "enum");
  assert.equal(kindOf(p.word_count), "number");
  assert.equal(kindOf({ type: "number" }), "number");
  assert.equal(kindOf({ type: "boolean" }), "boolean");
  assert.equal(kindOf(p.keywords), "list");
  assert.equal(kindOf(p.sections), "json");
  assert.equal(kindOf(p.brand), "object");
  assert.equal(kindOf({ type: "object" }), "json");
  assert.equal(kindOf({ oneOf: [{ type: "string" }, { type: "number" }] }), "json");
  assert.equal(kindOf({ $ref: "#/$defs/x" }), "json");
  assert.equal(kindOf({}), "json");
});

test("inputTypeFor maps formats to input types", () => {
  assert.equal(inputTypeFor({ type: "string", format: "date" }), "date");
  assert.equal(inputTypeFor({ type: "string", format: "email" }), "email");
  assert.equal(inputTypeFor({ type: "string", format: "uri" }), "url");
  assert.equal(inputTypeFor({ type: "string" }), "text");
});

test("labelFor humanises property names and prefers titles", () => {
  assert.equal(labelFor("word_count"), "Word count");
  assert.equal(labelFor("callToAction"), "Call To Action");
  assert.equal(labelFor("x", { title: "The X" }), "The X");
});

test("toRaw renders values for controls", () => {
  assert.equal(toRaw("list", WRITER.properties.keywords, ["a", "b"]), "a\nb");
  assert.equal(toRaw("enum", WRITER.properties.tone, "friendly"), "1");
  assert.equal(toRaw("enum", WRITER.properties.tone, undefined), "");
  assert.equal(toRaw("number", WRITER.properties.word_count, 400), "400");
  assert.equal(toRaw("boolean", {}, undefined), false);
  assert.equal(toRaw("json", {}, [{ a: 1 }]), '[\n  {\n    "a": 1\n  }\n]');
});

test("coerce turns raw control values into typed values", () => {
  assert.deepEqual(coerce("number", {}, "42"), { value: 42 });
  assert.deepEqual(coerce("number", {}, "2.5"), { value: 2.5 });
  assert.deepEqual(coerce("number", {}, ""), { empty: true });
  assert.ok(coerce("number", {}, "abc").error);
  assert.deepEqual(coerce("string", {}, "  "), { empty: true });
  assert.deepEqual(coerce("string", {}, " hi "), { value: " hi " });
  assert.deepEqual(coerce("boolean", {}, true), { value: true });
  assert.deepEqual(coerce("enum", { enum: ["a", 2, null] }, "1"), { value: 2 });
  assert.deepEqual(coerce("enum", { enum: ["a"] }, ""), { empty: true });
  assert.deepEqual(coerce("list", { items: { type: "string" } }, "seo\n\n  ads \n"), { value: ["seo", "ads"] });
  assert.deepEqual(coerce("list", { items: { type: "integer" } }, "1\n2"), { value: [1, 2] });
  assert.deepEqual(coerce("list", { items: { type: "boolean" } }, "true\nFALSE"), { value: [true, false] });
  assert.match(coerce("list", { items: { type: "number" } }, "1\nx").error, /Line 2/);
  assert.deepEqual(coerce("list", { items: { type: "string" } }, "\n"), { empty: true });
  assert.deepEqual(coerce("json", {}, '[{"a": 1}]'), { value: [{ a: 1 }] });
  assert.deepEqual(coerce("json", {}, "  "), { empty: true });
  assert.match(coerce("json", {}, "[1,").error, /Not valid JSON/);
});

test("validateValue accepts a valid value", () => {
  assert.deepEqual(validateValue(WRITER, { topic: "Launch", content_type: "email", word_count: 400 }), []);
});

test("validateValue reports missing required fields at their own path", () => {
  assert.deepEqual(validateValue(WRITER, { content_type: "email" }), [{ path: "/topic", message: "Required." }]);
  const nested = validateValue(WRITER, { topic: "t", content_type: "email", brand: {} });
  assert.deepEqual(nested, [{ path: "/brand/name", message: "Required." }]);
});

test("validateValue checks types, enums, ranges, lengths, formats and items", () => {
  const paths = (value) => validateValue(WRITER, { topic: "t", content_type: "email", ...value }).map((e) => e.path);
  assert.deepEqual(paths({ word_count: 10 }), ["/word_count"]);
  assert.deepEqual(paths({ word_count: 3000 }), ["/word_count"]);
  assert.deepEqual(paths({ word_count: 60.5 }), ["/word_count"]);
  assert.deepEqual(paths({ content_type: "fax" }), ["/content_type"]);
  assert.deepEqual(paths({ topic: "x".repeat(2001) }), ["/topic"]);
  assert.deepEqual(paths({ keywords: ["a", "b", "c", "d"] }), ["/keywords"]);
  assert.deepEqual(paths({ sections: [{ heading: "ok" }, {}] }), ["/sections/1/heading"]);
  assert.deepEqual(paths({ sections: "no" }), ["/sections"]);
  assert.deepEqual(paths({ brand: { name: "n", founded: "2025-02-30" } }), ["/brand/founded"]);
  assert.deepEqual(paths({ brand: { name: "n", founded: "2024-02-29" } }), []);
  assert.deepEqual(paths({ extra: 1 }), ["/extra"]);
  const message = validateValue(WRITER.properties.word_count, 10, "/word_count")[0].message;
  assert.equal(message, "Must be at least 50.");
});

test("validateValue checks patterns, formats and exclusive bounds", () => {
  assert.equal(validateValue({ type: "string", pattern: "^[a-z]+$" }, "abc").length, 0);
  assert.equal(validateValue({ type: "string", pattern: "^[a-z]+$" }, "ABC").length, 1);
  assert.equal(validateValue({ type: "string", format: "email" }, "a@b.c").length, 0);
  assert.equal(validateValue({ type: "string", format: "email" }, "nope").length, 1);
  assert.equal(validateValue({ type: "string", format: "uri" }, "https://x.org/a").length, 0);
  assert.equal(validateValue({ type: "string", format: "uri" }, "x.org").length, 1);
  assert.equal(validateValue({ type: "string", format: "date-time" }, "2025-01-31T09:00:00Z").length, 0);
  assert.equal(validateValue({ type: "number", exclusiveMinimum: 0 }, 0).length, 1);
  assert.equal(validateValue({ type: ["string", "null"] }, null).length, 0);
  assert.equal(validateValue({ type: "array", uniqueItems: true }, [1, 1]).length, 1);
});

test("formPath strips /input and moves required errors to the property", () => {
  assert.equal(formPath({ path: "/input/topic", message: "x" }), "/topic");
  assert.equal(formPath({ path: "/topic", message: "x" }), "/topic");
  assert.equal(formPath({ path: "/input", message: "'topic' is a required property" }), "/topic");
  assert.equal(formPath({ path: "/input/brand", message: "\"name\" is a required property" }), "/brand/name");
  assert.equal(formPath({ path: "", message: "\"topic\" is a required property" }), "/topic");
  assert.equal(formPath({ path: "", message: "Additional properties are not allowed ('x' was unexpected)" }), "/x");
  assert.equal(formPath({ path: "", message: "bad" }), "");
  assert.equal(formPath({ field: "topic", message: "x" }), "/topic");
  const known = (p) => p === "/input/q";
  assert.equal(formPath({ path: "/input/q", message: "x" }, known), "/input/q");
});

test("typeLabel names types", () => {
  assert.equal(typeLabel({ type: "string", format: "date" }), "string (date)");
  assert.equal(typeLabel(WRITER.properties.keywords), "array of string");
  assert.equal(typeLabel({ oneOf: [{ type: "string" }, { type: "integer" }] }), "one of: string | integer");
  assert.equal(typeLabel({}), "any");
});

test("schemaRows flattens nested properties with depth", () => {
  const rows = schemaRows(WRITER);
  const names = rows.map((r) => `${r.depth}:${r.name}`);
  assert.deepEqual(names, [
    "0:topic", "0:content_type", "0:tone", "0:word_count", "0:keywords", "0:sections", "1:heading", "0:brand",
    "1:name", "1:founded",
  ]);
  const wordCount = rows.find((r) => r.name === "word_count");
  assert.equal(wordCount.allowed, "50 – 2000");
  assert.equal(wordCount.default, 400);
  assert.equal(wordCount.required, false);
  assert.equal(rows.find((r) => r.name === "topic").required, true);
  assert.equal(rows.find((r) => r.name === "content_type").allowed, "blog_post, social_post, email, landing_page");
});

test("exampleOf sketches a JSON value", () => {
  assert.deepEqual(exampleOf(WRITER.properties.sections), [{ heading: "" }]);
  assert.deepEqual(exampleOf({ type: "integer", minimum: 5 }), 5);
});
