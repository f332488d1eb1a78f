"""`baton serve`: the web console and JSON API (docs/console.md), and the view model
that `baton approvals` shares with it (views.py)."""
