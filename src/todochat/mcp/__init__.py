"""The task tools over the Model Context Protocol: streamable HTTP at /mcp, and stdio."""
