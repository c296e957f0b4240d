"""Workshop mode: a class sharing one runs root."""
