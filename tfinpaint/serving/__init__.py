"""Serving: `server` (TF Serving's REST + gRPC APIs, `tfinpaint serve`) and `client` (REST)."""
