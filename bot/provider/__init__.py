"""The DashScope EMO provider: typed payloads, typed errors and an aiohttp client."""
