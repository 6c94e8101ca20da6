-- The BBS's runtime state. Whole records are kept as JSON in `data`; the other columns are
-- copies of the fields that lists filter on. (Written ahead of the PostgreSQL store.)
CREATE TABLE IF NOT EXISTS domains (
    name TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT
);

CREATE TABLE IF NOT EXISTS desired_lrps (
    process_guid TEXT PRIMARY KEY NOT NULL,
    domain TEXT NOT NULL,
    data JSONB NOT NULL
);
CREATE INDEX IF NOT EXISTS desired_lrps_domain ON desired_lrps (domain);

CREATE TABLE IF NOT EXISTS actual_lrps (
    process_guid TEXT NOT NULL,
    instance_index INTEGER NOT NULL,
    domain TEXT NOT NULL,
    state TEXT NOT NULL,
    cell_id TEXT NOT NULL DEFAULT '',
    data JSONB NOT NULL,
    PRIMARY KEY (process_guid, instance_index)
);
CREATE INDEX IF NOT EXISTS actual_lrps_domain ON actual_lrps (domain);
CREATE INDEX IF NOT EXISTS actual_lrps_cell_id ON actual_lrps (cell_id);

CREATE TABLE IF NOT EXISTS tasks (
    task_guid TEXT PRIMARY KEY NOT NULL,
    domain TEXT NOT NULL,
    state TEXT NOT NULL,
    cell_id TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    data JSONB NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_domain ON tasks (domain);
CREATE INDEX IF NOT EXISTS tasks_cell_id ON tasks (cell_id);
