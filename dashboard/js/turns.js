// The turns of a collaboration step (graph, team, chat): each agent call in the step, numbered from 1. The run
// page gets them from GET /v1/runs/{id} ("turns") and hears of them sooner from the run's event stream
// (`turn.started`, `turn.finished`); these functions merge the two. No DOM here.

const RANK = { running: 0, succeeded: 1, failed: 1 };

/** "step/seq": one turn's key. */
export function turnKey(turn) {
  return `${turn.step}/${turn.seq}`;
}

/** What a `turn.started` or `turn.finished` event says of its turn, or null for any other event. */
export function turnEvent(kind, data) {
  if (kind !== "turn.started" && kind !== "turn.finished") return null;
  if (!data || typeof data.step !== "string" || !Number.isInteger(data.seq)) return null;
  const finished = kind === "turn.finished";
  return {
    step: data.step,
    seq: data.seq,
    role: data.role ?? "",
    agent: data.agent ?? "",
    status: finished ? (data.status ?? (data.error ? "failed" : "succeeded")) : "running",
    tokens: finished ? (data.tokens ?? 0) : 0,
    error: finished ? (data.error ?? null) : null,
  };
}

/**
 * Each step's turns, in `seq` order: a Map of step id -> list. `records` are the run's turns as fetched;
 * `live` (an iterable of turnEvent results, the latest per turn) adds the turns the records do not have
 * yet, and the ends of those they still show running. A live turn has no input, output or state.
 */
export function turnsByStep(records = [], live = []) {
  const byKey = new Map();
  for (const turn of records ?? []) byKey.set(turnKey(turn), turn);
  for (const seen of live) {
    const key = turnKey(seen);
    const known = byKey.get(key);
    if (!known) byKey.set(key, { ...seen });
    else if ((RANK[seen.status] ?? 0) > (RANK[known.status] ?? 0)) {
      byKey.set(key, { ...known, status: seen.status, tokens: seen.tokens || known.tokens, error: seen.error ?? known.error });
    }
  }
  const steps = new Map();
  for (const turn of byKey.values()) {
    if (!steps.has(turn.step)) steps.set(turn.step, []);
    steps.get(turn.step).push(turn);
  }
  for (const list of steps.values()) list.sort((a, b) => a.seq - b.seq);
  return steps;
}

/** What a turn's view depends on: a view drawn for one signature need not be drawn again. */
export function turnSignature(turn) {
  return [turn.status, turn.role, turn.agent, turn.tokens ?? 0, turn.attempts ?? 0, turn.started_at ?? "",
    turn.finished_at ?? "", "input" in turn, turn.error ? JSON.stringify(turn.error) : ""].join("|");
}
