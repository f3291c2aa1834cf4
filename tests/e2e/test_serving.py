"""The served platform over HTTP: catalogue, invoke and stream, errors, reload without restart."""

from __future__ import annotations

import concurrent.futures
import json
import subprocess
import time
from pathlib import Path

import httpx
import yaml

from agents import Catalog
from agents.sample import Sampler
from serve_app.cluster import Ports
from tests.e2e.conftest import AGENTCTL, Platform, counted, settled

WRITER = "marketing_content_writer"
BRIEF = {"topic": "Trail bottles", "content_type": "email"}


def test_catalogue_listing_search_and_detail(platform: Platform) -> None:
    with platform.client() as http:
        categories = http.get("/v1/categories").json()
        assert len(categories) == 29 and sum(c["agents"] for c in categories) == 1500
        page = http.get("/v1/agents", params={"category": "legal", "limit": 5, "offset": 5}).json()
        assert page["total"] >= 30 and len(page["items"]) == 5 and page["offset"] == 5
        assert all(a["category"] == "legal" for a in page["items"])
        found = http.get("/v1/agents", params={"q": "marketing content writer"}).json()
        assert found["items"][0]["name"] == WRITER
        detail = http.get(f"/v1/agents/{WRITER}").json()
        assert detail["input_schema"]["required"] == ["topic", "content_type"]
        assert detail["invoke_path"] == f"/v1/categories/marketing/agents/{WRITER}/invoke"
        assert http.get("/docs").status_code == 200
        assert "/v1/agents/{name}/invoke" in http.get("/openapi.json").json()["paths"]
        assert http.get("/healthz").json()["agents"] == 1500
        assert http.get("/readyz").status_code == 200


def test_invoke_by_gateway_and_by_direct_path(platform: Platform) -> None:
    with platform.client() as http:
        via_gateway = http.post(f"/v1/agents/{WRITER}/invoke", json={"input": BRIEF})
        assert via_gateway.status_code == 200, via_gateway.text
        body = via_gateway.json()
        assert body["provider"] == "offline" and "Trail bottles" in body["output"]["headline"]
        assert body["request_id"] == via_gateway.headers["x-request-id"]
        direct = http.post(f"/v1/categories/marketing/agents/{WRITER}/invoke", json={"input": BRIEF})
        assert direct.status_code == 200 and direct.json()["output"] == body["output"]
        given = http.post(
            f"/v1/agents/{WRITER}/invoke", json={"input": BRIEF}, headers={"X-Request-ID": "abc123"}
        )
        assert given.json()["request_id"] == "abc123"


def test_stream_as_server_sent_events(platform: Platform) -> None:
    with platform.client() as http:
        for path in (f"/v1/agents/{WRITER}/invoke", f"/v1/categories/marketing/agents/{WRITER}/invoke"):
            with http.stream(
                "POST", path, json={"input": BRIEF}, headers={"Accept": "text/event-stream"}
            ) as r:
                assert r.status_code == 200
                assert r.headers["content-type"].startswith("text/event-stream")
                events = [block for block in r.read().decode().split("\n\n") if block]
            kinds = [block.split("\n")[0] for block in events]
            assert kinds[-1] == "event: result" and kinds.count("event: chunk") >= 2
            result = json.loads(events[-1].split("data: ", 1)[1])
            text = "".join(json.loads(b.split("data: ", 1)[1])["text"] for b in events[:-1])
            assert json.loads(text) == result["output"]


