-- Published agent definitions. Every version is kept; `agent_releases` names the one that answers an agent's
-- calls and, optionally, a canary version that takes a share of them. The catalogue on disk is the baseline:
-- an agent with no release row is served from it.
CREATE TABLE agent_versions (
    seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,  -- the order they were stored in
    name        text NOT NULL,
    version     text NOT NULL,
    category    text NOT NULL,
    definition  jsonb NOT NULL,
    digest      text NOT NULL,
    source      text NOT NULL CHECK (source IN ('catalogue', 'published')),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version)
);
CREATE INDEX agent_versions_category ON agent_versions (category);

CREATE TABLE agent_releases (
    name            text PRIMARY KEY,
    category        text NOT NULL,
    active          text NOT NULL,
    canary          text,
    canary_percent  smallint NOT NULL DEFAULT 0 CHECK (canary_percent BETWEEN 0 AND 100),
    revision        bigint NOT NULL DEFAULT 1,
    updated_by      text NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (name, active) REFERENCES agent_versions (name, version),
    FOREIGN KEY (name, canary) REFERENCES agent_versions (name, version),
    CHECK (canary IS NULL OR canary <> active),
    CHECK ((canary IS NULL) = (canary_percent = 0))
);
CREATE INDEX agent_releases_category ON agent_releases (category);
