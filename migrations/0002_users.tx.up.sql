-- People who use Rollcall and the API tokens they authenticate with.
CREATE TABLE users (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email       text        NOT NULL CHECK (email = lower(btrim(email)) AND email LIKE '%_@_%'),
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role        text        NOT NULL DEFAULT 'USER' CHECK (role IN ('SYSTEM_ADMIN', 'USER')),
    disabled    boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_key UNIQUE (email)
);

-- Tokens are stored only as a SHA-256 hash of the clear token (which has 256
-- random bits, so a fast hash is enough); prefix is the first characters of
-- the clear token, shown so people can tell their tokens apart.
CREATE TABLE api_tokens (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       bigint      NOT NULL REFERENCES users (id),
    name          text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    token_hash    bytea       NOT NULL CHECK (length(token_hash) = 32),
    prefix        text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    expires_at    timestamptz,
    revoked_at    timestamptz,
    CONSTRAINT api_tokens_token_hash_key UNIQUE (token_hash)
);

CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id, id);