def test_error_bodies(platform: Platform) -> None:
    with platform.client() as http:
        missing = http.post("/v1/agents/no_such_agent/invoke", json={"input": {}})
        assert missing.status_code == 404 and missing.json()["error"]["type"] == "agent_not_found"
        wrong = http.post(f"/v1/agents/{WRITER}/invoke", json={"input": {"topic": 3, "content_type": "fax"}})
        assert wrong.status_code == 422
        paths = sorted(d["path"] for d in wrong.json()["error"]["details"])
        assert paths == ["/content_type", "/topic"]
        direct = http.post(f"/v1/categories/marketing/agents/{WRITER}/invoke", json={"input": {}})
        assert direct.status_code == 422 and direct.json()["error"]["type"] == "input_validation_error"
        no_input = http.post(f"/v1/agents/{WRITER}/invoke", json={"topic": "x"})
        assert no_input.status_code == 422 and no_input.json()["error"]["type"] == "request_validation_error"
        not_json = http.post(
            f"/v1/agents/{WRITER}/invoke", content=b"{nope", headers={"content-type": "application/json"}
        )
        assert not_json.status_code == 422
        huge = {"input": {**BRIEF, "topic": "x" * 70_000}}
        for path in (f"/v1/agents/{WRITER}/invoke", f"/v1/categories/marketing/agents/{WRITER}/invoke"):
            too_big = http.post(path, json=huge)
            assert too_big.status_code == 413 and too_big.json()["error"]["type"] == "payload_too_large"
        streamed_error = http.post(f"/v1/agents/{WRITER}/invoke?stream=true", json={"input": {}})
        assert streamed_error.status_code == 422


def _replica(platform: Platform) -> str:
    with platform.client() as http:
        health = http.get("/v1/categories/marketing/healthz").json()
    return str(health["replica"])


def test_reload_reaches_running_replicas_without_restart(platform: Platform) -> None:
    path = platform.definitions / "marketing" / f"{WRITER}.yaml"
    original = path.read_text()
    with platform.client() as http:
        http.post(f"/v1/categories/marketing/agents/{WRITER}/invoke", json={"input": BRIEF})
    before = _replica(platform)
    data = yaml.safe_load(original)
    data["output_schema"]["properties"]["reading_time_minutes"] = {
        "type": "integer",
        "minimum": 1,
        "maximum": 9,
    }
    data["output_schema"]["required"].append("reading_time_minutes")
    try:
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        platform.agentctl("reload")
        with platform.client() as http:
            for route in (f"/v1/agents/{WRITER}/invoke", f"/v1/categories/marketing/agents/{WRITER}/invoke"):
                output = http.post(route, json={"input": BRIEF}).json()["output"]
                assert 1 <= output["reading_time_minutes"] <= 9
        assert _replica(platform) == before, "the replica was restarted"
    finally:
        path.write_text(original)
        platform.agentctl("reload")


def test_a_bad_reload_is_refused_and_the_catalogue_keeps_serving(platform: Platform) -> None:
    bad = platform.definitions / "marketing" / "marketing_broken.yaml"
    with platform.client() as http:
        digest = http.get("/healthz").json()["digest"]
    bad.write_text("name: marketing_broken\ncategory: marketing\ndescription: x\n")
    try:
        refused = platform.agentctl("reload", check=False)
        assert refused.returncode == 1
        assert f"{bad}: /description:" in refused.stderr
        with platform.client() as http:
            assert http.get("/healthz").json()["digest"] == digest
            assert http.post(f"/v1/agents/{WRITER}/invoke", json={"input": BRIEF}).status_code == 200
    finally:
        bad.unlink()


def test_an_agent_of_every_category_answers(platform: Platform) -> None:
    catalog = Catalog.load(platform.definitions)
    picks = [catalog.in_category(c.id)[0] for c in catalog.categories]

    def call(spec_name: str, document: dict[str, object]) -> tuple[str, int, dict[str, object]]:
        with platform.client() as http:
            response = http.post(f"/v1/agents/{spec_name}/invoke", json={"input": document})
            return spec_name, response.status_code, response.json()

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(call, s.name, Sampler(s.input_schema)({"e2e": s.name})) for s in picks]
        results = {name: (status, body) for name, status, body in (f.result() for f in futures)}
    failures = {n: r for n, r in results.items() if r[0] != 200}
    assert failures == {}
    for spec in picks:
        assert spec.output.errors(results[spec.name][1]["output"]) == []


def test_up_is_recorded(platform: Platform) -> None:
    assert platform.up_seconds > 0
    assert Path(platform.env["AGENTS_DATA_DIR"], "cluster.json").is_file()


