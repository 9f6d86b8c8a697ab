"""The HTTP edge: routes and middlewares (the only place that speaks HTTP)."""
