-- Sessions held open on any node (WebSocket connections) learn at once
-- that a user's access changed: a change of a user's role, disabled flag or
-- restriction, and a token revoked, re-dated or deleted, notifies channel
-- rollcall_user_access with the user's id when the transaction commits.
-- A trigger rather than a call in each writer, so that none can forget:
-- USER import runs, and deletes and restores of USER imports, change
-- accounts too. (Notifications of one transaction with the same payload
-- are delivered once.)
CREATE FUNCTION notify_user_access() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'api_tokens' THEN
        PERFORM pg_notify('rollcall_user_access', (CASE WHEN TG_OP = 'DELETE' THEN OLD.user_id ELSE NEW.user_id END)::text);
    ELSE
        PERFORM pg_notify('rollcall_user_access', NEW.id::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_access_changed AFTER UPDATE ON users FOR EACH ROW
    WHEN (OLD.role IS DISTINCT FROM NEW.role OR OLD.disabled IS DISTINCT FROM NEW.disabled
          OR OLD.restriction IS DISTINCT FROM NEW.restriction)
    EXECUTE FUNCTION notify_user_access();

CREATE TRIGGER api_tokens_access_changed AFTER UPDATE ON api_tokens FOR EACH ROW
    WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.expires_at IS DISTINCT FROM NEW.expires_at)
    EXECUTE FUNCTION notify_user_access();

CREATE TRIGGER api_tokens_deleted AFTER DELETE ON api_tokens FOR EACH ROW
    EXECUTE FUNCTION notify_user_access();
