-- Tenants, identity, agent calls and their daily rollup, workflows. Tenant rows are isolated by row-level
-- security for the role `agents_tenant`, which every tenant-scoped transaction switches to.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'agents_tenant') THEN
        CREATE ROLE agents_tenant NOLOGIN;
    END IF;
END
$$;

CREATE TABLE tenants (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id      text NOT NULL REFERENCES tenants (id),
    email          text NOT NULL UNIQUE CHECK (length(email) BETWEEN 3 AND 320),
    password_hash  text NOT NULL,
    role           text NOT NULL CHECK (role IN ('admin', 'developer', 'viewer')),
    disabled       boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_tenant ON users (tenant_id);

CREATE TABLE api_keys (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     text NOT NULL REFERENCES tenants (id),
    owner_id      uuid REFERENCES users (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    prefix        text NOT NULL UNIQUE,
    hash          bytea NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'developer', 'viewer')),
    scopes        text[] NOT NULL DEFAULT '{}',
    expires_at    timestamptz,
    revoked_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at DESC);

CREATE TABLE executions (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id      text NOT NULL REFERENCES tenants (id),
    actor          text NOT NULL,
    agent          text NOT NULL,
    category       text NOT NULL,
    version        text NOT NULL,
    status         text NOT NULL CHECK (status IN ('ok', 'error')),
    http_status    smallint NOT NULL,
    error_type     text,
    latency_ms     double precision NOT NULL,
    input_tokens   integer NOT NULL DEFAULT 0,
    output_tokens  integer NOT NULL DEFAULT 0,
    cost_usd       numeric(14, 6) NOT NULL DEFAULT 0,
    provider       text,
    model          text,
    request_id     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX executions_tenant_time ON executions (tenant_id, created_at DESC);
CREATE INDEX executions_tenant_agent_time ON executions (tenant_id, agent, created_at DESC);

CREATE TABLE usage_daily (
    tenant_id      text NOT NULL REFERENCES tenants (id),
    day            date NOT NULL,
    category       text NOT NULL,
    agent          text NOT NULL,
    calls          bigint NOT NULL DEFAULT 0,
    errors         bigint NOT NULL DEFAULT 0,
    input_tokens   bigint NOT NULL DEFAULT 0,
    output_tokens  bigint NOT NULL DEFAULT 0,
    cost_usd       numeric(18, 6) NOT NULL DEFAULT 0,
    latency_ms_sum double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day, agent)
);

-- The rollup moves with each execution row, in the same transaction.
CREATE FUNCTION roll_up_execution() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO usage_daily AS u (tenant_id, day, category, agent, calls, errors, input_tokens, output_tokens,
                                  cost_usd, latency_ms_sum)
    VALUES (NEW.tenant_id, (NEW.created_at AT TIME ZONE 'UTC')::date, NEW.category, NEW.agent, 1,
            (NEW.status = 'error')::int, NEW.input_tokens, NEW.output_tokens, NEW.cost_usd, NEW.latency_ms)
    ON CONFLICT (tenant_id, day, agent) DO UPDATE SET
        calls = u.calls + 1,
        errors = u.errors + EXCLUDED.errors,
        input_tokens = u.input_tokens + EXCLUDED.input_tokens,
        output_tokens = u.output_tokens + EXCLUDED.output_tokens,
        cost_usd = u.cost_usd + EXCLUDED.cost_usd,
        latency_ms_sum = u.latency_ms_sum + EXCLUDED.latency_ms_sum;
    RETURN NULL;
END
$$;
CREATE TRIGGER executions_roll_up AFTER INSERT ON executions FOR EACH ROW EXECUTE FUNCTION roll_up_execution();

CREATE TABLE workflows (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   text NOT NULL REFERENCES tenants (id),
    name        text NOT NULL,
    version     integer NOT NULL DEFAULT 1,
    definition  jsonb NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name, version)
);

CREATE TABLE workflow_runs (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        text NOT NULL REFERENCES tenants (id),
    workflow_id      uuid NOT NULL REFERENCES workflows (id),
    status           text NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
    input            jsonb NOT NULL,
    output           jsonb,
    error            jsonb,
    actor            text NOT NULL,
    idempotency_key  text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, idempotency_key)
);
CREATE INDEX workflow_runs_tenant_time ON workflow_runs (tenant_id, created_at DESC);

CREATE TABLE workflow_steps (
    run_id      uuid NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
    tenant_id   text NOT NULL REFERENCES tenants (id),
    step        text NOT NULL,
    status      text NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'skipped')),
    attempts    integer NOT NULL DEFAULT 0,
    output      jsonb,
    error       jsonb,
    started_at  timestamptz,
    finished_at timestamptz,
    PRIMARY KEY (run_id, step)
);

-- Row-level security: a transaction that switched to agents_tenant sees and writes only the rows of the
-- tenant named by the `app.tenant_id` setting; with no setting it sees nothing.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'api_keys', 'executions', 'usage_daily', 'workflows', 'workflow_runs',
                             'workflow_steps']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I TO agents_tenant '
            'USING (tenant_id = current_setting(''app.tenant_id'', true)) '
            'WITH CHECK (tenant_id = current_setting(''app.tenant_id'', true))', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO agents_tenant', t);
    END LOOP;
END
$$;
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants TO agents_tenant USING (id = current_setting('app.tenant_id', true));
GRANT SELECT ON tenants TO agents_tenant;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO agents_tenant;
GRANT agents_tenant TO CURRENT_USER;