def test_calls_need_credentials_and_are_recorded_by_either_path(platform: Platform) -> None:
    with platform.client(authenticated=False) as anonymous:
        for path in (f"/v1/agents/{WRITER}/invoke", f"/v1/categories/marketing/agents/{WRITER}/invoke"):
            refused = anonymous.post(path, json={"input": BRIEF})
            assert refused.status_code == 401 and refused.json()["error"]["type"] == "unauthorized"
        assert anonymous.get("/v1/agents").status_code == 401
        assert anonymous.get("/healthz").status_code == 200
    with platform.client() as http:
        ids = {
            http.post(path, json={"input": BRIEF}).json()["request_id"]
            for path in (f"/v1/agents/{WRITER}/invoke", f"/v1/categories/marketing/agents/{WRITER}/invoke")
        }
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            recorded = http.get("/v1/executions", params={"agent": WRITER, "limit": 500}).json()["items"]
            if ids <= {r["request_id"] for r in recorded}:
                break
            time.sleep(0.2)
        assert ids <= {r["request_id"] for r in recorded}
        usage = http.get("/v1/analytics/usage", params={"group_by": "agent"}).json()["items"]
        assert any(u["key"] == WRITER and u["calls"] >= 2 for u in usage)


def test_admins_follow_calls_as_server_sent_events(platform: Platform) -> None:
    with platform.client() as http, http.stream("GET", "/v1/events", timeout=30) as events:
        assert events.status_code == 200
        with platform.client() as caller:
            request_id = caller.post(f"/v1/agents/{WRITER}/invoke", json={"input": BRIEF}).json()[
                "request_id"
            ]
        lines = events.iter_lines()
        seen = []
        for line in lines:
            if line.startswith("data: "):
                seen.append(json.loads(line[6:]))
                if seen[-1]["request_id"] == request_id:
                    break
        assert seen[-1]["agent"] == WRITER and seen[-1]["status"] == "ok"
    with platform.client() as http:
        stats = http.get("/v1/analytics/agents", params={"hours": 1}).json()["items"]
        writer = next(s for s in stats if s["agent"] == WRITER)
        assert writer["calls"] >= 1 and writer["p95_ms"] >= writer["p50_ms"] > 0


