"""One router per group of the HTTP API."""
