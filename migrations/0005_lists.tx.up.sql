-- Lists (saved filters over recipients, plus people added or skipped by
-- hand), per-user data restrictions, users brought in by USER imports, and
-- the indexes filters rely on.

-- A user's restriction is a recipient filter (JSON, as lists store it):
-- the user sees only recipients matching it. NULL: no restriction.
ALTER TABLE users
    ADD COLUMN restriction jsonb CHECK (restriction IS NULL OR jsonb_typeof(restriction) = 'object'),
    -- The USER import that manages the account, if any.
    ADD COLUMN import_id   bigint REFERENCES imports (id),
    ADD COLUMN row_hash    bigint;

CREATE INDEX users_import_id_idx ON users (import_id) WHERE import_id IS NOT NULL;

CREATE TABLE lists (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id     bigint      NOT NULL REFERENCES users (id),
    name         text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    description  text        NOT NULL DEFAULT '',
    -- {"version": 1, "filter": {…}}; NULL: only the people added by hand.
    filter       jsonb       CHECK (filter IS NULL OR jsonb_typeof(filter) = 'object'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX lists_owner_id_idx ON lists (owner_id, id);

-- People added to a list by hand (whatever its filter says).
CREATE TABLE list_additions (
    list_id       bigint      NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    recipient_id  bigint      NOT NULL REFERENCES recipients (id),
    added_by      bigint      REFERENCES users (id),
    added_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (list_id, recipient_id)
);

CREATE INDEX list_additions_recipient_id_idx ON list_additions (recipient_id);

-- People the filter matches but who were taken off the list by hand.
CREATE TABLE list_exclusions (
    list_id       bigint      NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    recipient_id  bigint      NOT NULL REFERENCES recipients (id),
    excluded_by   bigint      REFERENCES users (id),
    excluded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (list_id, recipient_id)
);

CREATE INDEX list_exclusions_recipient_id_idx ON list_exclusions (recipient_id);

CREATE TABLE list_shares (
    list_id    bigint      NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    user_id    bigint      NOT NULL REFERENCES users (id),
    shared_by  bigint      REFERENCES users (id),
    shared_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (list_id, user_id)
);

CREATE INDEX list_shares_user_id_idx ON list_shares (user_id, list_id);

-- Indexes for filters (docs/filters.md lists which field uses which):
-- school and grade together (the commonest list: a grade at some schools),
-- names for ordered pages, and custom-field equality by containment.
CREATE INDEX recipients_school_grade_idx ON recipients (lower(school), grade_rank) INCLUDE (id) WHERE removed_at IS NULL;
CREATE INDEX recipients_grade_idx ON recipients (grade_rank) INCLUDE (id) WHERE removed_at IS NULL;
CREATE INDEX recipients_name_idx ON recipients (last_name, first_name, id) WHERE removed_at IS NULL;
CREATE INDEX recipients_custom_fields_idx ON recipients USING gin (custom_fields jsonb_path_ops) WHERE removed_at IS NULL;