def test_a_workflow_runs_on_ray_through_the_category_deployments(platform: Platform) -> None:
    from tests.integration.test_workflow_engine import DIAMOND

    with platform.client() as http:
        stored = http.post("/v1/workflows", json=DIAMOND)
        assert stored.status_code == 201, stored.text
        bad = http.post(
            "/v1/workflows", json={**DIAMOND, "steps": [{**DIAMOND["steps"][0], "agent": "nope"}]}
        )
        assert bad.status_code == 422 and bad.json()["error"]["type"] == "workflow_invalid"
        refused = http.post("/v1/workflows/diamond/runs", json={"input": {}})
        assert refused.status_code == 422 and refused.json()["error"]["details"][0]["path"] == "/input"
        run = http.post("/v1/workflows/diamond/runs?wait=true", json={"input": {"text": "Hello, Monday."}})
        assert run.status_code == 200, run.text
        body = run.json()
        assert body["status"] == "succeeded", body
        assert [s["status"] for s in body["steps"]] == ["succeeded"] * 4
        with http.stream("GET", f"/v1/runs/{body['id']}/events") as events:
            kinds = [line[7:] for line in events.iter_lines() if line.startswith("event: ")]
        assert (
            kinds[0] == "run.started" and kinds[-1] == "run.succeeded" and kinds.count("step.succeeded") == 4
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            recorded = http.get("/v1/executions", params={"limit": 500}).json()["items"]
            if sum(r["request_id"].startswith(body["id"]) for r in recorded) == 4:
                break
            time.sleep(0.2)
        assert sorted(r["agent"] for r in recorded if r["request_id"].startswith(body["id"])) == sorted(
            s["agent"] for s in DIAMOND["steps"]
        )
    env = {**platform.env, "AGENTS_API_KEY": platform.api_key}
    watched = subprocess.run(
        [AGENTCTL, "workflows", "run", "diamond", "--input", '{"text": "again"}', "--watch", "--json",
         "--api", platform.url],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert watched.returncode == 0, watched.stderr
    assert json.loads(watched.stdout[watched.stdout.index("{") :])["status"] == "succeeded"


def test_metrics_count_every_call_across_replicas(platform: Platform) -> None:
    port = Ports().shifted(1000).metrics_export
    agents = {WRITER, "legal_nda_reviewer"}
    before = settled([port], agents)
    with platform.client() as http:
        for i in range(12):
            path = (
                f"/v1/agents/{WRITER}/invoke" if i % 2 else f"/v1/categories/marketing/agents/{WRITER}/invoke"
            )
            assert http.post(path, json={"input": BRIEF}).status_code == 200
        for _ in range(3):
            assert http.post("/v1/agents/legal_nda_reviewer/invoke", json={"input": {}}).status_code == 422
    assert counted([port], agents, before + 15) - before == 15
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert "ray_agent_requests_total{" in text and 'status="error"' in text
    assert "ray_agent_processing_seconds_bucket{" in text and "ray_agent_tokens_total{" in text


def test_a_batch_job_answers_every_record_once_and_resumes(platform: Platform, tmp_path: Path) -> None:
    records = tmp_path / "in.jsonl"
    lines = [json.dumps({"topic": f"Record {i}", "content_type": "email"}) for i in range(24)]
    lines[5] = json.dumps({"topic": "no content type"})  # breaks the agent's input schema: 422
    lines[9] = "not json"
    records.write_text("\n".join(lines) + "\n")
    output, errors = tmp_path / "out.jsonl", tmp_path / "out.errors.jsonl"
    env = {**platform.env, "AGENTS_API_KEY": platform.api_key}
    command = [AGENTCTL, "batch", "submit", "--agent", WRITER, "--input", str(records),
               "--output", str(output), "--api", platform.url, "--concurrency", "2", "--per-actor", "4",
               "--wait"]  # fmt: skip
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    job_id = first.stdout.split("submitted ", 1)[1].split()[0]
    logs = platform.agentctl("batch", "logs", job_id).stdout
    assert first.returncode == 1, first.stdout + first.stderr + logs  # two records failed
    assert output.exists(), logs
    answered = [json.loads(line) for line in output.read_text().splitlines()]
    failed = [json.loads(line) for line in errors.read_text().splitlines()]
    assert len(answered) == 22 and len(failed) == 2
    assert sorted(r["index"] for r in answered + failed) == list(range(24))
    assert {f["index"]: f["error"].get("status") for f in failed} == {5: 422, 9: None}
    assert '"succeeded": 22' in first.stdout and '"failed": 2' in first.stdout
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert '"skipped": 24' in again.stdout, again.stdout + again.stderr
    assert len(output.read_text().splitlines()) == 22  # nothing done twice


def test_a_batch_of_workflow_runs(platform: Platform, tmp_path: Path) -> None:
    from tests.integration.test_workflow_engine import DIAMOND

    with platform.client() as http:
        assert http.post("/v1/workflows", json=DIAMOND).status_code == 201
    records = tmp_path / "in.jsonl"
    records.write_text("".join(json.dumps({"text": f"Note {i}"}) + "\n" for i in range(3)) + "{}\n")
    output = tmp_path / "runs.jsonl"
    env = {**platform.env, "AGENTS_API_KEY": platform.api_key}
    done = subprocess.run(
        [AGENTCTL, "batch", "submit", "--workflow", "diamond", "--input", str(records),
         "--output", str(output), "--api", platform.url, "--wait"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr  # the empty record breaks the input schema
    runs = [json.loads(line) for line in output.read_text().splitlines()]
    failed = [json.loads(line) for line in (tmp_path / "runs.errors.jsonl").read_text().splitlines()]
    assert sorted(r["index"] for r in runs) == [0, 1, 2] and set(runs[0]["output"]) == {"a", "b", "c", "d"}
    assert [(f["index"], f["error"]["status"], f["error"]["type"]) for f in failed] == [
        (3, 422, "input_validation_error")
    ]
