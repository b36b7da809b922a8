drop table session_tokens;
