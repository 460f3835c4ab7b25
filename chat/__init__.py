"""The reference chat service: the golden path (JWT sign-in, WebSocket, agent pipeline,
SQL, cache) behind wire contract v1. It knows nothing of the suite that tests it."""
