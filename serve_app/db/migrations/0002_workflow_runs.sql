-- What a run needs to be driven again after a crash: the step plan (agent and category of each step) and
-- the caller; when it started and ended.
ALTER TABLE workflow_runs
    ADD COLUMN plan        jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN started_at  timestamptz,
    ADD COLUMN finished_at timestamptz;
CREATE INDEX workflow_runs_unfinished ON workflow_runs (status) WHERE status IN ('pending', 'running');
CREATE INDEX workflows_tenant_name ON workflows (tenant_id, name, version DESC);
