"""engine: running due steps (the tick), and going on once a step's task is completed."""
