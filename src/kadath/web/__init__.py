"""HTTP and WebSocket endpoints (FastAPI), and the browser client's static files."""
