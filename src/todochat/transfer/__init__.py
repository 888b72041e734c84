"""Export and import of one user's data as JSON Lines."""
