"""The bot's own pages: the reports a comment links (`/reports/<id>`) and the dashboard (`/`, sign-in with
GitHub). Server-rendered, no asset from outside the package."""
