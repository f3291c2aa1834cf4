-- The turns of collaboration steps (`graph`, `team`, `chat`): each agent call inside one step, numbered from
-- 1 in the step. `role` says what the call was for (a graph's node, `plan`, `task:<id>`, `review`, `answer`,
-- `speaker`, `selector`); `state` is a graph's shared state after the node ran. A step run again after a
-- crash replays the turns that succeeded, so a turn recorded again under the same number replaces the row.
CREATE TABLE workflow_turns (
    run_id       uuid NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
    tenant_id    text NOT NULL REFERENCES tenants (id),
    step         text NOT NULL,
    seq          integer NOT NULL CHECK (seq >= 1),
    role         text NOT NULL,
    agent        text NOT NULL,
    status       text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    input        jsonb,
    output       jsonb,
    state        jsonb,
    error        jsonb,
    tokens       integer NOT NULL DEFAULT 0,
    attempts     integer NOT NULL DEFAULT 0,
    started_at   timestamptz,
    finished_at  timestamptz,
    PRIMARY KEY (run_id, step, seq)
);

-- Row-level security as on the other tenant tables (0001_platform.sql).
ALTER TABLE workflow_turns ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON workflow_turns TO agents_tenant
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON workflow_turns TO agents_tenant;
