"""Pure game rules and entities: no I/O, no framework, no asyncio."""
