drop table pairing_tokens;
