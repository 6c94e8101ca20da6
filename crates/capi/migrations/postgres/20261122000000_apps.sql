-- Apps and what they run on: processes, packages, droplets, builds, tasks, stacks, buildpacks,
-- domains, routes and route mappings. Each row keeps the whole resource as a JSON document in
-- `doc`; the other columns are copies of the fields that are looked up, filtered on or kept
-- unique, and the foreign keys make deleting an app (or space, or org) take what hangs off it.

CREATE TABLE IF NOT EXISTS apps (
    guid TEXT PRIMARY KEY,
    space_guid TEXT NOT NULL REFERENCES spaces (guid) ON DELETE CASCADE,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    doc TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (space_guid, name)
);

CREATE TABLE IF NOT EXISTS processes (
    guid TEXT PRIMARY KEY,
    app_guid TEXT NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    type TEXT NOT NULL,
    doc TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (app_guid, type)
);

CREATE TABLE IF NOT EXISTS packages (
    guid TEXT PRIMARY KEY,
    app_guid TEXT NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    state TEXT NOT NULL,
    doc TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS droplets (
    guid TEXT PRIMARY KEY,
    app_guid TEXT NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    package_guid TEXT,
    state TEXT NOT NULL,
    doc TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS builds (
    guid TEXT PRIMARY KEY,
    app_guid TEXT NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    package_guid TEXT NOT NULL,
    state TEXT NOT NULL,
    doc TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS tasks (
    guid TEXT PRIMARY KEY,
    app_guid TEXT NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    state TEXT NOT NULL,
    sequence_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (app_guid, sequence_id)
);

CREATE TABLE IF NOT EXISTS stacks (
    guid TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- `stack` is '' for a buildpack that serves any stack.
CREATE TABLE IF NOT EXISTS buildpacks (
    guid TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    stack TEXT NOT NULL,
    doc TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (name, stack)
);

CREATE TABLE IF NOT EXISTS domains (
    guid TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    organization_guid TEXT REFERENCES organizations (guid) ON DELETE CASCADE,
    doc TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- `port` is '' for HTTP routes.
CREATE TABLE IF NOT EXISTS routes (
    guid TEXT PRIMARY KEY,
    space_guid TEXT NOT NULL REFERENCES spaces (guid) ON DELETE CASCADE,
    domain_guid TEXT NOT NULL REFERENCES domains (guid) ON DELETE CASCADE,
    host TEXT NOT NULL,
    path TEXT NOT NULL,
    port TEXT NOT NULL,
    doc TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (domain_guid, host, path, port)
);

CREATE TABLE IF NOT EXISTS route_mappings (
    guid TEXT PRIMARY KEY,
    route_guid TEXT NOT NULL REFERENCES routes (guid) ON DELETE CASCADE,
    app_guid TEXT NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    process_type TEXT NOT NULL,
    doc TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (route_guid, app_guid, process_type)
);

-- The running and staging environment variable groups, keyed by name.
CREATE TABLE IF NOT EXISTS environment_variable_groups (
    guid TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS processes_app ON processes (app_guid);
CREATE INDEX IF NOT EXISTS packages_app ON packages (app_guid);
CREATE INDEX IF NOT EXISTS droplets_app ON droplets (app_guid);
CREATE INDEX IF NOT EXISTS builds_app ON builds (app_guid);
CREATE INDEX IF NOT EXISTS routes_space ON routes (space_guid);
CREATE INDEX IF NOT EXISTS route_mappings_app ON route_mappings (app_guid);
