-- Application security groups, their bindings to spaces, and the markers of seeds that run
-- once (so the default security groups are created on the first start only). Rows keep the
-- resource as a JSON document in `doc`, as the apps migration's tables do.

CREATE TABLE IF NOT EXISTS security_groups (
    guid TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- `lifecycle` is 'running' or 'staging'. A binding goes with its group or its space.
CREATE TABLE IF NOT EXISTS security_group_spaces (
    guid TEXT PRIMARY KEY,
    security_group_guid TEXT NOT NULL REFERENCES security_groups (guid) ON DELETE CASCADE,
    space_guid TEXT NOT NULL REFERENCES spaces (guid) ON DELETE CASCADE,
    lifecycle TEXT NOT NULL,
    doc TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (security_group_guid, space_guid, lifecycle)
);

CREATE INDEX IF NOT EXISTS security_group_spaces_space ON security_group_spaces (space_guid);

CREATE TABLE IF NOT EXISTS seeds (
    guid TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    created_at TEXT NOT NULL
);
