"""Access: who the caller is (identity, sessions, tokens, share links) and what it may see (policy).

Sits between `web/` and `services/`: the web layer resolves a Caller from the request, and every
read of an analysis goes through `access.authorize`, which applies `policy.permits`.
"""
