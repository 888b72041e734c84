"""The pages people open in a browser: the web chat and the API reference."""
