-- Organizations, spaces, users, roles, feature flags, audit events and jobs.
-- Timestamps are RFC 3339 text in UTC with microseconds, so they sort as strings.

CREATE TABLE IF NOT EXISTS organization_quotas (
    guid TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS organizations (
    guid TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    suspended BOOLEAN NOT NULL DEFAULT FALSE,
    quota_guid TEXT NOT NULL REFERENCES organization_quotas (guid),
    labels TEXT NOT NULL DEFAULT '{}',
    annotations TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS spaces (
    guid TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    organization_guid TEXT NOT NULL REFERENCES organizations (guid) ON DELETE CASCADE,
    allow_ssh BOOLEAN NOT NULL DEFAULT TRUE,
    labels TEXT NOT NULL DEFAULT '{}',
    annotations TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (organization_guid, name)
);

CREATE TABLE IF NOT EXISTS users (
    guid TEXT PRIMARY KEY,
    labels TEXT NOT NULL DEFAULT '{}',
    annotations TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS roles (
    guid TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    user_guid TEXT NOT NULL REFERENCES users (guid) ON DELETE CASCADE,
    organization_guid TEXT NOT NULL REFERENCES organizations (guid) ON DELETE CASCADE,
    space_guid TEXT REFERENCES spaces (guid) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE UNIQUE INDEX IF NOT EXISTS roles_unique
    ON roles (type, user_guid, organization_guid, COALESCE(space_guid, ''));
CREATE INDEX IF NOT EXISTS roles_user ON roles (user_guid);

CREATE TABLE IF NOT EXISTS feature_flags (
    name TEXT PRIMARY KEY,
    enabled BOOLEAN NOT NULL,
    custom_error_message TEXT,
    updated_at TEXT
);

CREATE TABLE IF NOT EXISTS audit_events (
    guid TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    actor_guid TEXT NOT NULL,
    actor_type TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    target_guid TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_name TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}',
    space_guid TEXT,
    organization_guid TEXT,
    created_at TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS audit_events_created_at ON audit_events (created_at);

CREATE TABLE IF NOT EXISTS jobs (
    guid TEXT PRIMARY KEY,
    operation TEXT NOT NULL,
    resource_guid TEXT NOT NULL,
    state TEXT NOT NULL,
    errors TEXT NOT NULL DEFAULT '[]',
    warnings TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state);
