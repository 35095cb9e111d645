"""The bot's own pages: the reports a comment links (`/reports/<id>`) and the dashboard (`/`, sign-in with
GitHub). Server-rendered, no asset from outside the package."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from bot.adapters.store import Store
    from bot.settings import Settings


def mount(app: FastAPI, settings: Settings, store: Store) -> None:
    """The reports, and unless MLOPS_BOT_DASHBOARD=off the dashboard and its sign-in, on `app`. With the
    dashboard off there is no sign-in either: a report is then served to whoever holds its link."""
    from bot.web.reports import reports_router

    if settings.dashboard == "off":
        app.include_router(reports_router(store))
        return
    from bot.web.auth import Auth, auth_router
    from bot.web.pages import Dashboard, dashboard_router
    from bot.web.source import DashboardSource, MlflowCatalog

    auth = Auth.build(settings, store)
    dashboard = Dashboard(auth, DashboardSource(store, MlflowCatalog(settings.mlflow_tracking_uri)), store)
    app.state.dashboard = dashboard
    app.include_router(auth_router(auth))
    app.include_router(dashboard_router(dashboard))
    app.include_router(reports_router(store, gate=dashboard.report_gate))
