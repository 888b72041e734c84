"""Users: the people whose data todochat keeps apart, identified by their auth subject."""
