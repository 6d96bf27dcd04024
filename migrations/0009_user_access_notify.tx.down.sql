DROP TRIGGER api_tokens_deleted ON api_tokens;
DROP TRIGGER api_tokens_access_changed ON api_tokens;
DROP TRIGGER users_access_changed ON users;
DROP FUNCTION notify_user_access();
